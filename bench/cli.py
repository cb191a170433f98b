"""The ``bench`` command: plugins | protocols | check | run | table | figures | report | compare | diff | history | ab.

Exit codes: 0 success; 1 a run failed or a comparison found a regression; 2 bad input (suite,
arguments, unknown plugin, missing records, a symbolic link planted in a results folder) or a
folder that cannot be written (full disk, read-only: one line names the path); 130 interrupted
(Ctrl-C), 143 terminated (SIGTERM); 141 the reader of the output went away
(``bench plugins NAME | head``), as a command killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys
from pathlib import Path

from bench.paths import LinkRefused

EPILOG = """examples:
  bench plugins                                  what is installed
  bench check my-plugin                          contract tests of a plugin's methods
  bench run suites/quick.yaml --data-dir ../shared/data
  bench run suites/mnist.yaml --budget-scale 0.1 smoke run: every budget x 0.1
  bench run suites/quick.yaml --executor ray     one Ray task per run (pip install 'bench[ray]')
  bench run suites/cifar10.yaml --executor slurm -X partition=gpu -X timeout_min=60
  bench table results/ --format markdown
  bench figures results/ --out report/figures    restoration: one picture per image
  bench report results/ -o report/               static HTML site: leaderboards, plots, pictures
  bench report results/ -o report/ --baseline results/reference   mark regressions
  bench compare results/reference/quick results --quality-tolerance 0.5 --throughput-tolerance 0.2
  bench diff results/reference/quick results/quick --row small-cnn   what changed between two rows
  bench history results/                         each row across code versions, with its steps
  bench ab suites/quick.yaml --base-python ../base/.venv/bin/python   A/B gate on one machine
"""


def main(argv: list[str] | None = None) -> int:
    # Before torch starts OpenMP: threads that sleep when idle instead of spinning. Spinning
    # threads on a shared CPU wait on each other (measured: 5x slower steps with two threads).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a reader gone (`| head`) shows here, not in Python's flush at exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 141
    except KeyboardInterrupt as exc:  # bench.runner.Interrupted names the signal (SIGINT, SIGTERM)
        how = f" by {exc}" if hasattr(exc, "exit_code") else ""
        print(f"\ninterrupted{how}: {args.interrupted}", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (LinkRefused, OSError) as exc:
        message = str(exc) if isinstance(exc, LinkRefused) else disk_fault(exc)
        if message is None:
            raise  # not the disk's doing: a bug, with its traceback
        print(f"error: {message}", file=sys.stderr)
        return 2


#: What a person can do about a folder that refused a write, by errno.
_DISK_ADVICE = {
    errno.ENOSPC: "the disk is full: free space there or give another folder, then run the same command again",
    errno.EDQUOT: "the disk quota is used up: free space there or give another folder, then run the command again",
    errno.EFBIG: "a file grew past the size limit of this process or disk: raise the limit or give another folder",
    errno.EROFS: "the file system is read-only: give a writable folder",
    errno.EACCES: "permission denied: give a folder you may write, or change its permissions",
    errno.EPERM: "operation not permitted: give a folder you may write, or change its permissions",
}


def disk_fault(exc: OSError) -> str | None:
    """One line for an OSError the disk caused (full, read-only, not ours), naming the path and
    what to do; None for any other OSError. Finished runs are records on disk, so none is lost."""
    advice = _DISK_ADVICE.get(exc.errno) if exc.errno is not None else None
    if advice is None:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    return f"cannot write {where}: {advice} (finished runs and an earlier report are kept)"


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader left, and the exit's flush must not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class BenchError(Exception):
    """A problem with the user's input: printed as one message, exit code 2."""


_FORMAT = argparse.ArgumentDefaultsHelpFormatter


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmark vision methods that learn from little or no labelled data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from bench import __version__

    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    parser.set_defaults(interrupted="finished runs are saved; run the same command again to resume")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def _add_plugins(sub) -> None:
    p = sub.add_parser(
        "plugins", help="list datasets, methods and executors with their plugins", formatter_class=_FORMAT
    )
    p.add_argument(
        "name",
        nargs="?",
        default=None,
        help="a plugin, method, dataset or executor: show its page (params with defaults, "
        "allowed values and help, budgets, published numbers)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (every declaration)")
    p.set_defaults(handler=cmd_plugins)


