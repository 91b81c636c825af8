"""Building, updating, loading and hot-swapping the index (fake embedder, no model)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bot.knowledge import index as index_module
from bot.knowledge.articles import load_articles
from bot.knowledge.errors import IndexCorrupt, IndexMismatch, IndexNotFound
from bot.knowledge.index import (
    POINTER,
    KnowledgeIndex,
    build_index,
    embed_texts,
    load_snapshot,
    read_manifest,
    read_pointer,
)
from tests.bot.knowledge.conftest import FakeEmbedder, write_article


def build(articles_dir: Path, folder: Path, embedder: FakeEmbedder, **options):
    articles, problems = load_articles(articles_dir)
    return build_index(articles, embedder, folder, problems=problems, **options)


def test_build_indexes_published_articles_only(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    report = build(articles_dir, tmp_path / "index", embedder)
    assert report.changed and report.articles == 4 and report.drafts_skipped == 1
    snapshot = load_snapshot(tmp_path / "index", embedder)
    assert set(snapshot.articles) == {"camera-offline", "pair-headphones", "reset-pulse-700", "returns-policy"}
    assert {p.article_id for p in snapshot.passages} == set(snapshot.articles)
    assert "Holiday returns" not in " ".join(embedder.texts)
    assert snapshot.chunks == report.chunks == len(snapshot.vectors)
    assert sum(segment.dense_index().ntotal for segment in snapshot.segments) == report.chunks
    assert np.allclose(np.linalg.norm(snapshot.vectors, axis=1), 1.0, atol=1e-5)


def test_manifest_records_model_hashes_ids_and_time(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    report = build(articles_dir, tmp_path / "index", embedder)
    manifest = read_manifest(tmp_path / "index")
    assert manifest.version == report.version == read_pointer(tmp_path / "index")
    assert manifest.model == "fake-sha256" and manifest.dimension == 384
    assert set(manifest.articles) == {"camera-offline", "pair-headphones", "reset-pulse-700", "returns-policy"}
    assert all(len(h) == 64 for h in manifest.articles.values())
    assert manifest.passages == report.passages and manifest.chunks == report.chunks
    assert len(manifest.segments) == 1 and (tmp_path / "index" / report.version / manifest.segments[0]).is_dir()
    assert manifest.built_at_datetime.tzinfo is not None
    on_disk = json.loads((tmp_path / "index" / report.version / "manifest.json").read_text())
    assert on_disk["model"] == "fake-sha256"


def test_rebuild_embeds_only_what_changed(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    assert first.embedded == len(embedder.texts) == first.chunks + first.articles and first.reused == 0

    embedder.calls.clear()
    write_article(
        articles_dir,
        "returns-policy",
        title="Our returns policy",
        body="You can return most items within 60 days of delivery, for free.\n\n"
        "## What you can return\nOpened items are fine, as long as everything that came in the box "
        "is included.",
    )
    second = build(articles_dir, folder, embedder)
    assert second.changed and second.version != first.version
    # only the edited intro paragraph of the one edited article was embedded again
    assert embedder.texts == ["Our returns policy\nYou can return most items within 60 days of delivery, for free."]
    assert second.embedded == 1 and second.reused == second.chunks + second.articles - 1

    embedder.calls.clear()
    third = build(articles_dir, folder, embedder)
    assert not third.changed and third.version == second.version and embedder.texts == []


def test_metadata_change_rebuilds_without_embedding(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    embedder.calls.clear()
    text = (articles_dir / "camera-offline.md").read_text().replace("[camera, e12, e31]", "[camera, e12, e31, e45]")
    (articles_dir / "camera-offline.md").write_text(text)
    second = build(articles_dir, folder, embedder)
    assert second.changed and second.embedded == 0 and embedder.calls == []
    assert load_snapshot(folder, embedder).articles["camera-offline"].tags[-1] == "e45"
    assert second.version != first.version


def test_publishing_a_draft_embeds_just_that_article(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder
) -> None:
    folder = tmp_path / "index"
    build(articles_dir, folder, embedder)
    embedder.calls.clear()
    text = (articles_dir / "holiday-returns.md").read_text().replace("status: draft", "status: published")
    (articles_dir / "holiday-returns.md").write_text(text)
    report = build(articles_dir, folder, embedder)
    assert report.articles == 5
    assert embedder.texts == [
        "Holiday returns\nItems delivered in December can be returned until January 31.",
        "Holiday returns",
    ]


def test_force_writes_a_new_version(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    first = build(articles_dir, tmp_path / "index", embedder)
    second = build(articles_dir, tmp_path / "index", embedder, force=True)
    assert second.changed and second.version != first.version and second.embedded == 0


def test_old_versions_are_pruned(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    versions = [build(articles_dir, folder, embedder, force=True).version for _ in range(5)]
    kept = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert kept == sorted(versions[-3:])


def test_load_refuses_another_model_or_dimension(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    build(articles_dir, tmp_path / "index", embedder)
    with pytest.raises(IndexMismatch, match="built with model 'fake-sha256'.*'other-model'"):
        KnowledgeIndex.load(tmp_path / "index", FakeEmbedder(name="other-model"))
    with pytest.raises(IndexMismatch, match=r"\(384-d\).*\(128-d\)"):
        KnowledgeIndex.load(tmp_path / "index", FakeEmbedder(dimension=128))


def test_another_model_does_not_reuse_the_cache(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    build(articles_dir, tmp_path / "index", embedder)
    other = FakeEmbedder(name="other-model")
    report = build(articles_dir, tmp_path / "index", other)
    assert report.reused == 0 and report.embedded == report.chunks + report.articles
    assert KnowledgeIndex.load(tmp_path / "index", other).manifest.model == "other-model"


def test_missing_and_corrupt_indexes(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    with pytest.raises(IndexNotFound, match="build it first"):
        KnowledgeIndex.load(tmp_path / "nothing", embedder)
    report = build(articles_dir, tmp_path / "index", embedder)
    segment = tmp_path / "index" / report.version / read_manifest(tmp_path / "index").segments[0]
    np.save(segment / "titles.npy", np.zeros((1, 384), dtype=np.float32))
    with pytest.raises(IndexCorrupt, match="disagree with the manifest"):
        KnowledgeIndex.load(tmp_path / "index", embedder)
    (tmp_path / "index" / POINTER).write_text("v-gone\n")
    with pytest.raises(IndexCorrupt, match="does not exist"):
        KnowledgeIndex.load(tmp_path / "index", embedder)


def test_pointer_switch_and_reload_if_changed(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    index = KnowledgeIndex.load(folder, embedder)
    assert index.version == first.version
    assert index.reload_if_changed() is False

    write_article(articles_dir, "gift-cards", title="Gift cards", body="Gift cards never expire.")
    second = build(articles_dir, folder, embedder)
    before = index.snapshot
    assert index.reload_if_changed() is True
    assert index.version == second.version and "gift-cards" in index.articles
    assert before.version == first.version and "gift-cards" not in before.articles  # old snapshot untouched
    assert index.reload_if_changed() is False


def test_reload_keeps_serving_when_the_new_index_is_unusable(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder
) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    index = KnowledgeIndex.load(folder, embedder)
    build(articles_dir, folder, FakeEmbedder(name="other-model"))
    assert index.reload_if_changed() is False
    assert index.version == first.version


def test_a_failed_build_leaves_the_live_index_alone(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "index"
    first = build(articles_dir, folder, embedder)
    write_article(articles_dir, "gift-cards", body="Gift cards never expire.")
    original = index_module._write_file

    def crash_on_manifest(path: Path, data: bytes) -> None:
        if path.name == "manifest.json":
            raise OSError("disk full")
        original(path, data)

    monkeypatch.setattr(index_module, "_write_file", crash_on_manifest)
    with pytest.raises(OSError, match="disk full"):
        build(articles_dir, folder, embedder)
    assert read_pointer(folder) == first.version
    assert sorted(p.name for p in folder.iterdir()) == sorted([POINTER, first.version])
    assert "gift-cards" not in KnowledgeIndex.load(folder, embedder).articles


def test_the_pointer_is_replaced_atomically(
    articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "index"
    build(articles_dir, folder, embedder)
    seen = []
    real_replace = os.replace

    def spy(source, target):  # noqa: ANN001 - os.replace signature
        # at the moment of the switch the new version folder is complete
        version = Path(source).read_text().strip()
        seen.append((Path(target).name, (folder / version / "manifest.json").exists()))
        real_replace(source, target)

    monkeypatch.setattr(index_module.os, "replace", spy)
    build(articles_dir, folder, embedder, force=True)
    assert seen == [(POINTER, True)]


def test_progress_bar_only_for_big_jobs(capsys: pytest.CaptureFixture, embedder: FakeEmbedder) -> None:
    embed_texts([f"text {i}" for i in range(10)], embedder)
    assert "Embedding" not in capsys.readouterr().err
    embed_texts([f"text {i}" for i in range(index_module.PROGRESS_MIN_TEXTS + 1)], embedder)
    assert "Embedding" in capsys.readouterr().err


def test_bad_articles_are_skipped_and_recorded(articles_dir: Path, tmp_path: Path, embedder: FakeEmbedder) -> None:
    (articles_dir / "latin1.md").write_bytes(b"---\nid: latin1\n---\nCaf\xe9\n")
    (articles_dir / "empty.md").write_text("")
    report = build(articles_dir, tmp_path / "index", embedder)
    assert report.articles == 4 and len(report.problems) == 2
    manifest = read_manifest(tmp_path / "index")
    assert any("latin1.md:4" in p for p in manifest.problems)
    assert any("empty.md:1: file is empty" in p for p in manifest.problems)


def test_empty_knowledge_base_builds_and_loads(tmp_path: Path, embedder: FakeEmbedder) -> None:
    report = build_index([], embedder, tmp_path / "index")
    assert report.changed and report.chunks == 0
    snapshot = load_snapshot(tmp_path / "index", embedder)
    assert len(snapshot.passages) == 0 and snapshot.search(embedder.vector("q"), 5)[1].size == 0
