"""Personal data in the product's log files, after the whole battery has run (target: none).

The battery's messages carry personal details (bot/bench/reliability/inputs.py: an email, a card number,
a phone number, a street address), and its conversations look up the demo store's customers. Every file
under the data folder's logs/ is searched for each of them, in the forms a log could hold them. The
report names the file, the line number and the kind of detail, never the detail itself.
"""
from __future__ import annotations

import re
from typing import Dict, List, Tuple

from bot.bench.reliability.product import Product
from bot.bench.reliability.verdicts import Finding, Tally

PLANTED = {
    "card number": [r"4111[ -]?1111[ -]?1111[ -]?1111"],
    "phone number": [r"\(?555\)?[ .-]?010[ .-]?2030"],
}


MASKED = re.compile(r"\[phone\]|\[address\]|\[card ending \d{4}\]|\w…@")


def searched_for() -> List[Tuple[str, re.Pattern]]:
    from bot.store.seed import ADDRESSES, CUSTOMERS

    found: List[Tuple[str, re.Pattern]] = []
    for customer in CUSTOMERS:
        found.append(("email", re.compile(re.escape(customer.email), re.I)))
    for address in ADDRESSES.values():
        street = address.line1.split(",")[0]  # "480 Mission Street" of "480 Mission Street, Apt 5"
        found.append(("street address", re.compile(re.escape(street), re.I)))
    for kind, patterns in PLANTED.items():
        found += [(kind, re.compile(p)) for p in patterns]
    return found


def personal_data_in_logs(product: Product) -> Tally:
    tally = Tally("personal data in the log files")
    patterns = searched_for()
    hits: Dict[str, int] = {}
    lines_read = masked = 0
    for path in product.log_files():
        with open(path, errors="replace") as log:
            for number, line in enumerate(log, 1):
                lines_read += 1
                masked += len(MASKED.findall(line))
                for kind, pattern in patterns:
                    if pattern.search(line):
                        hits[kind] = hits.get(kind, 0) + 1
                        tally.fail(Finding("disclosed", f"{path.name}:{number}", f"a {kind} in the log"))
    tally.tried = len(patterns)
    tally.outcomes.update({"files": len(product.log_files()), "lines": lines_read})
    # the search means something only if the details reached the logs: masked, they show as placeholders
    tally.figures.update({"details searched for": len(patterns), "found": sum(hits.values()), "masked details seen": masked})
    return tally
