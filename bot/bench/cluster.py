"""`make bench-cluster`: cluster mode (bot/cluster.py) with 1, 2 and 3 workers, each under the same load:
concurrent paced socket.io conversations (default 200 × 20 turns), help-centre and order-flow messages mixed,
the same load with one Rasa worker killed (kill -9, restarted two seconds later) at half-time, and the same load
with a tenth of the conversations handed to an agent while one Rasa worker, one action server and the web app are
killed in turn, each while handoffs are under way.

Each run gets fresh PostgreSQL databases and starts the product as `bot run --workers N` does: N Rasa workers
and N action servers behind nginx, the web app, Redis and RabbitMQ. The customers are the reliability battery's
(bot/bench/reliability/load.py): they behave like the widget (WebSocket through nginx, wait while connected,
after a drop look the conversation up and send again what is not there, with the same message id), and what
they sent is counted against the tracker, so "lost" and "duplicated" are what the record says.

Figures per run: turn latency (to the first answer) p50/p95/p99, throughput, messages lost and duplicated,
5xx answers, the memory of each Rasa worker and action server at the end (RSS of the process and its children),
and how long turns held their conversation's lock (the Rasa workers' own log lines, bot/rasa_durability.py),
which is what LOCK_LIFETIME must cover.
"""
from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import sqlalchemy as sa

from bot import cluster, migrations, runner
from bot.bench.reliability.load import Plan, load_battery
from bot.bench.reliability.load import _percentile as percentile
from bot.bench.reliability.product import AGENT, Product, _always_open
from bot.rasa_durability import TURN_HELD
from bot.settings import PROJECT_ROOT, Settings

PORT_BASE = 23000
DATABASE_PREFIX = "bench_cluster_"
TURN_LINE = re.compile(re.escape(TURN_HELD) + r" ([0-9.]+) s")


def fresh_databases(base: str = cluster.POSTGRES) -> Dict[str, str]:
    """Empty PostgreSQL databases for one run, one per store (dropped first if an earlier run left them)."""
    admin = sa.create_engine(sa.engine.make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    urls: Dict[str, str] = {}
    with admin.connect() as conn:
        for variable, name in cluster.DATABASES.items():
            database = DATABASE_PREFIX + name
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
            urls[variable] = sa.engine.make_url(base).set(database=database).render_as_string(hide_password=False)
    admin.dispose()
    return urls


def start(workers: int, data_dir: Path, port_base: int) -> Product:
    """The product in cluster mode on fresh databases, with the battery's desk agent."""
    from bot.__main__ import MODEL_DIR, build_knowledge_base
    from bot.container import build_handoff
    from bot.store.directory import SqlCustomerDirectory
    from bot.store.seed import seed
    from bot.store.service import utcnow

    articles = data_dir / "articles"
    shutil.copytree(PROJECT_ROOT / "knowledge_base" / "articles", articles)
    env = cluster.cluster_environment({
        **fresh_databases(), "SUPPORT_DATA_DIR": str(data_dir), "RASA_PORT": str(port_base + 5),
        "ACTION_PORT": str(port_base + 55), "WEB_PORT": str(port_base + 80), "RASA_TOKEN": secrets.token_hex(16),
        "IDENTITY_SECRET": secrets.token_hex(16), "KB_ARTICLES_DIR": str(articles),
        "HANDOFF_CONFIG": str(_always_open(data_dir)),
    })
    settings = Settings.from_env(env)
    missing = cluster.missing_services(settings)
    if missing:
        raise SystemExit("bench-cluster needs the cluster's engines:\n  " + "\n  ".join(missing))
    migrations.upgrade(settings.app_db_url)
    seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow())
    build_knowledge_base(settings)
    build_handoff(settings).ensure_agent(AGENT[0], AGENT[1], "agent", AGENT[2])
    return Product(settings, cluster.start_cluster(settings, MODEL_DIR, workers), slack=None, slack_secret="")