def _add_protocols(sub) -> None:
    p = sub.add_parser(
        "protocols", help="list the host's evaluation protocols and their options", formatter_class=_FORMAT
    )
    p.add_argument("name", nargs="?", default=None, help="one protocol")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_protocols)


def _add_check(sub) -> None:
    p = sub.add_parser(
        "check",
        help="contract tests of plugins' methods: registration, params, tiny runs, reproducibility, budget",
        formatter_class=_FORMAT,
    )
    p.add_argument(
        "names",
        nargs="*",
        metavar="PLUGIN",
        help="plugins, distributions, methods or datasets to check (default: every method; datasets only when named)",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument(
        "--data-dir", default=None, help="where named datasets load from (default: $BENCH_DATA_DIR, else the cache)"
    )
    p.add_argument("--offline", action="store_true", help="never download a named dataset's files")
    p.set_defaults(handler=cmd_check)


def _add_run(sub) -> None:
    p = sub.add_parser("run", help="run a suite (resumes: finished runs are skipped)", formatter_class=_FORMAT)
    p.add_argument("suite", help="suite file, e.g. suites/quick.yaml")
    p.add_argument("--results-dir", default="results", help="where result records are written")
    p.add_argument(
        "--data-dir", default=None, help="dataset cache or mirror (default: $BENCH_DATA_DIR, else ~/.cache/bench/data)"
    )
    p.add_argument("--offline", action="store_true", help="never download; fail with the missing file's name")
    p.add_argument("--device", default=None, help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument(
        "--budget-scale",
        type=float,
        default=None,
        help="multiply every budget (0.1 for a smoke run); overrides the suite's budget_scale",
    )
    p.add_argument("--seeds", default=None, help="comma-separated seeds overriding the suite's, e.g. 0,1")
    p.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the models methods run (overrides the suite's compile)",
    )
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only specs whose label contains TEXT (repeatable)",
    )
    p.add_argument(
        "--executor",
        default=None,
        metavar="NAME",
        help="how the runs are executed: local (this process), ray, slurm, or a plugin's "
        "(default: the suite's executor, else local)",
    )
    p.add_argument(
        "-X",
        "--executor-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="executor option overriding the suite's, e.g. -X address=auto, -X partition=gpu "
        "(repeatable; `bench plugins --json` lists each executor's options)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        metavar="N",
        help="torch intra-op threads for runs in this process (default: torch's, one per core)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs, run nothing")
    p.add_argument(
        "--keep-stale",
        action="store_true",
        help="count finished runs made by other code (a changed method, dataset or host) as done "
        "instead of running them again",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=cmd_run)


def _add_gpu_check(sub) -> None:
    p = sub.add_parser(
        "gpu-check",
        formatter_class=_FORMAT,
        help="one offline check of a device: the quick suite, every method, speeds, syncs, memory",
        description="Print the device, driver, CUDA and cuDNN; run the quick suite and every built-in "
        "method at a smoke budget on the device (the suites' switches), counting syncs per step, peak "
        "memory and the papers'-size speeds (eager; --compile adds a compiled pass); write "
        "device-check.json and .md under --out after every run (bench/devicecheck.py).",
    )
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu or mps")
    p.add_argument("--out", default="device-check", help="folder for the JSON, the table and the runs' records")
    p.add_argument(
        "--tiny", action="store_true", help="tiny models and budgets (suites/device-check/device-check-tiny.yaml; CI)"
    )
    p.add_argument(
        "--compile", action="store_true", help="also run the suite compiled (torch.compile; minutes on a cold cache)"
    )
    p.add_argument(
        "--only", action="append", metavar="TEXT", help="check only runs whose label contains TEXT (repeatable)"
    )
    p.add_argument("--budget-scale", type=float, default=None, help="multiply the check's budgets")
    p.add_argument("--data-dir", default=None, help="data folder (default: $BENCH_DATA_DIR); never downloads")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=cmd_gpu_check)


def _add_figures(sub) -> None:
    p = sub.add_parser(
        "figures", help="restoration: side-by-side pictures per image across methods", formatter_class=_FORMAT
    )
    p.add_argument("results", nargs="?", default="results", help="results folder")
    p.add_argument("--out", default="report/figures", help="where the pictures are written")
    p.set_defaults(handler=cmd_figures)


