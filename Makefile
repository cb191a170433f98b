# The commands the README gives. `make test` is what CI runs (.ci/run).
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
# Where datasets live (or are downloaded to). A read-only mirror works in place:
#   make quick BENCH_DATA_DIR=../shared/data
export BENCH_DATA_DIR ?= $(HOME)/.cache/bench/data

.PHONY: install test quick clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first: a bare "torch" requirement with no torch installed pulls the CUDA build.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/python -m pytest

quick: install
	$(BIN)/bench run suites/quick.yaml --results-dir results
	$(BIN)/bench table results --suite quick --format markdown

clean:
	rm -rf $(VENV) .pytest_cache
