# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SAMPLE = $$($(PY) -c 'import matplotlib.cbook as c; print(c.get_sample_data("grace_hopper.jpg", asfileobj=False))')

.PHONY: run demo test lint bench cluster clean

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo,test]'
	touch $@

## run: install facewise and serve Rekognition's API on http://$(HOST):$(PORT) (Ctrl-C stops)
HOST ?= 127.0.0.1
PORT ?= 8080
run: $(VENV)/.installed-run
	$(VENV)/bin/facewise models --prepare
	$(VENV)/bin/facewise serve --host $(HOST) --port $(PORT)

## demo: analyse and compare a sample photo from the command line (no server)
demo: $(VENV)/.installed-run
	$(VENV)/bin/facewise detect-faces "$(SAMPLE)" --attributes ALL --draw out/grace_hopper.png
	$(VENV)/bin/facewise compare-faces "$(SAMPLE)" "$(SAMPLE)"

## test: install test dependencies and services, lint, type-check src/ (mypy --strict), run the whole suite
test: $(VENV)/.installed-test
	bash tests/live/install-services.sh
	$(VENV)/bin/ruff check src tests bench deploy
	$(VENV)/bin/ruff format --check src tests bench deploy
	$(VENV)/bin/mypy
	FACEWISE_REQUIRE_LIVE=1 $(PY) -m pytest

## cluster: a local scale-out deployment: PostgreSQL+pgvector, Redis, SeaweedFS, two servers on
## http://$(HOST):$(PORT), two workers (deploy/cluster.py; data in cluster-data/; Ctrl-C stops)
cluster: $(VENV)/.installed-test
	bash tests/live/install-services.sh
	$(VENV)/bin/facewise models --prepare --data-dir cluster-data/models
	$(PY) deploy/cluster.py --folder cluster-data --port $(PORT)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench deploy
	$(VENV)/bin/ruff format --check src tests bench deploy

## bench: the benchmarks in bench/ (needs ../shared/data/faces for the labelled photos)
DATA ?= $(abspath ../shared/data/faces)
bench: $(VENV)/.installed-test
	$(PY) -m pip install --quiet --no-deps face-recognition==1.3.0 click
	cd bench && ../$(PY) accuracy.py --data $(DATA)
	cd bench && ../$(PY) embedder_parity.py --data $(DATA)
	cd bench && ../$(PY) bench_embed.py
	cd bench && ../$(PY) bench_detect.py --data $(DATA)
	cd bench && ../$(PY) bench_end_to_end.py --data $(DATA)
	cd bench && ../$(PY) bench_service.py --data $(DATA)
	cd bench && PYTHONPATH=.. ../$(PY) bench_video.py --data $(DATA)

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache src/*.egg-info cluster-data
