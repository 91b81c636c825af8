"""The battery's parts, each a function of the running product returning its tallies."""
from __future__ import annotations

from typing import Callable, Dict, List

from bot.bench.reliability.load import Plan
from bot.bench.reliability.product import Product
from bot.bench.reliability.verdicts import Tally, internal_paths


def all_parts(product: Product, counts: Dict[str, int], seed: int, turns: int = 20,
              disk_port_base: int = 19200) -> Dict[str, Callable[[], List[Tally]]]:
    from bot.bench.reliability import api_fuzz, channels, desk, disclosure, disk, load, logs, slack_events, xss

    paths = internal_paths([product.settings.data_dir])
    claim = product.identity_claim()
    procs = product.processes
    return {
        "api": lambda: api_fuzz.fuzz_api(product, counts["api"], seed, paths),
        "webhook": lambda: [channels.fuzz_webhook(product.rasa_url, counts["webhook"], seed, claim, paths, procs)],
        "socketio": lambda: [channels.fuzz_socketio(product.rasa_url, counts["socketio"], seed, claim, paths, procs)],
        "slack": lambda: [slack_events.fuzz_slack(product, counts["slack"], seed, paths)],
        "desk": lambda: [desk.check_desk(product)],
        "disclosure": lambda: [disclosure.disclosure_battery(product, counts["disclosure"], seed, paths)],
        "xss": lambda: [xss.xss_battery(product, counts["xss"], paths)],
        "load": lambda: [load.load_battery(product, load.Plan(counts["load"], turns), seed, paths, "load")],
        "faults": lambda: [load.load_battery(product, faults_plan(counts["faults"], turns), seed + 1, paths, "kill -9 under load")],
        "disk": lambda: disk.disk_battery(disk_port_base),
        "logs": lambda: [logs.personal_data_in_logs(product)],
    }


def faults_plan(conversations: int, turns: int) -> Plan:
    """The load with kills: more handoffs, spread over the run and held longer (agents typing), so that each of
    the three kills finds handoffs under way."""
    return Plan(conversations, turns, handoff_share=0.3, faults=("rasa", "actions", "web"),
                     kill_when_handoffs=2 if conversations >= 100 else 1, arrival_seconds=120.0,
                     agent_pause=(3.0, 8.0))
