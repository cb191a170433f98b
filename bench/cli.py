"""The ``bench`` command: plugins | run | table | figures | report | compare.

Exit codes: 0 success; 1 a run failed or a comparison found a regression; 2 bad input (suite,
arguments, unknown plugin, missing records); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EPILOG = """examples:
  bench plugins                                  what is installed
  bench run suites/quick.yaml --data-dir ../shared/data
  bench run suites/mnist.yaml --budget-scale 0.1 smoke run: every budget x 0.1
  bench run suites/quick.yaml --executor ray     one Ray task per run (pip install 'bench[ray]')
  bench run suites/cifar10.yaml --executor slurm -X partition=gpu -X timeout_min=60
  bench table results/ --format markdown
  bench figures results/ --out report/figures    restoration: one picture per image
  bench report results/ -o report/               static HTML site: leaderboards, plots, pictures
  bench report results/ -o report/ --baseline results/reference   mark regressions
  bench compare results/reference results/ --quality-tolerance 0.5 --throughput-tolerance 0.2
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
    except KeyboardInterrupt:
        print("\ninterrupted: finished runs are saved; run the same command again to resume", file=sys.stderr)
        return 130
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
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_plugins)

    p = sub.add_parser("run", help="run a suite (resumes: finished runs are skipped)", formatter_class=fmt)
    p.add_argument("suite", help="suite file, e.g. suites/quick.yaml")
    p.add_argument("--results-dir", default="results", help="where result records are written")
    p.add_argument("--data-dir", default=None,
                   help="dataset cache or mirror (default: $BENCH_DATA_DIR, else ~/.cache/bench/data)")
    p.add_argument("--offline", action="store_true", help="never download; fail with the missing file's name")
    p.add_argument("--device", default=None, help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    p.add_argument("--budget-scale", type=float, default=None,
                   help="multiply every budget (0.1 for a smoke run); overrides the suite's budget_scale")
    p.add_argument("--seeds", default=None, help="comma-separated seeds overriding the suite's, e.g. 0,1")
    p.add_argument("--compile", action="store_true", default=None,
                   help="torch.compile the models methods run (overrides the suite's compile)")
    p.add_argument("--only", action="append", default=[], metavar="TEXT",
                   help="run only specs whose label contains TEXT (repeatable)")
    p.add_argument("--executor", default=None, metavar="NAME",
                   help="how the runs are executed: local (this process), ray, slurm, or a plugin's "
                        "(default: the suite's executor, else local)")
    p.add_argument("-X", "--executor-option", action="append", default=[], metavar="KEY=VALUE",
                   help="executor option overriding the suite's, e.g. -X address=auto, -X partition=gpu "
                        "(repeatable; `bench plugins --json` lists each executor's options)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="torch intra-op threads for runs in this process (default: torch's, one per core)")
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs, run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser("gpu-check", formatter_class=fmt,
                       help="one offline check of a device: the quick suite, every method, speeds, syncs, memory",
                       description="Print the device, driver, CUDA and cuDNN; run the quick suite and every built-in "
                       "method at a smoke budget on the device (the suites' switches), counting syncs per step, peak "
                       "memory and the papers'-size speeds, eager and compiled; write device-check.json and .md "
                       "under --out (bench/devicecheck.py).")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N, cpu or mps")
    p.add_argument("--out", default="device-check", help="folder for the JSON, the table and the runs' records")
    p.add_argument("--tiny", action="store_true",
                   help="tiny models and budgets (suites/device-check/device-check-tiny.yaml; CI)")
    p.add_argument("--no-compile", action="store_true", help="skip the compiled pass (torch.compile)")
    p.add_argument("--budget-scale", type=float, default=None, help="multiply the check's budgets")
    p.add_argument("--data-dir", default=None, help="data folder (default: $BENCH_DATA_DIR); never downloads")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(handler=cmd_gpu_check)

    p = sub.add_parser("figures", help="restoration: side-by-side pictures per image across methods",
                       formatter_class=fmt)
    p.add_argument("results", nargs="?", default="results", help="results folder")
    p.add_argument("--out", default="report/figures", help="where the pictures are written")
    p.set_defaults(handler=cmd_figures)

    p = sub.add_parser("table", help="leaderboards from result records", formatter_class=fmt)
    p.add_argument("results", nargs="?", default="results", help="results folder (or one record)")
    p.add_argument("--format", choices=["text", "markdown", "csv", "json"], default="text")
    p.add_argument("--suite", default=None, help="only this suite")
    p.set_defaults(handler=cmd_table)

    p = sub.add_parser(
        "report", formatter_class=fmt,
        help="static HTML site from result records: leaderboards, plots, pictures",
        description="Write one self-contained static site (open OUT/index.html from disk, or publish the "
        "folder as it is) built from the result records alone: a sortable leaderboard per suite, "
        "dataset, protocol and setting (mean ± std over seeds, failed runs shown, published numbers "
        "beside ours), quality against throughput with the Pareto front, per-seed spread, training "
        "and PSNR-by-iteration curves, restored images and the methods' own pictures, and a page per "
        "row with its records. With --baseline, every metric carries bench compare's verdict.",
    )
    p.add_argument("results", nargs="?", default="results", help="results folder")
    p.add_argument("-o", "--out", default="report", help="folder to write the site into (empty, new, or an earlier report)")
    p.add_argument("--baseline", default=None, metavar="OLD_DIR",
                   help="mark every metric that regressed against these records beyond the noise (as bench compare)")
    p.add_argument("--suite", default=None, help="only this suite")
    _tolerance_options(p)
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser(
        "compare", formatter_class=fmt,
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
    p.add_argument("--quality-tolerance", type=float, default=0.3,
                   help="allowed absolute drop of quality metrics (accuracy points, dB)")
    p.add_argument("--throughput-tolerance", type=float, default=0.2,
                   help="allowed relative drop of throughput (0.2 = 20%%)")
    p.add_argument("--tolerance", action="append", default=[], metavar="METRIC=TOL",
                   help="per-metric tolerance: absolute (test_accuracy=0.3) or relative (train_images_per_s=10%%)")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level of the one-sided tests")


def _tolerances(args):
    from bench.compare import Tolerances

    per_metric = {}
    for item in args.tolerance:
        metric, _, value = item.partition("=")
        try:
            per_metric[metric] = ("rel", float(value[:-1]) / 100) if value.endswith("%") else ("abs", float(value))
        except ValueError:
            raise BenchError(f"--tolerance: expected METRIC=NUMBER or METRIC=NUMBER%, got {item!r}") from None
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

    reg = _registry()
    rows = []
    for name, spec in sorted(reg.datasets.items()):
        info = reg.plugin_of("dataset", name)
        rows.append({"kind": "dataset", "name": name, "type": spec.task, "tasks": spec.task,
                     "plugin": info.name, "distribution": info.distribution, "version": info.version,
                     "description": spec.description})
    for name, spec in sorted(reg.methods.items()):
        info = reg.plugin_of("method", name)
        rows.append({"kind": "method", "name": name, "type": spec.kind, "tasks": ", ".join(spec.tasks),
                     "plugin": info.name, "distribution": info.distribution, "version": info.version,
                     "description": spec.description})
    for name, spec in sorted(reg.executors.items()):
        info = reg.plugin_of("executor", name)
        missing = spec.missing()
        rows.append({"kind": "executor", "name": name, "type": "executor",
                     "tasks": f"needs: {spec.install or ', '.join(missing)}" if missing else "",
                     "plugin": info.name, "distribution": info.distribution, "version": info.version,
                     "description": spec.description, "options": spec.options,
                     "options_help": spec.options_help, "installed": not missing})
    broken = [{"plugin": b.name, "distribution": b.distribution, "error": b.error} for b in reg.broken]
    if args.json:
        print(json.dumps({"plugins": rows, "broken": broken}, indent=2))
    else:
        table = [[r["kind"], r["name"], r["type"], r["tasks"], r["plugin"], f"{r['distribution']} {r['version']}".strip()]
                 for r in rows]
        print(tabulate(table, headers=["", "name", "kind", "tasks", "plugin", "distribution"], tablefmt="simple"))
        if broken:
            print(file=sys.stderr)
        for b in broken:
            print(f"plugin {b['plugin']!r} ({b['distribution']}) failed to load: {b['error']}", file=sys.stderr)
    return 1 if broken else 0


def cmd_run(args) -> int:
    from bench.suite import SuiteError, load_suite

    seeds = None
    if args.seeds:
        try:
            seeds = [int(s) for s in args.seeds.split(",")]
        except ValueError:
            raise BenchError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if args.budget_scale is not None and args.budget_scale <= 0:
        raise BenchError(f"--budget-scale: expected a positive number, got {args.budget_scale}")
    if args.threads is not None:
        if args.threads < 1:
            raise BenchError(f"--threads: expected a positive number of threads, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    reg = _registry()
    try:
        suite = load_suite(args.suite, reg, budget_scale=args.budget_scale, seeds=seeds, device=args.device,
                           compile_models=args.compile)
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
    for problem in reg.broken:
        print(f"warning: plugin {problem.name!r} failed to load: {problem.error}", file=sys.stderr)
    executor_name, executor = _executor(args, suite, reg)

    from bench.records import ResultStore

    store = ResultStore(args.results_dir)
    if args.dry_run:
        for spec in specs:
            state = "done" if store.is_done(spec) else "to run"
            print(f"{spec.label}  budget {spec.budget}  [{state}]  {store.path_for(spec)}")
        print(f"executor: {executor_name}")
        return 0

    from bench.data.store import DataStore
    from bench.executors import ExecutorError, Job
    from bench.progress import Progress

    data_store = DataStore(args.data_dir, offline=True if args.offline else None)
    progress = Progress(quiet=args.quiet)
    progress.message(f"suite {suite.name}: {len(specs)} runs -> {store.root} (executor {executor_name})")
    job = Job(suite=suite.name, specs=specs, registry=reg, store=store, data_dir=data_store.root,
              offline=bool(data_store.offline), progress=progress)
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
        raise BenchError(f"no result records under {args.results}" + (f" for suite {args.suite!r}" if args.suite else ""))
    sys.stdout.write(render(leaderboard(groups), args.format))
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
    if not report.tables:
        raise BenchError(f"no result records under {args.results}" + (f" for suite {args.suite!r}" if args.suite else ""))
    print(f"{len(report.tables)} leaderboards from {report.record_count} records, {site.plots} plots, "
          f"{site.pictures} pictures, {len(site.pages) - 1} record pages -> {site.index}")
    for missing in site.missing:
        print(f"warning: artifact listed in a record but missing: {missing}", file=sys.stderr)
    if report.baseline is not None:
        regressions = [d for d in report.deltas if d.verdict == "REGRESSION"]
        print(f"against {report.baseline}: " + (f"{len(regressions)} regression(s) marked" if regressions else "no regressions"))
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
