"""The README's plugin example is real code: extract it, install it as a distribution, run it."""

import json
import re
from pathlib import Path

from bench import cli
from fakedist import install_distribution

README = (Path(__file__).parents[1] / "README.md").read_text()
TOY_SOURCE = (Path(__file__).parent / "toy.py").read_text()


def block(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)
    return next(b for b in blocks if containing in b)


def test_readme_plugin_example_installs_and_runs(monkeypatch, tmp_path, capsys):
    source = block("python", "bench_register_methods")
    toml = block("toml", "[project.entry-points.bench]")
    entry = re.search(r"^(\w+) = \"(\w+)\"$", toml, flags=re.M)
    install_distribution(monkeypatch, tmp_path, "bench-logreg", "0.1.0", {entry.group(2): source},
                         {entry.group(1): entry.group(2)})
    install_distribution(monkeypatch, tmp_path, "bench-toy", "1.0", {"bench_toy": TOY_SOURCE}, {"toy": "bench_toy"})
    assert cli.main(["plugins", "--json"]) in (0, 1)
    listed = {p["name"]: p for p in json.loads(capsys.readouterr().out)["plugins"]}
    assert listed["logreg"]["distribution"] == "bench-logreg"

    suite = tmp_path / "s.yaml"
    suite.write_text("runs: [{datasets: toy, methods: logreg, protocol: classify, budget: {epochs: 3}}]\n")
    assert cli.main(["run", str(suite), "--results-dir", str(tmp_path / "r"), "--quiet"]) == 0
    (path,) = (tmp_path / "r").rglob("*.json")
    assert json.loads(path.read_text())["metrics"]["test_accuracy"] > 80
