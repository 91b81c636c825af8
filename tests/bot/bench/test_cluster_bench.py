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
