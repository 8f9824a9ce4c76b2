# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev build lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

# The package itself, editable, with its C extension (optional: no compiler, no extension).
$(VENV)/.installed-package: pyproject.toml setup.py movieclassifier/features/_hashing.c | $(VENV)/.installed
	$(PY) -m pip install -qq --no-deps --no-build-isolation --editable .
	touch $@

install: $(VENV)/.installed $(VENV)/.installed-package

install-dev: $(VENV)/.installed-dev $(VENV)/.installed-package

## build: (re)compile the features' C extension in place after editing _hashing.c
build: install
	$(PY) setup.py --quiet build_ext --inplace

## run: set up everything on a fresh machine and serve on http://$(HOST):$(PORT)
run: install
	$(PY) -m flask --app movieclassifier init-db
	$(PY) scripts/train_stream.py data/movie_data.csv.gz --holdout 5000 --if-missing
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn "movieclassifier:create_app()"

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
