"""Uncertainty of a comparison over tasks (issues 18, 21): a paired difference of per-task values.

Two groups of tasks measured on the same units (E5: the same hyperplane on the trained and on the
untrained encoder) give a paired difference ``a_i - b_i``; its mean gets a bootstrap percentile
interval over the tasks and an exact sign-flip permutation p-value (all ``2^n`` sign patterns up to
n = 16, else 20,000 random ones). Unpaired groups (different tasks) resample each group on its own.
"""
from __future__ import annotations

import itertools

import numpy as np


def _sign_flip_p(d: np.ndarray, rng) -> float:
    """Two-sided p of the mean of ``d`` under random signs (the paired permutation test)."""
    n = len(d)
    obs = abs(d.mean())
    if n <= 16:
        signs = np.array(list(itertools.product([1.0, -1.0], repeat=n)))
    else:
        signs = rng.choice([1.0, -1.0], size=(20_000, n))
    return float(np.mean(np.abs((signs * d).mean(1)) >= obs - 1e-12))


def paired_difference(a, b, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> dict:
    """Mean of ``a - b`` over paired tasks, its bootstrap interval at ``level`` and the exact sign-flip
    p-value. ``{"n", "mean", "low", "high", "p", "paired": True}``; NaN values drop their pair."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired groups need the same length, got {a.shape} and {b.shape}")
    d = (a - b)[np.isfinite(a) & np.isfinite(b)]
    if len(d) < 2:
        return {"n": int(len(d)), "mean": float(d.mean()) if len(d) else float("nan"),
                "low": float("nan"), "high": float("nan"), "p": float("nan"), "paired": True}
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(1)
    q = (1 - level) / 2
    return {"n": int(len(d)), "mean": float(d.mean()), "low": float(np.quantile(boots, q)),
            "high": float(np.quantile(boots, 1 - q)), "p": _sign_flip_p(d, rng), "paired": True}


def unpaired_difference(a, b, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> dict:
    """Difference of the means of two independent groups with a bootstrap interval (each group
    resampled on its own) and a permutation p-value of the labels (20,000 shuffles)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        return {"n": [int(len(a)), int(len(b))], "mean": float(a.mean() - b.mean()) if len(a) and len(b)
                else float("nan"), "low": float("nan"), "high": float("nan"), "p": float("nan"), "paired": False}
    rng = np.random.default_rng(seed)
    boots = (a[rng.integers(0, len(a), (n_boot, len(a)))].mean(1)
             - b[rng.integers(0, len(b), (n_boot, len(b)))].mean(1))
    both, obs = np.concatenate([a, b]), abs(a.mean() - b.mean())
    perms = np.array([rng.permutation(both) for _ in range(20_000)])
    null = np.abs(perms[:, :len(a)].mean(1) - perms[:, len(a):].mean(1))
    q = (1 - level) / 2
    return {"n": [int(len(a)), int(len(b))], "mean": float(a.mean() - b.mean()),
            "low": float(np.quantile(boots, q)), "high": float(np.quantile(boots, 1 - q)),
            "p": float(np.mean(null >= obs - 1e-12)), "paired": False}


def bootstrap_statistic(values, fn, level: float = 0.95, n_boot: int = 2_000, seed: int = 0) -> dict:
    """``fn`` of the rows of ``values`` (units: tasks, images), with a bootstrap percentile interval
    over the rows: ``{"n", "value", "low", "high"}`` (NaN bounds with fewer than 2 rows)."""
    v = np.asarray(values, float)
    val = float(fn(v)) if len(v) else float("nan")
    if len(v) < 2:
        return {"n": int(len(v)), "value": val, "low": float("nan"), "high": float("nan")}
    rng = np.random.default_rng(seed)
    boots = np.array([fn(v[rng.integers(0, len(v), len(v))]) for _ in range(n_boot)], float)
    q = (1 - level) / 2
    return {"n": int(len(v)), "value": val, "low": float(np.quantile(boots, q)),
            "high": float(np.quantile(boots, 1 - q))}
