# A target per common task (docs/ci.md lists them). `make test` is everything CI runs (.ci/run).
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
# Where datasets live (or are downloaded to). A read-only mirror works in place:
#   make quick BENCH_DATA_DIR=../shared/data
export BENCH_DATA_DIR ?= $(HOME)/.cache/bench/data

.PHONY: install test test-fast lint docs-check quick benchmark benchmark-save clean gpu-check

# Benchmarks (tests/benchmarks, skipped by `make test`): compared with the saved baseline, failing
# when a benchmark's median is more than BENCHMARK_FAIL slower.
BENCHMARK_BASELINE ?= 0001
BENCHMARK_FAIL     ?= median:25%
BENCHMARK          = $(BIN)/python -m pytest -o addopts="" tests/benchmarks --benchmark-only \
                     --benchmark-storage=file://tests/benchmarks/baselines --benchmark-sort=name

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first: a bare "torch" requirement with no torch installed pulls the CUDA build.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[test]'
	# The official airbench94 (no deps: its torchvision import is stubbed), so that
	# tests/test_airbench.py's step-for-step check against it runs instead of skipping.
	$(BIN)/pip install --no-deps airbench==0.1.8
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/python -m pytest

# The edit-test loop: everything but the browser, Ray, Slurm and long real-data tests (marker: slow).
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The formatter and the linter, as configured in pyproject.toml ([tool.ruff]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The README's and docs/' commands and code examples, run (tests/test_docs.py, tests/test_readme.py).
docs-check: install
	$(BIN)/python -m pytest tests/test_docs.py tests/test_readme.py

# The run's progress (stderr) shows; its closing text table (stdout) does not, so the table is
# printed once, in markdown.
quick: install
	$(BIN)/bench run suites/quick.yaml --results-dir results > /dev/null
	$(BIN)/bench table results --suite quick --format markdown

benchmark: install
	$(BENCHMARK) --benchmark-compare=$(BENCHMARK_BASELINE) --benchmark-compare-fail=$(BENCHMARK_FAIL)

benchmark-save: install
	$(BENCHMARK) --benchmark-save=cpu

clean:
	rm -rf $(VENV) .pytest_cache

# One offline check of a machine (bench/devicecheck.py): make gpu-check DEVICE=cuda OUT=device-check
# (DEVICE=cpu works too; GPU_CHECK_FLAGS=--no-compile skips the compiled pass).
DEVICE ?= cuda
OUT    ?= device-check
gpu-check: install
	$(BIN)/bench gpu-check --device $(DEVICE) --out $(OUT) $(GPU_CHECK_FLAGS)
