# Every task has one entry point here; the README uses only these.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Reinstall whenever the dependency files change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

export RASA_TELEMETRY_ENABLED ?= false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: install run test bench bench-nlu bench-kb lint lock clean

$(STAMP): pyproject.toml constraints.txt scripts/find-python.sh
	@if ! $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; then \
	  PYBIN=$$(scripts/find-python.sh) && rm -rf $(VENV) && echo "Creating $(VENV) with $$PYBIN" && "$$PYBIN" -m venv $(VENV); \
	fi
	$(PY) -m pip install --quiet --upgrade "pip<25"
	@echo "Installing dependencies (first time: several minutes, ~7 GB with torch) ..."
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install  ## install, seed, train if needed, start everything
	$(PY) -m bot run

test: install  ## the whole suite
	$(PY) -m pytest

bench: bench-nlu bench-kb

bench-nlu: install  ## NLU accuracy on BANKING77, CLINC150 and the project's held-out set
	$(PY) -m bot.bench.nlu --json docs/bench-nlu.json

bench-kb: install  ## knowledge-base retrieval on StackFAQ and the demo golden set
	$(PY) -m bot.bench.kb --json docs/bench-kb.json

lint: install
	$(PY) -m ruff check bot actions tests

lock: install  ## refresh constraints.txt from the current environment
	{ echo "# Exact versions every install resolves to (pip install -c constraints.txt -e '.[dev]')."; \
	  echo "# Regenerate after changing dependencies: make lock"; \
	  $(PY) -m pip freeze --all --exclude-editable | grep -v '^pip==\|^-e\|brightwave'; } > constraints.txt

clean:
	rm -rf models results .pytest_cache
