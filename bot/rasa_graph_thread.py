"""Rasa's model work off the server's event loop (applied by `bot.rasa_server`).

Rasa 3.6 runs the NLU pipeline (sentence embeddings, classifiers) and the dialogue policies (TED on
TensorFlow) synchronously inside its async message handling, so while one turn is being understood or
predicted the event loop serves nobody else: under load, socket.io handshakes and pings wait behind
the model work, and clients time out and reconnect (measured by `make bench-cluster`: 35 of 200 clients
could not connect to a single saturated worker). Here the same two calls run in one dedicated thread
per Rasa process, awaited by the loop:

- `MessageProcessor._parse_message_with_graph` (called by `parse_message`),
- `MessageProcessor.predict_next_with_tracker_if_should` (called by `_run_prediction_loop`).

One thread, so the models are never run concurrently (as before: no new thread-safety assumption about
TensorFlow, torch or scikit-learn); the loop stays free between the GIL switches and while numpy, torch
and TensorFlow release the GIL. The conversation's tracker is only read and written by the thread while
the turn's coroutine awaits it, under the conversation's lock, so nothing else touches it meanwhile.

The two async methods are Rasa 3.6.21's own, with the one call awaited in the thread; `RASA_SOURCES`
holds a digest of the originals so a different Rasa version fails the test instead of silently running
old code (tests/bot/test_rasa_graph_thread.py).
"""
from __future__ import annotations

import asyncio
import copy
import hashlib
import inspect
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional, Text, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# sha256 of inspect.getsource() of the methods replaced here, as in rasa 3.6.21
RASA_SOURCES = {
    "parse_message": "b98d8e49b9f2c433040af62752212dc374600d50cd21deec82386642b64d30dc",
    "_run_prediction_loop": "cb30a0cbb690c571dbd33e404a16577745ad745798986b0fd314bd055893b4cf",
}

_executor: Optional[ThreadPoolExecutor] = None
_originals: Dict[str, Callable[..., Any]] = {}


def source_digest(function: Callable[..., Any]) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


async def in_graph_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in the process's model thread, awaited by the event loop."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rasa-graph")
    return await asyncio.get_running_loop().run_in_executor(_executor, function, *args)


def apply() -> None:
    """Install the two replacements (idempotent)."""
    from rasa.core.processor import MessageProcessor

    if _originals:
        return
    _originals["parse_message"] = MessageProcessor.parse_message
    _originals["_run_prediction_loop"] = MessageProcessor._run_prediction_loop
    MessageProcessor.parse_message = parse_message  # type: ignore[method-assign]
    MessageProcessor._run_prediction_loop = _run_prediction_loop  # type: ignore[method-assign]


async def parse_message(
    self: Any, message: Any, tracker: Optional[Any] = None, only_output_properties: bool = True
) -> Dict[Text, Any]:
    """Rasa 3.6.21's `MessageProcessor.parse_message`, the graph run in the model thread."""
    from rasa.core.processor import structlogger
    from rasa.shared.core.trackers import DialogueStateTracker

    if self.http_interpreter:
        parse_data = await self.http_interpreter.parse(message)
    else:
        if tracker is None:
            tracker = DialogueStateTracker.from_events(message.sender_id, [])
        parse_data = await in_graph_thread(
            self._parse_message_with_graph, message, tracker, only_output_properties
        )

    self._update_full_retrieval_intent(parse_data)
    structlogger.debug(
        "processor.message.parse",
        parse_data_text=copy.deepcopy(parse_data["text"]),
        parse_data_intent=parse_data["intent"],
        parse_data_entities=copy.deepcopy(parse_data["entities"]),
    )

    self._check_for_unseen_features(parse_data)

    return parse_data


async def _run_prediction_loop(self: Any, output_channel: Any, tracker: Any) -> None:
    """Rasa 3.6.21's `MessageProcessor._run_prediction_loop`, each prediction made in the model thread."""
    from rasa.core.processor import ACTION_EXTRACT_SLOTS, ActionLimitReached
    from rasa.core.processor import logger as rasa_logger

    # keep taking actions decided by the policy until it chooses to 'listen'
    should_predict_another_action = True

    # action loop. predicts actions until we hit action listen
    while should_predict_another_action and self._should_handle_message(tracker):
        # this actually just calls the policy's method by the same name
        try:
            action, prediction = await in_graph_thread(self.predict_next_with_tracker_if_should, tracker)
        except ActionLimitReached:
            rasa_logger.warning(
                "Circuit breaker tripped. Stopped predicting "
                f"more actions for sender '{tracker.sender_id}'."
            )
            if self.on_circuit_break:
                # call a registered callback
                self.on_circuit_break(tracker, output_channel, self.nlg)
            break

        if prediction.is_end_to_end_prediction:
            rasa_logger.debug(
                f"An end-to-end prediction was made which has triggered the 2nd "
                f"execution of the default action '{ACTION_EXTRACT_SLOTS}'."
            )
            tracker = await self.run_action_extract_slots(output_channel, tracker)

        should_predict_another_action = await self._run_action(
            action, tracker, output_channel, self.nlg, prediction
        )
