"""Tokens, stored term counts and BM25 scoring for the lexical half of retrieval.

The index stores *term counts* per passage (`TermCounts`, written with each segment), not
BM25 weights: the weights depend on collection statistics (document frequencies, average
length) that change whenever an article is added, edited or removed. Keeping counts means an
update tokenises only the changed article, and `BM25` turns the counts of every live passage
into weights once per loaded index version, exactly as if the whole collection had been
tokenised again.

A query is scored by summing the posting lists of its few terms with one `np.bincount`: no
per-query work is proportional to the vocabulary, and nothing is sorted here (the retriever
takes the top candidates with `np.argpartition`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse

from bot.knowledge.markdown import plain_text

if TYPE_CHECKING:
    from bot.knowledge.passages import Passage

# Bump when tokenisation changes: stored term counts are then stale, and the fingerprint of
# every index changes so that the next build re-tokenises everything.
LEXICAL_VERSION = 1

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
        # Stemming is the slow part of tokenising and the vocabulary is small: memoise it.
        self._stems: Dict[str, str] = {}

    def __call__(self, text: str) -> List[str]:
        text = text.lower().replace("'", "").replace("\u2019", "")
        stems = self._stems
        out = []
        for token in TOKEN_RE.findall(text):
            if token in self.stop_words:
                continue
            stem = stems.get(token)
            if stem is None:
                stem = stems[token] = _stem(token)
            out.append(stem)
        return out


@dataclass(frozen=True)
class TermCounts:
    """How often each term occurs in each document: a documents x terms sparse matrix.

    Rows are documents in segment order; `vocabulary` names the columns. Stored as
    documents x terms because that is what building and merging segments slice (an
    article's passages are consecutive rows); `postings()` gives the terms x documents view
    that scoring reads.
    """

    vocabulary: Tuple[str, ...]
    counts: sparse.csr_matrix  # float32, documents x len(vocabulary)

    @property
    def documents(self) -> int:
        return int(self.counts.shape[0])

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per document."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.float64).ravel()

    @classmethod
    def from_tokens(cls, documents: Sequence[Sequence[str]], vocabulary: Optional[Dict[str, int]] = None) -> "TermCounts":
        """Counts of tokenised documents; `vocabulary` (term -> column) is extended in place."""
        columns: Dict[str, int] = {} if vocabulary is None else vocabulary
        indptr = [0]
        indices: List[int] = []
        data: List[int] = []
        for tokens in documents:
            tf: Dict[int, int] = {}
            for token in tokens:
                col = columns.setdefault(token, len(columns))
                tf[col] = tf.get(col, 0) + 1
            indices.extend(tf.keys())
            data.extend(tf.values())
            indptr.append(len(indices))
        matrix = sparse.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr, dtype=np.int64)),
            shape=(len(documents), len(columns)),
        )
        matrix.sort_indices()
        return cls(tuple(columns), matrix)

    @classmethod
    def empty(cls) -> "TermCounts":
        return cls((), sparse.csr_matrix((0, 0), dtype=np.float32))

    def take(self, rows: np.ndarray) -> "TermCounts":
        """The counts of some documents, in the given order (same vocabulary)."""
        return TermCounts(self.vocabulary, self.counts[np.asarray(rows, dtype=np.int64)])

    @classmethod
    def concatenate(cls, parts: Sequence["TermCounts"]) -> "TermCounts":
        """The documents of all parts, in order, over the union of their vocabularies.

        The first part's columns keep their numbers (merging a small delta into a big base
        re-maps only the delta's columns)."""
        parts = [p for p in parts if p.documents or p.vocabulary]
        if not parts:
            return cls.empty()
        columns: Dict[str, int] = {term: col for col, term in enumerate(parts[0].vocabulary)}
        remapped = []
        for part in parts:
            mapping = np.asarray([columns.setdefault(term, len(columns)) for term in part.vocabulary], dtype=np.int32)
            counts = part.counts
            remapped.append((counts.data, mapping[counts.indices] if len(counts.indices) else counts.indices, counts.indptr))
        # every part re-shaped to the final vocabulary's width before stacking
        merged = sparse.vstack(
            [sparse.csr_matrix(arrays, shape=(len(arrays[2]) - 1, len(columns))) for arrays in remapped],
            format="csr",
            dtype=np.float32,
        )
        merged.sort_indices()
        return cls(tuple(columns), merged)

    def postings(self) -> sparse.csc_matrix:
        """Terms as columns: column t lists the documents holding term t and its counts."""
        return self.counts.tocsc()


class BM25:
    """Okapi BM25 over the live documents of one or more `TermCounts` parts.

    Documents are numbered across the parts in order. `alive` (one mask per part) marks the
    documents that count: a superseded passage of an edited article scores 0 and takes no
    part in the document frequencies or the average length, so the scores are the ones a
    collection of only the live passages would give.
    """

    def __init__(
        self,
        parts: Sequence[TermCounts],
        alive: Optional[Sequence[np.ndarray]] = None,
        k1: float = 1.2,
        b: float = 0.75,
        tokenizer: Optional[Tokenizer] = None,
        postings: Optional[Sequence[sparse.csc_matrix]] = None,
    ) -> None:
        """`postings` may pass each part's `postings()` when the caller keeps them (they cost
        a transpose of the counts to make)."""
        self.tokenize = tokenizer or Tokenizer()
        self._columns: List[Dict[str, int]] = [{term: col for col, term in enumerate(p.vocabulary)} for p in parts]
        masks = [
            np.ones(p.documents, dtype=bool) if alive is None else np.asarray(alive[i], dtype=bool)
            for i, p in enumerate(parts)
        ]
        self._offsets = np.cumsum([0] + [p.documents for p in parts])
        self.n_docs = int(self._offsets[-1])
        self._parts = list(parts)
        self._alive = masks
        self._k1, self._b = k1, b
        lengths = [p.lengths for p in parts]
        self._lengths = lengths
        live_lengths = np.concatenate([length[mask] for length, mask in zip(lengths, masks)]) if parts else np.zeros(0)
        self.n_live = len(live_lengths)
        average = float(live_lengths.mean()) if self.n_live and live_lengths.mean() > 0 else 1.0
        self._average = average
        # Per part, terms x documents: BM25's term-frequency factor with the live average
        # length, zero for superseded documents; and each term's live document frequency.
        self._weights: List[sparse.csc_matrix] = []
        self._df: List[np.ndarray] = []
        for i, part in enumerate(parts):
            matrix = postings[i] if postings is not None else part.postings()
            docs = matrix.indices
            tf = matrix.data.astype(np.float64)
            norm = k1 * (1.0 - b + b * lengths[i] / average)
            live = masks[i][docs]
            factor = np.where(live, tf * (k1 + 1.0) / (tf + norm[docs]), 0.0) if len(tf) else tf
            self._weights.append(sparse.csc_matrix((factor, docs, matrix.indptr), shape=matrix.shape))
            # live documents per term: the live entries of each column
            column_of_entry = np.repeat(np.arange(matrix.shape[1]), np.diff(matrix.indptr))
            self._df.append(np.bincount(column_of_entry[live], minlength=matrix.shape[1]) if len(docs) else
                            np.zeros(matrix.shape[1], dtype=np.int64))

    @classmethod
    def from_documents(
        cls, documents: Sequence[str], k1: float = 1.2, b: float = 0.75, tokenizer: Optional[Tokenizer] = None
    ) -> "BM25":
        tokenizer = tokenizer or Tokenizer()
        return cls([TermCounts.from_tokens([tokenizer(d) for d in documents])], k1=k1, b=b, tokenizer=tokenizer)

    def _terms(self, query: str) -> List[Tuple[float, List[Tuple[int, int]]]]:
        """(idf, [(part, column)]) of each distinct query term that some live document holds."""
        terms = []
        for token in dict.fromkeys(self.tokenize(query)):
            where = [(i, columns[token]) for i, columns in enumerate(self._columns) if token in columns]
            df = sum(int(self._df[i][col]) for i, col in where)
            if df:
                # Lucene's idf: always positive, so a term in most documents still counts a little.
                idf = float(np.log(1.0 + (self.n_live - df + 0.5) / (df + 0.5)))
                terms.append((idf, where))
        return terms

    def _score(self, terms: List[Tuple[float, List[Tuple[int, int]]]]) -> np.ndarray:
        if not terms or not self.n_docs:
            return np.zeros(self.n_docs, dtype=np.float64)
        docs, weights = [], []
        for idf, where in terms:
            for part, col in where:
                matrix = self._weights[part]
                start, end = matrix.indptr[col], matrix.indptr[col + 1]
                docs.append(matrix.indices[start:end] + self._offsets[part])
                weights.append(matrix.data[start:end] * idf)
        return np.bincount(np.concatenate(docs), np.concatenate(weights), minlength=self.n_docs)

    def query_terms(self, query: str) -> List[str]:
        """The distinct query terms that occur in some live document."""
        known = []
        for token in dict.fromkeys(self.tokenize(query)):
            if any(token in columns and self._df[i][columns[token]] for i, columns in enumerate(self._columns)):
                known.append(token)
        return known

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for the query (zeros when no term matches)."""
        return self._score(self._terms(query))

    def normalised_scores_at(self, query: str, rows: np.ndarray) -> np.ndarray:
        """`normalised_scores(query)[rows]` for distinct `rows`, adding up only the postings
        that fall on them (the retriever needs this field only for the passages of its
        candidate articles, a few hundred of 100,000)."""
        rows = np.asarray(rows, dtype=np.int64)
        terms = self._terms(query)
        if not terms or not len(rows):
            return np.zeros(len(rows), dtype=np.float64)
        position = np.full(self.n_docs, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        found, weights = [], []
        for idf, where in terms:
            for part, col in where:
                matrix = self._weights[part]
                start, end = matrix.indptr[col], matrix.indptr[col + 1]
                at = position[matrix.indices[start:end] + self._offsets[part]]
                keep = at >= 0
                found.append(at[keep])
                weights.append(matrix.data[start:end][keep] * idf)
        scores = np.bincount(np.concatenate(found), np.concatenate(weights), minlength=len(rows))
        return np.minimum(scores / sum(idf for idf, _ in terms), 1.0)

    def normalised_scores(self, query: str) -> np.ndarray:
        """BM25 divided by the sum of the query terms' idf, clipped to [0, 1].

        A term occurring once in a passage of average length contributes exactly its idf,
        so 1.0 means "every known query term is there"; query terms that no document uses
        count in neither part, so they neither help nor hurt.
        """
        terms = self._terms(query)
        if not terms:
            return np.zeros(self.n_docs, dtype=np.float64)
        return np.minimum(self._score(terms) / sum(idf for idf, _ in terms), 1.0)


def lexical_document(passage: "Passage", tags: Sequence[str] = ()) -> str:
    """What the article-ranking BM25 field indexes for a passage.

    The article's tags are the author's keywords ("e31", "amex", "care+"), exactly the exact
    terms the lexical signal is for; they are not embedded (they would pull every passage
    of the article towards the same point) but they are searchable."""
    return passage.embed_text + ("\n" + " ".join(tags) if tags else "")


def body_document(passage: "Passage") -> str:
    """What the passage-choosing BM25 field indexes: the passage's own text only (no title,
    heading or tags, which all passages of an article share), so that it tells apart the
    passages of one article, e.g. the table half holding "E31"."""
    return plain_text(passage.text)
