"""Make it yours, end to end: `bot init` a new company, `make run` in its folder, and a conversation in Chromium.

The company's folder is what `bot init` writes, with one edit a company makes anyway: its hours are set to
around the clock, so the handoff reaches the queue whatever the hour the test runs at. `make run` there starts
the product as a company would (it trains the model if the product's data changed: minutes, on this machine).
A customer chats in the widget on the company's preview page and asks for a person; an agent signs in to the
desk with the account `make run` created. Both see the company's name and colour, and no text of the demo
store's anywhere. Screenshots go to tests/artifacts/.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
import yaml

from bot.handoff.hours import DAYS
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"
PORT_BASE = int(os.environ.get("E2E_PORT_BASE", "15000")) + 300  # apart from the other e2e servers
COLOUR, RGB = "#0f766e", "rgb(15, 118, 110)"
REPLY_MS = 120_000
START_SECONDS = 1800  # `make run` may train the model first
DEMO_WORDS = re.compile(r"brightwave", re.IGNORECASE)

# the visible text of the widget's shadow DOM (innerText skips hidden and screen-reader-only nodes' styling)
WIDGET_TEXT_JS = "() => document.querySelector('support-chat').shadowRoot.querySelector('.bw').innerText"


@pytest.fixture(scope="module")
def company_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("make-it-yours") / "northwind"
    done = subprocess.run([sys.executable, "-m", "bot", "init", str(folder), "--name", "Northwind Outfitters",
                           "--short-name", "Northwind", "--assistant", "Aurora", "--colour", COLOUR,
                           "--email", "help@northwind.example", "--orders", "demo"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Next steps:" in done.stdout
    profile = folder / "company.yml"
    raw = yaml.safe_load(profile.read_text(encoding="utf-8"))
    raw["hours"] = {"timezone": "UTC", "weekly": {day: "00:00-24:00" for day in DAYS}, "holidays": []}
    profile.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def running(company_folder: Path) -> Iterator[str]:
    """`make run` in the company's folder, on ports of its own; the web app's address once everything is up."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("COMPANY_PROFILE", "HANDOFF_CONFIG", "KB_ARTICLES_DIR", "SUPPORT_DATA_DIR", "MAKEFLAGS")}
    env.update({"RASA_PORT": str(PORT_BASE + 5), "ACTION_PORT": str(PORT_BASE + 55), "WEB_PORT": str(PORT_BASE + 80),
                "RASA_TOKEN": "e2e-make-it-yours-token", "IDENTITY_SECRET": "e2e-make-it-yours-identity"})
    log = (company_folder / "make-run.log").open("wb")
    process = subprocess.Popen(["make", "run"], cwd=company_folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    web = f"http://127.0.0.1:{PORT_BASE + 80}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while "support assistant is running" not in (company_folder / "make-run.log").read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail("make run stopped:\n" + (company_folder / "make-run.log").read_text(errors="replace")[-4000:])
            if time.monotonic() > deadline:
                pytest.fail("make run did not start in time:\n"
                            + (company_folder / "make-run.log").read_text(errors="replace")[-4000:])
            time.sleep(2)
        yield web
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C: `bot run` stops its processes
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"make-it-yours-{name}.png"))


def test_a_new_company_runs_under_its_own_name_and_colour_in_the_widget_and_the_desk(browser, running, company_folder):
    web = running
    brand = requests.get(f"{web}/api/brand", timeout=10).json()
    assert brand["short_name"] == "Northwind" and brand["colour"] == COLOUR

    # --- the agent signs in to the desk first (with nobody online a handoff becomes an offline ticket), with
    # the account `make run` created for this company ---
    password = (company_folder / "var" / "secrets" / "desk-agent-password").read_text().strip()
    desk = browser.new_context().new_page()
    desk.set_default_timeout(30_000)
    desk.goto(f"{web}/desk/")
    desk.locator("#signin-title", has_text="Sign in to the Northwind desk").wait_for()
    desk.fill("#signin-email", "agent@northwind.example")
    desk.fill("#signin-password", password)
    desk.click("#signin-submit")
    desk.locator(".top .brand", has_text="Northwind desk").wait_for()
    assert desk.locator(".top").evaluate("(el) => getComputedStyle(el).backgroundColor") == RGB

    # --- the customer, in the widget on the company's preview page ---
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{web}/")
    assert "Northwind Outfitters" in page.title() and not DEMO_WORDS.search(page.inner_text("body"))
    widget = page.locator("support-chat")
    launcher = widget.locator(".launcher")
    launcher.click()
    assert widget.locator("#bw-title").text_content() == "Northwind support"
    assert launcher.evaluate("(el) => getComputedStyle(el).backgroundColor") == RGB
    assert widget.locator(".head").evaluate("(el) => getComputedStyle(el).backgroundColor") == RGB
    assert "I'm Aurora, Northwind's virtual assistant" in widget.locator(".welcome").text_content()
    message = widget.get_by_label("Message")
    message.fill("hello")
    message.press("Enter")
    widget.locator(".log li.msg", has_text="welcome to Northwind").last.wait_for(timeout=REPLY_MS)
    message.fill("are you a bot?")
    message.press("Enter")
    widget.locator(".log li.msg", has_text="Northwind's virtual assistant, a bot").last.wait_for(timeout=REPLY_MS)
    message.fill("I'd like to talk to a person please")
    message.press("Enter")
    widget.locator(".log li.msg", has_text="bringing in a person from our team").last.wait_for(timeout=REPLY_MS)
    said = page.evaluate(WIDGET_TEXT_JS)
    assert "Northwind" in said and not DEMO_WORDS.search(said), said
    shot(page, "widget")

    # --- the agent opens the conversation from the queue ---
    desk.locator("#queue-list li a").first.click()
    desk.locator("#packet", has_text="welcome to Northwind").wait_for(timeout=60_000)
    assert "Northwind desk" in desk.title()
    seen = desk.inner_text("body")
    assert not DEMO_WORDS.search(seen), seen
    shot(desk, "desk")
    assert problems == []
