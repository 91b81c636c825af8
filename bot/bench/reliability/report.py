"""docs/reliability.md from the battery's figures: a table per part (inputs, failures in this run, figures),
what earlier runs found and how it was fixed (each with its regression test), and what is not covered yet."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

# What the battery found while it was being built, fixed in the product before the recorded run.
# part prefix -> (finding, fix, regression test)
FOUND: Dict[str, List[Tuple[str, str, str]]] = {
    "REST webhook": [
        ("a body of `[` 100,000 deep, or metadata 5,000 deep: HTTP 500 (RecursionError in json.loads)",
         "400 \"nested too deeply\"; metadata limited to 16 levels and 16 KB", "tests/bot/channels/test_rest.py, tests/e2e/test_rest_bad_input.py"),
        ("`/session_start` typed by a customer was never answered; `/intent@0.9` let a customer set a confidence",
         "a customer may send what a button sends (`/intent`, `/intent{flat entities}`); other `/...` text is read "
         "as words (REST, socket.io, Slack)",
         "tests/bot/channels/test_rest.py, tests/e2e/test_socketio.py"),
    ],
    "disk full": [
        ("a turn Rasa could not save (disk full, read-only file) was answered as if saved: Rasa's FailSafeTrackerStore "
         "kept it in memory only, and a failed read started the conversation afresh; once the disk was freed the "
         "turns were missing from the conversation (first run of the part: 2 of 3 messages lost per condition)",
         "bot/rasa_durability.py: the store's error ends the turn, the customer is told to send the message again, "
         "the log names SQLite's error",
         "tests/bot/test_rasa_durability.py, bot/bench/reliability/disk.py (in tests/e2e/test_reliability.py)"),
        ("(found while building the part) a turn that failed inside Rasa got no answer at all over socket.io: "
         "the widget waited for ever, the error ended in python-socketio's task",
         "the channel logs the cause and sends an `error` event, which the widget shows as \"Not sent: …\"",
         "bot/bench/reliability/disk.py (in tests/e2e/test_reliability.py)"),
        ("the desk's reply, claim and note on a full or read-only app database: HTTP 500 with a generic message",
         "503 \"the support database cannot be written right now, so nothing was changed; try again in a moment\", "
         "SQLite's own words in the log",
         "tests/bot/web/test_app.py::test_a_database_that_refuses_writes_is_a_clear_503_with_the_cause_in_the_log"),
    ],
    "kill -9 under load": [
        ("at full scale: 33 customer messages missing from the conversation, the same cause as the load part's (turns "
         "longer than the lock lifetime ran beside the next one)",
         "bot/rasa_durability.py `renewing_tickets`: each ticket is renewed every lifetime/3 while its message waits or its "
         "turn runs; the lifetime now only bounds how long a dead process keeps a conversation locked",
         "tests/bot/test_rasa_durability.py::test_a_message_waiting_longer_than_the_lock_lifetime_is_handled_after_the_turn_ahead"),
        ("an agent who resolved a conversation while Rasa was restarting left it paused in Rasa for good: the "
         "customer was never asked for a rating nor answered again (first run of the part: 1 of 4 handoffs)",
         "a failed hand-back is recorded (handoff history) and retried by the web app every 3 s until it is done, "
         "never once the customer has a newer handoff",
         "tests/bot/handoff/test_service.py::test_a_failed_hand_back_is_retried_until_the_assistant_has_the_conversation"),
        ("(found reading Rasa's RemoteAction while building the part) a turn arriving while the action server "
         "restarted failed at once (\"Couldn't connect to the server\")",
         "a connection the action server refuses is tried again for up to 15 s, once per outage (it was never received, so nothing "
         "runs twice); a connection broken mid-request is not",
         "tests/bot/test_rasa_durability.py::test_an_action_server_that_refuses_connections_is_waited_for_not_one_that_broke_mid_request"),
    ],
    "socket.io channel": [
        ("a message naming another visitor's session id was written into that conversation",
         "refused with an `error` event unless the client joined that session", "tests/e2e/test_socketio.py"),
    ],
    "web app API": [
        ("path and body ids beyond 64 bits (e.g. 176132504772720590848) reached SQLite and overflowed: HTTP 500",
         "ids are validated as 1 … 2^63-1: 422", "tests/bot/web/test_app.py::test_ids_beyond_64_bits_are_refused_before_the_database"),
    ],
    "load": [
        ("at full scale (first full run, 200 × 20 with the machine shared): 312 customer messages answered live but missing "
         "from the conversation. Turns took up to 63 s, longer than the 60 s lock lifetime: Rasa's ticket lock let the "
         "next turn of the conversation (an agent's reply, the hand-back, a message sent meanwhile) run beside one still "
         "running, and the SQL tracker store, which saves only the events beyond the count already stored, dropped the "
         "events of one of the two",
         "bot/rasa_durability.py `renewing_tickets`: each ticket is renewed every lifetime/3 while its message waits or its "
         "turn runs; the lifetime now only bounds how long a dead process keeps a conversation locked",
         "tests/bot/test_rasa_durability.py::test_a_message_waiting_longer_than_the_lock_lifetime_is_handled_after_the_turn_ahead"),
    ],
    "Slack events": [
        ("at full scale (2,000 events in 37 s, turns of 106 s): 83 DMs' second message dropped with Rasa's LockError (the "
         "ticket of a message waiting for its conversation expired) after Slack had its acknowledgement, so never answered",
         "bot/rasa_durability.py `renewing_tickets`: each ticket is renewed every lifetime/3 while its message waits or its "
         "turn runs; the lifetime now only bounds how long a dead process keeps a conversation locked; "
         "a message the assistant still cannot take is answered \"please send it again\" and logged",
         "tests/bot/test_rasa_durability.py, tests/bot/channels/test_slack_channel.py"),
        ("at full scale, after that fix (re-run): 15 DMs unanswered — under the burst the action server's listen queue "
         "overflowed and 121 action calls failed with \"Can not write request body\" (Rasa then skips the action)",
         "a call dropped before its request was written is sent again like a refused connection (the server cannot "
         "have run it); one dropped after may have run, and is not",
         "tests/bot/test_rasa_durability.py::test_a_request_dropped_before_it_was_written_is_sent_again_not_one_that_may_have_arrived"),
        ("(the battery's oracle, same re-run) 1 conversation counted as duplicated: Rasa's two-stage fallback, when it "
         "ends, reverts the turn and appends a copy of the customer's message, which the count took for a second message",
         "the Slack and load parts count the customer's messages without that copy (verdicts.customer_messages)",
         "tests/bot/bench/test_reliability.py::test_the_copy_rasas_two_stage_fallback_adds_is_not_counted_as_a_second_customer_message"),
        ("signed bodies `null`, `[]`, invalid UTF-8, and interactions with `actions` not a list: HTTP 500 inside slack-bolt",
         "400 with the reason; the signature is computed over the raw bytes", "tests/bot/slack/test_request_shape.py, tests/e2e/test_slack.py"),
    ],
    "desk": [
        ("one password sprayed over many accounts from one address was never throttled (the limit was per account)",
         "also 30 failures per address in 15 minutes", "tests/bot/web/test_app.py::test_one_password_tried_on_many_accounts_is_throttled_too"),
        ("the session cookie was not Secure on `make run`'s plain-http loopback address",
         "Secure over HTTPS and on loopback", "tests/bot/web/test_app.py::test_the_session_cookie_is_secure_over_https_and_on_loopback"),
    ],
    "personal data disclosure": [
        ("ownership could be guessed: three tries per conversation, but a new conversation costs nothing",
         "failed verifications counted per email and per order across conversations (app database): 5 an hour",
         "tests/bot/store/test_service.py, tests/actions/test_orders.py"),
    ],
    "personal data in the log files": [
        ("Rasa's debug log and the action server's log held customers' messages verbatim (emails, cards, phones, addresses)",
         "every log record of every process masked (a log record factory)", "tests/bot/test_privacy.py"),
    ],
}

NOT_YET = [
    "A full disk under the logs themselves: the battery keeps the logs on a volume of their own, as operators do; "
    "with nowhere to write, Python's logging reports to stderr, which the runner's terminal shows.",
    "Faults of PostgreSQL, Redis and RabbitMQ and more than one worker per process: issue 17 (cluster mode).",
]


def render(results: Dict[str, Any]) -> str:
    lines: List[str] = [
        "# Reliability and security battery",
        "",
        f"Run on {results['date']} with `{results['command']}` (seed {results['seed']}, {results['seconds']:,} s), "
        "against the real servers as `make run` starts them (`bot.runner`: Rasa server, action server, web app, on a "
        "data folder of their own, Slack on against the local fake of its Web API). Regenerate with the same command; "
        "`make test` runs the quick subset (tests/e2e/test_reliability.py). The parts are in "
        "`bot/bench/reliability/`; each module's docstring says what it sends and what counts as a failure.",
        "",
        *[f"Re-run on {r['date']} ({r['seconds']:,} s): {', '.join(r['parts'])}, with `{r['command']}`; "
          "those parts' figures below are the re-run's." for r in results.get("reruns", [])],
        *([""] if results.get("reruns") else []),
        "| part | inputs tried | failures in this run | found earlier by the battery and fixed |",
        "|---|---:|---:|---:|",
    ]
    for part in results["parts"]:
        failures = sum(part["failures"].values())
        lines.append(f"| [{part['part']}](#{_anchor(part['part'])}) | {part['tried']:,} | {failures} | "
                     f"{len(found_for(part['part']))} |")
    for part in results["parts"]:
        lines += ["", f"## {part['part']}", "", "| | |", "|---|---|",
                  f"| inputs tried | {part['tried']:,} |",
                  f"| failures in this run | {sum(part['failures'].values())}"
                  + (" (" + ", ".join(f"{k} × {v}" for k, v in part["failures"].items()) + ")" if part["failures"] else "")
                  + " |"]
        if part["outcomes"]:
            lines.append("| outcomes | " + ", ".join(f"{k}: {v:,}" for k, v in sorted(part["outcomes"].items())) + " |")
        for key, value in part["figures"].items():
            lines.append(f"| {key} | {_cell(value)} |")
        if part["samples"]:
            lines += ["", "Failures in this run:", ""]
            for sample in part["samples"]:
                lines.append(f"- {sample['kind']} at `{sample['where']}`: {sample['detail']}"
                             + (f" (input: `{sample['sample']}`)" if sample["sample"] else ""))
        found = found_for(part["part"])
        if found:
            lines += ["", "Found by the battery and fixed (each with its regression test):", ""]
            lines += [f"- {finding}. Fixed: {fix}. Test: {test}." for finding, fix, test in found]
    lines += ["", "## Not covered yet", ""] + [f"- {item}" for item in NOT_YET]
    return "\n".join(lines) + "\n"


def found_for(part: str) -> List[Tuple[str, str, str]]:
    return [entry for prefix, found in FOUND.items() if part.startswith(prefix) for entry in found]


def _anchor(title: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces as hyphens."""
    return "".join(c for c in title.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(", ".join(f"{k}: {v}" for k, v in item.items()) if isinstance(item, dict) else str(item)
                         for item in value)
    return str(value).replace("|", "\\|")
