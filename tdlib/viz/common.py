"""Shared plotting bits: captions that name the profile, style, and result tables."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

KIND_COLORS = {"human": "tab:blue", "random": "tab:gray", "discovered": "tab:red",
               "randnet": "tab:orange", "cue": "tab:green", "greenpixel": "tab:green"}


# Figures that put results of several experiments side by side: (function, experiments). Each
# checks its inputs with :func:`tdlib.records.same_recipe` and says so in the caption where they
# differ; ``tests/test_records.py`` checks that no stored comparison mixes recipes.
COMPARISONS = {"sec4.plot_random_networks": ("e7", "e5")}


def recipe_note(store, others=()) -> str:
    """'' when ``store`` and ``others`` share one recipe, else a warning naming the differences."""
    from ..records import same_recipe
    diffs = same_recipe(store, *others, strict=False) if others else []
    return ("RECIPES DIFFER, compare with care: " + "; ".join(diffs)) if diffs else ""


def caption(fig, store, extra: str = "", others=()) -> None:
    """Put 'made by profile X on device Y ...' under a figure (and a warning if ``others``, shown in the
    same figure, were made with another recipe)."""
    note = recipe_note(store, [o for o in others if o is not None])
    text = "; ".join(t for t in (note, f"Results: {store.caption()}", extra) if t)
    fig.text(0.01, -0.02, text, fontsize=7, color="0.35", ha="left", va="top", wrap=True)


def summarize(values) -> str:
    v = np.asarray(values, dtype=float)
    return f"{v.mean():.3f} ± {v.std():.3f} (n={len(v)})" if len(v) else "n/a"


def new_fig(ncols=1, width=4.5, height=3.2):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def as_bins(groups: dict, n: int = 31):
    """Histogram bins for AS values from 0.4 (or lower, since AS can fall below 0.5) to 1."""
    lo = min([0.4] + [v for vals in groups.values() for v in vals])
    return np.linspace(np.floor(lo * 20) / 20, 1.0, n)
