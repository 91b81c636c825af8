"""Knowledge-base retrieval benchmark: `python -m bot.bench.kb [--json PATH]`.

StackFAQ (TakeLab; read in place from the shared datasets folder, see its PROVENANCE.md, and
indexed only into a temporary folder that is deleted afterwards) is the public yardstick:
125 StackExchange threads become 125 articles (title = the thread's question, body = its
answers), queried with 1,250 human paraphrases. Each thread's paraphrases come in two groups
of five; the first group is the validation split (everything is tuned on it) and the second
the test split (every number reported is measured on it).

1. Ranking: Recall@1/3 and MRR@10 of lexical only (BM25), dense only, naive reciprocal rank
   fusion (for reference) and the shipped retrieval, all 125 threads indexed.
2. Knowing when not to answer: 25 threads (chosen by hash, deterministic) are left out of
   the index, so their questions have no answer; precision of the answers given and share of
   answerable questions answered at the shipped thresholds. Calibration uses the validation
   paraphrases and leaves out, in turn, four *other* sets of 25 threads.
3. The demo store's golden questions (`knowledge_base/eval/golden-*.yml`) with the shipped
   settings, plus the project's out-of-scope NLU examples as a no-answer probe.
4. Timings: model load, index build (cold, one article changed, nothing changed), one query.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from bot.knowledge.articles import Article, content_hash, load_articles
from bot.knowledge.evaluation import DecisionMetrics, RankingMetrics, load_golden, rank_of
from bot.knowledge.index import build_index, load_snapshot
from bot.knowledge.search import AnswerDecision, ArticleScores, HybridRetriever, SearchConfig, SearchHit, decide

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASETS_DIR = REPO_ROOT.parent / "shared" / "datasets"
HELD_OUT_THREADS = 25
# issue 3's targets for knowing when not to answer: precision of given answers, share answered
TARGET_PRECISION = 0.95
TARGET_COVERAGE = 0.85
# Validation precision the thresholds must reach. The requirement is 0.95 on the test split;
# with ~500 answers the precision estimate moves by about a point between samples, so
# calibrating to 0.95 exactly would fail half the time. Two points of headroom.
TARGET_VAL_PRECISION = 0.97
# Demo store calibration (the shipped thresholds): answer precision on the calibration half of
# the golden questions, and the most of the out-of-scope examples that may be answered / offered
# options (they should get "no answer" and a human).
DEMO_TARGET_PRECISION = 0.95
DEMO_MAX_OUT_OF_SCOPE_ANSWERED = 0.05
DEMO_MAX_OUT_OF_SCOPE_CLARIFIED = 0.05
WEIGHT_GRID = tuple(round(0.05 * i, 2) for i in range(13))  # 0 .. 0.6
THRESHOLD_GRID = tuple(round(0.30 + 0.005 * i, 3) for i in range(301))  # 0.30 .. 1.80
MARGIN_GRID = tuple(round(0.01 * i, 2) for i in range(11))  # 0 .. 0.10
MARGIN_WEIGHT_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
RRF_K = 60
BOOTSTRAP_SAMPLES = 1000


@dataclass(frozen=True)
class Thread:
    id: str
    question: str
    answers: Tuple[str, ...]
    validation: Tuple[str, ...]
    test: Tuple[str, ...]



def with_thresholds(config: SearchConfig, tuned: Dict) -> SearchConfig:
    """`config` with the decision thresholds a calibration chose."""
    keys = ("margin_weight", "answer_threshold", "min_margin", "clarify_threshold")
    return replace(config, **{key: tuned[key] for key in keys})

def _text(element: Optional[ET.Element]) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def load_stackfaq(path: Path) -> List[Thread]:
    """The threads of `stackExchange-FAQ.xml`: paraphrases before the `*` entry are the
    validation split, those after it the test split."""
    root = ET.parse(path).getroot()
    threads = []
    for number, pair in enumerate(root.findall("qapair")):
        paraphrases = [_text(r) for r in pair.findall("rephr")]
        cut = paraphrases.index("*") if "*" in paraphrases else len(paraphrases) // 2
        threads.append(
            Thread(
                id=f"stackfaq-{number:03d}",
                question=_text(pair.find("question")),
                answers=tuple(a for a in (_text(x) for x in pair.findall("answer")) if a),
                validation=tuple(p for p in paraphrases[:cut] if p and p != "*"),
                test=tuple(p for p in paraphrases[cut + 1 :] if p and p != "*"),
            )
        )
    return threads


def thread_article(thread: Thread, source: Path) -> Article:
    body = "\n\n".join(thread.answers)
    return Article(
        id=thread.id,
        title=thread.question,
        category="stackfaq",
        tags=(),
        status="published",
        updated=date(2021, 3, 2),
        url="",
        body=body,
        path=f"{source}#{thread.id}",
        content_hash=content_hash(thread.question + "\n" + body),
    )


def held_out_sets(threads: Sequence[Thread]) -> Tuple[List[str], List[List[str]]]:
    """(report set, calibration folds): disjoint sets of 25 thread ids, ordered by a hash of the
    question so that the choice is deterministic and unrelated to the file's order.

    The report set is left out of the index for the reported numbers only. Calibration leaves
    out each of the other folds in turn: with a single fold of 25 threads the precision of the
    answers depends a lot on which threads happen to be left out (wrong answers come in
    clusters: a left-out Gmail question is answered from another Gmail thread), and one fold
    gave thresholds that looked 0.97 precise on validation and were 0.935 on test.
    """
    ranked = sorted(threads, key=lambda t: hashlib.sha256(t.question.encode("utf-8")).hexdigest())
    ids = [t.id for t in ranked]
    report = ids[:HELD_OUT_THREADS]
    rest = ids[HELD_OUT_THREADS:]
    folds = [rest[i : i + HELD_OUT_THREADS] for i in range(0, len(rest) - HELD_OUT_THREADS + 1, HELD_OUT_THREADS)]
    return report, folds


# ---------------------------------------------------------------------------------------------
# scoring helpers


def ranking_from_scores(ids: Sequence[str], scores: np.ndarray, k: int = 10) -> List[str]:
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [ids[i] for i in order]


def passage_only_dense(scores: ArticleScores) -> np.ndarray:
    return np.asarray(scores.chunk_dense, dtype=np.float64)


def lexical_ranking(retriever: HybridRetriever, query: str, k: int = 10) -> List[str]:
    raw = retriever.bm25.scores(query)
    best: Dict[str, float] = {}
    for row in np.argsort(-raw, kind="stable"):
        if raw[row] <= 0:
            break
        best.setdefault(retriever.snapshot.passages[row].article_id, float(raw[row]))
        if len(best) >= k:
            break
    return list(best)


def rrf_ranking(first: Sequence[str], second: Sequence[str], k: int = 10) -> List[str]:
    fused: Dict[str, float] = {}
    for ranking in (first, second):
        for rank, article_id in enumerate(ranking, start=1):
            fused[article_id] = fused.get(article_id, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused, key=lambda a: -fused[a])[:k]


def bootstrap_ci(groups: Dict[str, List[float]], statistic, samples: int = BOOTSTRAP_SAMPLES) -> Tuple[float, float]:
    """95% interval of `statistic(list of values)` resampling whole threads (queries of one
    thread are not independent)."""
    keys = sorted(groups)
    rng = np.random.default_rng(0)
    values = []
    for _ in range(samples):
        picked = rng.integers(0, len(keys), len(keys))
        pooled = [v for i in picked for v in groups[keys[i]]]
        result = statistic(pooled)
        if not math.isnan(result):
            values.append(result)
    if not values:
        return math.nan, math.nan
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


@dataclass(frozen=True)
class Scored:
    """One query's scores against one index."""

    query: str
    thread: str
    expected: Optional[str]  # None when the thread is not in the index
    scores: ArticleScores


