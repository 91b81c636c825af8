"""Parsing articles: fields, hashes, and every kind of bad file reported by name and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.errors import ConfigurationError
from bot.knowledge.articles import MAX_ARTICLE_BYTES, load_articles, parse_article
from bot.knowledge.errors import ArticleError
from tests.bot.knowledge.conftest import article_text, write_article


def test_parses_front_matter_and_body(articles_dir: Path) -> None:
    article = parse_article(articles_dir / "reset-pulse-700.md")
    assert article.id == "reset-pulse-700"
    assert article.title == "Restart or reset Pulse 700 Wireless Headphones"
    assert article.category == "ordering"
    assert article.tags == ("pulse 700", "reset")
    assert article.status == "published" and article.published
    assert article.updated == date(2026, 8, 18)
    assert article.url == "https://help.example/articles/reset-pulse-700"
    assert article.body.startswith("A restart fixes")
    assert article.path.endswith("reset-pulse-700.md")
    # the body starts on the line after the closing '---' (front matter is lines 1-9)
    assert article.body_line == 10
    assert len(article.content_hash) == 64


def test_content_hash_changes_with_any_edit(tmp_path: Path) -> None:
    path = write_article(tmp_path, "a", body="One.")
    first = parse_article(path).content_hash
    assert parse_article(path).content_hash == first
    write_article(tmp_path, "a", body="One!")
    assert parse_article(path).content_hash != first


def test_crlf_and_bom_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_bytes(b"\xef\xbb\xbf" + article_text("a").replace("\n", "\r\n").encode("utf-8"))
    article = parse_article(path)
    assert article.id == "a" and "\r" not in article.body


def test_load_articles_returns_good_ones_and_problems(articles_dir: Path) -> None:
    (articles_dir / "broken.md").write_text("---\nid: broken\ntitle: [unclosed\n---\nBody\n", encoding="utf-8")
    articles, problems = load_articles(articles_dir)
    assert sorted(a.id for a in articles) == sorted(
        ["camera-offline", "holiday-returns", "pair-headphones", "reset-pulse-700", "returns-policy"]
    )
    assert len(problems) == 1
    assert problems[0].file.endswith("broken.md") and problems[0].line == 3
    assert "malformed front matter" in problems[0].message
    assert str(problems[0]).startswith(str(articles_dir / "broken.md") + ":3: ")


def test_missing_folder_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_articles(tmp_path / "nope")


def test_hidden_and_underscore_files_are_skipped(articles_dir: Path) -> None:
    (articles_dir / "_template.md").write_text("not an article", encoding="utf-8")
    (articles_dir / ".#draft.md").write_text("editor lock file", encoding="utf-8")
    _, problems = load_articles(articles_dir)
    assert problems == []


@pytest.mark.parametrize(
    "content, line, message",
    [
        ("", 1, "file is empty"),
        ("Just text, no front matter\n", 1, "missing front matter"),
        ("---\nid: a\ntitle: A\n", 1, "not closed"),
        ("---\n- a\n- b\n---\nbody\n", 2, "expected 'key: value'"),
        ("---\nid: a\ntitle: 'unclosed\n---\nbody\n", None, "malformed front matter"),
    ],
)
def test_structural_problems(tmp_path: Path, content: str, line, message: str) -> None:
    path = tmp_path / "a.md"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ArticleError, match=message) as raised:
        parse_article(path)
    assert raised.value.path == str(path)
    if line is not None:
        assert raised.value.line == line
    assert str(path) in str(raised.value)


def test_empty_article_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_text(article_text("empty", body="").rstrip() + "\n\n   \n", encoding="utf-8")
    with pytest.raises(ArticleError, match="article is empty") as raised:
        parse_article(path)
    assert raised.value.line == 10


def test_oversized_file_is_refused_without_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.md"
    path.write_text(article_text("huge", body="word " * (MAX_ARTICLE_BYTES // 5 + 10)), encoding="utf-8")
    assert path.stat().st_size > MAX_ARTICLE_BYTES
    with pytest.raises(ArticleError, match="over the 1,048,576-byte limit") as raised:
        parse_article(path)
    assert "huge.md" in str(raised.value)


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes(article_text("latin1", body="Line one.\n\nCaf\xe9 au lait.").encode("latin-1"))
    with pytest.raises(ArticleError, match="not valid UTF-8") as raised:
        parse_article(path)
    assert raised.value.line == 12
    assert "latin1.md:12" in str(raised.value)


@pytest.mark.parametrize(
    "override, message",
    [
        ({"status": "live"}, "status 'live' must be one of published, draft"),
        ({"tags": "just-a-string"}, "tags must be a list"),
        ({"category": "Not A Slug"}, "category 'Not A Slug' is not a slug"),
    ],
)
def test_schema_problems(tmp_path: Path, override, message: str) -> None:
    path = write_article(tmp_path, "a", **override)
    with pytest.raises(ArticleError, match=message):
        parse_article(path)


def test_id_must_match_file_name(tmp_path: Path) -> None:
    path = tmp_path / "other-name.md"
    path.write_text(article_text("some-id"), encoding="utf-8")
    with pytest.raises(ArticleError, match="does not match the file name") as raised:
        parse_article(path)
    assert raised.value.line == 2  # the id: line


def test_missing_required_field_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text(
        "---\nid: a\ntitle: A\ncategory: c\ntags: []\nstatus: draft\nupdated: someday\n---\nBody\n", encoding="utf-8"
    )
    with pytest.raises(ArticleError) as raised:
        parse_article(path)
    message = str(raised.value)
    assert "required field 'url' is missing" in message and "1 more" in message


def test_unknown_field_is_only_a_warning(tmp_path: Path) -> None:
    write_article(tmp_path, "a", extra="author: sam\n")
    articles, problems = load_articles(tmp_path)
    assert [a.id for a in articles] == ["a"]
    assert len(problems) == 1 and problems[0].severity == "warning" and problems[0].line == 9


def test_duplicate_ids_in_subfolders(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    write_article(tmp_path / "one", "same")
    write_article(tmp_path / "two", "same")
    articles, problems = load_articles(tmp_path)
    assert len(articles) == 1 and articles[0].path.endswith("one/same.md")
    assert len(problems) == 1 and "duplicate id 'same'" in problems[0].message
    assert problems[0].file.endswith("two/same.md") and problems[0].line == 2


def test_bad_files_do_not_stop_the_rest(articles_dir: Path) -> None:
    (articles_dir / "huge.md").write_text(article_text("huge", body="x " * MAX_ARTICLE_BYTES), encoding="utf-8")
    (articles_dir / "latin1.md").write_bytes(article_text("latin1", body="Caf\xe9").encode("latin-1"))
    (articles_dir / "empty.md").write_text(article_text("empty", body=""), encoding="utf-8")
    (articles_dir / "bad-yaml.md").write_text("---\nid: bad-yaml\ntags: [a, b\n---\nBody\n", encoding="utf-8")
    articles, problems = load_articles(articles_dir)
    assert len(articles) == 5
    assert sorted(Path(p.file).name for p in problems) == ["bad-yaml.md", "empty.md", "huge.md", "latin1.md"]


def test_parse_cache_gives_the_same_articles_and_parses_only_what_changed(
    articles_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.knowledge import articles as articles_module

    write_article(articles_dir, "with-extra", extra="owner: support\n")  # a warning travels through the cache
    write_article(articles_dir, "with-questions", extra='questions: ["where is my stuff"]\n')  # and so do questions
    (articles_dir / "broken.md").write_text("no front matter\n")  # errors are never cached
    cache = tmp_path / "cache.json"
    plain = load_articles(articles_dir)
    first = load_articles(articles_dir, parse_cache=cache)
    assert first == plain and cache.exists()

    parsed = []
    real = articles_module.parse_article_text
    monkeypatch.setattr(
        articles_module, "parse_article_text", lambda text, path, *a: parsed.append(Path(path).name) or real(text, path, *a)
    )
    again = load_articles(articles_dir, parse_cache=cache)
    assert again == plain and parsed == ["broken.md"]  # only the file with an error is parsed again
    parsed.clear()
    write_article(articles_dir, "returns-policy", title="Returns, updated", body="Sixty days now.")
    edited = load_articles(articles_dir, parse_cache=cache)
    assert parsed == ["broken.md", "returns-policy.md"] and edited == load_articles(articles_dir)
    assert next(a for a in edited[0] if a.id == "returns-policy").title == "Returns, updated"

    cache.write_text("{not json")  # a damaged cache is ignored, and replaced
    assert load_articles(articles_dir, parse_cache=cache) == edited
    assert load_articles(articles_dir, parse_cache=cache) == edited


@pytest.mark.parametrize(
    "questions",
    ['"just one question"', "[1, 2]", '["ok", ""]', "[" + ", ".join(['"q"'] * 31) + "]", '["' + "x" * 301 + '"]'],
)
def test_questions_must_be_a_short_list_of_text(tmp_path: Path, questions: str) -> None:
    path = write_article(tmp_path, "bad-questions", extra=f"questions: {questions}\n")
    with pytest.raises(ArticleError, match="questions must be a list"):
        parse_article(path)
