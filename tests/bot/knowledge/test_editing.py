"""An article written from the editor's fields reads back as exactly those fields, and looks hand-written."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.knowledge.articles import parse_article_text
from bot.knowledge.editing import ArticleFields, add_questions, render, scalar

ODD = ["yes", "no", "null", "~", "2026-01-01", "12", "1e3", "0x1f", "a: b", "- item", "# not a comment", "[x]", "{x}",
       "'quoted'", '"double"', "trailing space ", " leading", "tab\there", "new\nline", "<script>alert(1)</script>",
       "*bold*", "&anchor", "!tag", "%percent", "@at", "`tick`", "colon:", "back\\slash", "emoji 🎧", "ünïcödé",
       "\u2028separator", "a, b", "x]y"]


@pytest.mark.parametrize("text", ODD)
def test_odd_scalars_read_back_unchanged(text):
    fields = ArticleFields(id="odd", title=text, category="ordering", tags=(text,), status="draft",
                           url="https://help.example/articles/odd", body="Body.", questions=(text,))
    article, _ = parse_article_text(render(fields, date(2026, 12, 5)), Path("odd.md"))
    assert article.title == " ".join(text.split())
    assert article.tags == (text.strip(),)
    assert article.questions == (" ".join(text.split()),)


def test_the_file_looks_like_the_hand_written_ones():
    fields = ArticleFields(id="gift-cards", title="Gift cards", category="payment-and-billing", tags=("gift card", "vouchers"),
                           status="published", url="https://help.example/articles/gift-cards", body="\n\nText.\n\n\n",
                           questions=("do gift cards expire?",))
    assert render(fields, date(2026, 12, 5)) == (
        "---\nid: gift-cards\ntitle: Gift cards\ncategory: payment-and-billing\ntags: [gift card, vouchers]\n"
        "status: published\nupdated: 2026-12-05\nurl: https://help.example/articles/gift-cards\n"
        'questions:\n  - "do gift cards expire?"\n---\nText.\n')


def test_plain_scalars_stay_plain():
    assert scalar("Pair your headphones") == "Pair your headphones"
    assert scalar("https://help.example/a?b=c#d") == "https://help.example/a?b=c#d"
    assert [scalar(t) for t in ("yes", "12", "a: b", "x #y", "2026-01-01")] == ['"yes"', '"12"', '"a: b"', '"x #y"', '"2026-01-01"']


def test_from_mapping_tidies_whitespace_and_drops_duplicates():
    fields = ArticleFields.from_mapping({"id": " gift-cards ", "title": "  Gift   cards ", "category": "x", "tags": [" a ", "", "b"],
                                         "status": "draft", "url": "https://x.example/a", "body": "Line\r\nTwo\r\n",
                                         "questions": ["Do they expire", "do  they expire", "Do they expire"]})
    assert (fields.id, fields.title, fields.tags, fields.body) == ("gift-cards", "Gift cards", ("a", "b"), "Line\nTwo")
    assert fields.questions == ("Do they expire", "do they expire")


def test_adding_questions_skips_those_already_there_in_any_case():
    fields = ArticleFields(id="a", title="A", category="c", tags=(), status="draft", url="https://x.example/a", body="b",
                           questions=("Do gift cards expire",))
    assert add_questions(fields, ["do gift cards expire", "can I top up a gift card", " "]).questions == (
        "Do gift cards expire", "can I top up a gift card")
