"""`python -m bot.bench.reliability [--quick] [--parts ...]`: the reliability and security battery (issue 16).

Starts the product as `make run` does (bot.runner) on a data folder of its own, runs each part against
it, prints the figures and writes them to docs/reliability.md (and --json). `--quick` is the subset
`make test` runs (tests/e2e/test_reliability.py calls the same parts with small counts).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from bot.bench.reliability import parts
from bot.bench.reliability.report import render
from bot.bench.reliability.verdicts import Finding, Tally, clip

# "desk" first: its password guessing leaves the loopback address throttled, which the API fuzz copes with
# (it signs in through the service) and the desk's own sign-in checks could not
# "load" and "faults" count conversations (of TURNS turns each); "disk" runs a second instance on a folder of
# its own (bot/bench/reliability/disk.py); "logs" last: it reads what every other part logged
FULL = {"desk": 1, "api": 10_000, "webhook": 5_000, "socketio": 5_000, "slack": 2_000, "disclosure": 200, "xss": 1_000,
        "load": 200, "faults": 200, "disk": 1, "logs": 1}
QUICK = {"desk": 1, "api": 600, "webhook": 150, "socketio": 120, "slack": 120, "disclosure": 24, "xss": 40,
         "load": 20, "faults": 20, "disk": 1, "logs": 1}
TURNS = {"full": 20, "quick": 6}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the fast subset (what make test runs)")
    parser.add_argument("--parts", nargs="*", choices=list(FULL), help="only these parts (default: all)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--port-base", type=int, default=19000)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--markdown", type=Path, help="write the report here (docs/reliability.md)")
    parser.add_argument("--update", action="store_true",
                        help="with --parts and --json: replace only those parts in the existing figures (recorded as a re-run)")
    args = parser.parse_args(argv)
    counts = QUICK if args.quick else FULL
    chosen = args.parts or list(FULL)
    from bot.bench.reliability.product import start_product

    began = time.perf_counter()
    tallies: List[Tally] = []
    with tempfile.TemporaryDirectory(prefix="reliability-") as folder:
        print("Starting the product (training first if data, domain or config changed) ...", file=sys.stderr, flush=True)
        product = start_product(Path(folder), args.port_base)
        try:
            turns = TURNS["quick" if args.quick else "full"]
            runners: Dict[str, Callable[[], List[Tally]]] = parts.all_parts(product, counts, args.seed, turns, args.port_base + 200)
            for name in chosen:
                print(f"== {name} ({counts[name]:,})", file=sys.stderr, flush=True)
                try:
                    found = runners[name]()
                except Exception as error:  # a part that breaks down is a finding; the other parts still run
                    crashed = Tally(name)
                    crashed.fail(Finding("part broke down", name, clip(f"{type(error).__name__}: {error}", 400)))
                    found = [crashed]
                    _restart_dead(product)
                for tally in found:
                    tallies.append(tally)
                    print(f"   {tally.part}: {tally.tried:,} tried, {tally.failed} failed {dict(tally.failures)} "
                          f"{tally.figures}", file=sys.stderr, flush=True)
        finally:
            product.stop()
        kept = _keep_evidence(Path(folder), product) if any(t.failed for t in tallies) else None
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    results = {"date": date, "quick": args.quick, "seed": args.seed,
               "seconds": round(time.perf_counter() - began), "parts": [t.as_dict() for t in tallies],
               "command": "python -m bot.bench.reliability --quick" if args.quick else "make bench-reliability"}
    if kept:
        print(f"The failures' logs and databases are kept in {kept}", file=sys.stderr, flush=True)
    if args.update and args.json and args.json.exists():
        earlier = json.loads(args.json.read_text())
        names = {t.part for t in tallies}
        rerun = [t.as_dict() for t in tallies]
        merged = []
        for part in earlier["parts"]:  # the earlier run's order, the re-run parts in their place
            if part["part"] in names:
                merged += [p for p in rerun if p["part"] == part["part"]]
            else:
                merged.append(part)
        merged += [p for p in rerun if p["part"] not in {e["part"] for e in earlier["parts"]}]
        results = {**earlier, "parts": merged, "reruns": earlier.get("reruns", []) + [
            {"date": date, "parts": sorted(names), "seconds": results["seconds"],
             "command": "python -m bot.bench.reliability --update --parts " + " ".join(chosen)}]}
    text = render(results)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text)
    return 1 if any(t.failed for t in tallies) else 0


def _keep_evidence(folder: Path, product) -> Path:
    """A copy of the run's logs and databases, which the temporary data folder takes with it: what explains a
    failure is in them (the conversations, each process's log)."""
    kept = Path(tempfile.mkdtemp(prefix="reliability-kept-"))
    shutil.copytree(product.settings.log_dir, kept / "logs", dirs_exist_ok=True)
    for database in folder.glob("*.db"):
        shutil.copy2(database, kept / database.name)
    return kept


def _restart_dead(product) -> None:
    """After a part broke down: the next parts get a product whose every process is up again."""
    for process in product.processes:
        if not process.running():
            process.start()
        try:
            process.wait_healthy()
        except TimeoutError as error:
            print(f"   {process.name} is not healthy: {error}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
