import pathlib
import sys

import pytest

# The helpers the tests import (toy, planted, runs, ...) by their names. tests/ is itself a package,
# so pytest imports a test folder as tests.html, not as a top-level html that would shadow the
# standard library's (tests/html/ mirrors bench/html/); appended, not prepended, for the same reason.
sys.path.append(str(pathlib.Path(__file__).parent))

#: The real dataset copies, beside the checkout as in CI (../shared/data), or BENCH_SHARED_DATA.
SHARED_DATA = pathlib.Path(
    __import__("os").environ.get("BENCH_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture
def shared_data() -> pathlib.Path:
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"real dataset copies not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def plugins(monkeypatch, tmp_path) -> pathlib.Path:
    """`bench` commands run in this process (and its children) see the toy and fault plugins."""
    from installed import install_toy_plugins

    return install_toy_plugins(monkeypatch, tmp_path)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the user's data cache or downloads by accident."""
    monkeypatch.setenv("BENCH_DATA_DIR", str(tmp_path / "data-cache"))
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "download-cache"))
    monkeypatch.delenv("BENCH_MIRRORS", raising=False)
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    monkeypatch.delenv("BENCH_PLUGINS", raising=False)


@pytest.fixture
def reg():
    """The registry with the toy plugin (tests/toy.py) beside the built-in ones."""
    import toy
    from bench import registry

    return registry.load(extra_plugins=[("toy", toy)])
