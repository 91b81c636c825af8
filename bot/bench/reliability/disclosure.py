"""Personal data disclosure: generated conversations by people who are not the customer whose order they ask about.

Four kinds of caller, over REST, each conversation new:
- an unverified visitor naming a real order number, then someone's email (another customer's, or made up);
- a visitor with a forged identity (unsigned, badly signed, or Jane's real signature replayed for another
  customer id);
- Jane, verified with a correctly signed identity, asking about other customers' orders;
- a guesser who knows a customer's email and tries order numbers, a new conversation for every few tries.
Every answer is searched for what the store holds on every customer the caller is not: tracking numbers,
street addresses, names, emails. After the run, no order of anyone but Jane has changed (address, status).
A control shows the search can find something: Jane, verified, asks for her own order's tracking number,
and each such answer must carry it.
"""
from __future__ import annotations

import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

import requests

from bot.bench.reliability.product import JANE, Product
from bot.bench.reliability.verdicts import Finding, Tally, check_answer, clip, dead_processes

ASKS = ("where is my order {n}", "what's the tracking number for order {n}", "cancel order {n}",
        "change the delivery address of order {n} to 1 Decoy Road, Springfield, IL 62704", "I want to return order {n}",
        "what address is order {n} going to?", "refund status for {n}")


def _secrets(directory, owner: Optional[str]) -> Dict[str, List[str]]:
    """customer id -> what must never reach anyone but them (their orders' tracking numbers, their street, name, email)."""
    from bot.store.seed import CUSTOMERS

    found: Dict[str, List[str]] = {}
    for customer in CUSTOMERS:
        if customer.id == owner:
            continue
        values = [customer.email, f"{customer.first_name} {customer.last_name}"]
        for order in directory.orders_for_customer(customer.id):
            values.append(order.shipping_address.line1.split(",")[0])
            if order.tracking_number:
                values.append(order.tracking_number)
        found[customer.id] = [v for v in values if v]
    return found


def _conversations(rng: random.Random, count: int, product: Product, directory) -> List[Tuple[str, Dict, Optional[str], List[str]]]:
    """(kind, metadata, whose details may be shown, messages)."""
    from bot.identity import sign_identity
    from bot.store.seed import CUSTOMERS

    others = [c for c in CUSTOMERS if c.id != JANE["customer_id"]]
    other_orders = [o.number for c in others for o in directory.orders_for_customer(c.id)]
    jane_signed = product.identity_claim()
    out = []
    owner_email = {o.number: c.email for c in others for o in directory.orders_for_customer(c.id)}
    owner_id = {o.number: c.id for c in others for o in directory.orders_for_customer(c.id)}
    for n in range(count):
        kind = n % 4
        template, number = rng.choice(ASKS), rng.choice(other_orders)
        ask = template.format(n=number)
        if kind == 0:
            email = rng.choice([rng.choice(others).email if rng.random() < 0.3 else f"guess{rng.randint(1, 999)}@mail.example",
                                JANE["email"]])
            # The order number with the email on that order is how the product verifies a customer (README, "How the
            # order flows keep personal data safe"): a visitor who has both is that customer, so may see the order.
            # (Found in the first full run: one such visitor counted as a disclosure.)
            verified_as = owner_id[number] if email == owner_email[number] else None
            out.append(("unverified visitor", {}, verified_as, [ask, f"my email is {email}", "yes", "what's the address on it?"]))
        elif kind == 1:
            victim = rng.choice(others)
            forged = rng.choice([
                {"customer_id": victim.id, "email": victim.email},
                {"customer_id": victim.id, "email": victim.email, "signature": "f" * 64},
                {**jane_signed, "customer_id": victim.id},
                {"customer_id": victim.id, "email": victim.email,
                 "signature": sign_identity("a guessed secret", victim.id, victim.email)}])
            out.append(("forged identity", {"customer": forged}, None, ["where is my order", ask, "what's my address?"]))
        elif kind == 2:
            out.append(("verified customer, another's order", {"customer": jane_signed}, JANE["customer_id"],
                        [ask, "yes", "the tracking number please", "what address is it going to?"]))
        else:
            victim = rng.choice(others)
            start = rng.choice(other_orders)
            guesses = [f"{int(start) + d:06d}" for d in rng.sample(range(-3, 4), 3)]
            out.append(("guesser with a customer's email", {}, None,
                        sum(([f"where is order {g}", f"my email is {victim.email}"] for g in guesses), [])))
    return out


