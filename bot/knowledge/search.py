"""Hybrid retrieval over passages and the answer / clarify / no-answer decision.

Dense retrieval (the sentence embeddings) carries the meaning; it is good at paraphrases but
blurs exact tokens: "E31" and "E45", "Pulse 700" and "Pulse 500" embed almost alike. A BM25
signal over the same passages supplies the exact-term evidence. The two are fused with a
*weighted* sum, not with rank fusion: reciprocal rank fusion gives BM25's weak ranking the
same vote as the much better dense one and loses (StackFAQ test split: R@1 0.88 vs 0.95 for
dense alone), whereas a weight chosen on a validation split cannot do worse than dense on
that split (w = 0 is among the candidates).

Scores are per article:

    dense(a)   = max(cos(query, title of a), max over a's chunks of cos(query, chunk))
    lexical(a) = max over a's passages of BM25(query, passage) / sum of idf(query terms), <= 1
    score(a)   = dense(a) + lexical_weight * lexical(a)

The lexical part is normalised by the query's own ceiling (about what a passage containing
every query term once scores), not by the best passage's score: with max-normalisation every
query hands a full bonus to its best lexical match however weak, which cost Recall@1 on the
validation split for every weight tried; with this one a code like "E31" that matches exactly
counts, a stray common word barely does. The passage shown for an article is the one with the
best `cosine of its best chunk + passage_lexical_weight * BM25 of its own text` (title and tags
are shared by all of an article's passages, so they are left out there). See
`python -m bot.bench.kb`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from bot.knowledge.index import Snapshot
from bot.knowledge.lexical import BM25, Tokenizer, lexical_document  # noqa: F401 - Tokenizer and lexical_document re-exported
from bot.knowledge.passages import QUESTIONS_SECTION, Passage
from bot.knowledge.segment import HNSW, blas_threads

_pool: Optional[ThreadPoolExecutor] = None
_pool_lock = threading.Lock()


def _dense_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kb-dense")
    return _pool

ANSWER, CLARIFY, NO_ANSWER = "answer", "clarify", "no_answer"


@dataclass(frozen=True)
class SearchConfig:
    """Fusion weight and decision thresholds.

    The lexical weight was chosen by `python -m bot.bench.kb` on the validation half of
    StackFAQ's paraphrases. The decision thresholds are calibrated on the product's own domain:
    the calibration half (by hash of the text) of the demo golden questions plus the
    `out_of_scope` NLU examples, for the most answers at >= 95% answer precision with <= 5% of
    the out-of-scope examples answered or offered options; the benchmark reports them on the
    other half and on StackFAQ. Keep them in step with that benchmark.
    """

    # weight of the normalised BM25 score added to the cosine similarity
    lexical_weight: float = 0.1
    # answer when confidence = score + margin_weight * (score - runner-up's score) reaches
    # answer_threshold and the lead is at least min_margin
    answer_threshold: float = 0.91
    margin_weight: float = 1.0
    min_margin: float = 0.0
    # not answered and the top score below this: no answer; at or above: offer the top
    # articles to choose from
    clarify_threshold: float = 0.545
    max_options: int = 3
    # Weight of the passage's own BM25 when choosing which passage of an article to show. Not
    # tuned (no passage-level labels exist): high enough that the passage holding the exact
    # code or model name asked about beats a small cosine difference, which is the point of
    # showing that passage rather than the article's intro.
    passage_lexical_weight: float = 0.5
    # candidate chunks / titles / passages per signal that are scored exactly
    candidates: int = 100
    bm25_k1: float = 1.2
    bm25_b: float = 0.75

    def __post_init__(self) -> None:
        if min(self.lexical_weight, self.passage_lexical_weight, self.margin_weight, self.min_margin) < 0:
            raise ValueError("lexical_weight, passage_lexical_weight, margin_weight and min_margin must be >= 0")
        if self.max_options < 2 or self.candidates < 1:
            raise ValueError("max_options must be >= 2 and candidates >= 1")


@dataclass(frozen=True)
class SearchHit:
    """An article found for a query, with the passage that matched best.

    `score` is the fused score used for ranking and for the decision; `dense` and
    `lexical` are its parts (cosine similarity, normalised BM25), for debugging.
    """

    article_id: str
    title: str
    url: str
    passage: Passage
    score: float
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class AnswerDecision:
    """What the assistant should do with a question.

    - `answer`: `hits` holds the one article to answer from;
    - `clarify`: `hits` holds the 2-3 articles to offer ("Did you mean ...?");
    - `no_answer`: nothing relevant enough (`hits` empty); offer a human instead.
    """

    action: str
    hits: Tuple[SearchHit, ...]
    top_score: float
    margin: float
    confidence: float
    reason: str

    @property
    def answer(self) -> Optional[SearchHit]:
        return self.hits[0] if self.action == ANSWER and self.hits else None


# ---------------------------------------------------------------------------------------------
# retrieval


def top_n(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest values, largest first, ties by index: the same as
    `np.argsort(-values, kind="stable")[:n]`, without sorting all of `values` (100,000
    passages take 8 ms to sort, 1 ms to partition and 0.2 ms this way)."""
    values = np.asarray(values)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n >= len(values):
        return np.argsort(-values, kind="stable")
    rows = None
    if len(values) >= 40 * n:
        # A threshold from an evenly spaced sample that about 4n values pass; if fewer than
        # n do (an unlucky sample), partition everything instead.
        stride = len(values) // (20 * n)
        sample = values[::stride]
        rank = len(sample) - max(1, 4 * n // stride)
        floor = np.partition(sample, rank)[rank]
        passing = np.flatnonzero(values >= floor)
        if n <= len(passing) <= len(values) // 4:
            rows = passing
    subset = values if rows is None else values[rows]
    kth = subset[np.argpartition(subset, len(subset) - n)[len(subset) - n]]
    above = np.flatnonzero(subset > kth)
    ties = np.flatnonzero(subset == kth)[: n - len(above)]
    chosen = np.sort(np.concatenate([above, ties]))
    chosen = chosen[np.argsort(-subset[chosen], kind="stable")]
    return chosen if rows is None else rows[chosen]


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, end) for each pair, without a Python loop."""
    lengths = np.maximum(ends - starts, 0)
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


@dataclass(frozen=True)
class ArticleScores:
    """Score parts of the candidate articles for one query; the fusion weight is tuned on these.

    The passages of candidate i are `passage_rows[starts[i]:starts[i + 1]]`, with their best
    chunk's cosine and their body-only normalised BM25 (to pick the passage shown)."""

    article_ids: Tuple[str, ...]
    dense: np.ndarray  # max(title cosine, best chunk cosine)
    lexical: np.ndarray  # best passage's normalised BM25
    chunk_dense: np.ndarray  # best chunk cosine, without the title
    passage_rows: np.ndarray
    passage_cosine: np.ndarray
    passage_body: np.ndarray
    starts: np.ndarray

    def fused(self, weight: float) -> np.ndarray:
        return self.dense + weight * self.lexical

    def passage_parts(self, index: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(passage rows, their best chunk's cosine, their body BM25) of candidate `index`."""
        part = slice(int(self.starts[index]), int(self.starts[index + 1]))
        return self.passage_rows[part], self.passage_cosine[part], self.passage_body[part]

    @property
    def passages(self) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return {article_id: self.passage_parts(i) for i, article_id in enumerate(self.article_ids)}


class HybridRetriever:
    """Dense + BM25 ranking of articles over one index snapshot.

    Built once per loaded index version (a reload builds a new one): the BM25 weights of all
    live passages are computed here from the stored term counts, so that a query only adds
    up the posting lists of its own terms.
    """

    def __init__(self, snapshot: Snapshot, config: SearchConfig = SearchConfig()) -> None:
        self.snapshot = snapshot
        self.config = config
        tokenizer = Tokenizer()
        segments = snapshot.segments
        postings = [segment.postings() for segment in segments]
        offsets = np.cumsum([0] + [segment.passages for segment in segments])
        alive = [snapshot.passage_alive[offsets[i] : offsets[i + 1]] for i in range(len(segments))]
        self.bm25 = BM25(
            [s.counts for s in segments], alive, config.bm25_k1, config.bm25_b, tokenizer, postings=[p[0] for p in postings]
        )
        # Passage text only (no title, heading or tags, which all passages of an article share):
        # tells apart the passages of one article, e.g. the table half holding "E31". No length
        # normalisation (b=0): passages are length-bounded already, and with it a short intro
        # that happens to say "camera" and "error" beats the longer table row with the code.
        self.body_bm25 = BM25(
            [s.body_counts for s in segments], alive, config.bm25_k1, 0.0, tokenizer, postings=[p[1] for p in postings]
        )
        # Rows are grouped: an article's passages are consecutive, and so are a passage's chunks.
        self._passage_start = np.searchsorted(snapshot.passage_article, np.arange(len(snapshot.article_ids) + 1))
        self._chunk_start = np.searchsorted(snapshot.chunk_passage, np.arange(len(snapshot.passages) + 1))
        # Articles that can be offered: live, with at least one passage to show.
        self._servable = snapshot.article_alive & (np.diff(self._passage_start) > 0)
        # An article's example questions count for finding it, but the customer is shown one of its passages.
        self._shown = np.fromiter((p.section != QUESTIONS_SECTION for p in snapshot.passages), dtype=bool,
                                  count=len(snapshot.passages))
        self._overlap = any(segment.dense == HNSW for segment in segments)
        for segment in segments:  # read the dense indexes now rather than on the first question
            segment.dense_index()
            segment.title_index()

    def article_scores(
        self, query: str, vector: np.ndarray, top_k: Optional[int] = None, lexical_weight: Optional[float] = None
    ) -> ArticleScores:
        """Score the candidate articles: those of the dense top-n chunks, of the top-n titles
        and of the lexical top-n passages. An article outside all three cannot come first, and
        scoring only those keeps a query cheap when the index grows.

        With `top_k`, candidates that cannot reach the top k at `lexical_weight` are left out
        before their chunks are scored (see `_prune`); the top k are the same as without it.
        """
        with blas_threads(1):
            return self._article_scores(query, vector, top_k, lexical_weight)

    def _prune(
        self, rows: np.ndarray, hit_scores: np.ndarray, hit_articles: np.ndarray, titles: np.ndarray, lexical: np.ndarray,
        k: int, weight: float,
    ) -> np.ndarray:
        """Which candidate rows (a mask) can still make the top k; `titles` are their title cosines.

        Every chunk the dense search did not return scores at most its last hit (the search
        returns the best n), so an article's dense score is at least max(title, its best hit)
        and at most max(title, its best hit, the last hit); its lexical score is known. Only
        candidates whose upper bound reaches the k-th best lower bound need their chunks
        scored, typically a tenth of them: the rest cannot be in the top k whatever their
        exact score. When the search returned fewer than n chunks it returned them all and the
        bounds are equal. (With the approximate HNSW search the bound is as approximate as the
        search itself.)
        """
        if len(rows) <= k:
            return np.ones(len(rows), dtype=bool)
        best_hit = np.full(len(self.snapshot.article_ids), -np.inf)
        if len(hit_articles):
            # best first, an article's first hit is its best (cheaper than np.maximum.at)
            order = np.argsort(-hit_scores, kind="stable")
            _, first = np.unique(hit_articles[order], return_index=True)
            best_hit[hit_articles[order][first]] = hit_scores[order][first]
        p_start, p_end = self._passage_start[rows], self._passage_start[rows + 1]
        starts = np.concatenate([[0], np.cumsum(p_end - p_start)[:-1]]).astype(np.int64)
        best_lexical = np.maximum.reduceat(lexical[_ranges(p_start, p_end)], starts)
        title = np.asarray(titles, dtype=np.float64)
        known = np.maximum(title, best_hit[rows])
        floor = float(hit_scores[-1]) if len(hit_scores) >= self.config.candidates else -np.inf
        lower = known + weight * best_lexical
        # a little slack: the search's float32 scores and the exact ones may differ in the last bits
        upper = np.maximum(known, floor) + weight * best_lexical + 1e-5
        threshold = np.partition(lower, len(lower) - k)[len(lower) - k]
        return upper >= threshold

    def _article_scores(
        self, query: str, vector: np.ndarray, top_k: Optional[int] = None, lexical_weight: Optional[float] = None
    ) -> ArticleScores:
        snapshot = self.snapshot
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        n = self.config.candidates
        # On a big index the chunk graph search (FAISS releases the GIL) runs on a worker
        # thread while BM25 and the title search run here: the same work, on both cores.
        dense = _dense_pool().submit(snapshot.search, vector, n) if self._overlap else None
        lexical = self.bm25.normalised_scores(query)
        lexical_top = top_n(lexical, n) if lexical.any() else np.zeros(0, dtype=np.int64)
        _, title_top = snapshot.search_titles(vector, n)
        hit_scores, chunk_hits = dense.result() if dense is not None else snapshot.search(vector, n)
        hit_articles = snapshot.passage_article[snapshot.chunk_passage[chunk_hits]]
        # candidate article rows in order of discovery (ties keep that order)
        found = [
            hit_articles,
            snapshot.passage_article[lexical_top[lexical[lexical_top] > 0]],
            title_top[self._servable[title_top]],
        ]
        rows = np.concatenate(found).astype(np.int64)
        _, first = np.unique(rows, return_index=True)
        rows = rows[np.sort(first)]
        rows = rows[self._servable[rows]]
        titles = snapshot.title_vectors[rows] @ vector if len(rows) else np.zeros(0, dtype=np.float32)
        if top_k is not None:
            weight = self.config.lexical_weight if lexical_weight is None else lexical_weight
            keep = self._prune(rows, hit_scores, hit_articles, titles, lexical, max(1, top_k), weight)
            rows, titles = rows[keep], titles[keep]

        # Every chunk of every candidate, scored exactly in one matrix product.
        p_start, p_end = self._passage_start[rows], self._passage_start[rows + 1]
        passage_rows = _ranges(p_start, p_end)
        starts = np.concatenate([[0], np.cumsum(p_end - p_start)]).astype(np.int64)
        c_start, c_end = self._chunk_start[passage_rows], self._chunk_start[passage_rows + 1]
        chunk_rows = _ranges(c_start, c_end)
        cosines = snapshot.chunk_cosines(chunk_rows, vector).astype(np.float64)
        passage_cosine = np.full(len(passage_rows), -1.0)
        counts = c_end - c_start
        has_chunks = counts > 0
        if has_chunks.any():
            block_starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            passage_cosine[has_chunks] = np.maximum.reduceat(cosines, block_starts[has_chunks])
        if len(rows):
            chunk_dense = np.maximum.reduceat(passage_cosine, starts[:-1])
            best_lexical = np.maximum.reduceat(lexical[passage_rows], starts[:-1])
        else:
            chunk_dense = best_lexical = np.zeros(0)
        dense = np.maximum(chunk_dense, titles.astype(np.float64))
        return ArticleScores(
            article_ids=tuple(snapshot.article_ids[r] for r in rows),
            dense=dense,
            lexical=best_lexical.astype(np.float64),
            chunk_dense=chunk_dense,
            passage_rows=passage_rows,
            passage_cosine=passage_cosine,
            passage_body=self.body_bm25.normalised_scores_at(query, passage_rows),
            starts=starts,
        )

    def hits(self, scores: ArticleScores, k: int, lexical_weight: Optional[float] = None) -> List[SearchHit]:
        """The top-k articles of the scores, each with its best passage, best first."""
        weight = self.config.lexical_weight if lexical_weight is None else lexical_weight
        fused = scores.fused(weight)
        hits = []
        for index in np.argsort(-fused, kind="stable")[:k]:
            article_id = scores.article_ids[index]
            rows, cosine, lexical = scores.passage_parts(int(index))
            value = cosine + self.config.passage_lexical_weight * lexical
            shown = self._shown[rows]
            if shown.any():
                value = np.where(shown, value, -np.inf)
            passage = self.snapshot.passages[int(rows[int(np.argmax(value))])]
            article = self.snapshot.articles.get(article_id)
            hits.append(
                SearchHit(
                    article_id=article_id,
                    title=article.title if article else passage.title,
                    url=article.url if article else "",
                    passage=passage,
                    score=float(fused[index]),
                    dense=float(scores.dense[index]),
                    lexical=float(scores.lexical[index]),
                )
            )
        return hits

    def rank(
        self, query: str, vector: np.ndarray, k: int = 5, lexical_weight: Optional[float] = None
    ) -> List[SearchHit]:
        return self.hits(self.article_scores(query, vector, k, lexical_weight), k, lexical_weight)


def decide(hits: Sequence[SearchHit], config: SearchConfig = SearchConfig()) -> AnswerDecision:
    """Answer, ask the customer to choose, or admit there is no article.

    The confidence adds the lead over the runner-up to the top score: a top score of 0.75
    is convincing when the next article scores 0.5 and a coin toss when it scores 0.74 (e.g.
    "cancel" vs "change" an order). On StackFAQ's validation split this one number separates
    right from wrong answers better than a score threshold plus a separate margin gate (on one
    calibration fold, 0.85 instead of 0.81 of the answerable questions answered at 97%
    precision); the margin weight is chosen with the thresholds by `python -m bot.bench.kb`.
    """
    if not hits:
        return AnswerDecision(NO_ANSWER, (), 0.0, 0.0, 0.0, "no article matched")
    top = hits[0].score
    # a lone hit leads an imaginary runner-up scoring 0
    margin = top - (hits[1].score if len(hits) > 1 else 0.0)
    confidence = top + config.margin_weight * margin
    if confidence >= config.answer_threshold and margin >= config.min_margin:
        return AnswerDecision(
            ANSWER,
            (hits[0],),
            top,
            margin,
            confidence,
            f"confidence {confidence:.3f} >= {config.answer_threshold} (score {top:.3f}, margin {margin:.3f})",
        )
    if top < config.clarify_threshold:
        return AnswerDecision(
            NO_ANSWER,
            (),
            top,
            margin,
            confidence,
            f"best score {top:.3f} < {config.clarify_threshold}, confidence {confidence:.3f}",
        )
    # Offer the top two whatever their score (one option is no choice), more only if they
    # are plausible themselves.
    options = [
        hit for i, hit in enumerate(hits[: config.max_options]) if i < 2 or hit.score >= config.clarify_threshold
    ]
    why = (
        f"margin {margin:.3f} < {config.min_margin}"
        if confidence >= config.answer_threshold
        else f"confidence {confidence:.3f} < {config.answer_threshold} (score {top:.3f}, margin {margin:.3f})"
    )
    return AnswerDecision(CLARIFY, tuple(options), top, margin, confidence, why)