def score_queries(
    retriever: HybridRetriever, queries: Sequence[Tuple[str, str, Optional[str]]], vectors: Dict[str, np.ndarray]
) -> List[Scored]:
    return [Scored(q, thread, expected, retriever.article_scores(q, vectors[q])) for q, thread, expected in queries]


def top_hits(retriever: HybridRetriever, item: Scored, weight: float, k: int = 3) -> List[SearchHit]:
    return retriever.hits(item.scores, k, weight)


def decision_outcomes(retriever: HybridRetriever, items: Sequence[Scored], config: SearchConfig):
    return [(decide(top_hits(retriever, it, config.lexical_weight), config), it.expected) for it in items]


# ---------------------------------------------------------------------------------------------
# tuning (validation split only)


def tune_weight(items: Sequence[Scored]) -> Tuple[float, Dict[float, RankingMetrics]]:
    """The largest lexical weight that keeps validation Recall@1 at or above dense alone,
    counting up from w = 0 without a dip.

    Not the arg-max: StackFAQ's paraphrases were written to avoid the thread's wording and
    hold no product codes, so they cannot show what the lexical signal is for (exact codes
    and model names); they can show how much of it is free. w = 0 is the floor, so the fusion
    is never worse than dense alone on this split.
    """
    table = {}
    for weight in WEIGHT_GRID:
        ranks = [
            rank_of(it.expected, ranking_from_scores(it.scores.article_ids, it.scores.fused(weight))) for it in items
        ]
        table[weight] = RankingMetrics.from_ranks(ranks)
    floor = table[0.0].recall_at_1
    chosen = 0.0
    for weight in WEIGHT_GRID[1:]:
        if table[weight].recall_at_1 + 1e-9 < floor:
            break
        chosen = weight
    return chosen, table


def calibrate(
    top: np.ndarray,
    margin: np.ndarray,
    right: np.ndarray,
    answerable: np.ndarray,
    offered: np.ndarray,
    target_precision: float,
    max_unanswerable_answered: float = 1.0,
    max_unanswerable_clarified: float = 1.0,
) -> Dict[str, float]:
    """Margin weight, answer threshold and minimum margin that answer the most answerable
    questions at >= `target_precision` with at most `max_unanswerable_answered` of the
    unanswerable ones answered; then the clarify threshold that maximises helpful
    clarifications (right article offered) minus useless ones (wrong options, or any options
    for an unanswerable question), with at most `max_unanswerable_clarified` of the
    unanswerable questions clarified (they should get "no answer" and a human)."""
    top, margin = np.asarray(top, dtype=np.float64), np.asarray(margin, dtype=np.float64)
    right, answerable, offered = (np.asarray(x, dtype=bool) for x in (right, answerable, offered))
    unanswerable = ~answerable
    best = None
    for margin_weight in MARGIN_WEIGHT_GRID:
        confidence = top + margin_weight * margin
        for threshold in THRESHOLD_GRID:
            for min_margin in MARGIN_GRID:
                answered = (confidence >= threshold) & (margin >= min_margin)
                if not answered.any():
                    continue
                precision = right[answered].mean()
                coverage = (answered & answerable).sum() / max(1, answerable.sum())
                wrongly = (answered & unanswerable).sum() / max(1, unanswerable.sum())
                if precision >= target_precision and wrongly <= max_unanswerable_answered + 1e-9:
                    key = (round(coverage, 9), round(precision, 9), -margin_weight, -min_margin, -threshold)
                    if best is None or key > best[0]:
                        best = (key, margin_weight, threshold, min_margin, precision, coverage)
    if best is None:  # the target is out of reach: answer nothing rather than guess
        margin_weight, threshold, min_margin, precision, coverage = 1.0, THRESHOLD_GRID[-1], 0.0, math.nan, 0.0
    else:
        _, margin_weight, threshold, min_margin, precision, coverage = best
    answered = (top + margin_weight * margin >= threshold) & (margin >= min_margin)
    best_clarify, best_gain = float(THRESHOLD_GRID[-1]), 0
    for clarify in THRESHOLD_GRID:
        grey = ~answered & (top >= clarify)
        if (grey & unanswerable).sum() / max(1, unanswerable.sum()) > max_unanswerable_clarified + 1e-9:
            continue
        gain = int((grey & answerable & offered).sum()) - int((grey & ~(answerable & offered)).sum())
        if gain > best_gain:
            best_clarify, best_gain = clarify, gain
    return {
        "margin_weight": float(margin_weight),
        "answer_threshold": float(threshold),
        "min_margin": float(min_margin),
        "clarify_threshold": float(best_clarify),
        "validation_precision": float(precision),
        "validation_answered": float(coverage),
    }


def hit_features(hits: Sequence[SearchHit], expected: Optional[str]) -> Tuple[float, float, bool, bool, bool]:
    """(top score, lead over the runner-up, top is right, answerable, right among top 3)."""
    top = hits[0].score if hits else 0.0
    margin = top - (hits[1].score if len(hits) > 1 else 0.0) if hits else 0.0
    right = bool(hits) and expected is not None and hits[0].article_id == expected
    offered = expected is not None and expected in {h.article_id for h in hits[:3]}
    return top, margin, right, expected is not None, offered


def tune_thresholds(pairs: Sequence[Tuple[HybridRetriever, Scored]], weight: float) -> Dict[str, float]:
    """StackFAQ: the most answers at >= TARGET_VAL_PRECISION over all calibration folds pooled."""
    features = [hit_features(top_hits(retriever, it, weight, 3), it.expected) for retriever, it in pairs]
    return calibrate(*(np.array(column) for column in zip(*features)), target_precision=TARGET_VAL_PRECISION)


def demo_half(question: str) -> str:
    """'calibration' or 'report': a fixed split of the demo questions by a hash of their text."""
    return "calibration" if int(hashlib.sha256(question.encode("utf-8")).hexdigest(), 16) % 2 == 0 else "report"


