"""The web app's whole JSON API fuzzed from its own OpenAPI document with schemathesis (on hypothesis).

Every operation is called with generated requests, valid by the schema and not, as three callers: nobody,
a desk agent and a lead (bearer tokens). Besides 5xx and internals, an answer fails when it lets a caller
through who may not pass: a 2xx to nobody on an operation the document marks as needing a session, or to
an agent on one tagged `leads`. Sessions the fuzzing itself ends (POST /api/auth/logout, a lead
deactivating an account) are restored from the app database before the next operation.
GET /api/events is left out: it is the desk's Server-Sent Events stream, which never ends by design.
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence

import requests

from bot.bench.reliability.product import AGENT, LEAD, Product
from bot.bench.reliability.verdicts import Finding, Tally, check_answer, clip, dead_processes

SKIPPED = {("GET", "/api/events"): "the live feed is an endless Server-Sent Events stream"}
ROLES = ("nobody", "agent", "lead")


class Sessions:
    """A bearer token per role, signed in again (account re-activated first) whenever the fuzzing ended it."""

    def __init__(self, product: Product) -> None:
        from bot.container import build_handoff

        self.web = product.web_url
        self.handoff = build_handoff(product.settings)
        self.tokens: Dict[str, str] = {}
        self.restored = 0

    def headers(self, role: str) -> Dict[str, str]:
        if role == "nobody":
            return {}
        token = self.tokens.get(role)
        if not token or requests.get(f"{self.web}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=20).status_code != 200:
            token = self.tokens[role] = self._sign_in(role)
        return {"Authorization": f"Bearer {token}"}

    def _sign_in(self, role: str) -> str:
        email, _name, password = AGENT if role == "agent" else LEAD
        agent = self.handoff.store.agent_by_email(email)
        if agent is not None and not agent.active:
            self.handoff.store.set_agent_active(agent.id, True)
        if role in self.tokens:
            self.restored += 1
        token, _agent = self.handoff.sign_in(email, password)
        return token


def fuzz_api(product: Product, count: int, seed: int, paths: Sequence[str]) -> List[Tally]:
    import hypothesis
    import schemathesis
    from hypothesis import HealthCheck, Phase
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{product.web_url}/api/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in SKIPPED:
            operations.append(operation)
    sessions = Sessions(product)
    http = requests.Session()
    tallies = {role: Tally(f"web app API as {role}") for role in ROLES}
    # rounds until the count is reached: an operation without parameters has few distinct requests per round
    per_call = max(2, count // (len(ROLES) * len(operations) * 2 * 2))
    started = time.perf_counter()
    rounds = 0
    while sum(t.tried for t in tallies.values()) < count and rounds < 50:
        rounds += 1
        for role in ROLES:
            tally = tallies[role]
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    headers = sessions.headers(role)
                    public = not _needs_session(operation)
                    leads_only = "leads" in (operation.definition.raw.get("tags") or [])

                    @hypothesis.seed(seed * 7919 + rounds)
                    @hypothesis.settings(max_examples=per_call, deadline=None, database=None, print_blob=False,
                                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
                    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
                    def call(case: Any) -> None:
                        _call(case, http, product.web_url, headers, tally, paths, role, public, leads_only)

                    try:
                        call()
                    except hypothesis.errors.Unsatisfiable:
                        pass  # nothing more to generate for this operation in this mode
                    if sum(t.tried for t in tallies.values()) >= count:
                        break
    seconds = round(time.perf_counter() - started, 1)
    for tally in tallies.values():
        tally.figures.update({"operations": len(operations), "seconds": seconds, "rounds": rounds})
    tallies["lead"].figures["sessions restored"] = sessions.restored
    tallies["lead"].figures["left out"] = "; ".join(f"{m} {p} ({why})" for (m, p), why in SKIPPED.items())
    dead_processes(tallies["lead"], product.processes)
    return list(tallies.values())


def _needs_session(operation: Any) -> bool:
    raw = operation.definition.raw
    return bool(raw.get("security", operation.schema.raw_schema.get("security")))


def _call(case: Any, http: requests.Session, base: str, headers: Dict[str, str], tally: Tally, paths: Sequence[str],
          role: str, public: bool, leads_only: bool) -> None:
    where = f"{case.method.upper()} {case.path}"
    request = _request_text(case)
    try:
        response = case.call(base_url=base, session=http, headers=headers, timeout=30)
        status, text = response.status_code, (response.content or b"").decode("utf-8", errors="replace")
    except requests.RequestException as error:
        status, text = 599, f"no answer: {error}"
    if not check_answer(tally, where, status, text, request, paths):
        return
    if 200 <= status < 300 and ((role == "nobody" and not public) or (role == "agent" and leads_only)):
        tally.fail(Finding("let through", where, f"{role} got {status}", clip(request)))
    elif 400 <= status < 500 and not _is_error_body(text):
        tally.fail(Finding("wrong answer", where, f"{status} without {{\"error\": ...}}: {clip(text)}", clip(request)))


def _is_error_body(text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str) and bool(body["error"])


def _request_text(case: Any) -> str:
    parts: List[Optional[str]] = [case.path]
    for value in (case.path_parameters, case.query, case.body, case.headers):
        try:
            parts.append(json.dumps(value, default=str))
        except (TypeError, ValueError):
            parts.append(repr(value))
    return " ".join(p for p in parts if p)
