"""`KnowledgeBase`: the one object actions (and the CLI) use to search the help articles.

Plain Python over an index folder and an `Embedder`; no Rasa. The index is checked for a
newer build before each query (one `stat`), so `bot kb build` reaches a running action
server without a restart.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from bot.embeddings import Embedder, shared_vector
from bot.errors import NotFound
from bot.knowledge.articles import Article, PathLike
from bot.knowledge.index import KnowledgeIndex
from bot.knowledge.search import AnswerDecision, HybridRetriever, SearchConfig, SearchHit, decide

# A customer message longer than this is a paste (an email thread, a log); the model reads
# 256 word pieces anyway, and BM25 over thousands of words only adds noise and time.
MAX_QUERY_CHARS = 1000


def clean_query(query: str) -> str:
    return " ".join(str(query).split())[:MAX_QUERY_CHARS]


class KnowledgeBase:
    def __init__(
        self,
        index: KnowledgeIndex,
        embedder: Embedder,
        config: SearchConfig = SearchConfig(),
        auto_reload: bool = True,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.config = config
        self.auto_reload = auto_reload
        self._lock = threading.Lock()
        self._retriever = HybridRetriever(index.snapshot, config)

    @classmethod
    def open(
        cls, index_folder: PathLike, embedder: Embedder, config: Optional[SearchConfig] = None, auto_reload: bool = True
    ) -> "KnowledgeBase":
        """Load the live index of `index_folder` (IndexNotFound / IndexMismatch if unusable)."""
        index = KnowledgeIndex.load(Path(index_folder), embedder)
        return cls(index, embedder, config or SearchConfig(), auto_reload)

    @property
    def version(self) -> str:
        return self.retriever.snapshot.version

    @property
    def retriever(self) -> HybridRetriever:
        """The retriever of the live snapshot, rebuilt (BM25 is cheap) after a reload."""
        if self.auto_reload:
            self.index.reload_if_changed()
        snapshot = self.index.snapshot
        retriever = self._retriever
        if retriever.snapshot is not snapshot:
            with self._lock:
                if self._retriever.snapshot is not snapshot:
                    self._retriever = HybridRetriever(snapshot, self.config)
                retriever = self._retriever
        return retriever

    def embed_query(self, query: str, shared: Any = None) -> np.ndarray:
        """The query's vector: `shared` (the NLU's embedding of the same text, bot.embeddings) when it
        was made by this knowledge base's model from exactly the text searched, else embedded here."""
        if shared is not None and clean_query(query) == " ".join(str(query).split()):
            vector = shared_vector(shared, self.embedder.name, self.embedder.dimension)
            if vector is not None:
                return vector
        return self.embedder.embed([clean_query(query)])[0]

    def search(self, query: str, k: int = 5, vector: Optional[np.ndarray] = None) -> List[SearchHit]:
        """The k best articles for the query, each with its best passage, best first.

        `vector` lets a caller that already embedded the query (batch evaluation) skip that.
        """
        query = clean_query(query)
        if not query:
            return []
        retriever = self.retriever
        if vector is None:
            vector = self.embed_query(query)
        return retriever.rank(query, vector, k)

    def decide(self, query: str, vector: Optional[np.ndarray] = None) -> AnswerDecision:
        hits = self.search(query, k=max(self.config.max_options, 3), vector=vector)
        return decide(hits, self.config)

    def article(self, article_id: str) -> Article:
        """A published article of the live index; NotFound otherwise (drafts are not served)."""
        article = self.retriever.snapshot.articles.get(article_id)
        if article is None:
            raise NotFound(f"no published article '{article_id}'")
        return article

    def articles(self) -> Sequence[Article]:
        return tuple(self.retriever.snapshot.articles.values())


def search_report(kb: KnowledgeBase, question: str, k: int = 5) -> Dict[str, Any]:
    """What the assistant would do with `question`: its decision and the ranked articles with their scores.

    The one shape of `bot kb search --json` and the leads' "Try it", so both show exactly the same.
    """
    hits = kb.search(question, k=k)
    decision = kb.decide(question)
    return {
        "question": clean_query(question),
        "index_version": kb.version,
        "decision": {"action": decision.action, "reason": decision.reason, "articles": [h.article_id for h in decision.hits]},
        "hits": [
            {
                "article_id": h.article_id,
                "title": h.title,
                "url": h.url,
                "score": round(h.score, 4),
                "dense": round(h.dense, 4),
                "lexical": round(h.lexical, 4),
                "section": h.passage.section,
                "passage": h.passage.text,
            }
            for h in hits
        ],
    }
