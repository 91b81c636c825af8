"""The featurizer's sentence features, and the vector it hands on to the action server."""
import numpy as np
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.embeddings import MODEL_NAME, SHARED_EMBEDDING_KEY, embed_texts, shared_vector
from bot.nlu.sentence_featurizer import SentenceEmbeddingFeaturizer


def featurizer() -> SentenceEmbeddingFeaturizer:
    return SentenceEmbeddingFeaturizer(SentenceEmbeddingFeaturizer.get_default_config(), "sentence_featurizer")


def test_a_parsed_message_carries_its_embedding_in_the_output():
    message = Message(data={"text": "how do I reset my sentry cam?"})
    featurizer().process([message])
    output = message.as_dict(only_output_properties=True)
    vector = shared_vector(output[SHARED_EMBEDDING_KEY], MODEL_NAME, 384)
    assert np.allclose(vector, embed_texts(["how do I reset my sentry cam?"])[0], atol=1e-6)
    _, sentence = message.get_dense_features("text", [])
    assert np.allclose(sentence.features[0], vector, atol=1e-6)


def test_training_examples_and_messages_without_text_carry_none():
    example, intent_only = Message(data={"text": "where is my order"}), Message(data={"intent": "greet"})
    featurizer().process_training_data(TrainingData([example]))
    featurizer().process([intent_only])
    assert example.get(SHARED_EMBEDDING_KEY) is None and intent_only.get(SHARED_EMBEDDING_KEY) is None
    assert example.get_dense_features("text", [])[1] is not None
