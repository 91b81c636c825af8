"""The frustration component inside Rasa's graph machinery: train, persist, load, process.

Runs with Rasa's real local model storage and a tiny examples folder; the embedder is the
deterministic fake, patched in where the component would load the real model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

import bot.embeddings
from bot.nlu.frustration_component import PARSE_KEY, FrustrationScorer
from tests.bot.knowledge.conftest import FakeEmbedder

TOPICS = ("my order", "my refund", "the delivery", "my headphones", "the return label", "my account")
ANGRY = ("this is ridiculous,", "WORST SERVICE EVER,", "still no answer about", "what the hell is wrong with")
POLITE = ("thanks for the help with", "could you tell me about", "quick question about", "all good now with")
FRUSTRATED = [f"{opening} {topic}" for opening in ANGRY for topic in TOPICS]
CALM = [f"{opening} {topic}" for opening in POLITE for topic in TOPICS]


@pytest.fixture
def embedder(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    fake = FakeEmbedder()
    monkeypatch.setattr(bot.embeddings, "SentenceTransformerEmbedder", lambda *args, **kwargs: fake)
    return fake


@pytest.fixture
def examples_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "frustrated.txt").write_text("\n".join(FRUSTRATED) + "\n", encoding="utf-8")
    (folder / "not_frustrated.txt").write_text("\n".join(CALM) + "\n", encoding="utf-8")
    return folder


def context() -> ExecutionContext:
    return ExecutionContext(GraphSchema({}), node_name="train_FrustrationScorer5")


def train(tmp_path: Path, examples_dir: Path) -> tuple[LocalModelStorage, Resource, dict]:
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("train_FrustrationScorer5")
    config = {**FrustrationScorer.get_default_config(), "examples_dir": str(examples_dir)}
    component = FrustrationScorer.create(config, storage, resource, context())
    assert component.train(TrainingData()) == resource
    return storage, resource, config


def message_with_feature(text: str, vector: np.ndarray, origin: str = "run_bot.nlu.sentence_featurizer.SentenceEmbeddingFeaturizer3") -> Message:
    message = Message(data={TEXT: text})
    message.add_features(Features(vector.reshape(1, -1), FEATURE_TYPE_SENTENCE, TEXT, origin))
    return message


def test_trained_component_sets_frustration_in_the_output(tmp_path: Path, examples_dir: Path, embedder: FakeEmbedder) -> None:
    storage, resource, config = train(tmp_path, examples_dir)
    loaded = FrustrationScorer.load(config, storage, resource, context())
    angry = message_with_feature("WHERE IS MY REFUND, this is ridiculous", embedder.vector("WHERE IS MY REFUND, this is ridiculous"))
    calm = message_with_feature("thanks for the help", embedder.vector("thanks for the help"))
    embedder.calls.clear()
    loaded.process([angry, calm])
    assert embedder.calls == []  # the featurizer's vectors were reused
    for message in (angry, calm):
        value = message.as_dict(only_output_properties=True)[PARSE_KEY]
        assert set(value) == {"score", "signals"} and 0.0 <= value["score"] <= 1.0
        assert isinstance(value["signals"], list)
    assert "caps" in angry.get(PARSE_KEY)["signals"]
    assert angry.get(PARSE_KEY)["score"] > calm.get(PARSE_KEY)["score"]


def test_messages_without_a_sentence_feature_are_embedded_here(tmp_path: Path, examples_dir: Path, embedder: FakeEmbedder) -> None:
    storage, resource, config = train(tmp_path, examples_dir)
    loaded = FrustrationScorer.load(config, storage, resource, context())
    other_origin = message_with_feature("hello", np.ones(384, dtype=np.float32), origin="SomeOtherFeaturizer")
    bare = Message(data={TEXT: "where is my order"})
    embedder.calls.clear()
    loaded.process([other_origin, bare])
    assert embedder.calls == [["hello", "where is my order"]]
    assert PARSE_KEY in bare.as_dict(only_output_properties=True)


def test_intent_triggers_and_intent_only_messages_are_left_alone(tmp_path: Path, examples_dir: Path, embedder: FakeEmbedder) -> None:
    storage, resource, config = train(tmp_path, examples_dir)
    loaded = FrustrationScorer.load(config, storage, resource, context())
    trigger, intent_only = Message(data={TEXT: "/greet"}), Message(data={"intent": "greet"})
    loaded.process([trigger, intent_only])
    assert trigger.get(PARSE_KEY) is None and intent_only.get(PARSE_KEY) is None


def test_without_trained_weights_it_warns_and_does_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    storage = LocalModelStorage(tmp_path / "storage")
    loaded = FrustrationScorer.load(FrustrationScorer.get_default_config(), storage, Resource("nothing"), context())
    message = Message(data={TEXT: "hello"})
    loaded.process([message])
    assert message.get(PARSE_KEY) is None
    assert "no usable trained weights" in caplog.text


def test_fingerprint_follows_the_examples(examples_dir: Path) -> None:
    config = {"examples_dir": str(examples_dir)}
    before = FrustrationScorer.fingerprint_addon(config)
    with open(examples_dir / "not_frustrated.txt", "a", encoding="utf-8") as handle:
        handle.write("one more calm message\n")
    assert FrustrationScorer.fingerprint_addon(config) != before
