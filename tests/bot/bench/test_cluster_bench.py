"""The cluster benchmark's own measurements (bot/bench/cluster.py): memory of a process tree, lock times from logs."""
import os
import signal
import sys

from bot import runner
from bot.bench.cluster import memory_mb, render, turns_held
from bot.rasa_durability import TURN_HELD


def test_memory_counts_the_process_and_its_children(tmp_path):
    # a parent holding ~60 MB whose child holds ~60 MB more: both are in the figure
    code = ("import subprocess, sys, time; x = bytearray(60 * 2**20); "
            "subprocess.Popen([sys.executable, '-c', 'import time; y = bytearray(60 * 2**20); time.sleep(30)']); "
            "time.sleep(30)")
    process = runner.ManagedProcess("probe", [sys.executable, "-c", code], {}, tmp_path, "http://127.0.0.1:1/")
    process.start()
    try:
        import time

        deadline, mb = time.monotonic() + 15, 0.0
        while time.monotonic() < deadline and mb < 120:
            time.sleep(0.3)
            mb = memory_mb(process)
        assert 120 <= mb < 400, mb
    finally:
        os.killpg(process.process.pid, signal.SIGKILL)  # the probe and its child: it leads its own session
    process.process.wait()
    assert memory_mb(process) == 0.0  # an ended process holds nothing


def test_lock_times_come_from_the_workers_logs_not_rasas_debug_copies(tmp_path):
    line = f"2026-12-07 07:10:23 INFO     bot.rasa_durability  - {TURN_HELD} {{}} s, conversation c1\n"
    (tmp_path / "rasa-1.log").write_text(line.format("0.250") + "other line\n" + line.format("1.500"))
    (tmp_path / "rasa-2.log").write_text(line.format("3.000"))
    (tmp_path / "rasa-1-debug.log").write_text(line.format("9.000"))  # the same lines again, at DEBUG
    assert sorted(turns_held(tmp_path)) == [0.25, 1.5, 3.0]


def test_the_table_has_a_row_per_run_with_its_fault():
    run = {"workers": 2, "kill": True, "messages": 4000, "seconds": 900.0, "messages/s": 4.4, "p50 s": 1.0,
           "p95 s": 5.0, "p99 s": 9.0, "lost": 0, "duplicated": 0, "5xx": 0, "other failures": {"no answer": 1},
           "lock held p50/p99/max s": [0.2, 4.0, 8.0], "memory MB": {"rasa-1": 1700.0, "rasa-2": 1710.0,
           "actions-1": 700.0, "actions-2": 1400.0, "lb": 12.0, "web": 900.0},
           "kills": [{"process": "rasa-1", "back after s": 31.5}]}
    table = render({"runs": [run]}).splitlines()
    assert len(table) == 3
    assert "| 2 | rasa-1 kill -9 at half-time (back after 31.5 s) | 4,000 |" in table[2]
    assert "no answer 1" in table[2] and "1700.0, 1710.0 / 700.0, 1400.0" in table[2]


def test_the_mid_handoff_run_hands_off_a_tenth_and_kills_each_kind_of_process():
    from bot.bench.cluster import HALF_TIME, MID_HANDOFF, fault_plan
    from bot.bench.reliability.load import Plan

    plan = Plan(conversations=200, turns=20, handoff_share=0.0, socket_share=1.0)
    assert fault_plan(plan, None).faults == () and fault_plan(plan, None).handoff_share == 0.0
    half = fault_plan(plan, HALF_TIME)
    assert half.faults == ("rasa-1",) and half.kill_after_messages == 2000 and half.kill_when_handoffs == 0
    handoffs = fault_plan(plan, MID_HANDOFF)
    assert handoffs.faults == ("rasa-1", "actions-1", "web") and handoffs.handoff_share == 0.10
    assert handoffs.kill_when_handoffs >= 1 and handoffs.kill_after_messages == 1000


def test_the_mid_handoff_row_says_when_each_process_was_back():
    run = {"workers": 2, "fault": "mid-handoff", "messages": 4000, "seconds": 900.0, "messages/s": 4.4, "p50 s": 1.0,
           "p95 s": 5.0, "p99 s": 9.0, "lost": 0, "duplicated": 0, "5xx": 0, "other failures": {},
           "lock held p50/p99/max s": [0.2, 4.0, 8.0], "memory MB": {}, "handoffs": 21,
           "kills": [{"process": "rasa-1", "back after s": 30.1}, {"process": "actions-1", "back after s": 12.0}]}
    row = render({"runs": [run]}).splitlines()[2]
    assert "rasa-1 (back after 30.1 s), actions-1 (back after 12.0 s), web; 21 handoffs" in row
