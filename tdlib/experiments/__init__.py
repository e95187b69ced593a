"""Experiments E1-E22 of the paper (see each submodule), stored with provenance.

Each section module registers its experiments with :func:`register`; :func:`get` returns the
stored result of the best profile (``profile="auto"``) or computes one, missing entries only.
Submodules are found automatically, so a new section adds a file and nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil

from ..config import get_profile
from ..results import ResultStore, best_stored

EXPERIMENTS: dict = {}


def register(name: str):
    """Decorator: ``fn(profile, data_path=None) -> ResultStore`` computes experiment ``name``."""
    def deco(fn):
        EXPERIMENTS[name] = fn
        return fn
    return deco


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def get(name: str, profile="auto", data_path=None, **overrides) -> ResultStore:
    """Result of experiment ``name``: with ``profile="auto"``, the best stored one (paper, then
    cpu), else computed at ``smoke``; with a named profile (or a Profile), computed (only missing
    entries)."""
    _load_all()
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    if profile == "auto":
        store = best_stored(name)
        if store is not None and not overrides:
            return store
        profile = "smoke"
    return EXPERIMENTS[name](get_profile(profile, **overrides), data_path=data_path)


def names() -> list:
    _load_all()
    return sorted(EXPERIMENTS)