def _add_table(sub) -> None:
    p = sub.add_parser("table", help="leaderboards from result records", formatter_class=_FORMAT)
    p.add_argument("results", nargs="?", default="results", help="results folder (or one record)")
    p.add_argument("--format", choices=["text", "markdown", "csv", "json"], default="text")
    p.add_argument("--suite", default=None, help="only this suite")
    p.add_argument(
        "--per-image",
        action="store_true",
        help="restoration: each image's PSNR / SSIM per method, and each method against the best paired "
        "by image (wins/ties/losses, Wilcoxon signed-rank)",
    )
    p.set_defaults(handler=cmd_table)


def _add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        formatter_class=_FORMAT,
        help="static HTML site from result records: leaderboards, plots, pictures",
        description="Write one self-contained static site (open OUT/index.html from disk, or publish the "
        "folder as it is) built from the result records alone: a sortable leaderboard per suite, "
        "dataset, protocol and setting (mean ± std over seeds, failed runs shown, published numbers "
        "beside ours), quality against throughput with the Pareto front, per-seed spread, training "
        "and PSNR-by-iteration curves, restored images and the methods' own pictures, and a page per "
        "row with its records. With --baseline, every metric carries bench compare's verdict.",
    )
    p.add_argument("results", nargs="?", default="results", help="results folder")
    p.add_argument(
        "-o", "--out", default="report", help="folder to write the site into (empty, new, or an earlier report)"
    )
    p.add_argument(
        "--baseline",
        default=None,
        metavar="OLD_DIR",
        help="mark every metric that regressed against these records beyond the noise (as bench compare)",
    )
    p.add_argument("--suite", default=None, help="only this suite")
    _tolerance_options(p)
    p.set_defaults(
        handler=cmd_report, interrupted="no new report was swapped in; an earlier one in that folder is whole"
    )


def _add_compare(sub) -> None:
    p = sub.add_parser(
        "compare",
        formatter_class=_FORMAT,
        help="per-metric deltas between two record sets; exit 1 on a regression",
        description="Compare NEW against BASE, matching runs by suite, dataset, protocol and method "
        "(budgets and params may differ: a change shows as a metric change). A metric regresses "
        "when it falls by more than its tolerance AND the fall is significant on the raw samples "
        "(per-seed values for quality, timing repeats for throughput; one-sided test at --alpha). "
        "A fall past the tolerance that the samples do not support is reported as 'noise'.",
    )
    p.add_argument("base", help="baseline results folder")
    p.add_argument("new", help="new results folder")
    _tolerance_options(p)
    p.add_argument("--allow-missing", action="store_true", help="runs missing from NEW are not a failure")
    p.add_argument(
        "--noise",
        action="append",
        default=[],
        metavar="AA_DIR",
        help="records of repeated runs of one code (an A/A pass): their spread joins the seeds' when a "
        "tolerance is set from the noise (repeatable)",
    )
    p.set_defaults(handler=cmd_compare)


def _add_diff(sub) -> None:
    p = sub.add_parser(
        "diff",
        formatter_class=_FORMAT,
        help="what differs between two records, or between the rows two results folders share",
        description="Code (parts and modules), commit, installed packages, machine, device, spec, "
        "data checksums and load, then the metrics with their deltas (bench/diff.py).",
    )
    p.add_argument("a", help="a record (JSON file) or a results folder")
    p.add_argument("b", help="a record or a results folder (the same kind as A)")
    p.add_argument("--row", action="append", default=[], metavar="TEXT", help="only rows whose name contains TEXT")
    p.set_defaults(handler=cmd_diff)


def _add_history(sub) -> None:
    p = sub.add_parser(
        "history",
        formatter_class=_FORMAT,
        help="each row's metrics across the code versions that made them, with the steps",
        description="Reads a results folder with the records re-runs replaced (superseded/); per row, one "
        "line per code version (its git commit, when it ended, mean ± std over seeds of each metric and "
        "throughput), oldest first, and the versions where a value stepped beyond its noise (an L1 Potts "
        "fit, as asv's step detection; bench/history.py).",
    )
    p.add_argument("results", nargs="?", default="results", help="results folder")
    p.add_argument("--row", action="append", default=[], metavar="TEXT", help="only rows whose name contains TEXT")
    p.set_defaults(handler=cmd_history)


