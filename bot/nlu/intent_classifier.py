"""Rasa intent classifier: logistic regression over sentence embeddings plus n-gram counts.

Rasa's own `LogisticRegressionClassifier` stacks raw counts beside the embedding with a fixed
C=1, so the counts drown the embedding. Here the counts are log-scaled and L2-normalised and
weighted against the (unit-length) embedding, with C tuned on validation data
(docs/benchmarks.md). Weights are stored as plain arrays, so loading a model runs no pickle.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, List, Optional, Text

import numpy as np
import scipy.sparse
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

logger = logging.getLogger(__name__)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EmbeddingIntentClassifier(IntentClassifier, GraphComponent):
    """Multinomial logistic regression on [embedding, weighted normalised n-gram counts]."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"C": 30.0, "sparse_weight": 0.5, "max_iter": 3000, "ranking_length": 10}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        weights: Optional[np.ndarray] = None,
        bias: Optional[np.ndarray] = None,
        labels: Optional[List[str]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._weights = weights
        self._bias = bias
        self._labels = labels or []

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EmbeddingIntentClassifier":
        return cls(config, model_storage, resource)

    def _features(self, messages: List[Message]) -> scipy.sparse.csr_matrix:
        rows = []
        for message in messages:
            sparse = message.get_sparse_features(TEXT)[1]
            dense = message.get_dense_features(TEXT)[1]
            parts = []
            if dense is not None:
                parts.append(scipy.sparse.csr_matrix(dense.features))
            if sparse is not None:
                counts = scipy.sparse.csr_matrix(sparse.features, dtype=np.float64)
                counts.data = np.log1p(counts.data)
                parts.append(self._config["sparse_weight"] * normalize(counts))
            rows.append(scipy.sparse.hstack(parts))
        return scipy.sparse.vstack(rows).tocsr()

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(TEXT)]
        if not examples:
            logger.warning("%s: no intent examples, nothing to train", self.__class__.__name__)
            return self._resource
        labels = [e.get(INTENT) for e in examples]
        model = LogisticRegression(
            C=self._config["C"], max_iter=self._config["max_iter"], random_state=42
        )
        model.fit(self._features(examples), labels)
        self._labels = [str(label) for label in model.classes_]
        self._weights = model.coef_.astype(np.float32)
        self._bias = model.intercept_.astype(np.float32)
        if len(self._labels) == 2:  # sklearn stores one row for binary problems
            self._weights = np.vstack([-self._weights, self._weights])
            self._bias = np.concatenate([-self._bias, self._bias])
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / "weights.npz", weights=self._weights, bias=self._bias)
            (directory / "labels.json").write_text(json.dumps(self._labels))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "EmbeddingIntentClassifier":
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / "weights.npz")
                labels = json.loads((directory / "labels.json").read_text())
                return cls(config, model_storage, resource, arrays["weights"], arrays["bias"], labels)
        except (ValueError, FileNotFoundError):
            logger.warning("%s: no trained weights found; it will not classify", cls.__name__)
            return cls(config, model_storage, resource)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._weights is None:
            return messages
        with_text = [m for m in messages if m.get(TEXT)]
        for message in messages:
            if not message.get(TEXT):
                message.set("intent", {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set("intent_ranking", [], add_to_output=True)
        if not with_text:
            return messages
        logits = self._features(with_text) @ self._weights.T + self._bias
        logits = np.asarray(logits)
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        for message, row in zip(with_text, probabilities):
            order = np.argsort(-row)[: self._config["ranking_length"]]
            ranking = [{"name": self._labels[i], "confidence": float(row[i])} for i in order]
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages
