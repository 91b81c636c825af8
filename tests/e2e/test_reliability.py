"""The reliability battery's quick subset (`make bench-reliability` runs the full counts): every part against
the real servers, started as `make run` starts them, must find nothing."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from bot.bench.reliability import parts
from bot.bench.reliability.__main__ import QUICK, TURNS
from bot.bench.reliability.product import Product, start_product
from bot.bench.reliability.verdicts import Tally
from tests.e2e.conftest import PORT_BASE

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, trained_model: Path) -> Iterator[Product]:
    started = start_product(tmp_path_factory.mktemp("reliability"), PORT_BASE + 300, train=False)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def results(product: Product) -> Dict[str, List[Tally]]:
    run = parts.all_parts(product, QUICK, seed=16, turns=TURNS["quick"], disk_port_base=PORT_BASE + 400)
    return {name: run[name]() for name in QUICK}  # in the battery's order: the desk's guessing first


def failures(tallies: List[Tally]) -> str:
    return json.dumps([s.as_dict() for t in tallies for s in t.samples], indent=1)


@pytest.mark.parametrize("part", list(QUICK))
def test_the_part_finds_nothing(results, part):
    tallies = results[part]
    not_run = [t.figures["not run"] for t in tallies if "not run" in t.figures]
    if not_run:  # the disk part mounts a size-limited folder: only where the kernel lets this user
        pytest.skip("; ".join(not_run))
    assert tallies and all(t.tried for t in tallies)
    assert not any(t.failed for t in tallies), failures(tallies)


def test_the_counts_were_reached(results):
    assert sum(t.tried for t in results["api"]) >= QUICK["api"]
    assert results["webhook"][0].tried == QUICK["webhook"] and results["socketio"][0].tried == QUICK["socketio"]
    assert results["slack"][0].tried >= QUICK["slack"]


def test_the_desk_figures_are_measured(results):
    figures = results["desk"][0].figures
    assert figures["guesses at one account before 429"] == 10
    assert figures["cookie flags"] == "HttpOnly, Secure, SameSite=Strict"
    assert figures["state-changing operations checked for CSRF"] >= 20


def test_personal_details_reached_the_logs_only_masked(results):
    figures = results["logs"][0].figures
    assert figures["found"] == 0 and figures["masked details seen"] > 0


def test_load_and_kills_lost_and_duplicated_nothing(results):
    load, faults = results["load"][0], results["faults"][0]
    assert load.tried >= QUICK["load"] * TURNS["quick"] * 0.9  # customer messages checked against the tracker
    assert load.figures["handoffs"] >= 2 and load.figures["agent replies"] >= 4
    assert [k["process"] for k in faults.figures["kills"]] == ["rasa", "actions", "web"]
    assert all(k["handoffs under way"] >= 1 for k in faults.figures["kills"])  # each kill mid-handoff


def test_a_full_or_read_only_disk_was_met_with_a_clear_error(results):
    tallies = {t.part: t for t in results["disk"]}
    if "not run" in next(iter(tallies.values())).figures:
        pytest.skip(next(iter(tallies.values())).figures["not run"])
    for name in ("disk full", "read-only database"):
        figures = tallies[name].figures
        assert figures["log lines naming the cause"] > 0
        assert figures["refused during, then served when sent again"] >= 1
        assert tallies[name].outcomes["after: recorded once"] >= 5
