"""Install a throw-away distribution on sys.path: a package folder plus a real .dist-info, which
importlib.metadata (and so the bench registry) discovers exactly like a pip-installed plugin."""

from functools import cache, lru_cache
from pathlib import Path

from bench import identity


def install_distribution(
    monkeypatch, root: Path, name: str, version: str, modules: dict[str, str], entry_points: dict[str, str]
) -> Path:
    site = root / f"site-{name}"
    site.mkdir(parents=True)
    for module, source in modules.items():
        path = site / (module.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "\n".join(f"{ep} = {target}" for ep, target in entry_points.items())
    (dist_info / "entry_points.txt").write_text(f"[bench]\n{lines}\n")
    monkeypatch.syspath_prepend(str(site))
    # Fresh identity caches while the distribution is installed; the test's teardown puts back the
    # ones from before, so later tests do not see its entry points (their records would read stale).
    monkeypatch.setattr(identity, "_entry_points", lru_cache(maxsize=1)(identity._entry_points.__wrapped__))
    monkeypatch.setattr(identity, "_plugin", cache(identity._plugin.__wrapped__))
    return site