def _add_ab(sub) -> None:
    p = sub.add_parser(
        "ab",
        formatter_class=_FORMAT,
        help="A/B on one machine: a suite on two code versions, interleaved by seed, gated on the pairs",
        description="Run SUITE seed by seed with the bench of --base-python (e.g. a pull request's base "
        "installed in a second virtual environment) and of --new-python (default: this one), alternating "
        "which goes first (A B B A ...), into RESULTS_DIR/base and RESULTS_DIR/new; judge each metric on "
        "the per-seed pairs (paired one-sided t-test, and the tolerance); re-run flagged rows with "
        "--more-seeds further seeds and judge again: only a flag that survives fails (exit 1). "
        "See docs/ci.md (bench/ab.py).",
    )
    p.add_argument("suite", help="suite file")
    p.add_argument("--base-python", required=True, metavar="PY", help="python of the environment with BASE's bench")
    p.add_argument("--new-python", default=None, metavar="PY", help="python of NEW's (default: this one)")
    p.add_argument("--results-dir", default="results-ab", help="where base/ and new/ records go")
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds each side runs")
    p.add_argument("--more-seeds", type=int, default=3, help="further seeds for a flagged row (0: none)")
    p.add_argument("--only", action="append", default=[], metavar="TEXT", help="as bench run --only")
    p.add_argument("--budget-scale", type=float, default=None, help="as bench run --budget-scale")
    p.add_argument("--data-dir", default=None, help="as bench run --data-dir")
    p.add_argument("--offline", action="store_true", help="as bench run --offline")
    _tolerance_options(p)
    p.set_defaults(handler=cmd_ab)


#: One parser per subcommand, in the order `bench --help` lists them.
_COMMANDS = (
    _add_plugins,
    _add_protocols,
    _add_check,
    _add_run,
    _add_gpu_check,
    _add_figures,
    _add_table,
    _add_report,
    _add_compare,
    _add_diff,
    _add_history,
    _add_ab,
)


def _tolerance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quality-tolerance",
        type=float,
        default=None,
        help="allowed absolute drop of quality metrics (accuracy points, dB); default: 3 standard errors "
        "of the difference, from the seeds' spread (0.3 with one seed a side)",
    )
    p.add_argument(
        "--throughput-tolerance",
        type=float,
        default=None,
        help="allowed relative drop of throughput (0.2 = 20%%); default: 3 standard errors of the "
        "difference of the runs' rates, at least 5%% (20%% with one run a side)",
    )
    p.add_argument(
        "--tolerance",
        action="append",
        default=[],
        metavar="METRIC=TOL",
        help="per-metric tolerance: absolute (test_accuracy=0.3) or relative (train_images_per_s=10%%)",
    )
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the one-sided tests")


def _tolerances(args):
    from bench.compare import Tolerances

    def allowed(option: str, value: float, given: object) -> float:
        # NaN would pass every comparison unseen, a negative one flag every metric: both are typos
        if not 0 <= value < math.inf:
            raise BenchError(f"{option}: expected a finite number >= 0, got {given}")
        return value

    per_metric = {}
    for item in args.tolerance:
        metric, sep, value = item.partition("=")
        try:
            number = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            number = None
        if not sep or not metric or number is None:
            raise BenchError(f"--tolerance: expected METRIC=NUMBER or METRIC=NUMBER%, got {item[:200]!r}")
        allowed("--tolerance", number, repr(item[:200]))
        per_metric[metric] = ("rel" if value.endswith("%") else "abs", number)
    for option, value in (
        ("--quality-tolerance", args.quality_tolerance),
        ("--throughput-tolerance", args.throughput_tolerance),
    ):
        if value is not None:
            allowed(option, value, value)
    if not 0 < args.alpha < 1:
        raise BenchError(f"--alpha: expected a level between 0 and 1, got {args.alpha}")
    return Tolerances(args.quality_tolerance, args.throughput_tolerance, per_metric, args.alpha)


# -- commands -------------------------------------------------------------------------------------


def _registry():
    from bench import registry

    try:
        return registry.load()
    except registry.PluginError as exc:
        raise BenchError(str(exc)) from None


