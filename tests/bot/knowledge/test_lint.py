"""The linter: everything the loader rejects plus links, drafts and empty sections, with lines."""

from __future__ import annotations

from pathlib import Path

from bot.knowledge.lint import has_errors, lint_folder
from tests.bot.knowledge.conftest import article_text, write_article


def test_clean_folder_has_no_errors(articles_dir: Path) -> None:
    problems = lint_folder(articles_dir)
    assert not has_errors(problems)


def test_broken_link_names_file_and_line(tmp_path: Path) -> None:
    write_article(tmp_path, "a", body="Intro.\n\nSee [the other](missing-article.md#part) and [ok](b.md).")
    write_article(tmp_path, "b")
    problems = lint_folder(tmp_path)
    assert [(Path(p.file).name, p.line, p.message) for p in problems] == [
        ("a.md", 12, "broken link: missing-article.md#part does not exist")
    ]
    assert has_errors(problems)


def test_external_links_anchors_and_code_are_not_checked(tmp_path: Path) -> None:
    write_article(
        tmp_path,
        "a",
        body="""
            Visit [our site](https://example.com/x.md), [top](#top), [mail](mailto:a@b.c).

            `[not a link](nowhere.md)`

            ```
            [inside code](nowhere.md)
            ```
            """,
    )
    assert lint_folder(tmp_path) == []


def test_link_from_published_to_draft_is_a_warning(tmp_path: Path) -> None:
    write_article(tmp_path, "a", body="See [holidays](b.md).")
    write_article(tmp_path, "b", status="draft")
    problems = lint_folder(tmp_path)
    assert len(problems) == 1 and problems[0].severity == "warning" and "is a draft" in problems[0].message
    assert not has_errors(problems)


def test_empty_sections(tmp_path: Path) -> None:
    write_article(
        tmp_path,
        "a",
        body="""
            Intro.

            ## Empty one

            ## Parent
            ### Child
            Text under the child.

            ## Last and empty
            """,
    )
    problems = lint_folder(tmp_path)
    assert [(p.line, p.message) for p in problems] == [
        (12, "empty section: '## Empty one' has no text"),
        (18, "empty section: '## Last and empty' has no text"),
    ]


def test_schema_problems_and_duplicates_are_reported(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    write_article(tmp_path / "x", "dup")
    write_article(tmp_path / "y", "dup")
    (tmp_path / "wrong-id.md").write_text(article_text("another-id"), encoding="utf-8")
    (tmp_path / "bad-status.md").write_text(article_text("bad-status", status="live"), encoding="utf-8")
    (tmp_path / "Bad_Slug.md").write_text(article_text("Bad_Slug"), encoding="utf-8")
    messages = {(Path(p.file).name, p.line): p.message for p in lint_folder(tmp_path)}
    assert "duplicate id 'dup'" in messages[("dup.md", 2)]
    assert "does not match the file name" in messages[("wrong-id.md", 2)]
    assert "status 'live'" in messages[("bad-status.md", 6)]
    assert "is not a slug" in messages[("Bad_Slug.md", 2)]


def test_the_shipped_articles_lint_without_errors() -> None:
    folder = Path(__file__).resolve().parents[3] / "knowledge_base" / "articles"
    problems = lint_folder(folder)
    assert not has_errors(problems), "\n".join(map(str, problems))


def test_a_question_listed_under_two_articles_is_a_warning(tmp_path: Path) -> None:
    write_article(tmp_path, "start-a-return", extra='questions: ["How do I send it back?"]\n')
    write_article(tmp_path, "returns-policy", extra='questions: ["how do i  send it back?", "how long do I have"]\n')
    write_article(tmp_path, "old-returns", status="draft", extra='questions: ["how long do I have"]\n')  # drafts are not served
    problems = lint_folder(tmp_path)
    assert not has_errors(problems)
    (shared,) = [p for p in problems if "also listed" in p.message]
    assert shared.file.endswith("start-a-return.md") and "returns-policy.md" in shared.message