# ---------------------------------------------------------------------------------------------
# variants tried against issue 3's quality targets (the validation split chooses, test reports)

# ranking families: (name, kind, grid of (title, chunk, passage, lexical) weights)
_W = (0.0, 0.05, 0.1, 0.15, 0.2)
RANKING_FAMILIES = (
    ("shipped: max(title, chunk) + 0.1 x BM25", "max", ((1.0, 1.0, 0.0, 0.1),)),
    ("max(title, chunk, passage) + w x BM25", "max3", tuple((1.0, 1.0, 1.0, w) for w in _W)),
    ("max(title, chunk) + c x passage + w x BM25", "maxplus", tuple((1.0, 1.0, c, w) for c in (0.1, 0.2, 0.3, 0.5) for w in _W)),
    (
        "a x title + b x chunk + c x passage + w x BM25",
        "linear",
        tuple(
            (a, b, c, w)
            for a in (0.3, 0.4, 0.5, 0.6, 0.7)
            for b in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
            for c in (0.0, 0.1, 0.2, 0.3)
            for w in _W
        ),
    ),
)
CONFIDENCE_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Parts:
    """Score parts of one query's candidate articles, for trying other fusions: the title
    cosine, the best chunk cosine, the best *whole-passage* cosine (passages are not embedded
    by the product, only their chunks) and the lexical score."""

    ids: Tuple[str, ...]
    title: np.ndarray
    chunk: np.ndarray
    passage: np.ndarray
    lexical: np.ndarray
    expected: Optional[str]

    def fused(self, kind: str, weights: Tuple[float, float, float, float]) -> np.ndarray:
        a, b, c, w = weights
        if kind == "max":
            dense = np.maximum(self.title, self.chunk)
        elif kind == "max3":
            dense = np.maximum(np.maximum(self.title, self.chunk), self.passage)
        elif kind == "maxplus":
            dense = np.maximum(self.title, self.chunk) + c * self.passage
        else:
            dense = a * self.title + b * self.chunk + c * self.passage
        return dense + w * self.lexical


class PartsMaker:
    """Computes `Parts` over one retriever's snapshot with embedded whole passages."""

    def __init__(self, retriever: HybridRetriever, passage_vectors: Dict[str, np.ndarray]) -> None:
        snapshot = retriever.snapshot
        self.retriever = retriever
        self.title_row = {aid: row for row, aid in enumerate(snapshot.article_ids) if snapshot.article_alive[row]}
        ids = [snapshot.passages[row].passage_id for row in range(len(snapshot.passages))]
        self.passage_matrix = np.stack([passage_vectors[i] for i in ids]) if ids else np.zeros((0, 1), dtype=np.float32)

    def __call__(self, scores: ArticleScores, vector: np.ndarray, expected: Optional[str]) -> Parts:
        snapshot = self.retriever.snapshot
        vector = np.asarray(vector, dtype=np.float32)
        if not scores.article_ids:
            empty = np.zeros(0)
            return Parts((), empty, empty, empty, empty, expected)
        titles = snapshot.title_vectors[[self.title_row[a] for a in scores.article_ids]] @ vector
        passages = np.maximum.reduceat(self.passage_matrix[scores.passage_rows] @ vector, scores.starts[:-1])
        return Parts(scores.article_ids, titles.astype(np.float64), np.asarray(scores.chunk_dense, np.float64),
                     passages.astype(np.float64), np.asarray(scores.lexical, np.float64), expected)


def passage_vectors(retriever: HybridRetriever, embedder) -> Dict[str, np.ndarray]:
    snapshot = retriever.snapshot
    passages = [snapshot.passages[row] for row in range(len(snapshot.passages))]
    return dict(zip((p.passage_id for p in passages), embedder.embed([p.embed_text for p in passages])))


def recall_at_1(parts: Sequence[Parts], kind: str, weights) -> float:
    right = [bool(p.ids) and p.ids[int(np.argmax(p.fused(kind, weights)))] == p.expected for p in parts]
    return float(np.mean(right)) if right else math.nan


def confidence_features(parts: Sequence[Parts]) -> Dict[str, np.ndarray]:
    """Per query, for the shipped ranking: top score, lead, the top article's title and
    best-passage cosine, whether it is right / answerable / among the top 3, and the
    features of the logistic-regression probe."""
    columns: Dict[str, List] = {k: [] for k in ("top", "margin", "title", "passage", "right", "answerable", "offered", "x")}
    for p in parts:
        fused = p.fused("max", (1.0, 1.0, 0.0, SearchConfig().lexical_weight))
        order = np.argsort(-fused, kind="stable")
        top = float(fused[order[0]]) if len(order) else 0.0
        second = float(fused[order[1]]) if len(order) > 1 else 0.0
        third = float(fused[order[2]]) if len(order) > 2 else 0.0
        i = int(order[0]) if len(order) else None
        ids = [p.ids[j] for j in order[:3]]
        columns["top"].append(top)
        columns["margin"].append(top - second)
        columns["title"].append(float(p.title[i]) if i is not None else 0.0)
        columns["passage"].append(float(p.passage[i]) if i is not None else 0.0)
        columns["right"].append(bool(ids) and ids[0] == p.expected)
        columns["answerable"].append(p.expected is not None)
        columns["offered"].append(p.expected in ids)
        lexical_top = int(np.argmax(p.lexical)) if len(p.lexical) else -1
        dense_top = int(np.argmax(np.maximum(p.title, p.chunk))) if len(p.ids) else -1
        top10 = fused[order[:10]] if len(order) else np.zeros(1)
        columns["x"].append(
            [top, top - second, top - third, columns["title"][-1], float(p.chunk[i]) if i is not None else 0.0,
             columns["passage"][-1], float(p.lexical[i]) if i is not None else 0.0, float(lexical_top == i),
             float(dense_top == i), float(top10.mean()), float(top10.std())]
        )
    return {k: np.asarray(v) for k, v in columns.items()}


def answered_share(confidence: np.ndarray, margin: np.ndarray, f: Dict[str, np.ndarray], tuned: Dict) -> Dict[str, float]:
    answered = (confidence + tuned["margin_weight"] * margin >= tuned["answer_threshold"]) & (margin >= tuned["min_margin"])
    return {
        "precision": float(f["right"][answered].mean()) if answered.any() else math.nan,
        "answered": float((answered & f["answerable"]).sum() / max(1, f["answerable"].sum())),
    }


