"""`python -m bot.web`: the agent desk, its API, the widget and the demo store page on SUPPORT_HOST:WEB_PORT (logs to stdout)."""
from __future__ import annotations

import logging
import sys
import threading
from types import FrameType
from typing import Optional, Sequence

import uvicorn

from bot.errors import ConfigurationError
from bot.settings import PROJECT_ROOT, Settings


class DeskServer(uvicorn.Server):
    """Ends the desks' live feeds on Ctrl-C / SIGTERM, so stopping does not wait for browsers to hang up."""

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:
        self.stopping.set()
        super().handle_exit(sig, frame)


def main(argv: Optional[Sequence[str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.privacy import install_log_masking

    install_log_masking()  # uvicorn's access log shows query strings (a search for an email, say)
    from dotenv import load_dotenv

    from bot.container import build_handoff, build_leads_insights, build_leads_knowledge
    from bot.handoff.service import keep_handing_back
    from bot.insights.log import SqlInsightLog
    from bot.web.accounts import bootstrap_accounts
    from bot.web.app import create_app
    from bot.web.widget import mount_widget

    load_dotenv(PROJECT_ROOT / ".env", override=False)  # the real environment wins over the file
    try:
        settings = Settings.from_env()
        handoff = build_handoff(settings)
    except ConfigurationError as error:
        print(f"Configuration error: {error} (see .env.example)", file=sys.stderr)
        return 2
    for email, role, path in bootstrap_accounts(handoff, settings.data_dir / "secrets"):
        print(f"Created the desk {role} account {email}; its password is in {path}", flush=True)
    knowledge = build_leads_knowledge(settings)
    # the embedding model and the sentence splitter load in the background, so the first publish or
    # "Try it" of a lead does not wait for them
    threading.Thread(target=knowledge.warm_up, name="kb-warm-up", daemon=True).start()
    from bot.container import build_proactive
    from bot.proactive.service import keep_sending

    proactive = build_proactive(settings)
    app = create_app(handoff, SqlInsightLog.from_url(settings.app_db_url), settings, knowledge=knowledge,
                     leads_insights=build_leads_insights(settings), proactive=proactive)
    # proactive messages that waited (quiet hours, the rate limit, a busy conversation) are sent when they fall due
    threading.Thread(target=keep_sending, args=(proactive, app.state.stopping), name="proactive", daemon=True).start()
    mount_widget(app, settings)  # the widget's script, its history route and the demo store page
    # a resolved conversation whose hand-back failed (Rasa restarting) stays paused until this hands it back
    threading.Thread(target=keep_handing_back, args=(handoff, app.state.stopping), name="hand-backs", daemon=True).start()
    if settings.rabbitmq_url:  # Rasa's workers publish customer messages there (bot/handoff/event_queue.py)
        from bot.handoff.event_queue import consume_in_background

        consume_in_background(settings.rabbitmq_url, handoff, app.state.stopping)
    print(f"Agent desk: {settings.web_url}/desk/  knowledge workspace: {settings.web_url}/desk/knowledge/  "
          f"insights: {settings.web_url}/desk/insights/  "
          f"(API: {settings.web_url}/api/openapi.json)", flush=True)
    # log_config=None: uvicorn's loggers go through the root logger above, to stdout like the rest.
    # ws="none": the desk uses no websockets, and Rasa pins a websockets release uvicorn's module cannot import.
    config = uvicorn.Config(app, host=settings.host, port=settings.web_port, log_config=None, timeout_graceful_shutdown=3,
                            proxy_headers=False, ws="none")
    DeskServer(config, app.state.stopping).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
