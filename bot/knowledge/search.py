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

import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse

from bot.knowledge.index import Snapshot
from bot.knowledge.markdown import plain_text
from bot.knowledge.passages import Passage

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
    answer_threshold: float = 1.055
    margin_weight: float = 1.5
    min_margin: float = 0.0
    # not answered and the top score below this: no answer; at or above: offer the top
    # articles to choose from
    clarify_threshold: float = 0.55
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
# lexical


TOKEN_RE = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def _stop_words() -> frozenset:
    # Function words carry no topic; sklearn's list is the usual English one (no new dependency).
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def _stem(token: str) -> str:
    """A deliberately tiny stemmer (plurals and -ing/-ed): enough to match "chargers" to
    "charger" without a stemming dependency, conservative so that codes and model names
    ("e31", "s2", "700") are never altered."""
    if len(token) <= 3 or not token.isalpha():
        return token
    if token.endswith("ies") and len(token) > 4:
        return token[:-3] + "y"
    if token.endswith(("sses", "xes", "ches", "shes")):
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    if token.endswith("ing") and len(token) > 5:
        return token[:-3]
    if token.endswith("ed") and len(token) > 4:
        return token[:-2]
    return token


class Tokenizer:
    """Lower-case alphanumeric tokens ("wi-fi" -> wi, fi; "2.4" and "e31" kept whole),
    apostrophes dropped ("won't" -> wont), stop words removed, lightly stemmed."""

    def __init__(self) -> None:
        self.stop_words = _stop_words()

    def __call__(self, text: str) -> List[str]:
        text = text.lower().replace("'", "").replace("\u2019", "")
        return [_stem(token) for token in TOKEN_RE.findall(text) if token not in self.stop_words]


