"""The dataset plugins' tests: the registry's datasets and an offline store in the test's folder."""

import pytest

from bench import registry
from bench.data.store import DataStore


@pytest.fixture
def datasets():
    return registry.load().datasets


@pytest.fixture
def store(tmp_path):
    return DataStore(tmp_path / "data", offline=True)
