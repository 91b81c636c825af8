# Every task has one entry point here; the README uses only these.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstall whenever the dependency files change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
# The widget's one npm dependency (socket.io-client), reinstalled when the lock file changes.
WIDGET_STAMP := widget/node_modules/.installed-$(shell cat widget/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
# The leads' article editor (CodeMirror 6), bundled by esbuild into the desk's static files; rebuilt when its sources change.
EDITOR_BUNDLE := bot/web/static/desk/vendor/editor.js
# The leads' insights dashboard's charts (Chart.js 4), bundled the same way; rebuilt when its sources change.
CHARTS_BUNDLE := bot/web/static/desk/vendor/charts.js

export RASA_TELEMETRY_ENABLED ?= false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: install widget editor insights browser lb run run-cluster test bench bench-nlu bench-kb bench-kb-scale bench-frustration bench-handoff bench-latency bench-leads bench-reliability bench-cluster bench-dashboard bench-proactive lint lock clean

$(STAMP): pyproject.toml constraints.txt scripts/find-python.sh
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	  PYBIN=$$(scripts/find-python.sh) && rm -rf $(VENV) && echo "Creating $(VENV) with $$PYBIN" && "$$PYBIN" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade "pip<25"
	@echo "Installing dependencies (first time: several minutes, ~7 GB with torch) ..."
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

$(WIDGET_STAMP): widget/package.json widget/package-lock.json
	@command -v npm >/dev/null || { echo "The website widget needs Node.js and npm (https://nodejs.org; Debian: apt install nodejs npm)."; exit 1; }
	cd widget && npm ci --no-audit --no-fund
	@touch $@

widget: $(WIDGET_STAMP)  ## the widget's socket.io client from npm (widget/package-lock.json)

$(EDITOR_BUNDLE): editor/package.json editor/package-lock.json editor/src/editor.js
	@command -v npm >/dev/null || { echo "The leads' article editor needs Node.js and npm (https://nodejs.org; Debian: apt install nodejs npm)."; exit 1; }
	cd editor && npm ci --no-audit --no-fund && npm run build

editor: $(EDITOR_BUNDLE)  ## the leads' Markdown editor: CodeMirror 6 from npm (editor/package-lock.json), bundled by esbuild

$(CHARTS_BUNDLE): insights/package.json insights/package-lock.json insights/src/charts.js
	@command -v npm >/dev/null || { echo "The leads' insights dashboard needs Node.js and npm (https://nodejs.org; Debian: apt install nodejs npm)."; exit 1; }
	cd insights && npm ci --no-audit --no-fund && npm run build

insights: $(CHARTS_BUNDLE)  ## the insights dashboard's charts: Chart.js 4 from npm (insights/package-lock.json), bundled by esbuild

# The browser tests (widget, desk) drive Debian's Chromium with Playwright; installed when missing and we may.
browser:  ## Chromium for the browser tests (Debian package; needs root or sudo)
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium) ..."; \
	    apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; \
	  else echo "The browser tests need Chromium at /usr/bin/chromium: sudo apt-get install chromium"; exit 1; fi; \
	fi

run: install widget editor insights  ## install, seed, train if needed, start everything
	$(PY) -m bot run

WORKERS ?= 2
run-cluster: install widget editor insights lb  ## cluster mode: WORKERS Rasa and action servers behind nginx, on PostgreSQL, Redis, RabbitMQ
	$(PY) -m bot run --workers $(WORKERS)

# The cluster's load balancer (and the cluster tests'): nginx from Debian, installed when missing and we may.
lb:  ## nginx for cluster mode (Debian package; needs root or sudo)
	@if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "Installing nginx for cluster mode (apt-get install nginx-light) ..."; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null; }; \
	    service nginx stop >/dev/null 2>&1 || true; \
	  else echo "Cluster mode needs nginx: sudo apt-get install nginx-light"; exit 1; fi; \
	fi

test: install widget editor insights browser lb  ## the whole suite
	$(PY) -m pytest

bench: bench-nlu bench-kb bench-kb-scale bench-handoff bench-frustration bench-latency bench-leads bench-reliability bench-cluster bench-dashboard bench-proactive

bench-nlu: install  ## NLU accuracy on BANKING77, CLINC150 and the project's held-out set
	$(PY) -m bot.bench.nlu --json docs/bench-nlu.json

bench-kb: install  ## knowledge-base retrieval on StackFAQ and the demo golden set
	$(PY) -m bot.bench.kb --json docs/bench-kb.json

bench-kb-scale: install  ## knowledge-base search latency at 1k-100k passages, full build and one-article updates of 10k articles
	$(PY) -m bot.bench.kb_scale --json docs/bench-kb-scale.json

bench-latency: install widget  ## message latency over socket.io and REST at 1/20/100 customers, against a bare `rasa init` assistant
	$(PY) -m bot.bench.latency --json docs/bench-latency.json

bench-handoff: install  ## handoff decisions on the scripted conversations, against the real servers
	$(PY) -m bot.bench.handoff --json docs/bench-handoff.json

bench-frustration: install  ## frustration detection on Twitter airline sentiment and complaint tweets, against VADER
	$(PY) -m bot.bench.frustration --json docs/bench-frustration.json

bench-leads: install editor browser  ## the leads' workspace: publish to answer on the real servers, content-gap clustering (StackFAQ) and the gap page at 10,000 questions
	$(PY) -m bot.bench.leads --json docs/bench-leads.json

bench-reliability: install widget editor insights  ## the reliability and security battery against the real servers: fuzzed input, sign-in, CSRF, headers, personal data in logs
	$(PY) -m bot.bench.reliability --json docs/reliability.json --markdown docs/reliability.md

bench-cluster: install lb  ## cluster mode with 1, 2 and 3 workers under 200 paced socket.io conversations × 20 turns, and a worker killed at half-time (PostgreSQL, Redis, RabbitMQ)
	$(PY) -m bot.bench.cluster --json docs/bench-cluster.json

bench-dashboard: install  ## the leads' insights dashboard: every figure's SQL at 100,000 synthetic conversations
	$(PY) -m bot.bench.dashboard --conversations 100000

bench-proactive: install  ## proactive messages: store event to the open widget, p50/p95 with 100 connected customers
	$(PY) -m bot.bench.proactive --customers 100 --json docs/bench-proactive.json

lint: install
	$(PY) -m ruff check bot actions tests

lock: install  ## refresh constraints.txt from the current environment
	{ echo "# Exact versions every install resolves to (pip install -c constraints.txt -e '.[dev]')."; \
	  echo "# Regenerate after changing dependencies: make lock"; \
	  $(PY) -m pip freeze --all --exclude-editable | grep -v '^pip==\|^-e\|brightwave'; } > constraints.txt

clean:
	rm -rf models results .pytest_cache
