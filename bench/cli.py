"""The ``bench`` command: plugins | protocols | check | run | table | figures | report | compare.

Exit codes: 0 success; 1 a run failed or a comparison found a regression; 2 bad input (suite,
arguments, unknown plugin, missing records); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

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
        return args.handler(args)
    except KeyboardInterrupt as exc:  # bench.runner.Interrupted names the signal (SIGINT, SIGTERM)
        how = f" by {exc}" if hasattr(exc, "exit_code") else ""
        print(f"\ninterrupted{how}: finished runs are saved; run the same command again to resume", file=sys.stderr)
        return getattr(exc, "exit_code", 130)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


class BenchError(Exception):
    """A problem with the user's input: printed as one message, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench",
        description="Benchmark vision methods that learn from little or no labelled data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from bench import __version__

    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    fmt = argparse.ArgumentDefaultsHelpFormatter

    p = sub.add_parser("plugins", help="list datasets, methods and executors with their plugins", formatter_class=fmt)
    p.add_argument(
        "name",
        nargs="?",
        default=None,
        help="a plugin, method, dataset or executor: show its page (params with defaults, "
        "allowed values and help, budgets, published numbers)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (every declaration)")
    p.set_defaults(handler=cmd_plugins)

    p = sub.add_parser("protocols", help="list the host's evaluation protocols and their options", formatter_class=fmt)
    p.add_argument("name", nargs="?", default=None, help="one protocol")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_protocols)

    p = sub.add_parser(
        "check",
        help="contract tests of plugins' methods: registration, params, tiny runs, reproducibility, budget",
        formatter_class=fmt,
    )
    p.add_argument("names", nargs="*", metavar="PLUGIN", help="plugins or methods to check (default: every method)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.set_defaults(handler=cmd_check)

    p = sub.add_parser("run", help="run a suite (resumes: finished runs are skipped)", formatter_class=fmt)
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

    p = sub.add_parser(
        "gpu-check",
        formatter_class=fmt,
        help="one offline check of a device: the quick suite, every method, speeds, syncs, memory",
        description="Print the device, driver, CUDA and cuDNN; run the quick suite and every built-in "
        "method at a smoke budget on the device (the suites' switches), counting syncs per step, peak "
        "memory and the papers'-size speeds, eager and compiled; write device-check.json and .md "
        "under --out (bench/devicecheck.py).",
    )
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu or mps")
    p.add_argument("--out", default="device-check", help="folder for the JSON, the table and the runs' records")
    p.add_argument(
        "--tiny", action="store_true", help="tiny models and budgets (suites/device-check/device-check-tiny.yaml; CI)"
    )
    p.add_argument("--no-compile", action="store_true", help="skip the compiled pass (torch.compile)")
    p.add_argument("--budget-scale", type=float, default=None, help="multiply the check's budgets")
    p.add_argument("--data-dir", default=None, help="data folder (default: $BENCH_DATA_DIR); never downloads")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=cmd_gpu_check)

    p = sub.add_parser(
        "figures", help="restoration: side-by-side pictures per image across methods", formatter_class=fmt
    )
    p.add_argument("results", nargs="?", default="results", help="results folder")
    p.add_argument("--out", default="report/figures", help="where the pictures are written")
    p.set_defaults(handler=cmd_figures)

    p = sub.add_parser("table", help="leaderboards from result records", formatter_class=fmt)
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

    p = sub.add_parser(
        "report",
        formatter_class=fmt,
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
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser(
        "compare",
        formatter_class=fmt,
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
    p.set_defaults(handler=cmd_compare)
    return parser


def _tolerance_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--quality-tolerance",
        type=float,
        default=0.3,
        help="allowed absolute drop of quality metrics (accuracy points, dB)",
    )
    p.add_argument(
        "--throughput-tolerance", type=float, default=0.2, help="allowed relative drop of throughput (0.2 = 20%%)"
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
    allowed("--quality-tolerance", args.quality_tolerance, args.quality_tolerance)
    allowed("--throughput-tolerance", args.throughput_tolerance, args.throughput_tolerance)
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
            raise BenchError(f"no plugin, method, dataset or executor named {args.name!r}; known: {', '.join(known)}")
        if args.json:
            rows = [r for r in listing["plugins"] if args.name in (r["name"], r["plugin"])]
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
            print(f"plugin {b['plugin']!r} ({b['distribution']}) failed to load: {b['error']}", file=sys.stderr)
    return 1 if broken else 0


def cmd_check(args) -> int:
    import warnings

    from bench.check import check
    from bench.registry import PluginError

    with warnings.catch_warnings():
        # An author checking a plugin must see its deprecated forms (Python hides them by default).
        warnings.filterwarnings("default", category=DeprecationWarning, module="bench.registry")
        warnings.filterwarnings("default", message="RestoreContext.log", category=DeprecationWarning)
        try:
            report = check(_registry(), args.names, device=args.device, say=print)
        except PluginError as exc:
            raise BenchError(str(exc)) from None
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    print(f"{len(report.checked)} methods checked, {len(report.failures)} rules broken")
    return 0 if report.ok else 1


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
    from bench.runner import stop_on_signals

    with stop_on_signals():  # SIGTERM (Slurm, Kubernetes, CI) stops as Ctrl-C does
        return _run(args)


def _run(args) -> int:
    from bench.suite import SuiteError, load_suite

    seeds = None
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise BenchError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    # --seeds, --budget-scale and --device are checked by load_suite, as strictly as the file's values.
    if args.threads is not None:
        if args.threads < 1:
            raise BenchError(f"--threads: expected a positive number of threads, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    reg = _registry()
    try:
        suite = load_suite(
            args.suite,
            reg,
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
    from bench.context import pick_device

    try:
        for device in sorted({spec.device for spec in suite.runs}):
            pick_device(device)
    except RuntimeError as exc:
        raise BenchError(f"{exc}; use --device cpu, or leave the device on auto") from None
    specs = suite.runs
    if args.only:
        specs = [s for s in specs if any(text in s.label for text in args.only)]
        if not specs:  # a typo must not pass for a finished suite
            examples = "; ".join(s.label for s in suite.runs[:3])
            raise BenchError(
                f"--only {' / '.join(map(repr, args.only))} matches none of the suite's "
                f"{len(suite.runs)} runs (labelled like: {examples})"
            )
    for problem in reg.broken:
        print(f"warning: plugin {problem.name!r} failed to load: {problem.error}", file=sys.stderr)
    executor_name, executor = _executor(args, suite, reg)

    from bench import identity
    from bench.records import ResultStore

    store = ResultStore(args.results_dir, stale=None if args.keep_stale else identity.against(reg))
    states = [_state(store, reg, spec, args.keep_stale) for spec in specs]
    stale = [state for state in states if state.startswith("stale")]
    if args.dry_run:
        for spec, state in zip(specs, states):
            print(f"{spec.label}  budget {spec.budget}  [{state}]  {store.path_for(spec)}")
        if stale:
            print(f"{len(stale)} finished runs are stale and will run again (--keep-stale keeps them)")
        print(f"executor: {executor_name}")
        return 0

    from bench.data.store import DataError, DataStore
    from bench.executors import ExecutorError, Job
    from bench.progress import Progress

    try:
        data_store = DataStore(args.data_dir, offline=True if args.offline else None)
    except DataError as exc:
        raise BenchError(str(exc)) from None
    progress = Progress(quiet=args.quiet)
    progress.message(f"suite {suite.name}: {len(specs)} runs -> {store.root} (executor {executor_name})")
    orphans = store.remove_orphans()
    if orphans:
        progress.message(f"removed {len(orphans)} unfinished record writes (*.tmp) left by a killed run")
    if stale:
        reasons = ", ".join(sorted({state.partition(": ")[2] for state in stale}))
        progress.message(
            f"{len(stale)} finished runs are stale ({reasons}): running them again (--keep-stale keeps them)"
        )
    job = Job(
        suite=suite.name,
        specs=specs,
        registry=reg,
        store=store,
        data_dir=data_store.root,
        offline=bool(data_store.offline),
        progress=progress,
    )
    try:
        outcome = executor.run(job)
    except ExecutorError as exc:  # the engine refused before running anything (no sbatch, no cluster)
        raise BenchError(str(exc)) from None
    progress.message(
        f"suite {suite.name}: {len(outcome.ran)} ran, {len(outcome.failed)} failed, "
        f"{len(outcome.skipped)} already done, {len(outcome.busy)} running elsewhere"
    )
    for label in outcome.failed:
        progress.message(f"  failed: {label} (traceback in its record; run again to retry)")
    if not args.quiet:
        from bench.report import leaderboard, load_groups, render

        groups = [g for g in load_groups(store.root) if g.suite == suite.name]
        if groups:
            print(render(leaderboard(groups), "text"))
    return outcome.exit_code


def _state(store, reg, spec, keep_stale: bool) -> str:
    """A run's state for the listing: done, to run, or stale (finished by other code) and why."""
    from bench import identity

    record = store.read(spec)
    if not record or record.get("status") != "ok":
        return "to run"
    reason = identity.stale_reason(record, identity.of_run(reg, spec))
    if reason is None:
        return "done"
    return f"done, kept though stale: {reason}" if keep_stale else f"stale: {reason}"


def _executor(args, suite, reg):
    """The executor the command line or the suite names, its options checked and its engine
    present: (name, executor). Nothing has run yet when this fails."""
    from bench import executors

    chosen = suite.executor or {"name": executors.DEFAULT, "options": {}}
    name = args.executor or chosen["name"]
    options = dict(chosen["options"]) if name == chosen["name"] else {}
    try:
        options.update(executors.parse_option(item) for item in args.executor_option)
        spec, options = executors.resolve(reg, name, options, where="--executor: " if args.executor else "")
        executors.check_engine(spec)
        return name, spec.make(options)
    except executors.ExecutorError as exc:
        raise BenchError(str(exc)) from None


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

    found = perimage.from_groups(groups)
    if not found:
        raise BenchError(f"no restoration records with per-image scores under {args.results}")
    sys.stdout.write(perimage.render(found, args.format))
    return 0


def cmd_report(args) -> int:
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
    deltas = compare(args.base, args.new, tolerances)
    if not deltas:
        raise BenchError(f"no result records to compare under {args.base}")
    sys.stdout.write(render_deltas(deltas, tolerances))
    failing = {"REGRESSION"} | (set() if args.allow_missing else {"missing"})
    return 1 if any(d.verdict in failing for d in deltas) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
