"""The loop the workspace exists for, against the real servers in a real browser.

A customer asks the website widget something the help centre cannot answer; a lead sees it in the content
gaps, starts an article from the cluster (its wordings become the article's `questions:`), previews it as the
widget will show it, publishes it and watches it go live (the real action server says which index it
serves); the customer asks again and the widget answers from the new article, with the same card the preview
showed. An article full of XSS payloads, answered in the widget, runs nothing.
"""
from __future__ import annotations

import uuid

import pytest

from bot.container import build_handoff
from tests.bot.web.test_knowledge_pages import TRAPS, xss_payloads
from tests.e2e.test_widget import ARGS, ARTIFACTS, CHROMIUM, REPLY_MS, Chat, eventually

pytestmark = pytest.mark.integration

PASSWORD = "e2e knowledge lead password"
QUESTION = "do you engrave a gift message on the headphone case?"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium): the workspace's browser tests need it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lead_email(servers) -> str:
    email = f"lead-{uuid.uuid4().hex[:6]}@e2e.example"
    build_handoff(servers.settings).ensure_agent(email, "Lena", "lead", PASSWORD)
    return email


def sign_in_to_workspace(page, site: str, email: str) -> None:
    page.goto(f"{site}/desk/?next=knowledge")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.locator("#whoami").filter(has_text="Lena").wait_for()  # back in the workspace, signed in


def _assert(condition: bool) -> None:
    assert condition


def card_text(locator) -> str:
    return " ".join(locator.inner_text().split())


def test_a_missed_question_becomes_an_article_the_widget_then_answers_from(browser, servers, lead_email):
    from playwright.sync_api import expect

    site = servers.settings.web_url
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    chat = Chat(context, f"{site}/")
    chat.open()
    chat.say(QUESTION)
    chat.wait_for(QUESTION, who="li.msg.customer")
    eventually(lambda: _assert(chat.messages()[-1]["who"] == "bot"), timeout=REPLY_MS / 1000)
    assert chat.log.locator("li.has-card").filter(has_text="engrave").count() == 0, chat.texts()  # not answered yet
    print("before the article, the assistant said:", chat.texts()[-1])

    page = context.new_page()
    page.set_default_timeout(60_000)  # the web app loads the sentence model on the first gap page
    page.add_init_script(TRAPS)
    sign_in_to_workspace(page, site, lead_email)
    page.goto(f"{site}/desk/knowledge/#/gaps")
    cluster = page.locator("#gaps-list .gap-card").filter(has_text="engrave")
    expect(page.locator("#gaps-list .gap-card, #gaps-empty:visible").first).to_be_visible(timeout=90_000)  # loads the model
    assert cluster.count() == 1, page.locator("#gaps-list").inner_text()
    expect(cluster).to_contain_text("website 1")
    page.screenshot(path=str(ARTIFACTS / "knowledge-e2e-1-gap.png"), full_page=True)
    cluster.get_by_role("link").click()
    page.get_by_role("link", name="Start a new article from this gap").click()
    expect(page.locator("#questions-list input").first).to_have_value(QUESTION)  # the cluster's wording, pre-filled

    page.locator("#a-title").fill("Engraved gift messages")
    page.locator("#a-id").fill("engraved-gift-messages")
    page.locator("#a-category").fill("ordering")
    page.locator("#a-tags").fill("gifts, engraving")
    page.locator("#a-url").fill("https://help.brightwave.example/articles/engraved-gift-messages")
    page.locator("#a-status").select_option("published")
    page.locator("#body-editor .cm-content").click()
    page.keyboard.type("Yes: we engrave a free gift message of up to 40 characters on every headphone case. "
                       "Add it in the **Gift options** step at checkout.")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview-cards .card").first
    expect(preview).to_contain_text("up to 40 characters")
    previewed = card_text(preview)
    page.get_by_role("button", name="Create").click()
    state = page.locator("#publish-state")
    expect(state).to_contain_text("Live: the assistant answers from this version", timeout=60_000)
    assert (servers.settings.kb_articles_dir / "engraved-gift-messages.md").exists()
    page.screenshot(path=str(ARTIFACTS / "knowledge-e2e-2-live.png"), full_page=True)
    page.goto(f"{site}/desk/knowledge/#/gaps")
    page.locator("#gaps-list .gap-card").filter(has_text="engrave").get_by_role("link").click()
    page.get_by_role("button", name="Re-check now").click()
    expect(page.locator("#gap-recheck")).to_contain_text("1 would now be answered")

    chat.say(QUESTION)
    answer = chat.log.locator("li.has-card").filter(has_text="up to 40 characters")
    answer.wait_for(timeout=REPLY_MS)
    assert answer.locator(".source a").inner_text() == "Engraved gift messages"
    assert card_text(answer.locator(".card")) == previewed  # what the lead previewed is what the customer reads
    chat.shot("answered-from-new-article")
    chat.no_script_ran()
    assert page.evaluate("() => window.__xss") is None
    context.close()


def test_an_article_of_xss_payloads_answered_in_the_widget_runs_nothing(browser, servers, lead_email):
    from playwright.sync_api import expect

    payloads = xss_payloads()
    site = servers.settings.web_url
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(TRAPS)
    page = context.new_page()
    page.set_default_timeout(60_000)
    sign_in_to_workspace(page, site, lead_email)
    # the passage the widget will show carries payloads of its own; the rest follow as paragraphs
    body = ("Zebra-striped warranty stickers are free for every order. " + " ".join(payloads[1:6]) + "\n\n"
            + "\n\n".join(payloads[6:]))
    created = page.evaluate("""async ([body, title]) => {
      const me = await (await fetch('/api/me')).json();
      const r = await fetch('/api/kb/articles', {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
        body: JSON.stringify({article: {id: 'zebra-stickers', title, category: 'ordering', tags: ['stickers'], status: 'published',
          url: 'https://help.brightwave.example/articles/zebra-stickers', body, questions: ['are zebra-striped warranty stickers free?']}})});
      return [r.status, await r.text()]; }""", [body, payloads[0] + " Zebra stickers"])
    assert created[0] == 201, created[1]
    page.goto(f"{site}/desk/knowledge/#/articles/zebra-stickers")
    expect(page.locator("#a-title")).to_have_value(payloads[0] + " Zebra stickers")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-cards .card").first).to_contain_text("Zebra-striped")

    chat = Chat(context, f"{site}/")
    chat.open()
    chat.say("are zebra-striped warranty stickers free?")
    eventually(lambda: _assert(chat.messages()[-1]["who"] == "bot"), timeout=REPLY_MS / 1000)
    if chat.log.locator("li.has-card").count() == 0:  # offered a choice: the hostile title is a button, pick it
        chat.log.get_by_role("button", name="Zebra stickers").click()
        chat.log.locator("li.has-card").last.wait_for(timeout=REPLY_MS)
    card = chat.log.locator("li.has-card").last
    assert "Zebra-striped" in card.inner_text(), chat.texts()
    assert payloads[1].strip()[:20] in card.inner_text()  # shown as text
    chat.page.wait_for_timeout(500)
    chat.shot("xss-article-inert")
    chat.no_script_ran()
    assert page.evaluate("() => window.__xss") is None
    context.close()
