"""Shared plotting bits: captions that name the profile, style, and result tables."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

KIND_COLORS = {"human": "tab:blue", "random": "tab:gray", "discovered": "tab:red",
               "randnet": "tab:orange", "cue": "tab:green", "greenpixel": "tab:green",
               "untrained": "tab:purple", "unseen": "tab:brown"}


def caption(fig, store, extra: str = "") -> None:
    """Put 'made by profile X on device Y ...' under a figure."""
    fig.text(0.01, -0.02, f"Results: {store.caption()}{'; ' + extra if extra else ''}",
             fontsize=7, color="0.35", ha="left", va="top")


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
