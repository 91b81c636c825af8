"""The demo store's order events from the command line: `bot store ship|delay|deliver|refund ORDER`.

Each command changes the order in the demo store (bot/proactive/demo_store.py) and tells the customer on the channel
they last used, now or, outside the team's hours or over the rate limit, when the web app finds it due.
"""
from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Callable, Optional, Sequence, TextIO, Tuple

from bot.errors import ConfigurationError, NotAllowed, NotFound
from bot.proactive.demo_store import DemoStore
from bot.proactive.service import ProactiveService


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="bot store", description="Order events of the demo store, told to the customer.",
                                   epilog="Exit codes: 0 ok, 1 refused (no such order, or not in a state for it), "
                                          "2 usage or configuration error.")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    ship = commands.add_parser("ship", help="a processing order ships: carrier, tracking number, expected delivery")
    ship.add_argument("order")
    ship.add_argument("--carrier", default="UPS", choices=["UPS", "FedEx", "USPS"])
    ship.add_argument("--tracking", help="the tracking number (default: a made-up UPS-like one)")
    ship.add_argument("--eta", type=date.fromisoformat, help="expected delivery, YYYY-MM-DD (default: in 3 days)")
    delay = commands.add_parser("delay", help="a shipped order is late: the new expected delivery")
    delay.add_argument("order")
    delay.add_argument("--eta", type=date.fromisoformat, help="the new expected delivery, YYYY-MM-DD (default: 2 days later)")
    deliver = commands.add_parser("deliver", help="a shipped order was delivered (and a day later: did it arrive OK?)")
    deliver.add_argument("order")
    refund = commands.add_parser("refund", help="the order's pending refunds are issued (or one of --amount)")
    refund.add_argument("order")
    refund.add_argument("--amount", type=float, help="dollars, e.g. 129.99 (default: the pending refunds, or the whole order)")
    return root


def main(argv: Optional[Sequence[str]] = None,
         factory: Optional[Callable[[], Tuple[DemoStore, ProactiveService]]] = None,
         out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # --help exits 0, usage errors 2
        return int(exit_.code or 0)
    try:
        store, proactive = (factory or _from_settings)()
    except ConfigurationError as error:
        print(f"configuration error: {error}", file=err)
        return 2
    now = proactive.clock()
    try:
        if args.command == "ship":
            event = store.ship(args.order, now, carrier=args.carrier, tracking_number=args.tracking, estimated_delivery=args.eta)
        elif args.command == "delay":
            event = store.delay(args.order, now, estimated_delivery=args.eta)
        elif args.command == "deliver":
            event = store.deliver(args.order, now)
        else:
            event = store.refund(args.order, now, amount_cents=round(args.amount * 100) if args.amount else None)
        message = proactive.announce(event)
    except (NotFound, NotAllowed) as error:
        print(f"error: {error}", file=err)
        return 1
    told = {"sent": f"told the customer in conversation {message.conversation_id}",
            "waiting": f"the customer will be told at {message.due_at:%Y-%m-%d %H:%M} UTC ({message.detail or 'due now'})",
            "dropped": f"the customer is not told: {message.detail}"}[message.state]
    print(f"Order {event.order_number}: {event.kind}; {told}.", file=out)
    return 0


def _from_settings() -> Tuple[DemoStore, ProactiveService]:
    from bot.container import build_proactive
    from bot.settings import Settings

    settings = Settings.from_env()
    if settings.order_backend != "sql":
        raise ConfigurationError("`bot store` changes the demo store (ORDER_BACKEND=sql); a real shop sends its events to "
                                 "POST /api/store/events")
    store = DemoStore.from_url(settings.store_db_url)
    return store, build_proactive(settings, store.directory)


if __name__ == "__main__":
    sys.exit(main())
