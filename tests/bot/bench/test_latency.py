"""The latency benchmark's arithmetic: percentiles, lost and duplicated messages, throughput."""
import socket

import pytest
import socketio

from bot.bench.latency import SocketCustomer, TurnResult, customer_messages, customer_pauses, percentile, summarise, verdict


def test_percentiles_interpolate_between_ranks_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_counts_lost_and_duplicated_and_ignores_lost_in_latency():
    turns = [TurnResult(10.0), TurnResult(None), TurnResult(30.0, extra_messages=2), TurnResult(20.0)]
    summary = summarise(turns, seconds=2.0, errors=["x"] * 9)
    assert (summary.sent, summary.answered, summary.lost, summary.duplicated) == (4, 3, 1, 2)
    assert summary.p50_ms == 20.0 and summary.max_ms == 30.0
    assert summary.messages_per_s == 1.5  # answered messages per second
    assert len(summary.errors) == 5  # a few examples, not thousands
    assert summarise([TurnResult(5.0, connect_retries=2), TurnResult(6.0)], seconds=1.0).connect_retries == 2


def test_summary_of_a_run_where_everything_was_lost():
    summary = summarise([TurnResult(None)] * 3, seconds=1.0)
    assert summary.lost == 3 and summary.p50_ms is None and summary.messages_per_s == 0.0


def test_customers_rotate_through_the_messages():
    assert customer_messages("simple", 3, 0) == ["hi", "are you a bot?", "hi"]
    first, second = customer_messages("kb", 2, 0), customer_messages("kb", 2, 1)
    assert first[1] == second[0] and first != second


def row(channel, customers, p50, p95, lost=0, dup=0, message="kb"):
    return {"assistant": "product", "pacing": "paced", "message": message, "channel": channel, "customers": customers, "p50_ms": p50,
            "p95_ms": p95, "lost": lost, "duplicated": dup, "sent": 300}


def test_verdict_states_each_target():
    widget = {"widget.js": {"bytes": 40000, "gzip_bytes": 12000}}
    lines = verdict([row("socketio", 20, 60.0, 200.0), row("rest", 20, 90.0, 200.0), row("socketio", 100, 500, 900)],
                    widget)
    assert "met" in lines[0] and "MISSED" in lines[1]
    assert lines[2].startswith("at 100 customers: 0 lost, 0 duplicated") and lines[2].endswith("met")
    assert "widget.js 11.7 KB gzip" in lines[3] and lines[3].endswith("met")
    assert verdict([row("socketio", 100, 1, 1, lost=1)], {})[0].endswith("MISSED")


def test_paced_customers_start_at_random_and_pause_between_messages_reproducibly():
    pauses = customer_pauses((2.0, 6.0), 4, seed=3)
    assert 0 <= pauses[0] <= 6.0 and all(2.0 <= p <= 6.0 for p in pauses[1:])
    assert pauses == customer_pauses((2.0, 6.0), 4, seed=3) != customer_pauses((2.0, 6.0), 4, seed=4)
    assert customer_pauses(None, 3, seed=3) == [0.0, 0.0, 0.0]


def test_a_socket_customer_retries_connecting_like_the_widget_then_gives_up():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    customer = SocketCustomer(f"http://127.0.0.1:{port}", "/socket.io")
    with pytest.raises(socketio.exceptions.ConnectionError):
        customer.connect(timeout=2.5)
    assert customer.connect_retries >= 1
