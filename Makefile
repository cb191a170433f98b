# A target per common task (docs/ci.md lists them). `make test` is everything CI runs (.ci/run).
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
# Where datasets live (or are downloaded to). A read-only mirror works in place:
#   make quick BENCH_DATA_DIR=../shared/data
export BENCH_DATA_DIR ?= $(HOME)/.cache/bench/data

.PHONY: install test test-fast lint docs-check quick reference-quick benchmark benchmark-save clean gpu-check gpu-first-run wheelhouse

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
	# tests/plugins/test_airbench.py's step-for-step check against it runs instead of skipping.
	$(BIN)/pip install --no-deps airbench==0.1.8
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/python -m pytest

# The edit-test loop: everything but the browser, Ray, Slurm and long real-data tests (marker: slow).
test-fast: install
	$(BIN)/python -m pytest -m "not slow"

# The formatter and the linter, as configured in pyproject.toml ([tool.ruff]), and the type
# checker on the host package ([tool.mypy]).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy bench

# The README's and docs/' commands and code examples, run (tests/test_docs.py, tests/test_readme.py).
docs-check: install
	$(BIN)/python -m pytest tests/test_docs.py tests/test_readme.py

# The run's progress (stderr) shows; its closing text table (stdout) does not, so the table is
# printed once, in markdown.
quick: install
	$(BIN)/bench run suites/quick.yaml --results-dir results > /dev/null
	$(BIN)/bench table results --suite quick --format markdown

# Re-make the committed quick reference on this machine (records only) when its code changed:
# tests/test_identity.py fails on stale reference records. Say so in the commit and REFERENCE.md.
reference-quick: install
	rm -rf results/reference-quick-new
	$(BIN)/bench run suites/quick.yaml --results-dir results/reference-quick-new
	rm -rf results/reference/quick
	cd results/reference-quick-new && find quick -name 'seed*.json' -not -path '*/superseded/*' \
		-exec cp --parents {} ../reference/ \;
	$(BIN)/bench table results/reference/quick --format markdown

benchmark: install
	$(BENCHMARK) --benchmark-compare=$(BENCHMARK_BASELINE) --benchmark-compare-fail=$(BENCHMARK_FAIL)

benchmark-save: install
	$(BENCHMARK) --benchmark-save=cpu

clean:
	rm -rf $(VENV) .pytest_cache

# One offline check of a machine (bench/devicecheck.py): make gpu-check DEVICE=cuda OUT=device-check
# (DEVICE=cpu works too; GPU_CHECK_FLAGS=--compile adds the compiled pass). No venv, no network,
# nothing installed: CHECK_PYTHON (.venv's Python when there is one, else python3, e.g. a GPU
# machine's own CUDA torch) runs bench from this tree through build/offline (tools/offline_setup.py;
# WHEELS=DIR installs missing libraries from a folder of wheels).
DEVICE       ?= cuda
OUT          ?= device-check
CHECK_PYTHON ?= $(if $(wildcard $(BIN)/python),$(BIN)/python,python3)
OFFLINE       = $(CURDIR)/build/offline
gpu-check:
	$(CHECK_PYTHON) tools/offline_setup.py --into $(OFFLINE) $(if $(WHEELS),--wheels $(WHEELS))
	PYTHONPATH=$(OFFLINE) $(CHECK_PYTHON) -m bench gpu-check --device $(DEVICE) --out $(OUT) $(GPU_CHECK_FLAGS)

# Wheels of what the device check needs beyond torch and numpy, for a machine without network
# (pure-Python ones once, pyyaml and pillow per Python version): carry .wheels/ there and run
# make gpu-first-run WHEELS=.wheels (tools/offline_setup.py installs only what is missing).
WHEELHOUSE_PYTHONS ?= 3.10 3.11 3.12 3.13
wheelhouse: install
	$(BIN)/pip download --no-deps --only-binary=:all: --dest .wheels pluggy tabulate torchmetrics lightning-utilities packaging filelock
	for v in $(WHEELHOUSE_PYTHONS); do \
	  $(BIN)/pip download --no-deps --only-binary=:all: --python-version $$v --platform manylinux2014_x86_64 --dest .wheels pyyaml pillow || exit 1; \
	done

# The first thing to run on a lent GPU (tools/gpu_first_run.py; docs/ci.md, "The first GPU
# minutes"): environment, sync-counter control, timing control, DIP at 512 in four variants, the
# eager device check; writes OUT/first-run.json after each step. Stopped (SIGTERM, then the JSON
# of what finished) after FIRST_RUN_LIMIT_S seconds.
FIRST_RUN_LIMIT_S ?= 470
gpu-first-run:
	$(CHECK_PYTHON) tools/offline_setup.py --into $(OFFLINE) $(if $(WHEELS),--wheels $(WHEELS))
	PYTHONPATH=$(OFFLINE) timeout --signal=TERM $(FIRST_RUN_LIMIT_S) $(CHECK_PYTHON) tools/gpu_first_run.py --device $(DEVICE) --out $(OUT) $(FIRST_RUN_FLAGS)