def memory_mb(process: runner.ManagedProcess) -> float:
    """Resident memory of a process and every process of its session (it was started as a session leader)."""
    if process.process is None or process.process.poll() is not None:
        return 0.0
    leader, total_kb = process.process.pid, 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) != leader:  # field 6 of /proc/PID/stat: the session id
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total_kb += int(found.group(1)) if found else 0
    return round(total_kb / 1024, 1)


def turns_held(log_dir: Path) -> List[float]:
    """Seconds each turn held its conversation's lock, from the Rasa workers' logs."""
    held: List[float] = []
    for log in sorted(log_dir.glob("rasa-*.log")):
        if not re.fullmatch(r"rasa-\d+\.log", log.name):  # not rasa-N-debug.log, Rasa's own copy
            continue
        held.extend(float(m.group(1)) for m in TURN_LINE.finditer(log.read_text(errors="replace")))
    return held


def _percentile(values: Sequence[float], share: float) -> Optional[float]:
    return round(percentile(list(values), share), 2) if values else None


HALF_TIME, MID_HANDOFF = "half-time", "mid-handoff"
MID_HANDOFF_KILLS = ("rasa-1", "actions-1", "web")


def fault_plan(plan: Plan, fault: Optional[str]) -> Plan:
    """The load of one run: none, rasa-1 killed at half-time, or each kind of process killed mid-handoff."""
    if fault == HALF_TIME:
        return replace(plan, faults=("rasa-1",), kill_when_handoffs=0,
                       kill_after_messages=plan.conversations * plan.turns // 2)
    if fault == MID_HANDOFF:  # spread over the run: the first kill after a quarter of the messages
        return replace(plan, handoff_share=0.10, faults=MID_HANDOFF_KILLS, kill_when_handoffs=2,
                       kill_after_messages=plan.conversations * plan.turns // 4)
    return replace(plan, faults=())


def measure(workers: int, plan: Plan, seed: int, fault: Optional[str] = None) -> Dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-cluster-{workers}-"))
    began = time.perf_counter()
    offset = {None: 0, HALF_TIME: 100, MID_HANDOFF: 1000}[fault]
    product = start(workers, data_dir, PORT_BASE + 200 * workers + offset)
    started_s = round(time.perf_counter() - began, 1)
    try:
        run_plan = fault_plan(plan, fault)
        paths = [str(PROJECT_ROOT), str(data_dir), sys.prefix]
        tally = load_battery(product, run_plan, seed, paths, f"{workers} worker(s){f' + {fault} kills' if fault else ''}")
        memory = {p.name: memory_mb(p) for p in product.processes}
    finally:
        runner.stop_all(product.processes)
    held = turns_held(product.settings.log_dir)
    figures = tally.figures
    result = {
        "workers": workers, "fault": fault, "started in s": started_s, "handoffs": figures["handoffs"],
        "agent replies": figures["agent replies"],
        "messages": figures["customer messages"], "seconds": figures["seconds"], "messages/s": figures["messages/s"],
        "p50 s": figures["answer p50 s"], "p95 s": figures["answer p95 s"], "p99 s": figures["answer p99 s"],
        "lost": tally.failures.get("lost", 0), "duplicated": tally.failures.get("duplicated", 0),
        "5xx": tally.failures.get("5xx", 0), "other failures": {k: v for k, v in tally.failures.items()
                                                                 if k not in ("lost", "duplicated", "5xx")},
        "resent by clients": figures["resent by clients"],
        "memory MB": memory,
        "lock held p50/p99/max s": [_percentile(held, 0.5), _percentile(held, 0.99), round(max(held), 2) if held else None],
        "turns logged": len(held),
        "samples": [s.as_dict() for s in tally.samples[:10]],
    }
    if figures.get("kills"):
        result["kills"] = figures["kills"]
    if tally.failed:
        result["logs kept in"] = str(product.settings.log_dir)  # what to read first: the failures' conversations
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def render(results: Dict[str, Any]) -> str:
    rows = ["| workers | fault | messages | s | messages/s | p50 s | p95 s | p99 s | lost | duplicated | 5xx | "
            "other failures | lock held p50/p99/max s | memory per Rasa worker / action server MB |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in results["runs"]:
        rasa = [v for k, v in r["memory MB"].items() if k.startswith("rasa-")]
        actions = [v for k, v in r["memory MB"].items() if k.startswith("actions-")]
        fault = _fault_label(r)
        other = ", ".join(f"{k} {v}" for k, v in r["other failures"].items()) or "0"
        rows.append(f"| {r['workers']} | {fault} | {r['messages']:,} | {r['seconds']:.0f} | {r['messages/s']} | "
                    f"{r['p50 s']} | {r['p95 s']} | {r['p99 s']} | {r['lost']} | {r['duplicated']} | {r['5xx']} | {other} | "
                    f"{' / '.join(str(x) for x in r['lock held p50/p99/max s'])} | "
                    f"{', '.join(map(str, rasa))} / {', '.join(map(str, actions))} |")
    return "\n".join(rows)


def _fault_label(run: Dict[str, Any]) -> str:
    fault = run.get("fault") or (HALF_TIME if run.get("kill") else None)  # "kill": the first runs' JSON
    back = {k["process"]: k["back after s"] for k in run.get("kills", [])}
    if fault == HALF_TIME:
        return "rasa-1 kill -9 at half-time" + (f" (back after {back['rasa-1']} s)" if "rasa-1" in back else "")
    if fault == MID_HANDOFF:
        kills = ", ".join(f"{name} (back after {back[name]} s)" if name in back else name for name in MID_HANDOFF_KILLS)
        return f"kill -9 mid-handoff, in turn: {kills}; {run.get('handoffs', 0)} handoffs"
    return "—"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 3])
    parser.add_argument("--kill-with", type=int, nargs="*", default=[2],
                        help="worker counts to run again with one Rasa worker killed at half-time")
    parser.add_argument("--handoff-kills-with", type=int, nargs="*", default=[2],
                        help="worker counts to run again with handoffs and a Rasa worker, an action server and the "
                             "web app killed mid-handoff")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--append", action="store_true",
                        help="with --json: add these runs to the file's earlier runs (each run keeps its own date and command)")
    args = parser.parse_args(argv)
    earlier = json.loads(args.json.read_text())["runs"] if args.append and args.json and args.json.exists() else []

    from bot.__main__ import MODEL_DIR
    runner.train(Settings.from_env(), MODEL_DIR)
    plan = Plan(conversations=args.conversations, turns=args.turns, handoff_share=0.0, socket_share=1.0,
                arrival_seconds=60.0)
    runs = []
    chosen = [(w, None) for w in args.workers] + [(w, HALF_TIME) for w in args.kill_with] + \
        [(w, MID_HANDOFF) for w in args.handoff_kills_with]
    if not chosen:
        parser.error("no run chosen: give --workers, --kill-with or --handoff-kills-with a worker count")
    for workers, fault in chosen:
        print(f"{workers} worker(s){f', kills {fault}' if fault else ''}: "
              f"{args.conversations} conversations × {args.turns} turns ...", flush=True)
        runs.append({**measure(workers, plan, args.seed, fault), "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                     "command": "python -m bot.bench.cluster " + " ".join(argv if argv is not None else sys.argv[1:])})
        print(json.dumps(runs[-1]), flush=True)  # the failures' samples too: what to look at first
        results = {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   "command": "python -m bot.bench.cluster " + " ".join(argv if argv is not None else sys.argv[1:]),
                   "plan": {"conversations": args.conversations, "turns": args.turns, "think s": list(plan.think),
                            "arrivals over s": plan.arrival_seconds}, "runs": earlier + runs}
        if args.json:  # after each run: a long benchmark stopped half-way keeps what it measured
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    return 0 if all(r["lost"] == 0 and r["duplicated"] == 0 for r in runs) else 1  # this invocation's runs


if __name__ == "__main__":
    sys.exit(main())
