# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
# make run's clock: one retrain a minute on a laptop (the Procfile's clock uses the
# setting's own default, 10m). The CSV and hold-out of the first model, when none exists.
RETRAIN_EVERY ?= 1m
TRAIN_CSV ?= data/movie_data.csv.gz
TRAIN_HOLDOUT ?= 5000

.PHONY: run test install install-dev build lint bench clean retrain versions

$(PY):
	@echo "creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	@echo "installing dependencies (about 30 s)…"
	@$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	@echo "installing dependencies and test tools (about 40 s)…"
	@$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

# The package itself, editable, with its C extension. The extension is optional: without a
# compiler the install still succeeds, and the check below prints the features' warning.
$(VENV)/.installed-package: pyproject.toml setup.py movieclassifier/features/_hashing.c | $(VENV)/.installed
	@echo "installing movieclassifier (editable) and building its C extension…"
	@$(PY) -m pip install -qq --no-deps --no-build-isolation --editable .
	@$(PY) -c "import movieclassifier.features as f; f.warn_if_slow()"
	@touch $@

install: $(VENV)/.installed $(VENV)/.installed-package

install-dev: $(VENV)/.installed-dev $(VENV)/.installed-package

## build: (re)compile the features' C extension in place after editing _hashing.c
build: install
	$(PY) setup.py --quiet build_ext --inplace

## run: set up everything on a fresh machine, then serve on http://$(HOST):$(PORT) and run
## the retrain clock (every $(RETRAIN_EVERY)) until Ctrl-C, which stops both
run: install
	$(VENV)/bin/flask --app movieclassifier init-db
	$(PY) scripts/train_stream.py $(TRAIN_CSV) --holdout $(TRAIN_HOLDOUT) --if-missing
	$(PY) scripts/run_local.py --host $(HOST) --port $(PORT) --every $(RETRAIN_EVERY)

## retrain: one retrain run now (what the clock does every RETRAIN_EVERY)
retrain: install
	$(PY) scripts/retrain.py

## versions: every model version, its status and accuracies
versions: install
	$(VENV)/bin/flask --app movieclassifier versions

## test: install the dev requirements and run every test (exits non-zero on any failure)
test: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy movieclassifier
	$(PY) -m pytest

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check movieclassifier tests scripts bench

bench: install-dev build
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) bench/train.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build movieclassifier/features/_hashing*.so *.egg-info