def cmd_plugins(args) -> int:
    from tabulate import tabulate

    from bench.listing import plugin_page, registry_json

    reg = _registry()
    listing = registry_json(reg)
    broken = listing["broken"]
    if args.name is not None:
        page = plugin_page(reg, args.name)
        if page is None:
            known = sorted({r["plugin"] for r in listing["plugins"]} | {r["name"] for r in listing["plugins"]})
            raise BenchError(
                f"no plugin, method, dataset or executor named {args.name!r} (nor a distribution installing "
                f"one); known: {', '.join(known)}"
            )
        if args.json:
            plugins = reg.plugins_named(args.name)
            rows = [r for r in listing["plugins"] if args.name == r["name"] or r["plugin"] in plugins]
            print(json.dumps({"plugins": rows}, indent=2, default=str))
        else:
            print(page)
        return 0
    if args.json:
        print(json.dumps(listing, indent=2, default=str))
    else:
        table = [
            [r["kind"], r["name"], r["type"], r["tasks"], r["plugin"], f"{r['distribution']} {r['version']}".strip()]
            for r in listing["plugins"]
        ]
        print(tabulate(table, headers=["", "name", "kind", "tasks", "plugin", "distribution"], tablefmt="simple"))
        print(
            "\n`bench plugins NAME` shows one's params, budgets and published numbers; `bench protocols` the protocols."
        )
        if broken:
            print(file=sys.stderr)
        for b in broken:
            print(f"plugin {b['plugin']!r} ({b['distribution']}) {b['what']}", file=sys.stderr)
    return 1 if broken else 0


def cmd_check(args) -> int:
    import warnings

    from bench.check import check
    from bench.data.store import DataError, DataStore
    from bench.registry import PluginError

    reg = _registry()
    try:
        data = DataStore(args.data_dir, offline=True if args.offline else None)
    except DataError as exc:
        raise BenchError(str(exc)) from None
    with warnings.catch_warnings():
        # An author checking a plugin must see its deprecated forms (Python hides them by default).
        warnings.filterwarnings("default", message="RestoreContext.log", category=DeprecationWarning)
        try:
            report = check(reg, args.names, device=args.device, say=print, data_store=data)
        except PluginError as exc:
            raise BenchError(str(exc)) from None
    _say_deprecations(reg, {reg.plugin_of("method", name).name for name in report.checked})
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    datasets = f"{len(report.datasets)} datasets checked, " if report.datasets else ""
    print(f"{len(report.checked)} methods checked, {datasets}{len(report.failures)} rules broken")
    return 0 if report.ok else 1


def _say_deprecations(reg, plugins: set[str]) -> None:
    """The deprecation warnings of these plugins' registrations (old-style specs), one line each."""
    for name in sorted(plugins & set(reg.deprecations)):
        for message in reg.deprecations[name]:
            print(f"warning: plugin {name!r}: DeprecationWarning: {message}", file=sys.stderr)


def cmd_protocols(args) -> int:
    from bench.listing import protocols_json, protocols_page
    from bench.protocols import PROTOCOLS

    if args.name is not None and args.name not in PROTOCOLS:
        raise BenchError(f"unknown protocol {args.name!r}; known protocols: {', '.join(sorted(PROTOCOLS))}")
    if args.json:
        rows = [r for r in protocols_json(PROTOCOLS) if args.name in (None, r["name"])]
        print(json.dumps({"protocols": rows}, indent=2, default=str))
    else:
        print(protocols_page(PROTOCOLS, args.name))
    return 0


def cmd_run(args) -> int:
    import warnings

    from bench.runner import stop_on_signals

    with stop_on_signals(), warnings.catch_warnings():  # SIGTERM (Slurm, Kubernetes, CI) stops as Ctrl-C does
        # A run shows the deprecated forms its methods use (Python hides them by default).
        warnings.filterwarnings("default", message="RestoreContext.log", category=DeprecationWarning)
        return _run(args)