def disclosure_battery(product: Product, count: int, seed: int, paths: Sequence[str], workers: int = 4) -> Tally:
    from bot.store.directory import SqlCustomerDirectory

    tally = Tally("personal data disclosure")
    directory = SqlCustomerDirectory.from_url(product.settings.store_db_url)
    before = {o.number: (o.status, o.shipping_address) for c in _all_customers() for o in directory.orders_for_customer(c)}
    conversations = _conversations(random.Random(seed), count, product, directory)
    url = f"{product.rasa_url}/webhooks/rest/webhook"
    lock = threading.Lock()
    kinds: Dict[str, int] = {}

    def talk(item) -> None:
        kind, metadata, owner, messages = item
        secrets = [v for values in _secrets(directory, owner).values() for v in values]
        sender = f"rel-pii-{uuid.uuid4().hex[:10]}"
        typed = ""  # what the caller said so far: quoting it back discloses nothing
        for text in messages:
            typed += " " + text.lower()
            body = {"sender": sender, "message": text, **({"metadata": metadata} if metadata else {})}
            try:
                answer = requests.post(url, json=body, timeout=60)
                status, reply = answer.status_code, answer.text
            except requests.RequestException as error:
                status, reply = 599, str(error)
            with lock:
                check_answer(tally, kind, status, reply, text, paths)
                shown = [s for s in secrets if s.lower() in reply.lower() and s.lower() not in typed]
                if shown:
                    tally.fail(Finding("disclosed", kind, f"{len(shown)} detail(s) of another customer in the answer to {text!r}",
                                       clip(reply)))
        with lock:
            kinds[kind] = kinds.get(kind, 0) + 1

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(talk, conversations))
    _control(tally, url, product, directory, max(2, count // 20))
    changed = [n for n, state in before.items()
               if (directory.get_order(n).status, directory.get_order(n).shipping_address) != state
               and directory.get_order(n).customer_id != JANE["customer_id"]]
    for number in changed:
        tally.fail(Finding("changed", f"order {number}", "another customer's order was changed by these conversations"))
    tally.figures.update({"conversations": len(conversations), **{f"{k}": v for k, v in sorted(kinds.items())},
                          "of which visitors with the order's own email (verified: may see it)":
                              sum(1 for kind, _m, owner, _t in conversations if kind == "unverified visitor" and owner),
                          "other customers' orders changed": len(changed)})
    dead_processes(tally, product.processes)
    return tally


def _control(tally: Tally, url: str, product: Product, directory, times: int) -> None:
    """Jane's own shipped order, asked for by Jane verified: its tracking number must be in the answer."""
    own = next(o for o in directory.orders_for_customer(JANE["customer_id"]) if o.tracking_number and o.status.value == "shipped")
    found = 0
    for _ in range(times):
        body = {"sender": f"rel-pii-own-{uuid.uuid4().hex[:8]}", "message": f"where is my order {own.number}",
                "metadata": {"customer": product.identity_claim()}}
        reply = requests.post(url, json=body, timeout=60).text
        found += own.tracking_number in reply
    tally.figures["control: own tracking number shown"] = f"{found}/{times}"
    if found < times:
        tally.fail(Finding("control failed", "verified customer, own order", f"her own tracking number shown {found}/{times} times"))


def _all_customers() -> List[str]:
    from bot.store.seed import CUSTOMERS

    return [c.id for c in CUSTOMERS]
