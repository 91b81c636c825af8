"""Frustration benchmark: the project's per-message model against VADER's compound score, in one run.

    python -m bot.bench.frustration [--json PATH] [--datasets DIR] [--report-split test|val|all]
                                    [--limit N] [--embedding-cache DIR]

Datasets (read in place from the shared folder, never copied; see each PROVENANCE.md):
- twitter_airline_sentiment/Tweets.csv: negative vs not (neutral + positive). Rows are deduplicated
  by tweet_id: identical duplicates count once, and ids whose copies disagree on the sentiment are
  dropped (the set has 18; neither label can be trusted).
- complaints_twitter/complaints-data.csv: complaint vs not, customer-service tweets only (the
  `random_reply` / `random_tweet` rows are dropped, as PROVENANCE.md advises for a support evaluation).

Both models see the same cleaned text: HTML entities unescaped, @handles and URLs removed, '#' of
hashtags dropped (a chat message has none of them).

The project model is trained from `bot/nlu/frustration_examples/` only, exactly as `rasa train` does
(C and threshold by cross-validation on those examples). VADER predicts negative when compound
<= -0.05 (its authors' convention).

Each dataset is split by a hash of the tweet id into a validation part (30 %) and a test part (70 %).
The validation part is the only one looked at while the examples and cues were developed, and the
only one used to tune the "threshold tuned on validation" rows (both models, reported separately);
the headline numbers are on the test part. The "all frustrated" row is the score of predicting the
positive class for everything, which F1 rewards when that class is the majority.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import html
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.bench.datasets import DEFAULT_DATASETS_DIR

VADER_NEGATIVE_COMPOUND = -0.05  # VADER's own convention: compound <= -0.05 is negative
VAL_FRACTION = 0.3
SPLIT_SALT = "bench-frustration"
DATASET_NAMES = ("twitter_airline", "complaints")
SUPPORT_DOMAINS = frozenset({"services", "software", "electronics", "apparel", "transport", "retail", "other", "food", "cars"})


@dataclass(frozen=True)
class LabelledText:
    id: str
    text: str
    positive: bool  # negative sentiment / complaint


@dataclass(frozen=True)
class LoadedDataset:
    name: str
    description: str
    items: list[LabelledText]
    notes: dict[str, Any]


# --------------------------------------------------------------------------------------------
# Loaders (pure)
# --------------------------------------------------------------------------------------------

_HANDLE = re.compile(r"(?<![\w@])@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")


def clean_tweet(text: str) -> str:
    """Tweet text as a chat message: entities unescaped, no @handles or URLs, hashtags as words."""
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _HANDLE.sub(" ", text)
    text = re.sub(r"#(\w)", r"\1", text)
    return " ".join(text.split())


def load_twitter_airline(path: Path) -> LoadedDataset:
    """Negative vs not; deduplicated by tweet_id, conflicting duplicates dropped; empty texts skipped."""
    by_id: dict[str, list[tuple[str, str]]] = {}
    rows = 0
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows += 1
            by_id.setdefault(row["tweet_id"].strip(), []).append((row["text"], row["airline_sentiment"].strip()))
    items, conflicts, duplicates, empty = [], 0, 0, 0
    for tweet_id, copies in by_id.items():
        duplicates += len(copies) > 1
        if len({sentiment for _, sentiment in copies}) > 1:
            conflicts += 1
            continue
        text, sentiment = copies[0]
        cleaned = clean_tweet(text)
        if not cleaned:
            empty += 1
            continue
        items.append(LabelledText(tweet_id, cleaned, sentiment == "negative"))
    notes = {
        "rows": rows,
        "unique_ids": len(by_id),
        "duplicated_ids": duplicates,
        "conflicting_ids_dropped": conflicts,
        "empty_after_cleaning": empty,
    }
    return LoadedDataset("twitter_airline", "Twitter US airline sentiment: negative vs neutral/positive", items, notes)


def load_complaints(path: Path, support_only: bool = True) -> LoadedDataset:
    """Complaint vs not (no header: tweet_id, text, label, domain); customer-service domains only by default."""
    items, rows, skipped = [], 0, 0
    with open(path, newline="", encoding="utf-8") as handle:
        for record in csv.reader(handle):
            if not record:
                continue
            rows += 1
            if len(record) != 4:
                raise ValueError(f"{path}: row {rows} has {len(record)} columns, expected 4")
            tweet_id, text, label, domain = (value.strip() for value in record)
            if label not in ("0", "1"):
                raise ValueError(f"{path}: row {rows} has label {label!r}, expected 0 or 1")
            if support_only and domain not in SUPPORT_DOMAINS:
                skipped += 1
                continue
            cleaned = clean_tweet(text)
            if cleaned:
                items.append(LabelledText(tweet_id, cleaned, label == "1"))
    notes = {"rows": rows, "non_support_rows_dropped": skipped, "support_only": support_only}
    return LoadedDataset("complaints", "Complaints on social media (customer-service tweets): complaint vs not", items, notes)


def load_named(name: str, datasets_dir: Path) -> LoadedDataset:
    if name == "twitter_airline":
        return load_twitter_airline(datasets_dir / "twitter_airline_sentiment" / "Tweets.csv")
    if name == "complaints":
        return load_complaints(datasets_dir / "complaints_twitter" / "complaints-data.csv")
    raise ValueError(f"unknown dataset {name!r}: use {', '.join(DATASET_NAMES)}")


def is_validation(item_id: str, fraction: float = VAL_FRACTION, salt: str = SPLIT_SALT) -> bool:
    """Deterministic split by a hash of the id: the same tweet is always on the same side."""
    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def split(items: Sequence[LabelledText], fraction: float = VAL_FRACTION) -> tuple[list[LabelledText], list[LabelledText]]:
    """(validation, test)."""
    val = [item for item in items if is_validation(item.id, fraction)]
    test = [item for item in items if not is_validation(item.id, fraction)]
    return val, test


def subsample(items: Sequence[LabelledText], limit: int | None) -> list[LabelledText]:
    """A deterministic subset of about `limit` items (by id hash), for quick runs."""
    if limit is None or limit >= len(items):
        return list(items)
    ranked = sorted(items, key=lambda item: hashlib.sha256(f"subsample:{item.id}".encode()).digest())
    chosen = {item.id for item in ranked[:limit]}
    return [item for item in items if item.id in chosen]


# --------------------------------------------------------------------------------------------
# Metrics (pure)
# --------------------------------------------------------------------------------------------


def binary_metrics(labels: Sequence[bool] | np.ndarray, predicted: Sequence[bool] | np.ndarray) -> dict[str, float | int]:
    """Precision, recall and F1 of the positive class, accuracy and the counts behind them."""
    labels, predicted = np.asarray(labels, dtype=bool), np.asarray(predicted, dtype=bool)
    if labels.shape != predicted.shape or labels.size == 0:
        raise ValueError("need equally long, non-empty label and prediction lists")
    tp = int(np.sum(labels & predicted))
    fp = int(np.sum(~labels & predicted))
    fn = int(np.sum(labels & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": float(np.mean(labels == predicted)),
        "n": int(labels.size),
        "positives": int(labels.sum()),
        "predicted_positives": int(predicted.sum()),
    }


def roc_auc(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    """Area under the ROC curve (higher score = more likely positive); None with a single class."""
    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=float)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # average ranks for ties
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def tune_threshold(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray, candidates: Sequence[float]) -> tuple[float, float]:
    """(threshold, F1) with the best positive-class F1 for `scores >= threshold`; ties go to the first candidate."""
    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype=float)
    best, best_f1 = float(candidates[0]), -1.0
    for threshold in candidates:
        f1 = float(binary_metrics(labels, scores >= threshold)["f1"])
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(threshold), f1
    return best, best_f1


# --------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench-frustration {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def vader_compounds(texts: Sequence[str]) -> np.ndarray:
    from bot.nlu.frustration import vader_analyzer

    analyzer = vader_analyzer()
    return np.array([analyzer.polarity_scores(text)["compound"] for text in texts], dtype=float)


def cached_embed(texts: Sequence[str], embed: Callable[[list[str]], np.ndarray], cache_dir: Path | None) -> np.ndarray:
    """Embeddings of `texts`, kept in `cache_dir` (outside the repository) keyed by a hash of the texts."""
    if cache_dir is None:
        return embed(list(texts))
    key = hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()[:20]
    path = cache_dir / f"embeddings-{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    vectors = embed(list(texts))
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors, allow_pickle=False)
    return vectors


def evaluate_rows(
    labels: np.ndarray, project: np.ndarray, compound: np.ndarray, thresholds: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """Metrics of every row of the table on one split."""
    tuned_project, tuned_vader = thresholds["project_tuned_on_val"], thresholds["vader_tuned_on_val"]
    rows: dict[str, dict[str, Any]] = {
        "project": {
            **binary_metrics(labels, project >= thresholds["project"]),
            "threshold": thresholds["project"],
            "roc_auc": roc_auc(labels, project),
        },
        "vader": {
            **binary_metrics(labels, compound <= VADER_NEGATIVE_COMPOUND),
            "threshold": VADER_NEGATIVE_COMPOUND,
            "roc_auc": roc_auc(labels, -compound),
        },
        "project_tuned_on_val": {**binary_metrics(labels, project >= tuned_project), "threshold": tuned_project},
        "vader_tuned_on_val": {**binary_metrics(labels, compound <= tuned_vader), "threshold": tuned_vader},
        "all_frustrated": {**binary_metrics(labels, np.ones_like(labels, dtype=bool)), "threshold": None},
    }
    return rows


ROW_LABELS = {
    "project": "**project** (threshold {t:.2f}, chosen by CV on own examples)",
    "vader": "VADER compound <= {t:.2f}",
    "all_frustrated": "all frustrated (trivial)",
    "project_tuned_on_val": "project, threshold {t:.2f} tuned on val",
    "vader_tuned_on_val": "VADER, compound <= {t:.2f} tuned on val",
}


def format_table(result: dict[str, Any], split_name: str) -> str:
    lines = ["| model | precision | recall | F1 | accuracy | ROC AUC |", "|---|---|---|---|---|---|"]
    for key in ("project", "vader", "all_frustrated", "project_tuned_on_val", "vader_tuned_on_val"):
        row = result["splits"][split_name][key]
        label = ROW_LABELS[key].format(t=row["threshold"] if row["threshold"] is not None else 0.0)
        auc = row.get("roc_auc")
        lines.append(
            f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['accuracy']:.3f} | "
            + ("–" if auc is None else f"{auc:.3f}")
            + " |"
        )
    return "\n".join(lines)


def benchmark_dataset(dataset: LoadedDataset, model: Any, embed: Callable[[list[str]], np.ndarray], cache_dir: Path | None) -> dict[str, Any]:
    texts = [item.text for item in dataset.items]
    labels = np.array([item.positive for item in dataset.items], dtype=bool)
    on_val = np.array([is_validation(item.id) for item in dataset.items], dtype=bool)
    start = time.perf_counter()
    embeddings = cached_embed(texts, embed, cache_dir)
    embed_seconds = time.perf_counter() - start
    start = time.perf_counter()
    project = model.probabilities(texts, embeddings)
    score_seconds = time.perf_counter() - start
    compound = vader_compounds(texts)
    _log(f"{dataset.name}: {len(texts)} texts embedded in {embed_seconds:.1f} s, scored in {score_seconds:.1f} s")

    project_threshold, project_val_f1 = tune_threshold(labels[on_val], project[on_val], np.round(np.arange(0.01, 1.0, 0.01), 2))
    # VADER predicts negative when compound <= t: tune on -compound >= -t
    neg_threshold, vader_val_f1 = tune_threshold(labels[on_val], -compound[on_val], np.round(np.arange(-0.99, 1.0, 0.01), 2))
    thresholds = {"project": model.threshold, "project_tuned_on_val": project_threshold, "vader_tuned_on_val": float(-neg_threshold)}
    masks = {"test": ~on_val, "val": on_val, "all": np.ones_like(on_val)}
    return {
        "name": dataset.name,
        "description": dataset.description,
        "notes": dataset.notes,
        "size": {"all": int(labels.size), "val": int(on_val.sum()), "test": int((~on_val).sum())},
        "positive_share": float(labels.mean()),
        "thresholds": thresholds,
        "val_f1_at_tuned_thresholds": {"project": project_val_f1, "vader": vader_val_f1},
        "embed_seconds": embed_seconds,
        "project_score_ms_per_message": 1000 * score_seconds / max(len(texts), 1),
        "splits": {name: evaluate_rows(labels[mask], project[mask], compound[mask], thresholds) for name, mask in masks.items()},
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.frustration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS_DIR, help="shared datasets folder")
    parser.add_argument("--dataset", action="append", choices=DATASET_NAMES, help="repeatable (default: both)")
    parser.add_argument("--json", type=Path, help="write all numbers to this JSON file")
    parser.add_argument("--report-split", choices=("test", "val", "all"), default="test", help="split printed in the tables")
    parser.add_argument("--limit", type=int, help="deterministic subset of N texts per dataset (quick runs)")
    parser.add_argument("--embedding-cache", type=Path, help="folder (outside the repository) to keep dataset embeddings in")
    args = parser.parse_args(argv)
    args.dataset = args.dataset or list(DATASET_NAMES)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    started = time.perf_counter()
    command = "python -m bot.bench.frustration " + shlex.join(sys.argv[1:] if argv is None else list(argv))

    from bot.embeddings import SentenceTransformerEmbedder
    from bot.nlu.frustration import FrustrationModel, examples_fingerprint, load_examples

    embedder = SentenceTransformerEmbedder()
    start = time.perf_counter()
    embedder.embed(["warm up"])
    load_seconds = time.perf_counter() - start
    examples = load_examples()
    start = time.perf_counter()
    model = FrustrationModel.train_with(examples, embedder)
    train_seconds = time.perf_counter() - start
    cv = model.cross_validation
    assert cv is not None
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        "python": platform.python_version(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "examples": {"total": len(examples), "frustrated": sum(e.frustrated for e in examples), "fingerprint": examples_fingerprint()},
        "model": {
            "C": cv.C,
            "threshold": model.threshold,
            "cv": cv.__dict__,
            "train_seconds": train_seconds,
            "embedding_model_load_seconds": load_seconds,
        },
        "vader_threshold": VADER_NEGATIVE_COMPOUND,
        "val_fraction": VAL_FRACTION,
        "report_split": args.report_split,
        "datasets": [],
    }
    print("# Frustration benchmark\n")
    print(f"- date: {report['date']}")
    print(f"- command: `{command}`")
    print(
        f"- project model: trained on {len(examples)} own examples ({report['examples']['frustrated']} frustrated) in {train_seconds:.1f} s; "
        f"C={cv.C:g}, threshold {model.threshold:.2f} (both by {cv.folds}-fold CV on the examples: F1 {cv.f1:.3f}, "
        f"precision {cv.precision:.3f}, recall {cv.recall:.3f})"
    )
    print(f"- VADER baseline: negative when compound <= {VADER_NEGATIVE_COMPOUND}")
    share = {"test": f"{100 * (1 - VAL_FRACTION):.0f} %", "val": f"{100 * VAL_FRACTION:.0f} %", "all": "100 %"}[args.report_split]
    print(f"- tables: the {args.report_split} split ({share} of each set)")
    sys.stdout.flush()

    for name in args.dataset:
        dataset = load_named(name, args.datasets)
        if args.limit:
            dataset = LoadedDataset(dataset.name, dataset.description, subsample(dataset.items, args.limit), {**dataset.notes, "limit": args.limit})
        result = benchmark_dataset(dataset, model, embedder.embed, args.embedding_cache)
        report["datasets"].append(result)
        size = result["size"]
        print(f"\n## {dataset.name}: {dataset.description}\n")
        print(
            f"{size['all']} texts ({100 * result['positive_share']:.1f} % positive), val {size['val']} / test {size['test']}; "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in dataset.notes.items())
            + "\n"
        )
        print(format_table(result, args.report_split))
        sys.stdout.flush()
        if args.json:
            _write_json(args.json, report)

    report["total_seconds"] = time.perf_counter() - started
    print(f"\nTotal time: {report['total_seconds']:.0f} s")
    if args.json:
        _write_json(args.json, report)
    return 0


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
