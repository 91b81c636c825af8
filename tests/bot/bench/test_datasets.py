"""Unit tests of the NLU benchmark's loaders, subsetting, metrics and threshold selection.

Tiny made-up data only: no model is trained and the shared datasets are not needed.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from bot.bench.datasets import (
    load_banking77,
    load_clinc150,
    load_csv,
    load_dataset,
    load_rasa_nlu,
    normalise_text,
    stratified_subset,
)
from bot.bench.nlu import apply_threshold, compute_metrics, parse_args, select_threshold

# ---------------------------------------------------------------------------- loaders


def test_load_csv_reads_quoted_fields_and_normalises_whitespace(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    path.write_bytes(b'text,label\r\n"hello, there",greet\r\n"\nwhere is\xc2\xa0my card?  ",card_arrival\r\n,empty\r\n')
    assert load_csv(path) == [("hello, there", "greet"), ("where is my card?", "card_arrival")]


def test_load_csv_needs_text_and_label_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("sentence,label\nhi,greet\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text,label"):
        load_csv(path)


def test_load_banking77_accepts_its_category_column(tmp_path: Path) -> None:
    root = tmp_path / "banking77"
    root.mkdir()
    (root / "train.csv").write_text("text,category\nmy card is lost,lost_or_stolen_card\n", encoding="utf-8")
    (root / "test.csv").write_text("text,category\ni lost my card,lost_or_stolen_card\n", encoding="utf-8")
    dataset = load_banking77(tmp_path)
    assert dataset.train == [("my card is lost", "lost_or_stolen_card")]
    assert dataset.test == [("i lost my card", "lost_or_stolen_card")]
    assert dataset.val is None and dataset.oos_label is None


def test_load_clinc150_merges_out_of_scope_into_each_split(tmp_path: Path) -> None:
    data = {
        "train": [["what is my balance", "balance"]],
        "val": [["balance please", "balance"]],
        "test": [["how much money do i have", "balance"]],
        "oos_train": [["tell me a recipe for soup", "oos"]],
        "oos_val": [["who won the game", "oos"]],
        "oos_test": [["how tall is everest", "oos"]],
    }
    (tmp_path / "clinc150").mkdir()
    (tmp_path / "clinc150" / "data_full.json").write_text(json.dumps(data), encoding="utf-8")
    dataset = load_clinc150(tmp_path)
    assert dataset.train == [("what is my balance", "balance"), ("tell me a recipe for soup", "oos")]
    assert dataset.val == [("balance please", "balance"), ("who won the game", "oos")]
    assert dataset.test == [("how much money do i have", "balance"), ("how tall is everest", "oos")]
    assert dataset.oos_label == "oos"
    assert dataset.labels == ["balance", "oos"]


def test_load_rasa_nlu_strips_entity_annotations(tmp_path: Path) -> None:
    path = tmp_path / "nlu.yml"
    path.write_text(
        'version: "3.1"\n'
        "nlu:\n"
        "- intent: order_status\n"
        "  examples: |\n"
        "    - where is order [104512](order_number)\n"
        "    - when will my [Pulse 700](product) arrive\n"
        "- intent: greet\n"
        "  examples: |\n"
        "    - hi there\n"
        "- lookup: product\n"
        "  examples: |\n"
        "    - Pulse 700\n",
        encoding="utf-8",
    )
    assert sorted(load_rasa_nlu(path)) == [
        ("hi there", "greet"),
        ("when will my Pulse 700 arrive", "order_status"),
        ("where is order 104512", "order_status"),
    ]


def test_load_dataset_csv_spec(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("text,label\nhi,greet\nbye,goodbye\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("text,label\nhello,greet\n", encoding="utf-8")
    dataset = load_dataset(f"csv:{tmp_path / 'a.csv'},{tmp_path / 'b.csv'}", oos_label="none")
    assert dataset.train == [("hi", "greet"), ("bye", "goodbye")]
    assert dataset.test == [("hello", "greet")]
    assert dataset.oos_label == "none" and dataset.val is None
    with pytest.raises(ValueError):
        load_dataset(f"csv:{tmp_path / 'a.csv'}")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("snips")


def test_normalise_text() -> None:
    assert normalise_text("\n  top up\u00a0my   card \r\n") == "top up my card"


# ---------------------------------------------------------------------------- subsets


def test_stratified_subset_keeps_proportions_order_and_is_deterministic() -> None:
    examples = [(f"a{i}", "a") for i in range(60)] + [(f"b{i}", "b") for i in range(30)] + [("c0", "c")]
    subset = stratified_subset(examples, 30)
    assert len(subset) == 30
    counts = Counter(label for _, label in subset)
    assert counts["c"] == 1 and counts["a"] in (19, 20) and counts["b"] in (9, 10)
    assert subset == stratified_subset(examples, 30)  # deterministic
    positions = [examples.index(example) for example in subset]
    assert positions == sorted(positions)  # original order kept
    assert stratified_subset(examples, None) == examples
    assert stratified_subset(examples, 1000) == examples
    assert stratified_subset(examples, 0) == []


# ---------------------------------------------------------------------------- metrics


def test_compute_metrics_without_out_of_scope() -> None:
    metrics = compute_metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert metrics["accuracy"] == pytest.approx(0.75)
    # F1(a) = 2/3, F1(b) = 0.8
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert metrics["oos_recall"] is None and metrics["in_scope_accuracy"] is None


def test_compute_metrics_with_out_of_scope() -> None:
    y_true = ["a", "a", "b", "oos", "oos"]
    y_pred = ["a", "oos", "b", "oos", "a"]
    metrics = compute_metrics(y_true, y_pred, oos_label="oos")
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["oos_recall"] == pytest.approx(1 / 2)
    assert metrics["oos_precision"] == pytest.approx(1 / 2)
    assert metrics["in_scope_accuracy"] == pytest.approx(2 / 3)


def test_apply_threshold() -> None:
    assert apply_threshold(["a", "b", "oos"], [0.9, 0.3, 0.8], 0.5, "oos") == ["a", "oos", "oos"]
    assert apply_threshold(["a", "b"], [0.9, 0.3], 0.0, "oos") == ["a", "b"]


# ---------------------------------------------------------------------------- threshold selection


def _validation_set():
    # 10 in-scope (all predicted right; one at 0.35, one at 0.55 confidence) and
    # 4 out-of-scope examples (predicted in-scope, confidences 0.2/0.3/0.4/0.6)
    y_true = ["a"] * 10 + ["oos"] * 4
    labels = ["a"] * 10 + ["a"] * 4
    confidences = [0.9] * 8 + [0.35, 0.55] + [0.2, 0.3, 0.4, 0.6]
    return y_true, labels, confidences


def test_select_threshold_maximises_objective_within_the_allowed_in_scope_drop() -> None:
    y_true, labels, confidences = _validation_set()
    candidates = [0.0, 0.25, 0.32, 0.45, 0.7]
    # with an allowed drop of 10 points: 0.45 loses one in-scope example (0.9) and finds 3 of 4 oos
    choice = select_threshold(y_true, labels, confidences, "oos", candidates, max_in_scope_drop=0.10)
    assert choice.threshold == 0.45
    assert choice.in_scope_accuracy == pytest.approx(0.9)
    assert choice.oos_recall == pytest.approx(0.75)
    assert choice.objective == pytest.approx(0.825)
    assert choice.in_scope_accuracy_without_threshold == pytest.approx(1.0)
    assert choice.oos_recall_without_threshold == pytest.approx(0.0)
    # with the default 1-point limit, no in-scope example may be lost: best is 0.32
    choice = select_threshold(y_true, labels, confidences, "oos", candidates)
    assert choice.threshold == 0.32
    assert choice.in_scope_accuracy == pytest.approx(1.0)
    assert choice.oos_recall == pytest.approx(0.5)


def test_select_threshold_ties_go_to_the_lowest_threshold() -> None:
    y_true, labels, confidences = _validation_set()
    choice = select_threshold(y_true, labels, confidences, "oos", [0.31, 0.32, 0.33])
    assert choice.threshold == 0.31


def test_select_threshold_keeps_no_threshold_when_nothing_helps() -> None:
    y_true = ["a", "b", "oos"]
    labels = ["a", "b", "oos"]
    confidences = [0.4, 0.5, 0.9]
    choice = select_threshold(y_true, labels, confidences, "oos", [0.45, 0.6])
    assert choice.threshold == 0.0
    assert choice.objective == pytest.approx(1.0)


def test_select_threshold_needs_both_kinds_of_examples() -> None:
    with pytest.raises(ValueError):
        select_threshold(["a", "b"], ["a", "b"], [0.9, 0.9], "oos")


def test_parse_args_defaults_and_pipeline_validation() -> None:
    args = parse_args([])
    assert args.dataset == ["banking77", "clinc150", "project"]
    assert args.pipelines == ["project", "baseline"]
    assert parse_args(["--pipelines", "baseline", "--dataset", "project"]).pipelines == ["baseline"]
    with pytest.raises(SystemExit):
        parse_args(["--pipelines", "project,spacy"])
