"""Unit tests of the frustration benchmark's loaders, split and metrics (tiny made-up files, no model)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from bot.bench.frustration import (
    LabelledText,
    binary_metrics,
    clean_tweet,
    evaluate_rows,
    is_validation,
    load_complaints,
    load_twitter_airline,
    parse_args,
    roc_auc,
    split,
    subsample,
    tune_threshold,
)

AIRLINE_HEADER = [
    "tweet_id", "airline_sentiment", "airline_sentiment_confidence", "negativereason", "negativereason_confidence", "airline",
    "airline_sentiment_gold", "name", "negativereason_gold", "retweet_count", "text", "tweet_coord", "tweet_created",
    "tweet_location", "user_timezone",
]


def write_airline(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, AIRLINE_HEADER)
        writer.writeheader()
        for tweet_id, sentiment, text in rows:
            writer.writerow({**{name: "" for name in AIRLINE_HEADER}, "tweet_id": tweet_id, "airline_sentiment": sentiment, "text": text})
    return path


def test_clean_tweet_removes_handles_urls_and_entities() -> None:
    assert clean_tweet("@united my bag &amp; coat are lost http://t.co/abc #fail  @you") == "my bag & coat are lost fail"
    assert clean_tweet("mail me at a@b.com") == "mail me at a@b.com"


def test_airline_loader_dedupes_ids_drops_conflicts_and_keeps_multiline_text(tmp_path: Path) -> None:
    path = write_airline(
        tmp_path / "Tweets.csv",
        [
            ("1", "negative", "@AirX delayed\nagain"),
            ("1", "negative", "@AirX delayed\nagain"),  # identical duplicate: counted once
            ("2", "neutral", "@AirX what time is boarding?"),
            ("3", "positive", "@AirX thanks!"),
            ("3", "negative", "@AirX thanks!"),  # the copies disagree: dropped
            ("4", "positive", "@AirX"),  # nothing left after cleaning
        ],
    )
    dataset = load_twitter_airline(path)
    assert dataset.items == [LabelledText("1", "delayed again", True), LabelledText("2", "what time is boarding?", False)]
    assert dataset.notes == {"rows": 6, "unique_ids": 4, "duplicated_ids": 2, "conflicting_ids_dropped": 1, "empty_after_cleaning": 1}


def test_complaints_loader_keeps_customer_service_domains_only(tmp_path: Path) -> None:
    path = tmp_path / "complaints-data.csv"
    path.write_text(
        '11,"@Shop my coat never came, again",1,apparel\n12,@Shop can I return online?,0,retail\n'
        "13,lovely day,0,random_tweet\n14,hi,0,random_reply\n",
        encoding="utf-8",
    )
    dataset = load_complaints(path)
    assert dataset.items == [LabelledText("11", "my coat never came, again", True), LabelledText("12", "can I return online?", False)]
    assert dataset.notes["non_support_rows_dropped"] == 2
    assert len(load_complaints(path, support_only=False).items) == 4


def test_complaints_loader_rejects_a_bad_label(tmp_path: Path) -> None:
    path = tmp_path / "complaints-data.csv"
    path.write_text("11,text,yes,apparel\n", encoding="utf-8")
    with pytest.raises(ValueError, match="label"):
        load_complaints(path)


def test_split_is_deterministic_disjoint_and_about_thirty_percent() -> None:
    items = [LabelledText(str(i), f"t{i}", i % 2 == 0) for i in range(2000)]
    val, test = split(items)
    assert {i.id for i in val}.isdisjoint({i.id for i in test}) and len(val) + len(test) == 2000
    assert 0.25 < len(val) / 2000 < 0.35
    assert split(items) == (val, test)
    assert all(is_validation(item.id) for item in val)


def test_subsample_is_deterministic_and_keeps_order() -> None:
    items = [LabelledText(str(i), f"t{i}", True) for i in range(100)]
    chosen = subsample(items, 10)
    assert len(chosen) == 10 and chosen == subsample(items, 10)
    assert [int(i.id) for i in chosen] == sorted(int(i.id) for i in chosen)
    assert subsample(items, None) == items


def test_binary_metrics() -> None:
    metrics = binary_metrics([True, True, True, False], [True, True, False, True])
    assert metrics["precision"] == pytest.approx(2 / 3) and metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["f1"] == pytest.approx(2 / 3) and metrics["accuracy"] == 0.5
    assert (metrics["n"], metrics["positives"], metrics["predicted_positives"]) == (4, 3, 3)
    assert binary_metrics([True, False], [False, False])["f1"] == 0.0
    with pytest.raises(ValueError):
        binary_metrics([], [])


def test_roc_auc_handles_ties_and_one_class() -> None:
    assert roc_auc([True, False], [0.9, 0.1]) == 1.0
    assert roc_auc([True, False], [0.1, 0.9]) == 0.0
    assert roc_auc([True, False, True, False], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert roc_auc([True, True], [0.1, 0.2]) is None


def test_tune_threshold_picks_the_best_f1() -> None:
    labels = np.array([True, True, False, False])
    threshold, f1 = tune_threshold(labels, np.array([0.9, 0.6, 0.4, 0.1]), [0.2, 0.5, 0.8])
    assert (threshold, f1) == (0.5, 1.0)


def test_evaluate_rows_applies_each_threshold_and_vader_below_its_cut() -> None:
    labels = np.array([True, True, False, False])
    project = np.array([0.9, 0.3, 0.6, 0.1])
    compound = np.array([-0.5, 0.0, 0.2, -0.04])
    rows = evaluate_rows(labels, project, compound, {"project": 0.5, "project_tuned_on_val": 0.2, "vader_tuned_on_val": 0.1})
    assert rows["project"]["predicted_positives"] == 2 and rows["project"]["f1"] == 0.5
    assert rows["vader"]["predicted_positives"] == 1 and rows["vader"]["precision"] == 1.0  # -0.04 is above -0.05
    assert rows["vader_tuned_on_val"]["predicted_positives"] == 3
    assert rows["all_frustrated"]["recall"] == 1.0 and rows["all_frustrated"]["precision"] == 0.5


def test_parse_args_defaults_to_both_sets_and_the_test_split() -> None:
    args = parse_args([])
    assert args.dataset == ["twitter_airline", "complaints"] and args.report_split == "test"
