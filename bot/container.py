"""The composition root: builds the services from settings. Nothing else constructs them."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Optional

from bot.company import CompanyProfile, load_company
from bot.handoff.rasa_gateway import RasaHttpGateway
from bot.handoff.rules import load_rules
from bot.handoff.service import HandoffService
from bot.handoff.store import SqlHandoffStore
from bot.insights.feedback import FeedbackService, SqlFeedbackStore, load_feedback_rules
from bot.insights.log import InsightLog, SqlInsightLog
from bot.knowledge.errors import KnowledgeBaseError
from bot.knowledge.service import KnowledgeBase
from bot.settings import Settings
from bot.store.directory import CustomerDirectory, SqlCustomerDirectory
from bot.store.guessing import SqlGuessingLimiter
from bot.store.service import OrderService, utcnow

logger = logging.getLogger(__name__)


class KnowledgeUnavailable(KnowledgeBaseError):
    """No usable index (not built yet, or built with another model); the cause is logged."""


@dataclass
class LazyKnowledge:
    """Opens the knowledge base on first use, so the action server starts before an index exists."""

    opener: Callable[[], KnowledgeBase]
    _kb: Optional[KnowledgeBase] = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def get(self) -> KnowledgeBase:
        if self._kb is None:
            with self._lock:
                if self._kb is None:
                    try:
                        self._kb = self.opener()
                    except KnowledgeBaseError as error:
                        logger.error("knowledge base unavailable: %s", error)
                        raise KnowledgeUnavailable(str(error)) from error
        return self._kb


@dataclass(frozen=True)
class Services:
    settings: Settings
    directory: CustomerDirectory
    orders: OrderService
    insights: InsightLog
    knowledge: LazyKnowledge
    handoff: HandoffService
    feedback: FeedbackService  # CSAT / NPS after a resolved conversation (feedback.yml)
    company: CompanyProfile  # who the assistant works for (company.yml): names, brand, hours, tone, links
    # proactive messages (bot/proactive): contacts, opt-outs, follow-ups; None only in tests that do not need them
    proactive: Optional["ProactiveService"] = None  # noqa: F821 - imported where built


def build_services(settings: Settings) -> Services:
    from bot.embeddings import SentenceTransformerEmbedder

    directory = build_directory(settings)
    return Services(
        settings=settings,
        directory=directory,
        orders=OrderService(directory, guessing=SqlGuessingLimiter.from_url(settings.app_db_url)),
        insights=SqlInsightLog.from_url(settings.app_db_url),
        knowledge=LazyKnowledge(lambda: KnowledgeBase.open(settings.kb_index_dir, SentenceTransformerEmbedder())),
        handoff=build_handoff(settings),
        feedback=FeedbackService(load_feedback_rules(settings.feedback_config),
                                 SqlFeedbackStore.from_url(settings.app_db_url), clock=utcnow),
        company=load_company(settings.company_profile),
        proactive=build_proactive(settings, directory),
    )


def build_proactive(settings: Settings, directory: Optional[CustomerDirectory] = None) -> "ProactiveService":  # noqa: F821
    """Proactive messages (bot/proactive): the web app sends them, the action server notes contacts and speaks them."""
    from datetime import timedelta

    from bot.proactive.delivery import RasaProactiveGateway
    from bot.proactive.service import ProactiveService
    from bot.proactive.store import SqlProactiveStore

    handoff = build_handoff(settings)  # its business hours are the quiet hours' complement; its tickets the follow-ups'
    return ProactiveService(SqlProactiveStore.from_url(settings.app_db_url), directory or build_directory(settings), handoff.store,
                            handoff.rules.hours, RasaProactiveGateway(settings.rasa_url, settings.rasa_token), clock=utcnow,
                            max_per_day=settings.proactive_max_per_day,
                            nudge_after=timedelta(hours=settings.proactive_nudge_hours))


def build_directory(settings: Settings) -> CustomerDirectory:
    """The order backend ORDER_BACKEND names: the demo store's SQL tables, or a Shopify shop's Admin API."""
    if settings.order_backend == "shopify":
        from bot.store.shopify import ShopifyDirectory  # only a Shopify deployment needs it loaded

        return ShopifyDirectory.from_settings(settings)
    directory = SqlCustomerDirectory.from_url(settings.store_db_url)
    directory.create_schema()
    return directory


def build_handoff(settings: Settings) -> HandoffService:
    """The handoff service alone (the web app needs no knowledge base or store)."""
    rules = load_rules(settings.handoff_config, load_company(settings.company_profile))
    return HandoffService(SqlHandoffStore.from_url(settings.app_db_url), rules,
                          RasaHttpGateway(settings.rasa_url, settings.rasa_token), clock=utcnow,
                          staffed_in_slack=settings.slack_agents_enabled)


_ASK_THE_ACTION_SERVER = object()


def build_leads_knowledge(settings: Settings, embedder=None, clock: Callable[[], datetime] = utcnow,  # noqa: ANN001
                          probe=_ASK_THE_ACTION_SERVER):  # noqa: ANN001, ANN201 - an AssistantProbe or None; a LeadsKnowledge
    """The leads' knowledge pages' services (the web app): workspace, content gaps, per-article quality.

    One embedding model for all of them; it loads on first use (`warm_up` loads it ahead). `probe`: how to ask the
    running assistant which index it serves (by default its action server; None: nobody to ask).
    """
    from bot.embeddings import SentenceTransformerEmbedder
    from bot.insights.gaps import ContentGaps
    from bot.insights.quality import ArticleQualityReport
    from bot.knowledge.leads import LeadsKnowledge
    from bot.knowledge.publishing import ActionServerProbe, IndexBuilder
    from bot.knowledge.revisions import SqlRevisionStore
    from bot.knowledge.workspace import KnowledgeWorkspace

    embedder = embedder or SentenceTransformerEmbedder()
    builder = IndexBuilder(settings.kb_articles_dir, settings.kb_index_dir, embedder)
    workspace = KnowledgeWorkspace(articles_dir=settings.kb_articles_dir, revisions=SqlRevisionStore.from_url(settings.app_db_url),
                                   builder=builder, clock=clock, lock_dir=settings.data_dir,
                                   probe=ActionServerProbe(settings.action_endpoint_url) if probe is _ASK_THE_ACTION_SERVER else probe)
    gaps = ContentGaps.from_url(settings.app_db_url, embedder, clock=clock, lock_dir=settings.data_dir)
    knowledge = LazyKnowledge(lambda: KnowledgeBase.open(settings.kb_index_dir, embedder))
    return LeadsKnowledge(workspace, gaps, ArticleQualityReport.from_url(settings.app_db_url, clock=clock), knowledge.get, clock=clock)


@dataclass(frozen=True)
class LeadsInsights:
    """The insights dashboard's services (the web app): the figures, and the masked transcripts behind them."""

    dashboard: "InsightsDashboard"  # noqa: F821 - imported where built, so the action server never loads it
    transcripts: "LeadsTranscripts"  # noqa: F821


def build_leads_insights(settings: Settings) -> LeadsInsights:
    """The dashboard over the app database and Rasa's tracker store.

    endpoints.yml always configures Rasa's SQL tracker store (SupportSQLTrackerStore) at TRACKER_STORE_URL, so the
    figures that need the conversations' events always have them; `InsightsDashboard` still works without one
    (those figures are then None) for a deployment that swaps the tracker store for a non-SQL one.
    """
    from bot.insights.dashboard import InsightsDashboard
    from bot.insights.transcripts import LeadsTranscripts

    return LeadsInsights(InsightsDashboard.from_urls(settings.app_db_url, settings.tracker_store_url),
                         LeadsTranscripts.from_url(settings.tracker_store_url))
