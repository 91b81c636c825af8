"""`bot store ship|delay|deliver|refund ORDER`: the demo store changes and the customer is told (or why not)."""
from __future__ import annotations

import io

from bot.proactive.cli import main
from bot.proactive.demo_store import DemoStore
from bot.store.seed import seed
from tests.bot.proactive.conftest import OPEN, make_setup
from tests.databases import sqlite_url


def run(setup, store, *argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), factory=lambda: (store, setup.service), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def demo(tmp_path, setup) -> DemoStore:
    store = DemoStore.from_url(sqlite_url(tmp_path, "store.db"))
    seed(store.directory, OPEN)
    setup.service.directory = store.directory  # the service reads the orders the commands change
    return store


def test_ship_tells_the_customer(tmp_path):
    setup = make_setup(tmp_path)
    store = demo(tmp_path, setup)
    setup.service.note_contact("C1002", "web-sam")
    code, out, err = run(setup, store, "ship", "105001", "--carrier", "FedEx", "--tracking", "612999999900", "--eta", "2026-10-09")
    assert (code, err) == (0, "")
    assert out == "Order 105001: shipped; told the customer in conversation web-sam.\n"
    assert [c for c, _ in setup.gateway.triggered] == ["web-sam"]


def test_a_customer_who_cannot_be_reached_is_named_as_such(tmp_path):
    setup = make_setup(tmp_path)
    store = demo(tmp_path, setup)
    code, out, _ = run(setup, store, "refund", "105001", "--amount", "12.50")
    assert code == 0 and "not told: the customer has no conversation with a verified identity" in out


def test_a_refused_change_is_an_error_and_exit_code_1(tmp_path):
    setup = make_setup(tmp_path)
    store = demo(tmp_path, setup)
    code, out, err = run(setup, store, "deliver", "105001")
    assert code == 1 and out == "" and "only a shipped order is delivered" in err
    assert run(setup, store, "ship")[0] == 2  # no order: usage error
