"""Install a throw-away distribution on sys.path: a package folder plus a real .dist-info, which
importlib.metadata (and so the bench registry) discovers exactly like a pip-installed plugin."""

from pathlib import Path


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
    return site
