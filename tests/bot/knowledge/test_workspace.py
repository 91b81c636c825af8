"""The leads' knowledge workspace over a real article folder, a real index (fake embedder) and SQLite revisions."""
from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.errors import NotAllowed, NotFound
from bot.handoff.models import AGENT, LEAD, Agent
from bot.knowledge.articles import content_hash, load_articles, read_text
from bot.knowledge.editing import ArticleFields
from bot.knowledge.errors import ArticleRefused, EditConflict
from bot.knowledge.index import read_manifest
from bot.knowledge.lint import lint_folder
from bot.knowledge.publishing import IndexBuilder
from bot.knowledge.revisions import CREATED, DELETED, FILES, ON_DISK, PUBLISHED, REVERTED, SAVED, UNPUBLISHED, SqlRevisionStore
from bot.knowledge.service import KnowledgeBase
from bot.knowledge.workspace import KnowledgeWorkspace

LEE = Agent(id=3, email="lee@brightwave.example", name="Lee", role=LEAD)
MAYA = Agent(id=1, email="maya@brightwave.example", name="Maya", role=AGENT)
NOW = datetime(2026, 12, 5, 10, 0)


class Probe:
    def __init__(self) -> None:
        self.version = None

    def serving_version(self):
        return self.version


@pytest.fixture
def workspace(tmp_path: Path, articles_dir: Path, embedder) -> KnowledgeWorkspace:
    builder = IndexBuilder(articles_dir, tmp_path / "index", embedder)
    builder.rebuild()
    return KnowledgeWorkspace(articles_dir=articles_dir, revisions=SqlRevisionStore.from_url(f"sqlite:///{tmp_path / 'app.db'}"),
                              builder=builder, clock=lambda: NOW, lock_dir=tmp_path, probe=Probe())


def new_fields(**changes) -> ArticleFields:
    fields = ArticleFields(id="gift-cards", title="Gift cards", category="payment-and-billing", tags=("gift card", "vouchers"),
                           status="draft", url="https://help.example/articles/gift-cards",
                           body="Gift cards never expire.\n\n## Balance\nCheck the balance on the card's page.",
                           questions=("do gift cards expire", "how do I check my gift card balance"))
    return replace(fields, **changes)


def live_articles(workspace: KnowledgeWorkspace, embedder) -> set:
    return {a.id for a in KnowledgeBase.open(workspace.builder.index_dir, embedder).articles()}


# --- reading --------------------------------------------------------------------------------------------

def test_the_list_has_every_file_with_its_findings(workspace, articles_dir):
    (articles_dir / "broken.md").write_text("no front matter here\n")
    rows = {row.id: row for row in workspace.list()}
    assert set(rows) == {"reset-pulse-700", "pair-headphones", "camera-offline", "returns-policy", "holiday-returns", "broken"}
    assert rows["holiday-returns"].status == "draft"
    assert rows["broken"].readable is False and rows["broken"].errors == 1
    assert rows["reset-pulse-700"].errors == 0 and rows["reset-pulse-700"].last_editor is None


def test_an_article_opens_with_its_fields_and_version(workspace, articles_dir):
    view = workspace.get("reset-pulse-700")
    assert view.fields.title == "Restart or reset Pulse 700 Wireless Headphones"
    assert view.etag == content_hash(read_text(articles_dir / "reset-pulse-700.md"))
    with pytest.raises(NotFound):
        workspace.get("no-such-article")


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", "UPPER", "a..b", "", "x" * 200, "a\0b", "-lead"])
def test_odd_ids_are_refused_before_any_file_is_touched(workspace, bad):
    with pytest.raises(ArticleRefused, match="not an article id"):
        workspace.get(bad)
    with pytest.raises(ArticleRefused):
        workspace.create(LEE, new_fields(id=bad))


# --- creating, saving, publishing ---------------------------------------------------------------------

