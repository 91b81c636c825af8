"""Checks of the article folder, for authors and CI: everything the loader rejects plus the
cross-article problems it cannot see (broken links, empty sections, an example question listed
under two articles).

Errors fail `lint` (exit 1); warnings are printed but do not, because they do not stop an
article from being served (e.g. a link to a draft works once the draft is published).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from bot.knowledge.articles import ERROR, WARNING, Article, PathLike, Problem, load_articles
from bot.knowledge.markdown import body_lines, internal_target, iter_links, split_sections


def broken_links(article: Article, by_path: Dict[Path, Article]) -> List[Problem]:
    """Relative links to `.md` files that do not exist (resolved like a Markdown renderer
    would: relative to the linking file), and links from published articles to drafts."""
    problems = []
    source = Path(article.path)
    for line, _text, target in iter_links(body_lines(article.body, article.body_line)):
        relative = internal_target(target)
        if relative is None or not relative.endswith(".md"):
            continue
        resolved = (source.parent / relative).resolve()
        if not resolved.is_file():
            problems.append(Problem(article.path, line.number, f"broken link: {target} does not exist"))
            continue
        linked = by_path.get(resolved)
        if linked is not None and article.published and not linked.published:
            problems.append(
                Problem(
                    article.path,
                    line.number,
                    f"link to {target}, which is a draft: customers cannot open it until it is published",
                    WARNING,
                )
            )
    return problems


def links_to(target: Path, articles: List[Article]) -> List[Problem]:
    """The links of `articles` to the file `target` (before it is deleted: they would break)."""
    wanted = Path(target).resolve()
    found = []
    for article in articles:
        for line, _text, link in iter_links(body_lines(article.body, article.body_line)):
            relative = internal_target(link)
            if relative and (Path(article.path).parent / relative).resolve() == wanted:
                found.append(Problem(article.path, line.number, f"links to {Path(target).name}, which would no longer exist"))
    return found


def empty_sections(article: Article) -> List[Problem]:
    """Headings (## and deeper) with nothing under them before the next heading.

    A heading directly followed by a deeper heading is a parent, not an empty section.
    """
    problems = []
    sections = split_sections(article.body, article.body_line, max_level=6)
    for index, section in enumerate(sections):
        if section.heading is None or section.level < 2 or section.has_content():
            continue
        following = sections[index + 1] if index + 1 < len(sections) else None
        if following is not None and following.level > section.level:
            continue
        marks = "#" * section.level
        problems.append(Problem(article.path, section.line, f"empty section: '{marks} {section.heading}' has no text"))
    return problems


def shared_questions(articles: List[Article]) -> List[Problem]:
    """An example question listed under two published articles pulls both towards it: say which one answers it."""
    first: Dict[str, Article] = {}
    problems = []
    for article in articles:
        if not article.published:
            continue
        for question in article.questions:
            key = question.lower()  # the loader has already tidied the whitespace
            other = first.setdefault(key, article)
            if other is not article:
                problems.append(Problem(article.path, None, f"question '{question}' is also listed in {other.path}", WARNING))
    return problems


def lint_articles(articles: List[Article]) -> List[Problem]:
    by_path = {Path(article.path).resolve(): article for article in articles}
    problems: List[Problem] = []
    for article in articles:
        problems.extend(broken_links(article, by_path))
        problems.extend(empty_sections(article))
    return problems + shared_questions(articles)


def lint_folder(folder: PathLike) -> List[Problem]:
    """All problems of the folder, sorted by file and line."""
    articles, problems = load_articles(folder)
    problems = problems + lint_articles(articles)
    return sorted(problems, key=lambda p: (p.file, p.line or 0, p.message))


def has_errors(problems: List[Problem]) -> bool:
    return any(problem.severity == ERROR for problem in problems)
