# Quick start: `make run` serves the demo on http://127.0.0.1:5000 (PORT=8000 make run for
# another port); `make test` runs every test.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app training
STAMP := $(VENV)/.installed
PORT ?= 5000
INSTANCE := $(or $(TRAINING_INSTANCE_PATH),instance)
SECRET_FILE := $(INSTANCE)/secret_key
# Where `make run` serves; every step it runs (the sign-in address it prints, links in emails)
# uses this address.
ADDRESS = http://127.0.0.1:$(PORT)
DEMO_ENV = TRAINING_SECRET_KEY="$$(cat $(SECRET_FILE))" TRAINING_PUBLIC_URL="$(ADDRESS)"

.PHONY: run test lint format bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Training Desk needs $(PYTHON) on PATH."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(SECRET_FILE):
	mkdir -p $(INSTANCE)
	$(BIN)/python -c "import secrets; print(secrets.token_hex(32))" > $@
	chmod 600 $@

run: $(STAMP) $(SECRET_FILE)
	$(DEMO_ENV) $(FLASK) db upgrade
	$(DEMO_ENV) $(FLASK) seed --if-empty
	$(DEMO_ENV) $(FLASK) staff demo-admin
	@echo "Training Desk is starting on $(ADDRESS); emails $(if $(TRAINING_MAIL_SERVER),go to the SMTP server $(TRAINING_MAIL_SERVER)$(if $(TRAINING_MAIL_PORT),:$(TRAINING_MAIL_PORT)),appear in $(INSTANCE)/mail/)"
	@echo "The web server and both workers run under honcho (see Procfile); Ctrl-C stops them all."
	export $(DEMO_ENV) PATH="$(abspath $(BIN)):$$PATH" PYTHONUNBUFFERED=1; \
	exec $(BIN)/honcho start --procfile Procfile --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --cov --cov-report=term-missing:skip-covered \
	  $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python bench/signup_load.py

clean:
	rm -rf $(VENV) .pytest_cache .coverage htmlcov
