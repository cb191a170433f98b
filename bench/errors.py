"""PluginError: a leaf, so the registry that raises it and the executor contract
(:mod:`bench.executors`) that turns it into an ``ExecutorError`` need no other host module for it."""

from __future__ import annotations


class PluginError(Exception):
    """A look-up or registration problem, phrased for a person."""