def test_a_new_draft_is_a_file_bot_kb_reads_and_is_not_served(workspace, articles_dir, embedder):
    result = workspace.create(LEE, new_fields())
    path = articles_dir / "gift-cards.md"
    article = next(a for a in load_articles(articles_dir)[0] if a.id == "gift-cards")
    assert article.status == "draft" and article.questions == ("do gift cards expire", "how do I check my gift card balance")
    assert article.updated == date(2026, 12, 5)
    assert result.revision.action == CREATED and result.revision.editor == "Lee"
    assert result.article.etag == content_hash(read_text(path))
    assert result.publication is None  # a draft changes nothing that is served
    assert "gift-cards" not in live_articles(workspace, embedder)
    assert not [p for p in lint_folder(articles_dir) if "gift-cards" in p.file]


def test_publishing_rebuilds_the_index_and_the_assistant_can_answer_from_it(workspace, embedder):
    draft = workspace.create(LEE, new_fields())
    published = workspace.set_status(LEE, "gift-cards", "published", draft.article.etag)
    assert published.revision.action == PUBLISHED
    assert published.publication.rebuilt
    assert published.publication.index_version == read_manifest(workspace.builder.index_dir).version
    assert "gift-cards" in live_articles(workspace, embedder)
    unpublished = workspace.set_status(LEE, "gift-cards", "draft", published.article.etag)
    assert unpublished.revision.action == UNPUBLISHED and unpublished.publication.rebuilt
    assert "gift-cards" not in live_articles(workspace, embedder)


def test_live_status_says_whether_the_assistant_serves_the_newest_index(workspace):
    workspace.create(LEE, new_fields(status="published"))
    status = workspace.live_status()
    assert status.index_version and not status.live
    workspace.probe.version = status.index_version
    assert workspace.live_status().live


def test_agents_may_read_but_not_write(workspace):
    opened = workspace.get("returns-policy")
    etag = opened.etag
    for attempt in (lambda: workspace.create(MAYA, new_fields()),
                    lambda: workspace.save(MAYA, "returns-policy", opened.fields, etag),
                    lambda: workspace.set_status(MAYA, "returns-policy", "draft", etag),
                    lambda: workspace.delete(MAYA, "returns-policy", etag)):
        with pytest.raises(NotAllowed):
            attempt()
    assert workspace.get("returns-policy").etag == etag
    assert workspace.history("returns-policy")[0].editor == FILES  # the only revision: the file as found


def test_an_edit_since_opening_is_a_conflict_and_nothing_is_written(workspace, articles_dir):
    opened = workspace.get("returns-policy")
    path = articles_dir / "returns-policy.md"
    path.write_text(read_text(path).replace("30 days", "45 days"))  # a teammate's commit, pulled meanwhile
    theirs = read_text(path)
    mine = replace(opened.fields, body=opened.fields.body + "\n\nAlso: free return labels.")
    with pytest.raises(EditConflict) as conflict:
        workspace.save(LEE, "returns-policy", mine, opened.etag)
    assert conflict.value.current_hash == content_hash(theirs)
    assert read_text(path) == theirs


def test_two_leads_saving_the_same_version_at_once_one_wins(workspace):
    opened = workspace.get("returns-policy")
    outcomes = []

    def save(text: str) -> None:
        try:
            workspace.save(LEE, "returns-policy", replace(opened.fields, body=text), opened.etag)
            outcomes.append("saved")
        except EditConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(f"Version {n} of the policy.",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "saved"]


def test_a_publish_with_lint_errors_is_refused_with_the_findings(workspace, articles_dir):
    opened = workspace.get("returns-policy")
    broken = replace(opened.fields, body=opened.fields.body + "\n\nSee [the form](return-form.md).")
    with pytest.raises(ArticleRefused, match="not published: broken link") as refused:
        workspace.save(LEE, "returns-policy", broken, opened.etag)
    assert [p.severity for p in refused.value.problems] == ["error"]
    assert read_text(articles_dir / "returns-policy.md") == opened.text
    # as a draft it may wait for the article it links to; the finding comes back with the save
    saved = workspace.save(LEE, "returns-policy", broken.with_status("draft"), opened.etag)
    assert [p.message for p in saved.problems] == ["broken link: return-form.md does not exist"]
    assert saved.revision.action == UNPUBLISHED


