"""Rasa component: puts each customer message's frustration score and cues in the parse data.

    message.set("frustration", {"score": 0.87, "signals": ["negative", "caps"]}, add_to_output=True)

`add_to_output` adds the key to the message's output properties; Rasa 3.6's processor builds the
parse data from `message.as_dict(only_output_properties=True)` and `UserUttered` keeps every key of
it, so the score is in the tracker's `parse_data` of each user event (read by bot/handoff/triggers.py).

The model (`bot/nlu/frustration.py`) is trained during `rasa train` from the project's own examples
in `bot/nlu/frustration_examples/`, not from Rasa's NLU data (which has no frustration labels). It is
registered as an entity-extractor-type component, like Rasa's EntitySynonymMapper: such a component
trains once and then runs in the prediction graph after the featurizers, with no extra pass over the
training data, and the NLU benchmark (which keeps featurizers and intent classifiers) leaves it out.
Rasa's training cache only fingerprints this class's source and config, so `fingerprint_addon` adds
a hash of the examples and of the scoring module: editing either retrains it.

At prediction time the sentence embedding that SentenceEmbeddingFeaturizer put on the message is
reused; only when there is none (another pipeline) is the text embedded here.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.frustration import EXAMPLES_DIR, FrustrationModel, examples_fingerprint, load_examples

logger = logging.getLogger(__name__)

PARSE_KEY = "frustration"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class FrustrationScorer(GraphComponent):
    """Scores every message 0..1 for frustration and names the cues found (see bot/nlu/frustration.py)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # featurizer: the dense sentence feature whose origin contains this name is reused as the embedding
        return {"examples_dir": None, "featurizer": "SentenceEmbeddingFeaturizer"}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "vaderSentiment", "sentence_transformers"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        return examples_fingerprint(cls._examples_dir(config))

    @staticmethod
    def _examples_dir(config: Dict[str, Any]) -> Path:
        return Path(config.get("examples_dir") or EXAMPLES_DIR)

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[FrustrationModel] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._embedder: Any = None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FrustrationScorer":
        return cls(config, model_storage, resource)

    def _get_embedder(self) -> Any:
        if self._embedder is None:
            from bot.embeddings import SentenceTransformerEmbedder

            self._embedder = SentenceTransformerEmbedder()
        return self._embedder

    def train(self, training_data: TrainingData) -> Resource:
        """Trains on the project's frustration examples (Rasa's NLU data has no frustration labels)."""
        examples = load_examples(self._examples_dir(self._config))
        self._model = FrustrationModel.train_with(examples, self._get_embedder())
        cv = self._model.cross_validation
        if cv is not None:
            logger.info(
                "%s: %d examples, C=%g, threshold %.2f, cross-validated F1 %.3f",
                self.__class__.__name__, cv.examples, cv.C, cv.threshold, cv.f1,
            )
        self.persist()
        return self._resource

    def persist(self) -> None:
        if self._model is None:
            return
        with self._model_storage.write_to(self._resource) as directory:
            self._model.save(Path(directory))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "FrustrationScorer":
        try:
            with model_storage.read_from(resource) as directory:
                return cls(config, model_storage, resource, FrustrationModel.load(Path(directory)))
        except (ValueError, FileNotFoundError, KeyError) as error:
            logger.warning("%s: no usable trained weights (%s); messages get no frustration score", cls.__name__, error)
            return cls(config, model_storage, resource)

    def _sentence_embedding(self, message: Message) -> Optional[np.ndarray]:
        """The sentence vector the configured featurizer already put on the message, if any."""
        assert self._model is not None
        for feature in message.features:
            origins = feature.origin if isinstance(feature.origin, list) else [feature.origin]
            if (
                feature.attribute == TEXT
                and feature.type == FEATURE_TYPE_SENTENCE
                and feature.is_dense()
                and any(self._config["featurizer"] in str(origin) for origin in origins)
            ):
                vector = np.asarray(feature.features).reshape(-1)
                if vector.shape[0] == self._model.embedding_dim:
                    return vector
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        # intent triggers ("/greet") and intent-only messages from core carry no customer words
        with_text = [m for m in messages if m.get(TEXT) and not str(m.get(TEXT)).startswith("/")]
        if not with_text:
            return messages
        vectors = [self._sentence_embedding(message) for message in with_text]
        missing = [index for index, vector in enumerate(vectors) if vector is None]
        if missing:
            embedded = self._get_embedder().embed([with_text[index].get(TEXT) for index in missing])
            for index, vector in zip(missing, embedded):
                vectors[index] = vector
        scores = self._model.score_texts([m.get(TEXT) for m in with_text], np.vstack(vectors))
        for message, score in zip(with_text, scores):
            message.set(PARSE_KEY, score.as_dict(), add_to_output=True)
        return messages
