"""Make this checkout runnable from the tree by the Python that runs this, offline (``make gpu-check``).

A lent GPU machine has its own CUDA build of torch and no network: ``make install`` (a fresh venv,
torch 2.13.0 from the index) cannot work there, and neither may ``pip install -e .`` (an old
setuptools without ``wheel`` cannot build it). Nothing is installed: this script

1. checks the libraries the device check imports and names the missing ones (with ``--wheels
   DIR`` it first installs them from that folder of wheels, ``pip --no-index``);
2. writes ``build/offline/`` (``--into``): links to ``bench/`` and ``plugins/`` (as
   ``bench_plugins``) and a ``dist-info`` with the entry points of ``pyproject.toml``, so that
   ``PYTHONPATH=build/offline python -m bench`` finds the built-in plugins as an install would;
3. prints torch's version and what it sees of CUDA, and the optional libraries it lacks (the
   check skips their methods and says why).

Exit status 0 when the check can run, 2 when a required library is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TREE = Path(__file__).resolve().parent.parent
#: import name -> distribution name, for what the device check imports.
REQUIRED = {
    "torch": "torch",
    "numpy": "numpy",
    "pluggy": "pluggy",
    "yaml": "pyyaml",
    "tabulate": "tabulate",
    "filelock": "filelock",
    "torchmetrics": "torchmetrics",
    "lightning_utilities": "lightning-utilities",  # torchmetrics' own
    "packaging": "packaging",
    "PIL": "pillow",
}
OPTIONAL = {
    "bm3d": "bm3d (the bm3d method)",
    "matplotlib": "matplotlib (the PSNR curve pictures; curve.json has the numbers)",
    "scipy": "scipy (SVHN's .mat files, bench compare's tests)",
}


def missing() -> list[str]:
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def install_from(wheels: str, modules: list[str]) -> None:
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    names = [REQUIRED[m] for m in modules]
    # --no-deps: what they need is in REQUIRED (pip's resolver would otherwise re-check torch's own
    # requirements against the wheels and give up on a build of torch that declares others).
    install = ["install", "--no-deps", "--no-index", "--find-links", wheels, *names]
    subprocess.call([sys.executable, "-m", "pip", *install], env=env)
    importlib.invalidate_caches()


def entry_points(pyproject: str) -> str:
    """pyproject's ``[project.entry-points.*]`` and ``[project.scripts]`` tables as an
    ``entry_points.txt`` (the same INI layout; Python 3.10 has no TOML reader)."""
    out, section = [], None
    for line in pyproject.splitlines():
        header = re.fullmatch(r"\[project\.(entry-points\.([\w.-]+)|scripts)\]", line.strip())
        if header:
            section = header.group(2) or "console_scripts"
            out.append(f"[{section}]")
        elif line.startswith("["):
            section = None
        elif section and (entry := re.fullmatch(r'\s*([\w.-]+)\s*=\s*"([^"]+)"\s*', line)):
            out.append(f"{entry.group(1)} = {entry.group(2)}")
    return "\n".join(out) + "\n"


def write_tree_env(into: Path) -> None:
    """``into`` on PYTHONPATH runs bench from this checkout with its plugins (see the docstring)."""
    text = (TREE / "pyproject.toml").read_text()
    version = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M).group(1)
    if into.exists():
        shutil.rmtree(into)
    info = into / f"bench-{version}.dist-info"
    info.mkdir(parents=True)
    (into / "bench").symlink_to(TREE / "bench", target_is_directory=True)
    (into / "bench_plugins").symlink_to(TREE / "plugins", target_is_directory=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: bench\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points(text))
    (info / "top_level.txt").write_text("bench\nbench_plugins\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--into", default=str(TREE / "build" / "offline"), help="the folder to put on PYTHONPATH")
    parser.add_argument("--wheels", default=None, help="a folder of wheels to install missing libraries from")
    args = parser.parse_args(argv)
    lacking = missing()
    if lacking and args.wheels and Path(args.wheels).is_dir():
        install_from(args.wheels, lacking)
        lacking = missing()
    if lacking:
        names = " ".join(REQUIRED[m] for m in lacking)
        print(
            f"offline setup: {sys.executable} lacks {names}; install them without network "
            f"(pip install --no-index --find-links WHEELS {names}, or WHEELS=DIR here)",
            file=sys.stderr,
        )
        return 2
    write_tree_env(Path(args.into))
    import torch

    cuda = (
        f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s)" if torch.cuda.is_available() else "no CUDA"
    )
    print(f"offline setup: torch {torch.__version__} ({cuda}); bench runs from {TREE} (PYTHONPATH={args.into})")
    optional = [why for name, why in OPTIONAL.items() if importlib.util.find_spec(name) is None]
    if optional:
        print("offline setup: optional libraries missing (their methods are skipped): " + ", ".join(optional))
    return 0


if __name__ == "__main__":
    sys.exit(main())
