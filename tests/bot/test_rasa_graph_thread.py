"""Rasa's model work runs in the model thread and the event loop keeps serving meanwhile."""
import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import ActionLimitReached, MessageProcessor

from bot import rasa_graph_thread


@pytest.fixture(scope="module", autouse=True)
def applied():
    rasa_graph_thread.apply()


def test_the_replaced_methods_are_rasa_3_6_21s():
    # a Rasa upgrade must fail here: the replacements are copies of these exact methods
    for name, digest in rasa_graph_thread.RASA_SOURCES.items():
        assert rasa_graph_thread.source_digest(rasa_graph_thread._originals[name]) == digest, name
    assert MessageProcessor.parse_message is rasa_graph_thread.parse_message
    assert MessageProcessor._run_prediction_loop is rasa_graph_thread._run_prediction_loop


async def ticks_during(work) -> tuple:
    """How often a 10 ms ticker ran on the loop while `work` was awaited, and its result."""
    ticks = 0
    done = False

    async def ticker():
        nonlocal ticks
        while not done:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    result = await work
    done = True
    await task
    return ticks, result


class Processor(SimpleNamespace):
    """Stands in for Rasa's MessageProcessor: the replaced methods only call these."""

    http_interpreter = None
    on_circuit_break = None
    nlg = None

    def __init__(self, predictions=1, limit_after=None):
        super().__init__(threads=[], actions=[], predictions=predictions, limit_after=limit_after)

    def _parse_message_with_graph(self, message, tracker, only_output_properties):
        self.threads.append(threading.current_thread().name)
        time.sleep(0.3)  # the model's CPU time: blocks whichever thread runs it
        return {"text": message.text, "intent": {"name": "greet", "confidence": 0.9}, "entities": []}

    def _update_full_retrieval_intent(self, parse_data):
        parse_data["updated"] = True

    def _check_for_unseen_features(self, parse_data):
        pass

    def _should_handle_message(self, tracker):
        return True

    def predict_next_with_tracker_if_should(self, tracker):
        self.threads.append(threading.current_thread().name)
        if self.limit_after is not None and len(self.actions) >= self.limit_after:
            raise ActionLimitReached("limit")
        time.sleep(0.15)
        return f"action_{len(self.actions)}", SimpleNamespace(is_end_to_end_prediction=False)

    async def _run_action(self, action, tracker, output_channel, nlg, prediction):
        self.actions.append(action)
        return len(self.actions) < self.predictions


def test_parsing_runs_in_the_model_thread_and_the_loop_keeps_serving():
    processor = Processor()
    ticks, parsed = asyncio.run(ticks_during(rasa_graph_thread.parse_message(processor, UserMessage("hello"))))
    assert parsed["intent"]["name"] == "greet" and parsed["updated"] is True  # Rasa's post-processing still runs
    assert processor.threads == ["rasa-graph_0"]
    assert ticks >= 10  # the loop ran while the model worked (0 when the model runs on the loop)


def test_predictions_run_in_the_model_thread_until_listen():
    processor = Processor(predictions=3)
    tracker = SimpleNamespace(sender_id="c1")
    ticks, _ = asyncio.run(ticks_during(rasa_graph_thread._run_prediction_loop(processor, None, tracker)))
    assert processor.actions == ["action_0", "action_1", "action_2"]
    assert set(processor.threads) == {"rasa-graph_0"}
    assert ticks >= 15


def test_the_action_limit_still_trips_the_circuit_breaker():
    broken = []
    processor = Processor(predictions=10, limit_after=2)
    processor.on_circuit_break = lambda tracker, channel, nlg: broken.append(tracker.sender_id)
    asyncio.run(rasa_graph_thread._run_prediction_loop(processor, None, SimpleNamespace(sender_id="c1")))
    assert processor.actions == ["action_0", "action_1"] and broken == ["c1"]
