"""Command line of the project: `bot run | prepare | db | kb ... | desk ...` (also `python -m bot ...`)."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time

from bot.errors import ConfigurationError
from bot.settings import PROJECT_ROOT, Settings

MODEL_DIR = PROJECT_ROOT / "models"


def prepare(settings: Settings) -> None:
    """Everything `run` needs before starting: data folder, app database schema, demo store, trained model."""
    from bot import migrations, runner
    from bot.store.directory import SqlCustomerDirectory
    from bot.store.seed import seed
    from bot.store.service import utcnow

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    print(f"App database at revision {migrations.upgrade(settings.app_db_url)} (bot.migrations)")
    # the demo store's sample customers and orders, when it is the order system (not for a Shopify shop)
    if settings.order_backend == "sql" and seed(SqlCustomerDirectory.from_url(settings.store_db_url), utcnow()):
        print(f"Seeded the demo store in {settings.store_db_url}")
    build_knowledge_base(settings)
    runner.train(settings, MODEL_DIR)


def build_knowledge_base(settings: Settings) -> None:
    """Index the help articles; only changed passages are embedded again, unchanged is a no-op."""
    from bot.embeddings import SentenceTransformerEmbedder
    from bot.knowledge.articles import load_articles
    from bot.knowledge.index import build_index
    from bot.knowledge.publishing import BUILD_LOCK, exclusive

    with exclusive(settings.kb_index_dir / BUILD_LOCK):  # a lead may be publishing from the workspace
        articles, problems = load_articles(settings.kb_articles_dir)
        for problem in problems:
            print(f"knowledge base: {problem}", file=sys.stderr)
        report = build_index(articles, SentenceTransformerEmbedder(), settings.kb_index_dir, problems=problems)
    state = "built" if report.changed else "up to date"
    print(f"Knowledge base {state}: {report.articles} articles, {report.passages} passages in {settings.kb_index_dir}")


def desk_accounts(settings: Settings) -> list:
    """On a fresh install, a lead and an agent account for the desk (passwords in the secrets folder)."""
    from bot.container import build_handoff
    from bot.web.accounts import bootstrap_accounts

    return bootstrap_accounts(build_handoff(settings), settings.data_dir / "secrets")


def run(settings: Settings, workers: int = 0) -> int:
    """Start the product: one process each (the default, on SQLite), or `workers` Rasa and action servers behind
    nginx on PostgreSQL, Redis and RabbitMQ (bot/cluster.py)."""
    from bot import cluster, runner
    from bot.company import load_company

    for port in (settings.action_port, settings.rasa_port, settings.web_port):
        if runner.port_in_use(settings.host, port):
            print(f"Port {port} on {settings.host} is already in use (another `make run`?). Stop that process or "
                  f"choose other ports with RASA_PORT / ACTION_PORT / WEB_PORT.", file=sys.stderr)
            return 1
    if workers:
        missing = cluster.missing_services(settings)
        if missing:
            print("Cluster mode needs these services, which do not answer:", *missing, sep="\n  ", file=sys.stderr)
            return 1
    try:  # a mistake in the profile is said now, not in three processes' logs
        company = load_company(settings.company_profile)
    except ConfigurationError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 2
    prepare(settings)
    accounts = desk_accounts(settings)
    what = (f"{workers} action servers, {workers} Rasa workers behind nginx" if workers
            else "the action server, the Rasa server") + " and the web app (about a minute)"
    print(f"Starting {what} ...", flush=True)
    try:
        processes = (cluster.start_cluster(settings, MODEL_DIR, workers, echo=True) if workers
                     else runner.start_all(settings, MODEL_DIR, echo=True))
    except (RuntimeError, TimeoutError) as error:  # the message names the log to read
        print(f"Could not start: {error}", file=sys.stderr)
        return 1
    print(
        "\n"
        f"  {company.short_name} support assistant is running"
        + (f" as a cluster of {workers} workers (PostgreSQL, Redis, RabbitMQ, nginx).\n" if workers else ".\n") +
        (f"  Demo store + chat widget: {settings.web_url}/  (signed in as Jane Doe: {settings.web_url}/?customer=jane)\n"
           if company.front_page == "demo_store" else f"  Preview page + chat widget: {settings.web_url}/\n") +
        f"  Rasa REST channel: POST {settings.rasa_url}/webhooks/rest/webhook\n"
        f"  Rasa socket.io:    {settings.rasa_url}/socket.io\n"
        f"  Rasa HTTP API:     {settings.rasa_url}  (token in RASA_TOKEN or {settings.data_dir}/secrets/rasa_token)\n"
        f"  Action server:     http://{settings.host}:{settings.action_port}/health\n"
        f"  Agent desk:        {settings.web_url}/desk\n"
        + "".join(f"    {role:<6} {email}  password in {path}\n" for email, role, path in accounts) +
        f"  Slack:             {slack_status(settings)}\n"
        f"  Logs:              {settings.log_dir}\n"
        "  Try it: curl -s -XPOST " + settings.rasa_url + "/webhooks/rest/webhook "
        "-d '{\"sender\":\"me\",\"message\":\"where is my order 104512\"}'\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def stop(signum, frame):  # noqa: ANN001 - signal handler signature
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            dead = [p for p in processes if not p.running()]
            if dead:
                print(f"{dead[0].name} stopped unexpectedly; see {dead[0].log_path}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    finally:
        print("Stopping ...", flush=True)
        runner.stop_all(processes)
    return 0


def slack_status(settings: Settings) -> str:
    if not settings.slack_enabled:
        return "off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to switch it on; docs/slack.md)"
    agents = (f"handoffs posted to channel {settings.slack_agents_channel}" if settings.slack_agents_enabled
              else "handoffs in the desk only (SLACK_AGENTS_CHANNEL not set)")
    return f"on: Request URL <public address of this Rasa server>/webhooks/slack/events; {agents}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["kb"]:  # the support leads' knowledge-base commands (bot/knowledge/cli.py)
        from bot.knowledge.cli import main as kb_main

        return kb_main(argv[1:])
    if argv[:1] == ["desk"]:  # agent accounts for the desk (bot/web/cli.py)
        from bot.web.cli import main as desk_main

        return desk_main(argv[1:])
    if argv[:1] == ["init"]:  # a new company's assistant in a folder of its own (bot/scaffold.py)
        from bot.scaffold import main as init_main

        return init_main(argv[1:])
    if argv[:1] == ["store"]:  # the demo store's order events, told to the customer (bot/proactive/cli.py)
        from bot.proactive.cli import main as store_main

        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        return store_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("run", help="prepare, then start every process; Ctrl-C stops them")
    start.add_argument("--workers", type=int, default=0,
                       help="cluster mode: this many Rasa and action servers behind nginx, on PostgreSQL, Redis, RabbitMQ")
    commands.add_parser("prepare", help="create the data folder, seed the demo store, index the KB, train if needed")
    database = commands.add_parser("db", help="the app database's schema (Alembic migrations)")
    database.add_argument("action", choices=["upgrade", "current", "revision"],
                          help="upgrade to the newest revision, show the current one, or write the next one (-m)")
    database.add_argument("-m", "--message", default="", help="revision: what the new migration changes")
    commands.add_parser("kb", help="knowledge-base commands for support leads: bot kb --help")
    commands.add_parser("desk", help="agent accounts for the desk: bot desk --help")
    commands.add_parser("init", help="a new company's assistant in DIR (its profile, help centre, order system): "
                                     "bot init --help")
    commands.add_parser("store", help="the demo store's order events (ship, delay, deliver, refund), told to the customer: "
                                      "bot store --help")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from dotenv import load_dotenv

    from bot.privacy import install_log_masking

    install_log_masking()

    load_dotenv(PROJECT_ROOT / ".env", override=False)  # the real environment wins over the file
    try:
        workers = getattr(args, "workers", 0)
        if workers < 0:
            parser.error("--workers must be 1 or more")
        if workers:
            from bot.cluster import cluster_environment

            settings = Settings.from_env(cluster_environment(os.environ))
        else:
            settings = Settings.from_env()
    except ConfigurationError as error:
        print(f"Configuration error: {error} (see .env.example)", file=sys.stderr)
        return 2
    if args.command == "prepare":
        prepare(settings)
        return 0
    if args.command == "db":
        from bot import migrations

        if args.action == "revision":
            if not args.message:
                parser.error("bot db revision needs -m 'what changed'")
            print(f"wrote {migrations.new_revision(args.message)}: review it, then commit it")
            return 0
        if args.action == "upgrade":
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            migrations.upgrade(settings.app_db_url)
        print(f"app database: revision {migrations.current(settings.app_db_url) or '(none)'}, newest {migrations.head()}")
        return 0
    return run(settings, workers)


if __name__ == "__main__":
    sys.exit(main())
