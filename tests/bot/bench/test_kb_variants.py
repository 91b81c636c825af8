"""Unit tests of the KB benchmark's variant helpers on made-up score parts (no model, no data)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bot.bench.kb import Parts, ceiling, confidence_features, recall_at_1, variant_results


def parts(expected, title, chunk, passage, lexical=None) -> Parts:
    n = len(title)
    return Parts(
        tuple("abcdefgh"[:n]),
        np.asarray(title, float),
        np.asarray(chunk, float),
        np.asarray(passage, float),
        np.asarray(lexical if lexical is not None else [0.0] * n, float),
        expected,
    )


def test_fusions() -> None:
    p = parts("a", [0.5, 0.6], [0.7, 0.4], [0.2, 0.9], [1.0, 0.0])
    assert np.allclose(p.fused("max", (1, 1, 0, 0.1)), [0.8, 0.6])
    assert np.allclose(p.fused("max3", (1, 1, 1, 0.0)), [0.7, 0.9])
    assert np.allclose(p.fused("maxplus", (1, 1, 0.5, 0.0)), [0.8, 1.05])
    assert np.allclose(p.fused("linear", (0.5, 0.5, 0.0, 0.0)), [0.6, 0.5])


def test_recall_at_1_counts_empty_candidate_lists_as_misses() -> None:
    found = parts("a", [0.9, 0.1], [0.9, 0.1], [0.9, 0.1])
    missed = parts("b", [0.9, 0.1], [0.9, 0.1], [0.9, 0.1])
    empty = Parts((), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0), "a")
    assert recall_at_1([found, missed, empty], "max", (1, 1, 0, 0)) == pytest.approx(1 / 3)
    assert math.isnan(recall_at_1([], "max", (1, 1, 0, 0)))


def test_confidence_features() -> None:
    f = confidence_features([parts("a", [0.8, 0.3, 0.1], [0.7, 0.5, 0.2], [0.6, 0.1, 0.0]), parts(None, [0.4, 0.35], [0.3, 0.3], [0.2, 0.2])])
    assert f["top"][0] == pytest.approx(0.8) and f["margin"][0] == pytest.approx(0.3)
    assert list(f["right"]) == [True, False] and list(f["answerable"]) == [True, False]
    assert f["passage"][0] == pytest.approx(0.6) and f["x"].shape == (2, 11)


def test_variant_results_runs_end_to_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.bench import kb

    # coarse grids: the real ones take minutes in pure Python
    monkeypatch.setattr(kb, "CONFIDENCE_WEIGHTS", (0.0, 1.0))
    monkeypatch.setattr(kb, "THRESHOLD_GRID", tuple(round(0.3 + 0.1 * i, 2) for i in range(16)))
    monkeypatch.setattr(kb, "MARGIN_GRID", (0.0, 0.05))
    monkeypatch.setattr(kb, "MARGIN_WEIGHT_GRID", (0.0, 1.0))
    rng = np.random.default_rng(0)

    def sample(n: int):
        out = []
        for i in range(n):
            good = rng.random() < 0.8
            base = rng.random(4) * 0.5
            if good:
                base[0] += 0.4
            expected = "a" if i % 5 else None
            out.append(parts(expected, base, base + 0.05, base * 0.9, rng.random(4) * 0.2))
        return out

    demo = [("calibration" if i % 2 else "report", p) for i, p in enumerate(sample(40))]
    result = variant_results(sample(80), sample(80), sample(60), sample(60), demo)
    assert len(result["ranking"]) == 4 and len(result["confidence"]) == 3
    assert result["ranking"][0]["settings_tried"] == 1
    assert set(result["demo_confidence"]) == {"shipped rule", "+ passage and title"}
    assert set(result["ceiling"]) == {"score + lead, best margin weight", "logistic-regression probe"}


def test_ceiling_is_the_best_threshold_chosen_on_the_scored_queries() -> None:
    # confidence, right, answerable: 8 answerable (6 right), 2 unanswerable
    confidence = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.35, 0.3, 0.2, 0.1])
    right = np.array([1, 1, 0, 1, 1, 1, 0, 1, 0, 0], bool)
    answerable = np.array([1, 1, 1, 1, 1, 1, 0, 1, 0, 1], bool)
    c = ceiling(confidence, right, answerable, coverage=0.75, precision=0.8)
    # the 6 best answer 6 of 8 answerable (0.75) with 5 of 6 right; answering more only adds wrong answers
    # or the unanswerable one until the 8 best (7 of 8 answered, 6 of 8 right)
    assert c["precision_at_coverage"] == pytest.approx(5 / 6)
    # >= 0.8 precision: the 5 best (4 of 5) or the 6 best (5 of 6), which answer 6 of 8
    assert c["answered_at_precision"] == pytest.approx(6 / 8)
    assert math.isnan(ceiling(np.zeros(3), np.zeros(3, bool), np.zeros(3, bool))["precision_at_coverage"])