def ceiling(confidence: np.ndarray, right: np.ndarray, answerable: np.ndarray,
            coverage: float = TARGET_COVERAGE, precision: float = TARGET_PRECISION) -> Dict[str, float]:
    """What the best threshold on `confidence` could do, chosen on the very queries it is scored on:
    the highest precision of given answers while answering >= `coverage` of the answerable questions,
    and the largest share answered at >= `precision`. Not a method (no threshold can be picked this
    way in advance); it bounds what any threshold on this confidence can reach."""
    confidence = np.asarray(confidence, dtype=np.float64)
    right, answerable = np.asarray(right, dtype=bool), np.asarray(answerable, dtype=bool)
    best_precision, best_answered = math.nan, 0.0
    for threshold in np.unique(confidence):
        answered = confidence >= threshold
        share = (answered & answerable).sum() / max(1, answerable.sum())
        correct = right[answered].mean()
        if share >= coverage - 1e-12 and not correct <= best_precision:
            best_precision = float(correct)
        if correct >= precision - 1e-12:
            best_answered = max(best_answered, float(share))
    return {"precision_at_coverage": best_precision, "answered_at_precision": best_answered}


def variant_results(calibration: Sequence[Parts], report: Sequence[Parts], val: Sequence[Parts], test: Sequence[Parts],
                    demo: Sequence[Tuple[str, Parts]]) -> Dict:
    """Ranking families (best of each grid on validation R@1; ties go to the first, simplest
    setting) and confidence variants (calibrated on the validation folds to the same 0.97
    precision as the StackFAQ thresholds, reported on the test split with 25 threads out)."""
    out: Dict = {"ranking": [], "confidence": []}
    demo_answerable = [p for _, p in demo if p.expected is not None]
    for name, kind, grid in RANKING_FAMILIES:
        scored = [(recall_at_1(val, kind, weights), -i, weights) for i, weights in enumerate(grid)]
        best_val, _, weights = max(scored)
        out["ranking"].append({
            "family": name,
            "weights": dict(zip(("title", "chunk", "passage", "lexical"), weights)) if kind == "linear" else
            {"passage": weights[2], "lexical": weights[3]} if kind == "maxplus" else {"lexical": weights[3]},
            "settings_tried": len(grid),
            "val_r1": best_val,
            "test_r1": recall_at_1(test, kind, weights),
            "demo_r1": recall_at_1(demo_answerable, kind, weights),
        })
    cal, rep = confidence_features(calibration), confidence_features(report)

    def rule(pw: float, tw: float) -> Dict:
        tuned = calibrate(cal["top"] + pw * cal["passage"] + tw * cal["title"], cal["margin"], cal["right"], cal["answerable"],
                          cal["offered"], target_precision=TARGET_VAL_PRECISION)
        test_share = answered_share(rep["top"] + pw * rep["passage"] + tw * rep["title"], rep["margin"], rep, tuned)
        return {"passage_weight": pw, "title_weight": tw, "margin_weight": tuned["margin_weight"],
                "answer_threshold": tuned["answer_threshold"], "val_precision": tuned["validation_precision"],
                "val_answered": tuned["validation_answered"], "test_precision": test_share["precision"],
                "test_answered": test_share["answered"]}

    shipped_rule = rule(0.0, 0.0)
    grid = [rule(pw, tw) for pw in CONFIDENCE_WEIGHTS for tw in CONFIDENCE_WEIGHTS if pw or tw]
    best = max(grid, key=lambda r: (round(r["val_answered"], 9), -r["passage_weight"] - r["title_weight"]))
    out["confidence"].append({"variant": "score + margin weight x lead (the shipped rule)", **shipped_rule})
    out["confidence"].append({"variant": "+ best-passage and title cosine of the top article (best of "
                              f"{len(grid)} weightings on validation)", **best})
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(cal["x"])
    model = LogisticRegression(C=10, max_iter=2000).fit(scaler.transform(cal["x"]), cal["right"])
    val_scores, test_scores = model.decision_function(scaler.transform(cal["x"])), model.decision_function(scaler.transform(rep["x"]))
    threshold, val_answered, val_precision = math.inf, 0.0, math.nan
    for candidate in np.unique(val_scores):
        answered = val_scores >= candidate
        precision = cal["right"][answered].mean()
        coverage = (answered & cal["answerable"]).sum() / max(1, cal["answerable"].sum())
        if precision >= TARGET_VAL_PRECISION and coverage > val_answered:
            threshold, val_answered, val_precision = float(candidate), float(coverage), float(precision)
    answered = test_scores >= threshold
    # the most any threshold could do on the test split (see `ceiling`)
    out["ceiling"] = {
        "score + lead, best margin weight": max(
            (ceiling(rep["top"] + w * rep["margin"], rep["right"], rep["answerable"]) for w in MARGIN_WEIGHT_GRID),
            key=lambda c: (c["answered_at_precision"], c["precision_at_coverage"]),
        ),
        "logistic-regression probe": ceiling(test_scores, rep["right"], rep["answerable"]),
    }
    out["confidence"].append({
        "variant": "logistic regression on 11 score features, trained on the validation folds (a probe: StackFAQ's "
                   "license is unstated, so a model trained on it cannot ship)",
        "val_precision": val_precision, "val_answered": val_answered,
        "test_precision": float(rep["right"][answered].mean()) if answered.any() else math.nan,
        "test_answered": float((answered & rep["answerable"]).sum() / max(1, rep["answerable"].sum())),
    })
    # the demo store with the same confidence variant, calibrated on its calibration half as shipped
    demo_rows = {}
    for name, pw, tw in (("shipped rule", 0.0, 0.0), ("+ passage and title", best["passage_weight"], best["title_weight"])):
        halves = {}
        for half in ("calibration", "report"):
            chosen = [p for h, p in demo if h == half]
            halves[half] = (confidence_features(chosen), chosen)
        f, _ = halves["calibration"]
        tuned = calibrate(f["top"] + pw * f["passage"] + tw * f["title"], f["margin"], f["right"], f["answerable"], f["offered"],
                          target_precision=DEMO_TARGET_PRECISION, max_unanswerable_answered=DEMO_MAX_OUT_OF_SCOPE_ANSWERED,
                          max_unanswerable_clarified=DEMO_MAX_OUT_OF_SCOPE_CLARIFIED)
        g, _ = halves["report"]
        share = answered_share(g["top"] + pw * g["passage"] + tw * g["title"], g["margin"], g, tuned)
        demo_rows[name] = {"calibration_precision": tuned["validation_precision"], "calibration_answered": tuned["validation_answered"],
                           "report_precision": share["precision"], "report_answered": share["answered"]}
    out["demo_confidence"] = demo_rows
    return out


# ---------------------------------------------------------------------------------------------
# the run


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(c) if isinstance(c, float) else str(c) for c in row) + " |")
    return "\n".join(lines)