def _run(args) -> int:
    from bench.session import RunError, plan_suite
    from bench.suite import SuiteError

    # --seeds, --budget-scale and --device are checked by load_suite, as strictly as the file's values.
    seeds = _seeds(args.seeds)
    _set_threads(args.threads)
    reg = _registry()
    try:
        planned = plan_suite(
            args.suite,
            registry=reg,
            results_dir=args.results_dir,
            executor=args.executor,
            executor_options=args.executor_option,
            only=args.only,
            rerun="never" if args.keep_stale else "stale",
            budget_scale=args.budget_scale,
            seeds=seeds,
            device=args.device,
            compile_models=args.compile,
        )
    except SuiteError as exc:
        print(f"error: suite {args.suite} is not valid:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except RunError as exc:
        raise BenchError(str(exc)) from None
    _warn_plugins(reg, planned.specs)
    if args.dry_run:
        return _dry_run(planned)
    from bench.progress import Progress

    try:
        outcome = planned.run(
            args.data_dir, offline=True if args.offline else None, progress=Progress(quiet=args.quiet)
        )
    except RunError as exc:
        raise BenchError(str(exc)) from None
    if not args.quiet:
        from bench.report import leaderboard, load_groups, render

        groups = [g for g in load_groups(planned.store.root) if g.suite == planned.suite.name]
        if groups:
            print(render(leaderboard(groups), "text"))
    return outcome.exit_code


def _seeds(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise BenchError(f"--seeds: expected comma-separated integers, got {text!r}") from None


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise BenchError(f"--threads: expected a positive number of threads, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _warn_plugins(reg, specs) -> None:
    """Broken plugins, and the deprecated forms the chosen runs' plugins use: on stderr, even --quiet."""
    for problem in reg.broken:
        print(f"warning: plugin {problem.name!r} {problem.what}", file=sys.stderr)
    _say_deprecations(reg, {reg.plugin_of("method", spec.method).name for spec in specs})


def _dry_run(planned) -> int:
    """List the runs with their states and record paths; run nothing."""
    states = planned.states()
    for spec, state in zip(planned.specs, states):
        print(f"{spec.label}  budget {spec.budget}  [{state}]  {planned.store.path_for(spec)}")
    stale = [state for state in states if state.startswith("stale")]
    if stale:
        print(f"{len(stale)} finished runs are stale and will run again (--keep-stale keeps them)")
    print(f"executor: {planned.executor_name}")
    return 0


def cmd_gpu_check(args) -> int:
    from bench import devicecheck

    return devicecheck.main(args)


def cmd_figures(args) -> int:
    from bench.restoration.figures import side_by_side

    if not Path(args.results).exists():
        raise BenchError(f"{args.results}: no such results folder")
    written = side_by_side(args.results, args.out)
    if not written:
        raise BenchError(f"no restoration records with saved images under {args.results}")
    pictures = [p for p in written if p.suffix == ".png" and "psnr_curve" not in p.name]
    print(f"{len(pictures)} side-by-side pictures (and {len(written) - len(pictures)} curves) in {args.out}")
    return 0


def cmd_table(args) -> int:
    from bench.report import leaderboard, load_groups, render

    if not Path(args.results).exists():
        raise BenchError(f"{args.results}: no such results folder")
    groups = load_groups(args.results)
    if args.suite:
        groups = [g for g in groups if g.suite == args.suite]
    if not groups:
        raise BenchError(
            f"no result records under {args.results}" + (f" for suite {args.suite!r}" if args.suite else "")
        )
    if args.per_image:
        return _per_image_table(groups, args)
    sys.stdout.write(render(leaderboard(groups), args.format))
    return 0


def _per_image_table(groups, args) -> int:
    from bench import perimage
    from bench.report import leaderboard

    found = perimage.from_groups(groups, leaderboard(groups))
    if not found:
        raise BenchError(f"no restoration records with per-image scores under {args.results}")
    sys.stdout.write(perimage.render(found, args.format))
    return 0


def cmd_report(args) -> int:
    from bench.runner import stop_on_signals

    with stop_on_signals():  # the site is swapped in whole or not at all (bench.html.site.build)
        return _report(args)


def _report(args) -> int:
    from bench.html import SiteError, build

    for path in (args.results, args.baseline):
        if path is not None and not Path(path).exists():
            raise BenchError(f"{path}: no such results folder")
    tolerances = _tolerances(args)
    try:
        site = build(args.results, args.out, baseline=args.baseline, tolerances=tolerances, suite=args.suite)
    except SiteError as exc:
        raise BenchError(str(exc)) from None
    report = site.report
    for bad in report.unreadable:
        print(f"warning: unreadable record {bad}", file=sys.stderr)
    if not report.tables:
        raise BenchError(
            f"no result records under {args.results}" + (f" for suite {args.suite!r}" if args.suite else "")
        )
    unreadable = f", {len(report.unreadable)} unreadable" if report.unreadable else ""
    print(
        f"{len(report.tables)} leaderboards from {report.record_count} records{unreadable}, {site.plots} plots, "
        f"{site.pictures} pictures, {len(site.pages) - 1} record pages -> {site.index}"
    )
    for missing in site.missing:
        print(f"warning: artifact listed in a record but missing: {missing}", file=sys.stderr)
    if report.baseline is not None:
        regressions = [d for d in report.deltas if d.verdict == "REGRESSION"]
        print(
            f"against {report.baseline}: "
            + (f"{len(regressions)} regression(s) marked" if regressions else "no regressions")
        )
    return 0


def cmd_compare(args) -> int:
    from bench.compare import compare, render_deltas

    for path in (args.base, args.new):
        if not Path(path).exists():
            raise BenchError(f"{path}: no such results folder")
    tolerances = _tolerances(args)
    for path in args.noise:
        if not Path(path).is_dir():
            raise BenchError(f"--noise {path}: no such results folder")
    deltas = compare(args.base, args.new, tolerances, noise=args.noise)
    if not deltas:
        raise BenchError(f"no result records to compare under {args.base}")
    sys.stdout.write(render_deltas(deltas, tolerances))
    failing = {"REGRESSION"} | (set() if args.allow_missing else {"missing"})
    return 1 if any(d.verdict in failing for d in deltas) else 0


def cmd_diff(args) -> int:
    from bench.diff import diff_groups, diff_records
    from bench.records import InvalidRecord, read_record
    from bench.report import load_groups, row_keys

    paths = [Path(args.a), Path(args.b)]
    for path in paths:
        if not path.exists():
            raise BenchError(f"{path}: no such record or results folder")
    if all(path.is_file() for path in paths):
        try:
            a, b = (read_record(path) for path in paths)
        except InvalidRecord as exc:
            raise BenchError(f"not a record: {exc}") from None
        sys.stdout.write(diff_records(a, b).render())
        return 0
    if not all(path.is_dir() for path in paths):
        raise BenchError("bench diff: expected two records or two results folders")
    rows = [dict(zip(row_keys(groups), groups)) for groups in (load_groups(p) for p in paths)]
    shared = [key for key in rows[0] if key in rows[1] and all(t in " / ".join(key) for t in args.row)]
    if not shared:
        raise BenchError(f"no row of {paths[0]} is in {paths[1]}" + (f" matching {args.row}" if args.row else ""))
    for key in shared:
        print(f"== {' / '.join(key)}")
        sys.stdout.write(diff_groups(rows[0][key], rows[1][key]).render())
    return 0


def cmd_ab(args) -> int:
    from bench import ab
    from bench.compare import render_deltas

    try:
        args.seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        raise BenchError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if args.more_seeds < 0:
        raise BenchError(f"--more-seeds: expected 0 or more, got {args.more_seeds}")
    for python in filter(None, (args.base_python, args.new_python)):
        if not Path(python).is_file():
            raise BenchError(f"{python}: no such interpreter (give the python of the environment to run)")
    if not Path(args.suite).is_file():
        raise BenchError(f"{args.suite}: no such suite file")
    tolerances = _tolerances(args)
    deltas, rerun = ab.main(args, tolerances, say=lambda text: print(f"bench ab: {text}", file=sys.stderr))
    if not deltas:
        raise BenchError(f"no runs finished under {args.results_dir}: see the records' errors")
    sys.stdout.write(render_deltas(deltas, tolerances))
    if rerun:
        print(f"re-run with more seeds: {', '.join(rerun)}")
    return 1 if any(d.verdict in ("REGRESSION", "missing") for d in deltas) else 0


def cmd_history(args) -> int:
    from bench.history import history, render

    if not Path(args.results).exists():
        raise BenchError(f"{args.results}: no such results folder")
    rows = [row for row in history(args.results) if all(text in row.name for text in args.row)]
    if not rows:
        raise BenchError(f"no result records under {args.results}" + (f" matching {args.row}" if args.row else ""))
    sys.stdout.write(render(rows))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
