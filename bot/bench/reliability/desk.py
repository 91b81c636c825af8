"""The desk's sign-in and the protections of its pages, measured against the running web app.

- Brute force: wrong passwords for one account from one address until refused, and one password sprayed
  over many accounts; the figures are how many guesses got through before the 429, and how fast.
- The session cookie: HttpOnly, SameSite=Strict, Secure (on loopback and over HTTPS).
- CSRF: every state-changing operation in the OpenAPI document, called with the lead's session cookie but
  without the session's CSRF token, with a wrong one, and as a cross-site form would send it: each must be
  refused with 403 before anything runs.
- Security headers on the desk, the knowledge workspace, the API, the widget script and the demo page.
"""
from __future__ import annotations

import re
import time
from typing import Dict

import requests

from bot.bench.reliability.product import LEAD, Product
from bot.bench.reliability.verdicts import Finding, Tally

PAGES = ("/desk/", "/desk/knowledge/", "/api/me", "/widget.js", "/")  # "/": the demo store page
GUESSES = 40


def check_desk(product: Product) -> Tally:
    tally = Tally("desk sign-in, cookies, CSRF, headers")
    web = product.web_url
    # the guessing goes last: it leaves this address throttled for the rest of the window
    _cookie(tally, web)
    _csrf(tally, web)
    _headers(tally, web)
    _brute_force(tally, web)
    return tally


def _login(web: str, email: str, password: str) -> requests.Response:
    return requests.post(f"{web}/api/auth/login", json={"email": email, "password": password}, timeout=30)


def _brute_force(tally: Tally, web: str) -> None:
    email = "victim@reliability.example"  # no such account: the answer is the same as for a real one
    through, began = 0, time.perf_counter()
    for n in range(GUESSES):
        answer = _login(web, email, f"guess number {n}")
        tally.tried += 1
        tally.outcomes[f"guess {answer.status_code}"] += 1
        if answer.status_code == 429:
            break
        through += 1
    seconds = time.perf_counter() - began
    tally.figures["guesses at one account before 429"] = through
    tally.figures["guesses per second until then"] = round(through / seconds, 1) if seconds else None
    if through > 10:
        tally.fail(Finding("not throttled", "POST /api/auth/login", f"{through} wrong passwords for one account went through"))
    sprayed = 0
    for n in range(GUESSES * 2):
        answer = _login(web, f"user{n}@reliability.example", "Winter2026!")
        tally.tried += 1
        tally.outcomes[f"spray {answer.status_code}"] += 1
        if answer.status_code == 429:
            break
        sprayed += 1
    # the first part's guesses count against the address as well
    tally.figures["accounts sprayed before 429"] = sprayed
    if through + sprayed > 30:
        tally.fail(Finding("not throttled", "POST /api/auth/login", f"{through + sprayed} guesses from one address went through"))


def _cookie(tally: Tally, web: str) -> None:
    # the battery runs on loopback, as `make run` does, so the cookie must be Secure
    answer = _login(web, LEAD[0], LEAD[2])
    tally.tried += 1
    if answer.status_code == 429:  # the address is throttled by the part above: the sign-in is refused too
        tally.figures["cookie"] = "not checked: the address is throttled"
        return
    cookie = answer.headers.get("set-cookie", "")
    flags = {flag: bool(re.search(pattern, cookie, re.I)) for flag, pattern in
             (("HttpOnly", r";\s*httponly"), ("Secure", r";\s*secure"), ("SameSite=Strict", r";\s*samesite=strict"))}
    tally.figures["cookie flags"] = ", ".join(f for f, on in flags.items() if on)
    for flag, on in flags.items():
        if not on:
            tally.fail(Finding("cookie", "POST /api/auth/login", f"the session cookie lacks {flag}: {cookie[:120]}"))


def _csrf(tally: Tally, web: str) -> None:
    token = _session_token(web)
    if token is None:
        tally.fail(Finding("CSRF", "sign-in", "could not sign in as the lead to check CSRF"))
        return
    spec = requests.get(f"{web}/api/openapi.json", timeout=30).json()
    checked = 0
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method.upper() not in ("POST", "PUT", "PATCH", "DELETE") or not operation.get("security"):
                continue
            url = web + re.sub(r"\{[^}]+\}", "1", path)
            attempts: Dict[str, Dict] = {
                "no CSRF token": {"json": {}, "headers": {}},
                "wrong CSRF token": {"json": {}, "headers": {"X-CSRF-Token": "0" * 64}},
                "cross-site form": {"data": {"text": "x"}, "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
            }
            for what, kwargs in attempts.items():
                answer = requests.request(method.upper(), url, cookies={"desk_session": token}, timeout=30, **kwargs)
                tally.tried += 1
                tally.outcomes[f"CSRF {answer.status_code}"] += 1
                if answer.status_code != 403:
                    tally.fail(Finding("CSRF", f"{method.upper()} {path}", f"{what}: HTTP {answer.status_code}, expected 403"))
            checked += 1
    tally.figures["state-changing operations checked for CSRF"] = checked


def _session_token(web: str):
    answer = _login(web, LEAD[0], LEAD[2])
    return answer.json()["token"] if answer.status_code == 200 else None


def _headers(tally: Tally, web: str) -> None:
    for page in PAGES:
        answer = requests.get(web + page, timeout=30)
        tally.tried += 1
        headers = {k.lower(): v for k, v in answer.headers.items()}
        csp = headers.get("content-security-policy", "")
        problems = []
        if not csp:
            problems.append("no Content-Security-Policy")
        if "'unsafe-inline'" in csp or "'unsafe-eval'" in csp:
            problems.append("CSP allows inline or eval'd script or style")
        if "frame-ancestors" not in csp and headers.get("x-frame-options", "").upper() != "DENY":
            problems.append("may be framed (no frame-ancestors)")
        if headers.get("x-content-type-options", "").lower() != "nosniff":
            problems.append("no X-Content-Type-Options: nosniff")
        for problem in problems:
            tally.fail(Finding("header", page, problem))
    tally.figures["pages checked for headers"] = len(PAGES)
