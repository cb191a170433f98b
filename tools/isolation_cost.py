"""What running each run in a child process (the local executor's ``isolate``) costs per run.

Runs the quick suite's runs (``--only`` filters them by label, ``--seeds`` and ``--budget-scale``
as for ``bench run``) once in this process and once isolated, into fresh folders, and times each
run from the suite's side. A run's own work is its record's ``wall_seconds``; what is left is the
host's cost per run (lock, identity, record write, and with isolation the fork, the pipe and the
parent loading the child's datasets once). The cost of isolation is the difference of the two
medians. Usage::

    python tools/isolation_cost.py --data-dir ../shared/data --only mlp --seeds 0,1,2,3,4 --budget-scale 0.1
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench import isolation, registry, runner
from bench.data.store import DataStore
from bench.progress import Progress
from bench.records import ResultStore
from bench.suite import load_suite


def timed(function, seconds: list[float]):
    """``function`` that appends (its wall time, the record's wall_seconds) difference to ``seconds``."""

    def call(*args, **kwargs):
        start = time.perf_counter()
        state, record = function(*args, **kwargs)
        if state == "ran":
            seconds.append(time.perf_counter() - start - record["timings"]["wall_seconds"])
        return state, record

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="suites/quick.yaml")
    parser.add_argument("--data-dir", default=os.environ.get("BENCH_DATA_DIR", "data"))
    parser.add_argument("--only", default="")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--budget-scale", type=float, default=0.1)
    args = parser.parse_args()
    reg = registry.load()
    seeds = [int(s) for s in args.seeds.split(",")]
    suite = load_suite(Path(args.suite), reg, seeds=seeds, budget_scale=args.budget_scale)
    specs = [s for s in suite.runs if args.only in s.label]
    plain, forked = runner.execute, isolation.execute_isolated
    overhead: dict[str, list[float]] = {}
    for mode in ("in-process", "isolated"):
        seconds = overhead.setdefault(mode, [])
        runner.execute = timed(plain, seconds) if mode == "in-process" else plain
        isolation.execute_isolated = timed(forked, seconds)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            runner.run_specs(
                specs,
                reg,
                ResultStore(folder),
                DataStore(args.data_dir),
                Progress(quiet=True),
                isolate=mode == "isolated",
            )
            total = time.perf_counter() - start
        print(
            f"{mode}: {len(seconds)} runs, {total:.1f} s in all; host seconds per run: {[round(s, 3) for s in seconds]}"
        )
    runner.execute, isolation.execute_isolated = plain, forked
    medians = {mode: statistics.median(s) for mode, s in overhead.items()}
    print(
        f"median host seconds per run: {medians}; isolation costs {medians['isolated'] - medians['in-process']:.3f} s per run"
    )


if __name__ == "__main__":
    main()