def out_of_scope_examples(repo_root: Path) -> List[str]:
    """The out_of_scope examples of the project's NLU data (a no-answer probe; may be empty)."""
    import yaml

    examples: List[str] = []
    for path in sorted((repo_root / "data" / "nlu").glob("*.yml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        for block in data.get("nlu", []) or []:
            if isinstance(block, dict) and block.get("intent") == "out_of_scope":
                for line in str(block.get("examples", "")).splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        examples.append(line[2:].strip())
    return examples


def run(args: argparse.Namespace) -> Dict:
    from bot.embeddings import SentenceTransformerEmbedder, load_model

    config = SearchConfig()
    results: Dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m bot.bench.kb " + " ".join(sys.argv[1:]),
        "shipped_config": asdict(config),
        # timings on a shared machine mean little without the load (accuracy does not depend on it)
        "load_before": list(os.getloadavg()),
    }
    run_started = time.perf_counter()
    timings: Dict[str, float] = {}
    started = time.perf_counter()
    load_model()
    timings["model_load_s"] = time.perf_counter() - started
    embedder = SentenceTransformerEmbedder()

    source = Path(args.datasets_dir) / "stackfaq" / "stackExchange-FAQ.xml"
    threads = load_stackfaq(source)
    articles = [thread_article(t, source) for t in threads]
    report_out, calibration_folds = held_out_sets(threads)
    print(
        f"StackFAQ: {len(threads)} threads, "
        f"{sum(len(t.validation) for t in threads)} validation + {sum(len(t.test) for t in threads)} test paraphrases",
        file=sys.stderr,
    )

    with tempfile.TemporaryDirectory(prefix="kb-bench-") as work:
        folder = Path(work) / "stackfaq"
        report = build_index(articles, embedder, folder, progress=not args.quiet)
        timings["stackfaq_build_cold_s"] = report.seconds
        results["stackfaq_index"] = {"articles": report.articles, "passages": report.passages, "chunks": report.chunks}
        # Retrievers are made right after each build: they read what a snapshot loads lazily,
        # and the next builds prune the older versions' folders (the temporary folder goes too).
        retriever = HybridRetriever(load_snapshot(folder, embedder), config)
        fold_retrievers: List[HybridRetriever] = []
        for fold in calibration_folds:  # embeddings come from the cache: no model calls
            build_index([a for a in articles if a.id not in fold], embedder, folder)
            fold_retrievers.append(HybridRetriever(load_snapshot(folder, embedder), config))
        build_index([a for a in articles if a.id not in report_out], embedder, folder)
        report_retriever = HybridRetriever(load_snapshot(folder, embedder), config)

    queries = [q for t in threads for q in t.validation + t.test]
    started = time.perf_counter()
    vectors = dict(zip(queries, embedder.embed(queries)))
    timings["stackfaq_embed_queries_s"] = time.perf_counter() - started

    # 1. ranking, all threads indexed
    val_items = score_queries(retriever, [(q, t.id, t.id) for t in threads for q in t.validation], vectors)
    test_items = score_queries(retriever, [(q, t.id, t.id) for t in threads for q in t.test], vectors)
    tuned_weight, weight_table = tune_weight(val_items)
    results["weight_tuning_validation"] = {str(w): asdict(m) for w, m in weight_table.items()}
    results["tuned_lexical_weight"] = tuned_weight

    def ranking_rows(items: Sequence[Scored]) -> Dict[str, RankingMetrics]:
        per: Dict[str, List[Optional[int]]] = {k: [] for k in ("lexical", "dense_passages", "dense", "rrf", "shipped")}
        for it in items:
            s = it.scores
            lexical = lexical_ranking(retriever, it.query)
            dense = ranking_from_scores(s.article_ids, s.dense)
            per["lexical"].append(rank_of(it.expected, lexical))
            per["dense_passages"].append(
                rank_of(it.expected, ranking_from_scores(s.article_ids, passage_only_dense(s)))
            )
            per["dense"].append(rank_of(it.expected, dense))
            per["rrf"].append(rank_of(it.expected, rrf_ranking(dense, lexical)))
            per["shipped"].append(
                rank_of(it.expected, ranking_from_scores(s.article_ids, s.fused(config.lexical_weight)))
            )
        return {k: RankingMetrics.from_ranks(v) for k, v in per.items()}, per

    val_ranking, _ = ranking_rows(val_items)
    test_ranking, test_ranks = ranking_rows(test_items)
    results["stackfaq_ranking"] = {
        "validation": {k: asdict(v) for k, v in val_ranking.items()},
        "test": {k: asdict(v) for k, v in test_ranking.items()},
    }
    by_thread: Dict[str, List[float]] = {}
    for it, r in zip(test_items, test_ranks["shipped"]):
        by_thread.setdefault(it.thread, []).append(1.0 if r == 1 else 0.0)
    results["stackfaq_ranking"]["test_shipped_r1_ci95"] = bootstrap_ci(by_thread, lambda v: sum(v) / len(v))

    # 2. knowing when not to answer
    calibration: List[Tuple[HybridRetriever, Scored]] = []
    for fold, fold_retriever in zip(calibration_folds, fold_retrievers):
        left_out = set(fold)
        fold_items = score_queries(
            fold_retriever,
            [(q, t.id, None if t.id in left_out else t.id) for t in threads for q in t.validation],
            vectors,
        )
        calibration.extend((fold_retriever, it) for it in fold_items)
    tuned = tune_thresholds(calibration, tuned_weight)
    results["tuned_thresholds"] = tuned
    report_items = score_queries(
        report_retriever,
        [(q, t.id, None if t.id in report_out else t.id) for t in threads for q in t.test],
        vectors,
    )
    outcomes = decision_outcomes(report_retriever, report_items, config)
    decisions = DecisionMetrics.from_decisions(outcomes)
    results["stackfaq_decisions_test"] = asdict(decisions)
    per_thread: Dict[str, List[Tuple[AnswerDecision, Optional[str]]]] = {}
    for it, outcome in zip(report_items, outcomes):
        per_thread.setdefault(it.thread, []).append(outcome)
    results["stackfaq_decisions_test"]["precision_ci95"] = bootstrap_ci(
        per_thread, lambda v: DecisionMetrics.from_decisions(v).precision
    )
    results["stackfaq_decisions_test"]["answered_ci95"] = bootstrap_ci(
        per_thread, lambda v: DecisionMetrics.from_decisions(v).answered
    )
    # The same at StackFAQ's own calibrated thresholds (the shipped ones are calibrated on the demo store)
    sf_config = with_thresholds(config, tuned)
    results["stackfaq_decisions_test_own_thresholds"] = asdict(
        DecisionMetrics.from_decisions(decision_outcomes(report_retriever, report_items, sf_config))
    )
    # Supplementary, report only: the test paraphrases against every leave-25-out fold, to show
    # how much the headline number depends on which 25 threads were left out.
    folds = [("report", report_out, report_retriever)] + [
        (f"calibration {i + 1}", fold, r) for i, (fold, r) in enumerate(zip(calibration_folds, fold_retrievers))
    ]
    per_fold, pooled = {}, []
    for name, fold, fold_retriever in folds:
        left_out = set(fold)
        items = score_queries(
            fold_retriever, [(q, t.id, None if t.id in left_out else t.id) for t in threads for q in t.test], vectors
        )
        fold_outcomes = decision_outcomes(fold_retriever, items, config)
        pooled.extend(fold_outcomes)
        per_fold[name] = asdict(DecisionMetrics.from_decisions(fold_outcomes))
    per_fold["all folds pooled"] = asdict(DecisionMetrics.from_decisions(pooled))
    results["stackfaq_decisions_test_per_fold"] = per_fold
    results["stackfaq_decisions_validation_shipped"] = asdict(
        DecisionMetrics.from_decisions(
            [(decide(top_hits(r, it, config.lexical_weight), config), it.expected) for r, it in calibration]
        )
    )

    # 3. the demo store's golden set
    results["golden"] = golden(args, embedder, config, timings)
    demo_parts = results["golden"].pop("_parts")

    # 4. variants tried for the targets
    vectors_by_passage = passage_vectors(retriever, embedder)
    make = PartsMaker(retriever, vectors_by_passage)
    val_parts = [make(it.scores, vectors[it.query], it.expected) for it in val_items]
    test_parts = [make(it.scores, vectors[it.query], it.expected) for it in test_items]
    makers = {id(r): PartsMaker(r, vectors_by_passage) for r in fold_retrievers}
    calibration_parts = [makers[id(r)](it.scores, vectors[it.query], it.expected) for r, it in calibration]
    report_make = PartsMaker(report_retriever, vectors_by_passage)
    report_parts = [report_make(it.scores, vectors[it.query], it.expected) for it in report_items]
    results["variants"] = variant_results(calibration_parts, report_parts, val_parts, test_parts, demo_parts)
    results["timings"] = timings
    results["load_after"] = list(os.getloadavg())
    results["seconds"] = time.perf_counter() - run_started
    return results


def golden(args: argparse.Namespace, embedder, config: SearchConfig, timings: Dict[str, float]) -> Dict:
    from bot.knowledge.service import KnowledgeBase, clean_query

    repo = Path(args.repo_root)
    articles, problems = load_articles(repo / "knowledge_base" / "articles")
    questions, golden_problems = load_golden(sorted((repo / "knowledge_base" / "eval").glob("golden-*.yml")))
    out: Dict = {"problems": [str(p) for p in problems + golden_problems if p.severity == "error"]}
    with tempfile.TemporaryDirectory(prefix="kb-bench-demo-") as work:
        folder = Path(work) / "index"
        report = build_index(articles, embedder, folder, progress=False)
        timings["demo_build_cold_s"] = report.seconds
        out["index"] = {
            "articles": report.articles,
            "drafts_skipped": report.drafts_skipped,
            "passages": report.passages,
            "chunks": report.chunks,
        }
        # one article edited: only its passages (and title) are embedded again
        edited = [
            replace(
                a, body=a.body + "\n\nThis paragraph was added by the benchmark.", content_hash=a.content_hash + "x"
            )
            if a.id == "returns-policy"
            else a
            for a in articles
        ]
        changed = build_index(edited, embedder, folder, progress=False)
        timings["demo_rebuild_one_article_s"] = changed.seconds
        out["rebuild_one_article_embedded"] = changed.embedded
        same = build_index(edited, embedder, folder, progress=False)
        timings["demo_rebuild_unchanged_s"] = same.seconds
        build_index(articles, embedder, folder, progress=False)

        kb = KnowledgeBase.open(folder, embedder, config)
        published = {a.id for a in articles if a.published}
        ranks, outcomes, latencies, misses, files = [], [], [], [], []
        demo_items: List[Tuple[str, List[SearchHit], Optional[str]]] = []
        kb.decide("warm-up question")  # first call builds the tokenizer, etc.
        for item in questions:
            started = time.perf_counter()
            decision = kb.decide(item.question)
            latencies.append((time.perf_counter() - started) * 1000)
            hits = kb.search(item.question, k=10)
            demo_items.append((demo_half(item.question), hits[:3], item.article if item.article in published else None))
            ranking = [h.article_id for h in hits]
            rank = rank_of(item.article, ranking)
            ranks.append(rank)
            files.append(Path(item.file).name)
            expected = item.article if item.article in published else None
            outcomes.append((decision, expected))
            if rank != 1:
                misses.append(
                    {
                        "question": item.question,
                        "expected": item.article,
                        "got": ranking[:3],
                        "rank": rank,
                        "file": f"{item.file}:{item.line}",
                    }
                )
        out["questions"] = len(questions)
        out["ranking"] = asdict(RankingMetrics.from_ranks(ranks))
        out["decisions"] = asdict(DecisionMetrics.from_decisions(outcomes))
        out["per_file"] = {
            name: {
                "ranking": asdict(RankingMetrics.from_ranks([r for r, f in zip(ranks, files) if f == name])),
                "decisions": asdict(DecisionMetrics.from_decisions([o for o, f in zip(outcomes, files) if f == name])),
            }
            for name in sorted(set(files))
        }
        out["misses"] = misses
        timings["query_ms_median"] = statistics.median(latencies)
        timings["query_ms_p95"] = float(np.percentile(latencies, 95))
        probe = out_of_scope_examples(repo)
        actions = [kb.decide(text).action for text in probe]
        out["out_of_scope_probe"] = {
            "questions": len(probe),
            "no_answer": actions.count("no_answer") / len(probe) if probe else math.nan,
            "clarify": actions.count("clarify") / len(probe) if probe else math.nan,
            "answer": actions.count("answer") / len(probe) if probe else math.nan,
            "answered_examples": [t for t, a in zip(probe, actions) if a == "answer"],
        }
        demo_items += [(demo_half(text), kb.search(text, k=3), None) for text in probe]
        # score parts of every question for the variants tried (section 4), whole passages embedded
        make = PartsMaker(kb.retriever, passage_vectors(kb.retriever, embedder))
        texts = [item.question for item in questions] + probe
        expected = [item.article if item.article in published else None for item in questions] + [None] * len(probe)
        out["_parts"] = [
            (demo_half(text), make(kb.retriever.article_scores(clean_query(text), vector), vector, e))
            for text, vector, e in zip(texts, embedder.embed(texts), expected)
        ]
    out["split"] = demo_split_results(demo_items, config)
    return out


def demo_split_results(items: Sequence[Tuple[str, List[SearchHit], Optional[str]]], config: SearchConfig) -> Dict:
    """Calibrate the decision thresholds on the calibration half of the demo questions and
    out-of-scope examples; report the shipped and the calibrated thresholds on both halves."""
    calibration = [(hits, expected) for half, hits, expected in items if half == "calibration"]
    features = [hit_features(hits, expected) for hits, expected in calibration]
    tuned = calibrate(
        *(np.array(column) for column in zip(*features)),
        target_precision=DEMO_TARGET_PRECISION,
        max_unanswerable_answered=DEMO_MAX_OUT_OF_SCOPE_ANSWERED,
        max_unanswerable_clarified=DEMO_MAX_OUT_OF_SCOPE_CLARIFIED,
    )
    tuned_config = with_thresholds(config, tuned)
    out: Dict = {"tuned": tuned, "rows": {}}
    for half in ("calibration", "report"):
        chosen = [(hits, expected) for h, hits, expected in items if h == half]
        for name, cfg in (("shipped", config), ("calibrated here", tuned_config)):
            golden_outcomes = [(decide(hits, cfg), e) for hits, e in chosen if e is not None]
            oos_actions = [decide(hits, cfg).action for hits, e in chosen if e is None]
            metrics = asdict(DecisionMetrics.from_decisions(golden_outcomes))
            metrics["out_of_scope"] = len(oos_actions)
            for action in ("answer", "clarify", "no_answer"):
                metrics[f"out_of_scope_{action}"] = (
                    oos_actions.count(action) / len(oos_actions) if oos_actions else math.nan
                )
            metrics["recall_at_1"] = (
                sum(1 for hits, e in chosen if e is not None and hits and hits[0].article_id == e)
                / max(1, sum(1 for _, e in chosen if e is not None))
            )
            out["rows"][f"{half} / {name}"] = metrics
    return out


def render(results: Dict) -> str:
    cfg = results["shipped_config"]
    tuned = results["tuned_thresholds"]
    out = [
        "# Knowledge-base retrieval benchmark",
        "",
        f"- Date: {results['date']}",
        f"- Command: `{results['command']}`" + (f", {results['seconds']:.0f} s in all" if "seconds" in results else ""),
        f"- Load average before {', '.join(f'{x:.2f}' for x in results.get('load_before', []))}, "
        f"after {', '.join(f'{x:.2f}' for x in results.get('load_after', []))} ({os.cpu_count()} CPUs)",
        "- Model: all-MiniLM-L6-v2 (bundled); index: FAISS IndexFlatIP; "
        "StackFAQ index: {articles} articles, {passages} passages, {chunks} chunks".format(**results["stackfaq_index"]),
        f"- Shipped: lexical_weight {cfg['lexical_weight']}, margin_weight {cfg['margin_weight']}, "
        f"answer_threshold {cfg['answer_threshold']}, min_margin {cfg['min_margin']}, "
        f"clarify_threshold {cfg['clarify_threshold']}",
        "- Shipped thresholds are calibrated on the demo store (calibration half of the golden questions and "
        "out-of-scope examples, see below); StackFAQ is an independent check.",
        f"- StackFAQ thresholds tuned on its validation split: lexical_weight {results['tuned_lexical_weight']}, "
        f"margin_weight {tuned['margin_weight']}, answer_threshold {tuned['answer_threshold']}, "
        f"min_margin {tuned['min_margin']}, "
        f"clarify_threshold {tuned['clarify_threshold']} (validation precision {_fmt(tuned['validation_precision'])}, "
        f"answered {_fmt(tuned['validation_answered'])})",
        "",
        "## StackFAQ ranking (test split: 125 threads x 5 paraphrases, all threads indexed)",
        "",
    ]
    names = {
        "lexical": "Lexical only (BM25)",
        "dense_passages": "Dense, chunks only (no title vectors)",
        "dense": "Dense (chunks + titles)",
        "rrf": "Naive RRF (dense + BM25, k=60)",
        "shipped": f"Shipped (dense + {cfg['lexical_weight']} x BM25)",
    }
    rows = []
    for key, name in names.items():
        test = results["stackfaq_ranking"]["test"][key]
        val = results["stackfaq_ranking"]["validation"][key]
        rows.append((name, test["recall_at_1"], test["recall_at_3"], test["mrr_at_10"], val["recall_at_1"]))
    out.append(_table(("Retrieval", "R@1", "R@3", "MRR@10", "val R@1"), rows))
    low, high = results["stackfaq_ranking"]["test_shipped_r1_ci95"]
    out += [
        "",
        f"Shipped R@1 95% bootstrap interval (resampling threads): {_fmt(low)}-{_fmt(high)}",
        "",
        "Fusion weight on the validation split (w = 0 is dense alone):",
        "",
    ]
    out.append(
        _table(
            ("w", "val R@1", "val MRR@10"),
            [(w, m["recall_at_1"], m["mrr_at_10"]) for w, m in results["weight_tuning_validation"].items()],
        )
    )
    d = results["stackfaq_decisions_test"]
    own = results["stackfaq_decisions_test_own_thresholds"]
    out += [
        "",
        "## Knowing when not to answer (StackFAQ test split, 25 threads left out of the index)",
        "",
        _table(
            (
                "Queries",
                "Answerable",
                "Answer precision",
                "Answered (answerable)",
                "Clarified (answerable)",
                "Clarify offered right article",
                "Unanswerable: no answer given",
                "Unanswerable: no_answer",
            ),
            [
                (
                    d["queries"],
                    d["answerable"],
                    d["precision"],
                    d["answered"],
                    d["clarified"],
                    d["clarify_hit"],
                    d["unanswerable_declined"],
                    d["unanswerable_no_answer"],
                )
            ],
        ),
        "",
        f"At the shipped (demo-calibrated) thresholds. At StackFAQ's own validation-calibrated thresholds "
        f"(answer {tuned['answer_threshold']}, margin weight {tuned['margin_weight']}, clarify "
        f"{tuned['clarify_threshold']}; labelled, not shipped): precision {_fmt(own['precision'])}, "
        f"answered {_fmt(own['answered'])}, clarified {_fmt(own['clarified'])}, "
        f"unanswerable declined {_fmt(own['unanswerable_declined'])}.",
        "",
        f"95% bootstrap intervals (shipped thresholds): precision {_fmt(d['precision_ci95'][0])}-{_fmt(d['precision_ci95'][1])}, "
        f"answered {_fmt(d['answered_ci95'][0])}-{_fmt(d['answered_ci95'][1])}",
        "",
        "Supplementary (report only, nothing tuned on it): the same test paraphrases with each set of 25 threads "
        "left out in turn (the calibration folds' threads were tuned on with validation paraphrases only):",
        "",
        _table(
            ("Left out", "Answer precision", "Answered (answerable)", "Unanswerable: no answer given"),
            [
                (name, m["precision"], m["answered"], m["unanswerable_declined"])
                for name, m in results["stackfaq_decisions_test_per_fold"].items()
            ],
        ),
    ]
    g = results["golden"]
    gr, gd, oos = g["ranking"], g["decisions"], g["out_of_scope_probe"]
    out += [
        "",
        f"## Demo store golden set ({g['questions']} questions, {g['index']['articles']} published articles, "
        f"{g['index']['passages']} passages, {g['index']['chunks']} chunks, shipped settings)",
        "",
        _table(
            (
                "File",
                "Questions",
                "R@1",
                "R@3",
                "MRR@10",
                "Answer precision",
                "Answered",
                "Clarified",
                "Clarify offered right article",
            ),
            [
                (
                    name,
                    r["queries"],
                    r["recall_at_1"],
                    r["recall_at_3"],
                    r["mrr_at_10"],
                    d["precision"],
                    d["answered"],
                    d["clarified"],
                    d["clarify_hit"],
                )
                for name, (r, d) in [(n, (v["ranking"], v["decisions"])) for n, v in g["per_file"].items()]
                + [("all", (gr, gd))]
            ],
        ),
        "",
        "golden-a.yml was looked at while choosing the passage/chunk design (see `bot/knowledge/passages.py`); "
        "golden-b.yml was not used for any choice. The thresholds are tuned on the calibration half only (below).",
        "",
        f"Out-of-scope probe ({oos['questions']} `out_of_scope` NLU examples): no_answer {_fmt(oos['no_answer'])}, "
        f"clarify {_fmt(oos['clarify'])}, answer {_fmt(oos['answer'])}"
        + (f" (answered: {'; '.join(oos['answered_examples'][:5])})" if oos["answered_examples"] else ""),
    ]
    sp = g["split"]
    tt = sp["tuned"]
    out += [
        "",
        "## Demo store calibration (golden questions + `out_of_scope` examples, split by SHA-256 of the text)",
        "",
        f"Calibrated on the calibration half: answer precision >= {DEMO_TARGET_PRECISION}, out-of-scope answered <= "
        f"{DEMO_MAX_OUT_OF_SCOPE_ANSWERED} and clarified <= {DEMO_MAX_OUT_OF_SCOPE_CLARIFIED}, most answered: "
        f"margin_weight {tt['margin_weight']}, answer_threshold {tt['answer_threshold']}, min_margin "
        f"{tt['min_margin']}, clarify_threshold {tt['clarify_threshold']} (calibration precision "
        f"{_fmt(tt['validation_precision'])}, answered {_fmt(tt['validation_answered'])}). "
        "The report half was not used for any choice.",
        "",
        _table(
            (
                "Half / thresholds",
                "Questions",
                "R@1",
                "Answer precision",
                "Answered",
                "Clarified",
                "Clarify offered right article",
                "Right article answered or offered",
                "OOS",
                "OOS answered",
                "OOS clarified",
                "OOS no_answer",
            ),
            [
                (
                    name,
                    m["answerable"],
                    m["recall_at_1"],
                    m["precision"],
                    m["answered"],
                    m["clarified"],
                    m["clarify_hit"],
                    (m["correct_answers"] / m["answerable"] if m["answerable"] else math.nan)
                    + (m["clarified"] * m["clarify_hit"] if m["clarified"] else 0.0),
                    m["out_of_scope"],
                    m["out_of_scope_answer"],
                    m["out_of_scope_clarify"],
                    m["out_of_scope_no_answer"],
                )
                for name, m in sp["rows"].items()
            ],
        ),
    ]
    if g["misses"]:
        out += ["", "Golden questions not at rank 1:", ""]
        out.append(
            _table(
                ("Question", "Expected", "Rank", "Top 3"),
                [(m["question"], m["expected"], m["rank"] or ">10", ", ".join(m["got"])) for m in g["misses"]],
            )
        )
    if g["problems"]:
        out += ["", "Problems:", ""] + [f"- {p}" for p in g["problems"]]
    v = results.get("variants")
    if v:
        out += [
            "",
            "## Variants tried for the quality targets (validation chooses, test is reported)",
            "",
            "Whole passages embedded too, for the passage-level variants (the product embeds only chunks and titles).",
            "",
            _table(
                ("Ranking", "Settings tried", "Chosen on validation", "val R@1", "test R@1", "demo golden R@1"),
                [
                    (r["family"], r["settings_tried"], ", ".join(f"{k} {w:g}" for k, w in r["weights"].items()), r["val_r1"],
                     r["test_r1"], r["demo_r1"])
                    for r in v["ranking"]
                ],
            ),
            "",
            _table(
                ("Confidence (StackFAQ, 25 threads out)", "val precision", "val answered", "test precision", "test answered"),
                [(c["variant"], c["val_precision"], c["val_answered"], c["test_precision"], c["test_answered"]) for c in v["confidence"]],
            ),
            "",
            "Ceiling: the best any threshold could do on the test split, were it chosen on the test split itself "
            f"(targets: >= {TARGET_PRECISION:.0%} precision while answering >= {TARGET_COVERAGE:.0%}).",
            "",
            _table(
                ("Confidence (StackFAQ test, 25 threads out)", f"best precision answering >= {TARGET_COVERAGE:.0%}",
                 f"most answered at >= {TARGET_PRECISION:.0%} precision"),
                [(name, c["precision_at_coverage"], c["answered_at_precision"]) for name, c in v.get("ceiling", {}).items()],
            ),
            "",
            _table(
                ("Confidence on the demo store", "calibration half precision", "answered", "report half precision", "answered"),
                [
                    (name, d["calibration_precision"], d["calibration_answered"], d["report_precision"], d["report_answered"])
                    for name, d in v["demo_confidence"].items()
                ],
            ),
        ]
    t = results["timings"]
    out += [
        "",
        "## Timings (this machine, CPU)",
        "",
        _table(
            ("Step", "Time"),
            [
                ("Model load", f"{t['model_load_s']:.1f} s"),
                (
                    f"Demo KB index build, cold ({g['index']['chunks']} chunks + {g['index']['articles']} titles)",
                    f"{t['demo_build_cold_s']:.1f} s",
                ),
                (
                    f"Demo KB rebuild, one article changed ({g['rebuild_one_article_embedded']} texts embedded)",
                    f"{t['demo_rebuild_one_article_s']:.2f} s",
                ),
                ("Demo KB rebuild, nothing changed", f"{t['demo_rebuild_unchanged_s']:.2f} s"),
                (
                    f"StackFAQ index build, cold ({results['stackfaq_index']['chunks']} chunks + "
                    f"{results['stackfaq_index']['articles']} titles)",
                    f"{t['stackfaq_build_cold_s']:.1f} s",
                ),
                (
                    "One query, `KnowledgeBase.decide` incl. embedding (median / p95)",
                    f"{t['query_ms_median']:.1f} / {t['query_ms_p95']:.1f} ms",
                ),
            ],
        ),
    ]
    return "\n".join(out) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.kb", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets-dir",
        default=str(DEFAULT_DATASETS_DIR),
        help="folder holding stackfaq/stackExchange-FAQ.xml (default: %(default)s)",
    )
    parser.add_argument("--repo-root", default=str(REPO_ROOT), help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="PATH", help="also write the numbers as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    source = Path(args.datasets_dir) / "stackfaq" / "stackExchange-FAQ.xml"
    if not source.is_file():
        print(f"error: {source} not found (see --datasets-dir)", file=sys.stderr)
        return 2
    results = run(args)
    print(render(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
