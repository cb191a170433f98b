"""The command line stays light: `bench --help` imports neither torch nor any plugin."""

import subprocess
import sys


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
