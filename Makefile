# papers: make install | demo | serve | test | bench | bench-quick
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
DEMO_DB ?= demo.db

.PHONY: install demo serve test test-long lint bench bench-quick clean eval

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,serve]'
	touch $@

demo: install
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm
	$(BIN)/papers --db $(DEMO_DB) ingest sample_pages/
	$(BIN)/papers --db $(DEMO_DB) list --limit 10
	$(BIN)/papers --db $(DEMO_DB) stats

# Browse the corpus in a web page (the demo corpus unless DB=... names another).
serve: install
	@test -f "$(or $(DB),$(DEMO_DB))" || $(BIN)/papers --db $(DEMO_DB) ingest -q sample_pages/
	$(BIN)/papers --db "$(or $(DB),$(DEMO_DB))" serve --open

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/vulture papers_cli vulture_whitelist.py --min-confidence 60

test: lint
	$(BIN)/python -m pytest -q

# The stateful and property tests with many more examples (minutes).
test-long: install
	PAPERS_LONG=1 $(BIN)/python -m pytest -q tests/test_stateful.py tests/test_text_properties.py

bench: install
	$(BIN)/python benchmarks/run.py --sizes 10000,100000,1000000

bench-quick: install
	$(BIN)/python benchmarks/run.py --sizes 10000,100000

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis $(DEMO_DB)*

eval: install
	$(BIN)/python benchmarks/eval_search.py