def test_a_file_the_loader_could_not_read_is_never_written(workspace):
    with pytest.raises(ArticleRefused, match="article is empty"):
        workspace.create(LEE, new_fields(body="  \n"))
    with pytest.raises(ArticleRefused, match="url"):
        workspace.create(LEE, new_fields(url="javascript:alert(1)"))


def test_check_lints_without_writing(workspace, articles_dir):
    problems = workspace.check(new_fields(body="See [x](missing.md).\n\n## Empty\n"))
    assert {p.message for p in problems} == {"broken link: missing.md does not exist", "empty section: '## Empty' has no text"}
    assert not (articles_dir / "gift-cards.md").exists()


def test_the_id_cannot_change_and_ids_are_unique(workspace):
    opened = workspace.get("returns-policy")
    with pytest.raises(ArticleRefused, match="cannot change"):
        workspace.save(LEE, "returns-policy", replace(opened.fields, id="returns"), opened.etag)
    with pytest.raises(EditConflict, match="already exists"):
        workspace.create(LEE, replace(opened.fields, title="Another"))


# --- history, revert, delete --------------------------------------------------------------------------

def test_history_starts_with_the_file_as_found_and_records_outside_changes(workspace, articles_dir):
    opened = workspace.get("returns-policy")
    first = workspace.save(LEE, "returns-policy", replace(opened.fields, title="Returns policy"), opened.etag)
    path = articles_dir / "returns-policy.md"
    path.write_text(read_text(path).replace("for free", "free of charge"))
    history = workspace.history("returns-policy")
    assert [(r.action, r.editor) for r in history] == [(ON_DISK, FILES), (SAVED, "Lee"), (ON_DISK, FILES)]
    diff = workspace.diff(first.revision.id)
    assert "-title: Our returns policy" in diff and "+title: Returns policy" in diff
    assert "+You can return most items within 30 days of delivery, free of charge." in workspace.diff(history[0].id)


def test_revert_brings_back_any_revision(workspace, articles_dir):
    opened = workspace.get("returns-policy")
    original = workspace.history("returns-policy")[0]
    edited = workspace.save(LEE, "returns-policy", replace(opened.fields, body="Returns are closed."), opened.etag)
    reverted = workspace.revert(LEE, "returns-policy", original.id, edited.article.etag)
    assert reverted.revision.action == REVERTED
    assert read_text(articles_dir / "returns-policy.md") == original.text
    assert reverted.publication.rebuilt  # it is published: the index follows
    with pytest.raises(EditConflict):  # reverting from a stale page
        workspace.revert(LEE, "returns-policy", original.id, edited.article.etag)


def test_a_deleted_article_leaves_the_index_and_can_be_brought_back(workspace, articles_dir, embedder):
    opened = workspace.get("camera-offline")
    deleted = workspace.delete(LEE, "camera-offline", opened.etag)
    assert deleted.revision.action == DELETED and not (articles_dir / "camera-offline.md").exists()
    assert "camera-offline" not in live_articles(workspace, embedder)
    before = [r for r in workspace.history("camera-offline") if r.text is not None][0]
    workspace.revert(LEE, "camera-offline", before.id, None)
    assert read_text(articles_dir / "camera-offline.md") == opened.text
    assert "camera-offline" in live_articles(workspace, embedder)


def test_an_article_others_link_to_is_not_deleted(workspace, articles_dir):
    opened = workspace.get("pair-headphones")
    with pytest.raises(ArticleRefused, match="reset-pulse-700 links to it"):
        workspace.delete(LEE, "pair-headphones", opened.etag)
    assert (articles_dir / "pair-headphones.md").exists()


def test_preview_shows_each_passage_as_the_assistant_answers_with_it(workspace):
    cards = workspace.preview(new_fields(body="Gift cards never expire. See [refunds](returns-policy.md).\n\n"
                                              "## Balance\nCheck the balance on the card's page."))
    assert [c.section for c in cards] == ["", "Balance"]
    assert cards[0].custom["kb"]["passage"] == "Gift cards never expire. See [refunds](https://help.example/articles/returns-policy)."
    assert cards[0].text.endswith("Did this help?")
    assert not any("do gift cards expire" in c.text for c in cards)  # questions are searched, never shown