class BM25:
    """Okapi BM25 over a fixed set of documents, as one sparse matrix of term weights."""

    def __init__(
        self, documents: Sequence[str], k1: float = 1.2, b: float = 0.75, tokenizer: Optional[Tokenizer] = None
    ) -> None:
        self.tokenize = tokenizer or Tokenizer()
        self.vocabulary: Dict[str, int] = {}
        rows: List[int] = []
        cols: List[int] = []
        counts: List[int] = []
        lengths = np.zeros(len(documents), dtype=np.float64)
        for row, document in enumerate(documents):
            tokens = self.tokenize(document)
            lengths[row] = len(tokens)
            tf: Dict[int, int] = {}
            for token in tokens:
                col = self.vocabulary.setdefault(token, len(self.vocabulary))
                tf[col] = tf.get(col, 0) + 1
            rows.extend([row] * len(tf))
            cols.extend(tf.keys())
            counts.extend(tf.values())
        n_docs, n_terms = len(documents), max(1, len(self.vocabulary))
        data = np.asarray(counts, dtype=np.float64)
        row_index = np.asarray(rows, dtype=np.int64)
        col_index = np.asarray(cols, dtype=np.int64)
        df = np.bincount(col_index, minlength=n_terms)
        # Lucene's idf: always positive, so a term in most documents still counts a little.
        self.idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        average = lengths.mean() if n_docs and lengths.mean() > 0 else 1.0
        norm = k1 * (1.0 - b + b * lengths / average)
        weights = self.idf[col_index] * data * (k1 + 1.0) / (data + norm[row_index]) if len(data) else data
        # Stored terms x documents so that scoring a query sums a few rows.
        self.matrix = sparse.csr_matrix((weights, (col_index, row_index)), shape=(n_terms, n_docs))
        self.n_docs = n_docs

    def query_terms(self, query: str) -> List[int]:
        return sorted({self.vocabulary[t] for t in self.tokenize(query) if t in self.vocabulary})

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no term matches)."""
        terms = self.query_terms(query)
        if not terms or not self.n_docs:
            return np.zeros(self.n_docs, dtype=np.float64)
        return np.asarray(self.matrix[terms].sum(axis=0)).ravel()

    def normalised_scores(self, query: str) -> np.ndarray:
        """BM25 divided by the sum of the query terms' idf, clipped to [0, 1].

        A term occurring once in a passage of average length contributes exactly its idf,
        so 1.0 means "every known query term is there"; query terms that no document uses
        count in neither part, so they neither help nor hurt.
        """
        terms = self.query_terms(query)
        if not terms or not self.n_docs:
            return np.zeros(self.n_docs, dtype=np.float64)
        raw = np.asarray(self.matrix[terms].sum(axis=0)).ravel()
        return np.minimum(raw / float(self.idf[terms].sum()), 1.0)


def lexical_document(passage: Passage, tags: Sequence[str] = ()) -> str:
    # The article's tags are the author's keywords ("e31", "amex", "care+"), exactly the exact
    # terms the lexical signal is for; they are not embedded (they would pull every passage
    # of the article towards the same point) but they are searchable.
    return passage.embed_text + ("\n" + " ".join(tags) if tags else "")


# ---------------------------------------------------------------------------------------------
# retrieval


@dataclass(frozen=True)
class ArticleScores:
    """Score parts of the candidate articles for one query; the fusion weight is tuned on these."""

    article_ids: Tuple[str, ...]
    dense: np.ndarray
    lexical: np.ndarray
    # article id -> (passage rows, their best chunk's cosine, their body-only normalised BM25),
    # to pick the passage shown
    passages: Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]

    def fused(self, weight: float) -> np.ndarray:
        return self.dense + weight * self.lexical


class HybridRetriever:
    """Dense + BM25 ranking of articles over one index snapshot."""

    def __init__(self, snapshot: Snapshot, config: SearchConfig = SearchConfig()) -> None:
        self.snapshot = snapshot
        self.config = config
        articles = snapshot.articles
        passages = snapshot.passages
        self.bm25 = BM25(
            [lexical_document(p, articles[p.article_id].tags if p.article_id in articles else ()) for p in passages],
            k1=config.bm25_k1,
            b=config.bm25_b,
        )
        # Passage text only (no title, heading or tags, which all passages of an article share):
        # tells apart the passages of one article, e.g. the table half holding "E31". No length
        # normalisation (b=0): passages are length-bounded already, and with it a short intro
        # that happens to say "camera" and "error" beats the longer table row with the code.
        self.body_bm25 = BM25([plain_text(p.text) for p in passages], k1=config.bm25_k1, b=0.0)
        self._article_of = [p.article_id for p in passages]
        passage_rows: Dict[str, List[int]] = {}
        for row, passage in enumerate(passages):
            passage_rows.setdefault(passage.article_id, []).append(row)
        chunk_rows: Dict[str, List[int]] = {}
        for chunk_row, passage_row in enumerate(snapshot.chunk_passage):
            chunk_rows.setdefault(passages[passage_row].article_id, []).append(chunk_row)
        # per article: its passage rows, its chunk rows, and for each chunk the index of its
        # passage within the article's passage rows (to take the max chunk per passage)
        self._layout: Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for article_id, rows in passage_rows.items():
            local = {row: i for i, row in enumerate(rows)}
            chunks = np.asarray(chunk_rows.get(article_id, []), dtype=np.int64)
            owner = np.asarray([local[int(snapshot.chunk_passage[c])] for c in chunks], dtype=np.int64)
            self._layout[article_id] = (np.asarray(rows, dtype=np.int64), chunks, owner)
        self._title_row = {aid: row for row, aid in enumerate(snapshot.article_ids)}

    def article_scores(self, query: str, vector: np.ndarray) -> ArticleScores:
        """Score the candidate articles: those of the dense top-n chunks, of the top-n titles
        and of the lexical top-n passages. An article outside all three cannot come first, and
        scoring only those keeps a query cheap when the index grows."""
        snapshot = self.snapshot
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        n = self.config.candidates
        lexical = self.bm25.normalised_scores(query)
        body_lexical = self.body_bm25.normalised_scores(query)
        titles = snapshot.title_vectors @ vector if len(snapshot.article_ids) else np.zeros(0, dtype=np.float32)
        candidates: Dict[str, None] = {}  # insertion-ordered set
        _, chunk_hits = snapshot.search(vector, n)
        for chunk_row in chunk_hits:
            candidates.setdefault(self._article_of[snapshot.chunk_passage[chunk_row]], None)
        if lexical.any():
            top = np.argsort(-lexical, kind="stable")[:n]
            for row in top[lexical[top] > 0]:
                candidates.setdefault(self._article_of[row], None)
        for row in np.argsort(-titles, kind="stable")[:n]:
            candidates.setdefault(snapshot.article_ids[row], None)
        ids = tuple(aid for aid in candidates if aid in self._layout)  # articles with something to show
        dense = np.empty(len(ids))
        best_lexical = np.empty(len(ids))
        parts: Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for i, article_id in enumerate(ids):
            rows, chunks, owner = self._layout[article_id]
            cosine = np.full(len(rows), -1.0)
            if len(chunks):
                np.maximum.at(cosine, owner, (snapshot.vectors[chunks] @ vector).astype(np.float64))
            parts[article_id] = (rows, cosine, body_lexical[rows])
            title_row = self._title_row.get(article_id)
            title = float(titles[title_row]) if title_row is not None else -1.0
            dense[i] = max(float(cosine.max()), title)
            best_lexical[i] = float(lexical[rows].max())
        return ArticleScores(ids, dense, best_lexical, parts)

    def hits(self, scores: ArticleScores, k: int, lexical_weight: Optional[float] = None) -> List[SearchHit]:
        """The top-k articles of the scores, each with its best passage, best first."""
        weight = self.config.lexical_weight if lexical_weight is None else lexical_weight
        fused = scores.fused(weight)
        hits = []
        for index in np.argsort(-fused, kind="stable")[:k]:
            article_id = scores.article_ids[index]
            rows, cosine, lexical = scores.passages[article_id]
            passage = self.snapshot.passages[
                rows[int(np.argmax(cosine + self.config.passage_lexical_weight * lexical))]
            ]
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
        return self.hits(self.article_scores(query, vector), k, lexical_weight)


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
