"""`python -m bot.knowledge.cli`: subcommands, output and exit codes (fake embedder)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Tuple

import pytest

from bot.knowledge.cli import main
from tests.bot.knowledge.conftest import FakeEmbedder, write_article

REPO = Path(__file__).resolve().parents[3]


def run(*argv: str, embedder: FakeEmbedder = None) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), embedder_factory=lambda: embedder or FakeEmbedder(), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_lint_ok_and_problems(articles_dir: Path) -> None:
    code, out, err = run("lint", "--articles", str(articles_dir))
    assert code == 0 and out == "" and "no problems" in err
    write_article(articles_dir, "broken", body="See [nowhere](nowhere.md).")
    code, out, _ = run("lint", "--articles", str(articles_dir))
    assert code == 1
    assert f"{articles_dir / 'broken.md'}:10: broken link: nowhere.md does not exist" in out


def test_lint_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("lint", "--articles", str(tmp_path / "nope"))
    assert code == 2 and "does not exist" in err


def test_build_search_stats_eval(articles_dir: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    embedder = FakeEmbedder()
    (articles_dir / "latin1.md").write_bytes(b"---\nid: latin1\n---\nCaf\xe9\n")
    code, out, err = run("build", "--articles", str(articles_dir), "--index", index, embedder=embedder)
    assert code == 0 and "built v" in out and "4 published articles (1 drafts skipped)" in out
    assert "latin1.md:4: not valid UTF-8" in err and "1 article(s) skipped" in err
    code, out, _ = run("build", "--articles", str(articles_dir), "--index", index, "--strict", embedder=embedder)
    assert code == 1 and "up to date" in out

    code, out, _ = run("search", "Our returns policy", "--index", index, embedder=embedder)
    assert code == 0 and out.startswith("Decision: answer")
    assert "1. " in out and "returns-policy" in out and "https://help.example/articles/returns-policy" in out
    code, out, _ = run("search", "Our returns policy", "--index", index, "--json", "-k", "2", embedder=embedder)
    data = json.loads(out)
    assert data["decision"]["action"] == "answer" and len(data["hits"]) == 2

    code, out, _ = run("stats", "--articles", str(articles_dir), "--index", index)
    assert code == 0
    assert "| ordering | 1 | 4 |" in out  # one draft, four published
    assert "model:     fake-sha256 (384-d)" in out and "up to date with the articles: yes" in out
    assert "problems at build time: 1" in out

    golden = tmp_path / "golden.yml"
    golden.write_text(
        'version: 1\nquestions:\n  - question: "Our returns policy"\n    article: returns-policy\n'
        '  - question: "x"\n    article: holiday-returns\n',
        encoding="utf-8",
    )
    code, out, err = run("eval", "--index", index, "--golden", str(golden), "--show-misses", embedder=embedder)
    assert code == 1 and f"{golden}:5: article 'holiday-returns' is not a published article" in err
    assert "| golden.yml | 2 |" in out and "| all |" not in out  # one file: no total row


def test_search_and_eval_without_an_index(tmp_path: Path) -> None:
    code, _, err = run("search", "hello", "--index", str(tmp_path / "none"))
    assert code == 2 and "build it first" in err
    _, out, _ = run("stats", "--articles", str(REPO / "knowledge_base" / "articles"), "--index",
                    str(tmp_path / "none"), "--app-db", f"sqlite:///{tmp_path / 'app.db'}")
    assert "not built yet" in out


def test_index_of_another_model_is_a_usage_error(articles_dir: Path, tmp_path: Path) -> None:
    index = str(tmp_path / "index")
    run("build", "--articles", str(articles_dir), "--index", index, embedder=FakeEmbedder(name="one"))
    code, _, err = run("search", "q", "--index", index, embedder=FakeEmbedder(name="two"))
    assert code == 2 and "built with model 'one'" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["lint", "--help"],
        ["build", "--help"],
        ["search", "--help"],
        ["stats", "--help"],
        ["eval", "--help"],
    ],
)
def test_help(argv, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 0
    assert "usage: python -m bot.knowledge.cli" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["search"]) == 2  # the question is missing


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.knowledge.cli", "lint", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "--articles DIR" in result.stdout
