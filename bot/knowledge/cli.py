"""Command line of the knowledge base: `python -m bot.knowledge.cli lint|build|search|stats|eval`.

Exit codes: 0 ok, 1 problems found (lint; build --strict; eval with bad golden entries),
2 usage or configuration error (bad option, missing folder, no index, index of another model).
Problems are printed as `file:line: message`, one per line, so editors and CI can jump to them.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence, TextIO

from bot.embeddings import Embedder
from bot.errors import ConfigurationError, NotFound
from bot.knowledge.errors import IndexCorrupt, KnowledgeBaseError
from bot.settings import app_db_url, knowledge_paths

REPO_ROOT = Path(__file__).resolve().parents[2]
# the same folders as the running assistant's (SUPPORT_DATA_DIR, KB_ARTICLES_DIR, KB_INDEX_DIR)
DEFAULT_ARTICLES, DEFAULT_INDEX = knowledge_paths()
DEFAULT_GOLDEN_DIR = REPO_ROOT / "knowledge_base" / "eval"

OK, PROBLEMS, USAGE = 0, 1, 2


def _default_embedder() -> Embedder:
    from bot.embeddings import SentenceTransformerEmbedder

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    return SentenceTransformerEmbedder()


class Cli:
    def __init__(self, embedder_factory: Callable[[], Embedder], out: TextIO, err: TextIO) -> None:
        self._embedder_factory = embedder_factory
        self._embedder: Optional[Embedder] = None
        self.out = out
        self.err = err

    @property
    def embedder(self) -> Embedder:
        # created on first use: `lint` and `stats` never load the model
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    def print(self, *parts: object) -> None:
        print(*parts, file=self.out)

    # -- lint ---------------------------------------------------------------------------------

    def lint(self, args: argparse.Namespace) -> int:
        from bot.knowledge.lint import has_errors, lint_folder

        problems = lint_folder(args.articles)
        for problem in problems:
            self.print(problem)
        errors = sum(1 for p in problems if p.severity == "error")
        warnings = len(problems) - errors
        summary = f"{errors} error(s), {warnings} warning(s) in {args.articles}"
        print(summary if problems else f"no problems in {args.articles}", file=self.err)
        return PROBLEMS if has_errors(problems) else OK

    # -- build --------------------------------------------------------------------------------

    def build(self, args: argparse.Namespace) -> int:
        from bot.knowledge.articles import load_articles
        from bot.knowledge.index import PARSE_CACHE_FILE, build_index
        from bot.knowledge.publishing import BUILD_LOCK, exclusive

        # one build at a time (a lead may be publishing from the workspace); the folder is read under the lock
        with exclusive(Path(args.index) / BUILD_LOCK):
            # the parse cache lives with the index: a rebuild after one edit parses one file
            articles, problems = load_articles(args.articles, parse_cache=Path(args.index) / PARSE_CACHE_FILE)
            for problem in problems:
                print(problem, file=self.err)
            report = build_index(
                articles,
                self.embedder,
                args.index,
                problems=problems,
                force=args.force,
                progress=None if not args.quiet else False,
            )
        if report.changed:
            self.print(
                f"built {report.version} in {report.folder}: {report.articles} published articles "
                f"({report.drafts_skipped} drafts skipped), {report.passages} passages, {report.chunks} chunks; "
                f"embedded {report.embedded}, reused {report.reused} in {report.seconds:.1f} s"
            )
        else:
            self.print(f"index {report.version} in {report.folder} is up to date ({report.articles} articles)")
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            print(f"{len(errors)} article(s) skipped because of problems (see above)", file=self.err)
        return PROBLEMS if errors and args.strict else OK

    # -- search -------------------------------------------------------------------------------

    def _kb(self, args: argparse.Namespace):
        from bot.knowledge.service import KnowledgeBase

        return KnowledgeBase.open(args.index, self.embedder, auto_reload=False)

    def search(self, args: argparse.Namespace) -> int:
        from bot.knowledge.service import search_report

        kb = self._kb(args)
        if args.json:
            report = search_report(kb, args.question, k=args.k)
            self.print(json.dumps({"decision": report["decision"], "hits": report["hits"]}, indent=2))
            return OK
        hits = kb.search(args.question, k=args.k)
        decision = kb.decide(args.question)
        self.print(f"Decision: {decision.action} ({decision.reason})")
        if decision.hits:
            self.print("  articles: " + ", ".join(h.article_id for h in decision.hits))
        self.print("")
        for rank, hit in enumerate(hits, start=1):
            self.print(f"{rank}. {hit.score:.3f}  {hit.article_id}  (dense {hit.dense:.3f}, lexical {hit.lexical:.3f})")
            self.print(f"   {hit.title}" + (f" > {hit.passage.section}" if hit.passage.section else ""))
            for line in hit.passage.text.splitlines():
                self.print(f"       {line}".rstrip())
            if hit.url:
                self.print(f"   {hit.url}")
            self.print("")
        if not hits:
            self.print("no results")
        return OK

    # -- stats --------------------------------------------------------------------------------

    def stats(self, args: argparse.Namespace) -> int:
        from bot.knowledge.articles import load_articles
        from bot.knowledge.errors import IndexNotFound
        from bot.knowledge.index import read_manifest

        articles, problems = load_articles(args.articles)
        by_category = collections.Counter((a.category, a.status) for a in articles)
        statuses = sorted({a.status for a in articles})
        self.print(
            f"Articles in {args.articles}: {len(articles)} loaded, "
            f"{sum(1 for p in problems if p.severity == 'error')} with errors"
        )
        self.print("")
        self.print("| Category | " + " | ".join(statuses) + " |")
        self.print("|---|" + "---|" * len(statuses))
        for category in sorted({c for c, _ in by_category}):
            self.print(f"| {category} | " + " | ".join(str(by_category[(category, s)]) for s in statuses) + " |")
        self.print("| total | " + " | ".join(str(sum(1 for a in articles if a.status == s)) for s in statuses) + " |")
        self.print("")
        try:
            manifest = read_manifest(args.index)
        except IndexNotFound:
            self.print(f"Index {args.index}: not built yet")
            return self._conversation_stats(args)
        age = datetime.now(timezone.utc) - manifest.built_at_datetime
        hours = age.total_seconds() / 3600
        indexed = {a.id: a.content_hash for a in articles if a.published}
        stale = sorted(
            set(indexed) ^ set(manifest.articles)
            | {i for i in indexed if i in manifest.articles and manifest.articles[i] != indexed[i]}
        )
        self.print(f"Index {args.index}:")
        self.print(f"  version:   {manifest.version}")
        self.print(f"  built:     {manifest.built_at} ({hours:.1f} h ago)")
        self.print(f"  model:     {manifest.model} ({manifest.dimension}-d)")
        self.print(
            f"  contents:  {len(manifest.articles)} articles, {manifest.passages} passages, "
            f"{manifest.chunks} chunks in {len(manifest.segments)} segment(s)"
        )
        self.print(f"  up to date with the articles: {'yes' if not stale else 'no, changed: ' + ', '.join(stale)}")
        if manifest.problems:
            self.print(f"  problems at build time: {len(manifest.problems)}")
            for problem in manifest.problems:
                self.print(f"    {problem}")
        return self._conversation_stats(args)

    def _conversation_stats(self, args: argparse.Namespace) -> int:
        """What customers asked: answers, ratings per article, questions the bot could not answer."""
        from bot.insights.log import SqlInsightLog, summary

        url = args.app_db or app_db_url()
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
            self.print(f"\nConversations: none recorded yet ({url})")
            return OK
        log = SqlInsightLog.from_url(url)
        stats = log.article_stats()
        totals = summary(stats)
        self.print(f"\nConversations ({url}): {int(totals['answers'])} answers, {int(totals['rated'])} rated, "
                   f"{totals['helpful_share']:.0%} of ratings helpful")
        if stats:
            self.print("\n| Article | answers | helpful | not helpful |\n|---|---|---|---|")
            for s in sorted(stats, key=lambda s: (-s.answers, s.article_id)):
                self.print(f"| {s.article_id} | {s.answers} | {s.helpful} | {s.not_helpful} |")
        unanswered = log.unanswered(limit=args.top)
        if unanswered:
            self.print(f"\nMost frequent unanswered questions (top {args.top}):")
            for question, count in unanswered:
                self.print(f"  {count:>4}  {question}")
        return OK

    # -- eval ---------------------------------------------------------------------------------

    def eval(self, args: argparse.Namespace) -> int:
        from bot.knowledge.articles import Problem
        from bot.knowledge.evaluation import DecisionMetrics, RankingMetrics, load_golden, rank_of

        files = args.golden or sorted(DEFAULT_GOLDEN_DIR.glob("golden-*.yml"))
        if not files:
            raise ConfigurationError(f"no golden files given and none in {DEFAULT_GOLDEN_DIR}")
        questions, problems = load_golden(files)
        kb = self._kb(args)
        published = {a.id for a in kb.articles()}
        for q in questions:
            if q.article not in published:
                problems.append(
                    Problem(q.file, q.line, f"article '{q.article}' is not a published article of the index")
                )
        for problem in problems:
            print(problem, file=self.err)
        rows = []
        by_file = collections.defaultdict(list)
        for q in questions:
            decision = kb.decide(q.question)
            ranking = [h.article_id for h in kb.search(q.question, k=10)]
            rank = rank_of(q.article, ranking)
            outcome = (decision, q.article if q.article in published else None)
            by_file[q.file].append((rank, outcome))
            if args.show_misses and rank != 1:
                rows.append(
                    f"{q.file}:{q.line}: expected {q.article}, rank {rank or '>10'}, got {', '.join(ranking[:3])}"
                )
        cfg = kb.config
        self.print(
            f"Golden set: {len(questions)} questions; answer when score + {cfg.margin_weight} x margin >= "
            f"{cfg.answer_threshold} (margin >= {cfg.min_margin}), clarify from score {cfg.clarify_threshold}; "
            f"lexical weight {cfg.lexical_weight}"
        )
        self.print("")
        self.print("| File | Questions | R@1 | R@3 | MRR@10 | Answer precision | Answered | Clarified |")
        self.print("|---|---|---|---|---|---|---|---|")
        if len(by_file) > 1:
            by_file["all"] = [row for rows_of_file in list(by_file.values()) for row in rows_of_file]
        for name, results in by_file.items():
            ranking = RankingMetrics.from_ranks([r for r, _ in results])
            decisions = DecisionMetrics.from_decisions([o for _, o in results])
            label = name if name == "all" else Path(name).name
            self.print(
                f"| {label} | {ranking.queries} | {ranking.recall_at_1:.3f} | {ranking.recall_at_3:.3f} | "
                f"{ranking.mrr_at_10:.3f} | {decisions.precision:.3f} | {decisions.answered:.3f} | "
                f"{decisions.clarified:.3f} |"
            )
        if rows:
            self.print("")
            self.print("Not at rank 1:")
            for row in rows:
                self.print("  " + row)
        return PROBLEMS if problems else OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m bot.knowledge.cli",
        description="Lint, index, search and evaluate the help-article knowledge base.",
        epilog="Exit codes: 0 ok, 1 problems found, 2 usage or configuration error.",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def articles_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--articles",
            type=Path,
            default=DEFAULT_ARTICLES,
            metavar="DIR",
            help="folder of Markdown articles (default: knowledge_base/articles)",
        )

    def index_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--index", type=Path, default=DEFAULT_INDEX, metavar="DIR", help="index folder (default: $KB_INDEX_DIR or $SUPPORT_DATA_DIR/kb_index)"
        )

    lint = commands.add_parser(
        "lint",
        help="check the articles (front matter, ids, links, empty sections)",
        description="Check every article; print file:line: message per problem. "
        "Exit 1 when there are errors (warnings alone exit 0).",
    )
    articles_option(lint)

    build = commands.add_parser(
        "build",
        help="index the published articles",
        description="Embed the published articles' passages and switch the index to the "
        "new version atomically. Only changed passages are embedded again; "
        "nothing is written when nothing changed. Articles with problems are "
        "skipped and reported; the rest is indexed.",
    )
    articles_option(build)
    index_option(build)
    build.add_argument("--force", action="store_true", help="write a new version even when nothing changed")
    build.add_argument("--strict", action="store_true", help="exit 1 when an article had to be skipped")
    build.add_argument("--quiet", action="store_true", help="no progress bar")

    search = commands.add_parser(
        "search",
        help="search as the bot would, with scores and the decision",
        description="Show the ranked articles (best passage each) with their scores, "
        "and the answer / clarify / no_answer decision.",
    )
    search.add_argument("question")
    index_option(search)
    search.add_argument("-k", type=int, default=5, help="number of articles to show (default: 5)")
    search.add_argument("--json", action="store_true", help="machine-readable output")

    stats = commands.add_parser(
        "stats",
        help="articles per category and status, index age and model",
        description="Counts of the article folder and facts about the live index.",
    )
    articles_option(stats)
    index_option(stats)
    stats.add_argument("--app-db", metavar="URL", help="app database with the conversations' records "
                                                       "(default: $APP_DB_URL or $SUPPORT_DATA_DIR/app.db)")
    stats.add_argument("--top", type=int, default=20, help="how many unanswered questions to list (default: 20)")

    evaluate = commands.add_parser(
        "eval",
        help="Recall@1/3, MRR@10 and answer precision on the golden questions",
        description="Run the golden questions against the index with the shipped "
        "settings. Exit 1 when a golden entry is invalid or names an article "
        "that is not published.",
    )
    index_option(evaluate)
    evaluate.add_argument(
        "--golden",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="golden YAML files (default: knowledge_base/eval/golden-*.yml)",
    )
    evaluate.add_argument("--show-misses", action="store_true", help="list questions not answered at rank 1")
    return root


def main(
    argv: Optional[Sequence[str]] = None,
    embedder_factory: Optional[Callable[[], Embedder]] = None,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = parser().parse_args(argv)
    except SystemExit as exit_:  # argparse: --help exits 0, usage errors exit 2
        return int(exit_.code or 0)
    cli = Cli(embedder_factory or _default_embedder, out, err)
    try:
        return getattr(cli, args.command)(args)
    except (ConfigurationError, NotFound, IndexCorrupt) as error:
        # IndexNotFound and IndexMismatch are ConfigurationErrors, as is a missing folder
        print(f"error: {error}", file=err)
        return USAGE
    except KnowledgeBaseError as error:
        print(f"error: {error}", file=err)
        return PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
