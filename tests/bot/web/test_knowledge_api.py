"""The leads' knowledge API over HTTP: what the editor, the gaps page and the quality table call.

The services are tested in tests/bot/knowledge and tests/bot/insights; here each route's HTTP contract:
status codes, the conflict and refusal shapes the pages show, and that the files on disk are what changed.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.insights.log import ANSWERED, RATED, UNANSWERED, KnowledgeEvent
from tests.bot.web.conftest import OPEN
from tests.bot.web.test_app import NEW_ARTICLE


@pytest.fixture
def lead(desk) -> dict:
    return desk.bearer(desk.lee)


@pytest.fixture
def agent(desk) -> dict:
    return desk.bearer(desk.maya)


def opened(client, headers, article_id: str = "returns-policy") -> dict:
    response = client.get(f"/api/kb/articles/{article_id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{response.json()["etag"]}"'
    return response.json()


def test_the_list_filters_by_search_status_category_tag_and_attention(client, desk, lead):
    listed = client.get("/api/kb/articles", headers=lead).json()
    assert {a["id"] for a in listed["articles"]} == {"reset-pulse-700", "pair-headphones", "camera-offline", "returns-policy",
                                                      "holiday-returns"}
    assert "returns" in listed["tags"] and listed["categories"] == ["ordering"]
    assert [a["id"] for a in client.get("/api/kb/articles?status=draft", headers=lead).json()["articles"]] == ["holiday-returns"]
    assert {a["id"] for a in client.get("/api/kb/articles?tag=returns", headers=lead).json()["articles"]} == {"returns-policy",
                                                                                                             "holiday-returns"}
    assert [a["id"] for a in client.get("/api/kb/articles?q=E31", headers=lead).json()["articles"]] == ["camera-offline"]
    (desk.articles_dir / "pair-headphones.md").write_text("---\nid: pair-headphones\n---\n", encoding="utf-8")
    attention = client.get("/api/kb/articles?attention=true", headers=lead).json()["articles"]
    assert [a["id"] for a in attention] == ["pair-headphones"] and attention[0]["attention"]
    assert client.get("/api/kb/articles?status=secret", headers=lead).status_code == 422


def test_create_then_open_then_edit_writes_the_file_bot_kb_reads(client, desk, lead):
    created = client.post("/api/kb/articles", json={"article": NEW_ARTICLE}, headers=lead)
    assert created.status_code == 201, created.text
    assert created.json()["revision"]["editor"] == "Lee" and created.json()["publication"] is None  # a draft: nothing rebuilt
    text = (desk.articles_dir / "gift-cards.md").read_text(encoding="utf-8")
    assert "title: Gift cards" in text and "Gift cards never expire." in text
    view = opened(client, lead, "gift-cards")
    edited = {**view["article"], "body": "Gift cards never expire and work online.", "questions": ["do gift cards expire"]}
    saved = client.put("/api/kb/articles/gift-cards", json={"article": edited, "etag": view["etag"]}, headers=lead)
    assert saved.status_code == 200, saved.text
    assert saved.json()["article"]["etag"] != view["etag"]
    text = (desk.articles_dir / "gift-cards.md").read_text(encoding="utf-8")
    assert "work online" in text and "do gift cards expire" in text
    assert client.post("/api/kb/articles", json={"article": NEW_ARTICLE}, headers=lead).status_code == 409  # ids are unique


def test_an_edit_since_opening_is_a_409_with_the_current_version_and_nothing_is_written(client, desk, lead):
    view = opened(client, lead)
    path = desk.articles_dir / "returns-policy.md"
    outside = path.read_text(encoding="utf-8").replace("30 days", "60 days")
    path.write_text(outside, encoding="utf-8")  # someone edited the file in git meanwhile
    mine = {**view["article"], "body": "My version."}
    refused = client.put("/api/kb/articles/returns-policy", json={"article": mine, "etag": view["etag"]}, headers=lead)
    assert refused.status_code == 409
    assert "changed since you opened it" in refused.json()["error"]
    assert refused.json()["current_etag"] == opened(client, lead)["etag"] != view["etag"]
    assert path.read_text(encoding="utf-8") == outside
    for action in ("publish", "unpublish", "delete"):
        assert client.post(f"/api/kb/articles/returns-policy/{action}", json={"etag": view["etag"]}, headers=lead).status_code == 409
    assert path.read_text(encoding="utf-8") == outside


def test_a_publish_with_lint_errors_is_refused_with_the_findings_and_a_draft_keeps_them(client, desk, lead):
    view = opened(client, lead)
    broken = {**view["article"], "body": view["article"]["body"] + "\n\nSee [the form](return-form.md)."}
    refused = client.put("/api/kb/articles/returns-policy", json={"article": broken, "etag": view["etag"]}, headers=lead)
    assert refused.status_code == 400
    assert "broken link" in refused.json()["error"]
    assert [(p["severity"], p["message"]) for p in refused.json()["problems"]] == [("error", "broken link: return-form.md does not exist")]
    assert (desk.articles_dir / "returns-policy.md").read_text(encoding="utf-8") == view["text"]
    draft = client.put("/api/kb/articles/returns-policy", json={"article": {**broken, "status": "draft"}, "etag": view["etag"]},
                       headers=lead)
    assert draft.status_code == 200 and [p["message"] for p in draft.json()["problems"]] == ["broken link: return-form.md does not exist"]
    again = client.post("/api/kb/articles/returns-policy/publish", json={"etag": draft.json()["article"]["etag"]}, headers=lead)
    assert again.status_code == 400 and again.json()["problems"]


def test_check_lints_what_is_on_screen_without_saving(client, desk, lead):
    article = {**NEW_ARTICLE, "body": "See [x](missing.md).\n\n## Empty\n"}
    checked = client.post("/api/kb/check", json={"article": article}, headers=lead).json()
    problems = checked["problems"]
    assert {p["message"] for p in problems} == {"broken link: missing.md does not exist", "empty section: '## Empty' has no text"}
    # findings carry file lines; the body (where both are) starts after the 9-line front matter
    assert checked["body_line"] == 10
    assert sorted(p["line"] - checked["body_line"] + 1 for p in problems) == [1, 3]
    assert not (desk.articles_dir / "gift-cards.md").exists()


@pytest.mark.parametrize("article_id", ["..%2F..%2Fetc%2Fpasswd", "Returns-Policy", "a--b", "-a", "a.md", "%00", "x" * 121])
def test_odd_article_ids_are_refused_and_no_file_is_touched(client, desk, lead, article_id):
    before = sorted(p.name for p in desk.articles_dir.iterdir())
    assert client.get(f"/api/kb/articles/{article_id}", headers=lead).status_code in (400, 404)
    put = client.put(f"/api/kb/articles/{article_id}", json={"article": NEW_ARTICLE, "etag": "x"}, headers=lead)
    assert put.status_code in (400, 404, 422)
    assert client.post(f"/api/kb/articles/{article_id}/delete", json={"etag": "x"}, headers=lead).status_code in (400, 404)
    assert sorted(p.name for p in desk.articles_dir.iterdir()) == before


@pytest.mark.parametrize("bad_id", ["../escape", "sub/dir", "UPPER", "", "a_b", "..", "con.md"])
def test_a_new_article_with_an_odd_id_is_refused(client, desk, lead, bad_id):
    refused = client.post("/api/kb/articles", json={"article": {**NEW_ARTICLE, "id": bad_id}}, headers=lead)
    assert refused.status_code in (400, 422) and refused.json()["error"]
    assert not (desk.articles_dir.parent / "escape.md").exists()
    assert sorted(p.name for p in desk.articles_dir.iterdir()) == sorted(f"{name}.md" for name in
                                                                         ("reset-pulse-700", "pair-headphones", "camera-offline",
                                                                          "returns-policy", "holiday-returns"))


def test_agents_read_articles_and_try_questions_but_change_nothing(client, desk, agent):
    view = opened(client, agent)
    assert client.post("/api/kb/try", json={"question": "can I return opened items"}, headers=agent).status_code == 200
    assert client.post("/api/kb/preview", json={"article": view["article"]}, headers=agent).status_code == 200
    refused = client.put("/api/kb/articles/returns-policy", json={"article": {**view["article"], "body": "x"}, "etag": view["etag"]},
                         headers=agent)
    assert refused.status_code == 403 and "lead" in refused.json()["error"]
    assert (desk.articles_dir / "returns-policy.md").read_text(encoding="utf-8") == view["text"]


def test_publish_and_unpublish_change_what_the_assistant_answers_from(client, desk, lead):
    question = "Items delivered in December can be returned until January 31."
    assert client.post("/api/kb/try", json={"question": question}, headers=lead).json()["hits"][0]["article_id"] != "holiday-returns"
    view = opened(client, lead, "holiday-returns")
    published = client.post("/api/kb/articles/holiday-returns/publish", json={"etag": view["etag"]}, headers=lead).json()
    assert published["publication"]["rebuilt"] and published["revision"]["action"] == "published"
    tried = client.post("/api/kb/try", json={"question": question}, headers=lead).json()
    assert tried["hits"][0]["article_id"] == "holiday-returns"
    assert tried["index_version"] == published["publication"]["index_version"]
    live = client.get("/api/kb/live", headers=lead).json()
    assert live["index_version"] == published["publication"]["index_version"]
    client.post("/api/kb/articles/holiday-returns/unpublish", json={"etag": published["article"]["etag"]}, headers=lead)
    assert "holiday-returns" not in {h["article_id"] for h in client.post("/api/kb/try", json={"question": question},
                                                                            headers=lead).json()["hits"]}


def test_try_shows_the_decision_passages_scores_and_runners_up(client, lead):
    tried = client.post("/api/kb/try", json={"question": "how do I reset my pulse 700 headphones", "k": 3}, headers=lead).json()
    assert tried["decision"]["action"] in {"answer", "clarify", "no_answer"} and tried["decision"]["reason"]
    assert len(tried["hits"]) == 3
    assert tried["hits"][0]["article_id"] == "reset-pulse-700"
    assert all({"score", "dense", "lexical", "passage", "section", "title"} <= hit.keys() for hit in tried["hits"])
    assert tried["hits"][0]["score"] >= tried["hits"][1]["score"] >= tried["hits"][2]["score"]
    assert client.post("/api/kb/try", json={"question": ""}, headers=lead).status_code == 422


def test_preview_renders_each_passage_as_the_widget_card(client, lead):
    article = {**NEW_ARTICLE, "body": "Gift cards never expire.\n\n## Balance\nCheck the balance on the card's page."}
    cards = client.post("/api/kb/preview", json={"article": article}, headers=lead).json()["cards"]
    assert [c["section"] for c in cards] == ["", "Balance"]
    assert cards[1]["custom"]["kb"]["title"] == "Gift cards"
    assert "Check the balance" in cards[1]["text"]
    refused = client.post("/api/kb/preview", json={"article": {**article, "body": " "}}, headers=lead)
    assert refused.status_code == 400 and "empty" in refused.json()["error"]


def test_history_shows_who_changed_what_and_revert_brings_it_back(client, desk, lead):
    view = opened(client, lead)
    edited = {**view["article"], "body": "Returns within 14 days."}
    saved = client.put("/api/kb/articles/returns-policy", json={"article": edited, "etag": view["etag"]}, headers=lead).json()
    revisions = client.get("/api/kb/articles/returns-policy/history", headers=lead).json()["revisions"]
    assert [r["editor"] for r in revisions][:1] == ["Lee"] and len(revisions) >= 2
    detail = client.get(f"/api/kb/revisions/{revisions[0]['id']}", headers=lead).json()
    assert "-You can return most items within 30 days" in detail["diff"] and "+Returns within 14 days." in detail["diff"]
    first = revisions[-1]["id"]
    reverted = client.post("/api/kb/articles/returns-policy/revert", json={"revision_id": first, "etag": saved["article"]["etag"]},
                           headers=lead)
    assert reverted.status_code == 200, reverted.text
    assert (desk.articles_dir / "returns-policy.md").read_text(encoding="utf-8") == view["text"]
    assert client.get("/api/kb/revisions/999999", headers=lead).status_code == 404


def test_delete_keeps_the_text_in_history_and_revert_brings_the_file_back(client, desk, lead):
    view = opened(client, lead, "camera-offline")
    deleted = client.post("/api/kb/articles/camera-offline/delete", json={"etag": view["etag"]}, headers=lead)
    assert deleted.status_code == 200 and deleted.json()["article"] is None
    assert not (desk.articles_dir / "camera-offline.md").exists()
    assert client.get("/api/kb/articles/camera-offline", headers=lead).status_code == 404
    with_text = [r for r in client.get("/api/kb/articles/camera-offline/history", headers=lead).json()["revisions"] if r["action"] != "deleted"]
    back = client.post("/api/kb/articles/camera-offline/revert", json={"revision_id": with_text[0]["id"], "etag": None}, headers=lead)
    assert back.status_code == 200, back.text
    assert (desk.articles_dir / "camera-offline.md").read_text(encoding="utf-8") == view["text"]


def record_misses(desk, text: str, times: int) -> None:
    for n in range(times):
        desk.insights.record(KnowledgeEvent(f"conv-{text[:5]}-{n}", UNANSWERED, text, OPEN - timedelta(hours=n)))


def test_a_gap_becomes_questions_of_an_article_and_is_then_answered(client, desk, lead):
    record_misses(desk, "can I send back a gift", 3)
    record_misses(desk, "my gift from jane.doe@example.com for order 104512 broke", 1)
    clusters = client.get("/api/kb/gaps?days=365", headers=lead).json()["clusters"]
    biggest = clusters[0]
    assert biggest["questions"] == 3 and biggest["channels"] == {"website": 3} and biggest["kinds"] == {"no answer": 3}
    personal = clusters[1]
    assert "jane.doe@example.com" not in str(personal) and "104512" not in str(personal)  # masked before a lead sees it
    personal_detail = client.get(f"/api/kb/gaps/{personal['id']}?days=365", headers=lead).json()
    assert "jane.doe" not in str(personal_detail) and "104512" not in str(personal_detail)
    detail = client.get(f"/api/kb/gaps/{biggest['id']}?days=365", headers=lead).json()
    assert len(detail["questions"]) == 3 and detail["wordings"] == ["can I send back a gift"] and detail["suggestions"]
    before = client.post(f"/api/kb/gaps/{biggest['id']}/recheck", headers=lead).json()
    assert before["questions"] == 3 and before["answered"] == 0
    view = opened(client, lead)
    fixed = client.post(f"/api/kb/gaps/{biggest['id']}/questions", headers=lead,
                        json={"article_id": "returns-policy", "questions": detail["wordings"][:1], "etag": view["etag"]}).json()
    assert detail["wordings"][0] in (desk.articles_dir / "returns-policy.md").read_text(encoding="utf-8")
    assert fixed["recheck"]["questions"] == 3
    after = client.post(f"/api/kb/gaps/{biggest['id']}/recheck", headers=lead).json()
    assert after == fixed["recheck"]
    listed = {c["id"]: c for c in client.get("/api/kb/gaps?days=365", headers=lead).json()["clusters"]}
    assert listed[biggest["id"]]["fixed_article"] == "returns-policy" and listed[biggest["id"]]["fixed_at"]


def test_a_gap_starts_a_prefilled_draft_and_can_be_dismissed(client, desk, lead):
    record_misses(desk, "do you sell lawnmowers", 2)
    cluster = client.get("/api/kb/gaps?days=365", headers=lead).json()["clusters"][0]
    draft = client.get(f"/api/kb/gaps/{cluster['id']}/draft", headers=lead).json()["article"]
    assert draft["status"] == "draft" and "do you sell lawnmowers" in draft["questions"]
    created = client.post("/api/kb/articles", headers=lead,
                          json={"article": {**draft, "id": "lawnmowers", "title": "Lawnmowers", "body": "We sell no lawnmowers.",
                                            "category": "ordering", "tags": ["garden"], "url": "https://help.example/articles/lawnmowers"},
                                "gap_id": cluster["id"]})
    assert created.status_code == 201, created.text
    assert created.json()["recheck"]["questions"] == 2  # a draft answers nobody yet: the lead sees it
    assert client.post(f"/api/kb/gaps/{cluster['id']}/dismiss", json={"dismissed": True}, headers=lead).json() == {"ok": True}
    assert cluster["id"] not in {c["id"] for c in client.get("/api/kb/gaps?days=365", headers=lead).json()["clusters"]}
    assert cluster["id"] in {c["id"] for c in client.get("/api/kb/gaps?days=365&dismissed=true", headers=lead).json()["clusters"]}
    assert client.get("/api/kb/gaps/424242/draft", headers=lead).status_code == 404


def test_quality_lists_shown_helpful_and_flags_per_article(client, desk, lead):
    for n in range(12):  # shown often (the rule's 10) and rated unhelpful in 10 of 12
        conversation = f"conv-q{n}"
        desk.insights.record(KnowledgeEvent(conversation, ANSWERED, "can I return it", OPEN, article_id="returns-policy"))
        desk.insights.record(KnowledgeEvent(conversation, RATED, "can I return it", OPEN, article_id="returns-policy",
                                            helpful=n < 2))
    desk.insights.record(KnowledgeEvent("conv-p", ANSWERED, "how do I pair", OPEN, article_id="pair-headphones"))
    rows = client.get("/api/kb/quality?days=365", headers=lead).json()["articles"]
    row = next(r for r in rows if r["article_id"] == "returns-policy")
    assert (row["shown"], row["helpful"], row["not_helpful"], row["helpful_share"]) == (12, 2, 10, 0.167)
    assert row["flagged"] and row["why"] and row["title"] == "Our returns policy"
    quiet = next(r for r in rows if r["article_id"] == "pair-headphones")
    assert (quiet["shown"], quiet["flagged"], quiet["helpful_share"]) == (1, False, None)
    assert client.get("/api/kb/quality?days=0", headers=lead).status_code == 422
