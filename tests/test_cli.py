"""The command line stays light: `bench --help` imports neither torch nor any plugin."""

import subprocess
import sys

import pytest


def test_help_imports_no_heavy_modules():
    code = (
        "import sys\nfrom bench import cli\ntry:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'torchmetrics', 'scipy', 'numpy', 'bench_plugins') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out and "compare" in out


def test_run_help_documents_the_resume_and_smoke_switches(capsys):
    from bench import cli

    try:
        cli.main(["run", "--help"])
    except SystemExit as exit:
        assert exit.code == 0
    out = capsys.readouterr().out
    assert "--budget-scale" in out and "--results-dir" in out and "--offline" in out


def test_run_help_documents_keep_stale(capsys):
    from bench import cli

    try:
        cli.main(["run", "--help"])
    except SystemExit as exit:
        assert exit.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--keep-stale" in out and "made by other code" in out


def test_compare_refuses_a_tolerance_that_is_not_a_finite_non_negative_number(tmp_path, capsys):
    # NaN would let every change pass unseen, a negative tolerance flag every metric: both typos.
    from bench import cli

    for extra, expected in (
        (["--tolerance", "accuracy=nan"], "--tolerance: expected a finite number >= 0, got 'accuracy=nan'"),
        (["--tolerance", "accuracy=-5%"], "--tolerance: expected a finite number >= 0"),
        (["--tolerance", "=0.5"], "--tolerance: expected METRIC=NUMBER or METRIC=NUMBER%, got '=0.5'"),
        (["--quality-tolerance", "inf"], "--quality-tolerance: expected a finite number >= 0, got inf"),
        (["--throughput-tolerance", "-0.2"], "--throughput-tolerance: expected a finite number >= 0, got -0.2"),
    ):
        code = cli.main(["compare", str(tmp_path), str(tmp_path), *extra])
        err = capsys.readouterr().err
        assert code == 2 and expected in err, (extra, code, err)
    with pytest.raises(SystemExit):  # argparse itself refuses a value that is no number
        cli.main(["compare", str(tmp_path), str(tmp_path), "--quality-tolerance", "x"])
