"""`make gpu-check` on a machine without network: no venv, no index, the torch already installed."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TREE = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("offline_setup", TREE / "tools" / "offline_setup.py")
offline_setup = importlib.util.module_from_spec(spec)
spec.loader.exec_module(offline_setup)


def test_make_gpu_check_neither_makes_a_venv_nor_installs_anything():
    out = subprocess.run(
        ["make", "-n", "-C", str(TREE), "gpu-check", "CHECK_PYTHON=/lent/bin/python", "DEVICE=cuda", "OUT=o"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    commands = [line for line in out.splitlines() if line.strip() and not line.startswith("make")]
    offline = TREE / "build" / "offline"
    assert commands == [
        f"/lent/bin/python tools/offline_setup.py --into {offline} ",
        f"PYTHONPATH={offline} /lent/bin/python -m bench gpu-check --device cuda --out o ",
    ]


def test_the_tree_env_gives_bench_its_plugins_without_installing_it(tmp_path):
    into = tmp_path / "offline"
    assert offline_setup.main(["--into", str(into)]) == 0
    code = (
        "import json, bench, bench_plugins.methods.dip as dip; from importlib import metadata; "
        "print(json.dumps([bench.__file__, dip.__file__, sorted(e.name for e in metadata.entry_points(group='bench'))]))"
    )
    env = {**os.environ, "PYTHONPATH": str(into)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    bench_file, dip_file, names = json.loads(out.stdout)
    assert Path(bench_file).resolve() == TREE / "bench" / "__init__.py"
    assert Path(dip_file).resolve() == TREE / "plugins" / "methods" / "dip.py"
    assert {"dip", "zssr", "mae", "classical", "cifar"} <= set(names)


def test_a_missing_library_is_named_with_the_offline_remedy(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(offline_setup, "REQUIRED", {**offline_setup.REQUIRED, "no_such_module_x": "no-such-dist"})
    assert offline_setup.main(["--into", str(tmp_path / "o")]) == 2
    assert "lacks no-such-dist; install them without network" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_the_check_runs_in_a_fresh_environment_with_pips_index_disabled(tmp_path):
    """A fresh venv (no system site-packages) that sees this machine's torch and libraries but not
    bench, as a lent GPU machine would: `make gpu-check` runs bench from the tree, offline."""
    import torch

    fresh = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True, capture_output=True)
    libraries = tmp_path / "installed"  # this venv's site-packages less bench itself and bm3d
    libraries.mkdir()
    for entry in Path(torch.__file__).parents[1].iterdir():
        if not entry.name.startswith(("bench", "__editable__", "bm3d", "bm4d")):
            (libraries / entry.name).symlink_to(entry)
    site = next(fresh.glob("lib/python*/site-packages"))
    (site / "installed-libraries.pth").write_text(f"{libraries}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS="", PIP_CONFIG_FILE=os.devnull)
    out = tmp_path / "check"
    done = subprocess.run(
        [
            "make",
            "-C",
            str(TREE),
            "gpu-check",
            f"CHECK_PYTHON={fresh / 'bin' / 'python'}",
            "DEVICE=cpu",
            f"OUT={out}",
            "GPU_CHECK_FLAGS=--tiny --quiet --only bicubic --only bm3d",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "bench runs from" in done.stdout and not list(site.glob("*bench*"))  # nothing installed
    rows = json.loads((out / "device-check.json").read_text())["runs"]
    assert {(r["method"], r["status"]) for r in rows} == {("bicubic", "ok"), ("bm3d", "skipped")}
    assert "bm3d (the bm3d method)" in done.stdout  # named before the check, skipped with its reason in it


def test_a_restoration_run_without_matplotlib_keeps_its_curve_numbers(tmp_path, monkeypatch):
    from bench.protocols import restore

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as on a machine without it: import fails
    restore._plot_curve(tmp_path / "psnr_curve.png", [{"iteration": 0, "psnr": 20.0}], "dip", {})
    assert not (tmp_path / "psnr_curve.png").exists()
