"""Figures of Sec. 3.2 (Fig. 1-center, Fig. 2) from stored E1-E4 results."""
from __future__ import annotations

import numpy as np

from .common import recipe as _recipe
from .common import as_bins, caption, html_table, kind_color, new_fig, summarize


def _by_kind(entries: dict, prefix: str = "") -> dict:
    out = {}
    for key, e in entries.items():
        if key.startswith(prefix):
            out.setdefault(e["kind"], []).append(e["agreement"])
    return out


def recipe(store) -> str:
    """The training recipe a stored Sec. 3 result was made with (see :func:`.common.recipe`)."""
    return _recipe(store)


def as_table(store):
    """AS, train and test accuracy of each kind of task, as 'mean ± std (n)' (an HTML table)."""
    out = {}
    names = {"agreement": "AS", "train_acc": "train accuracy", "test_acc": "test accuracy"}
    for key, col in names.items():
        groups = {}
        for e in store.entries.values():
            groups.setdefault(e["kind"], []).append(e[key])
        for kind, vals in groups.items():
            out.setdefault(kind, {})[col] = summarize(vals)
    return html_table(out, index_name="tasks", caption=f"{store.data['experiment'].upper()}: mean ± std over tasks (n tasks)", store=store)


def facts(store) -> dict:
    """Numbers the page's prose quotes (glued), from a stored E1: mean AS per kind, the gap, and the
    mean train accuracy per kind; keys ``e1_as_human``, ``e1_gap``, ``e1_train_acc_random``..."""
    exp = store.data["experiment"]
    out = {}
    for key, name in (("agreement", "as"), ("train_acc", "train_acc"), ("test_acc", "test_acc")):
        groups = {}
        for e in store.entries.values():
            groups.setdefault(e["kind"], []).append(e[key])
        out.update({f"{exp}_{name}_{k}": float(np.mean(v)) for k, v in groups.items()})
    if "human" in _by_kind(store.entries) and "random" in _by_kind(store.entries):
        out[f"{exp}_gap"] = gap(store)
    from ..experiments import training_params
    p = training_params(exp, store.data.get("params", {}))      # Sec. 3's own networks where it has them
    for f in ("epochs", "width", "sec3_n_train", "n_train", "fit_stop", "lr_schedule"):
        if p.get(f) is not None:
            out[f"{exp}_{f}"] = p[f]
    accs = {}
    for e in store.entries.values():
        if isinstance(e, dict) and e.get("train_acc") is not None:
            accs.setdefault(e["kind"], []).append(e["train_acc"])
    out.update({f"{exp}_min_train_acc_{k}": float(min(v)) for k, v in accs.items()})
    return out


def plot_human_vs_random(store):
    """Fig. 1-center / 2-left: histogram of AS for human- vs random-labelled tasks."""
    fig, (ax,) = new_fig(height=3.6)
    groups = _by_kind(store.entries)
    bins = as_bins(groups)
    for kind, vals in groups.items():
        ax.hist(vals, bins=bins, alpha=0.7, color=kind_color(kind), label=f"{kind} (mean {np.mean(vals):.2f})")
    ax.axvline(0.5, ls=":", c="k", lw=1)
    ax.set(xlabel="agreement score", ylabel="tasks", title="AS: human vs random tasks")
    ax.legend()
    caption(fig, store)
    return fig


def _grouped(store, order=None):
    """{group: {kind: [AS]}} for keys 'group/task'."""
    out = {}
    for key, e in store.entries.items():
        group = key.split("/")[0]
        out.setdefault(group, {}).setdefault(e["kind"], []).append(e["agreement"])
    if order:
        out = {g: out[g] for g in order if g in out}
    return out


def plot_grouped(store, title: str, xlabel: str, order=None, numeric: bool = False):
    """AS per group (architecture, train size, stochasticity) for each kind of task: mean and points."""
    groups = _grouped(store, order)
    if numeric:
        groups = dict(sorted(groups.items(), key=lambda kv: int(kv[0])))
    fig, (ax,) = new_fig(height=3.6)
    xs = np.arange(len(groups))
    kinds = sorted({k for g in groups.values() for k in g})
    for j, kind in enumerate(kinds):
        off = (j - (len(kinds) - 1) / 2) * 0.2
        means = [np.mean(g.get(kind, [np.nan])) for g in groups.values()]
        for x, g in zip(xs, groups.values()):
            vals = g.get(kind, [])
            ax.scatter(np.full(len(vals), x + off), vals, s=12, color=kind_color(kind), alpha=0.6)
        ax.plot(xs + off, means, "o-" if numeric else "o", color=kind_color(kind), label=kind, ms=7)
    ax.set_xticks(xs, list(groups))
    ax.axhline(0.5, ls=":", c="k", lw=1)
    lo = min([0.4] + [v for g in groups.values() for vals in g.values() for v in vals])
    ax.set(xlabel=xlabel, ylabel="agreement score", title=title, ylim=(lo - 0.03, 1.02))
    ax.legend()
    caption(fig, store)
    return fig


def gap(store, prefix: str = "") -> float:
    """Mean AS of human tasks minus mean AS of random tasks."""
    g = _by_kind(store.entries, prefix)
    return float(np.mean(g["human"]) - np.mean(g["random"]))


def architecture_table(store=None, paper_width: int = 64):
    """Tab. 2 (App. I.3), generated from :mod:`tdlib.models`: each architecture's layout, parameters and
    multiply-accumulates per 32x32 image at the paper's width and at the width of ``store``'s run (E2's
    params: its ``archs`` and ``width``)."""
    from ...models import describe
    p = (store.data.get("params") or {}) if store is not None else {}
    ours = p.get("width")
    archs = list(dict.fromkeys(["resnet18", "mlp", "vit"] + list(p.get("archs") or [])))
    rows = {}
    for a in archs:
        paper = describe(a, paper_width) if a != "cnn" else None
        mine = describe(a, ours) if ours and a in (p.get("archs") or []) else None
        d = paper or mine
        rows[a] = {"layout (w = width)": d["layout"],
                   f"params, w = {paper_width}": f"{paper['parameters'] / 1e6:.2f}M" if paper else "-",
                   f"MMACs, w = {paper_width}": f"{paper['mmacs']:.1f}" if paper else "-",
                   **({f"params, w = {ours} ({store.profile_name})": f"{mine['parameters'] / 1e6:.3f}M" if mine else "-",
                       f"MMACs, w = {ours} ({store.profile_name})": f"{mine['mmacs']:.1f}" if mine else "-"}
                      if ours else {})}
    return html_table(rows, index_name="architecture",
                      caption="The architectures (paper Tab. 2, App. I.3), from tdlib.models; "
                              "multiply-accumulates of one forward pass of a 32x32 image")


def seed_noise_table(noise, e1=None):
    """The seed noise of one AS (experiment ``asnoise``): per task, its AS with each seed pair (seed 0:
    E1's entry), the spread, and the pooled standard deviation of one AS."""
    from ..experiments.sec3 import seed_noise
    if noise is None or not noise.entries:
        return None
    n = seed_noise(noise, e1)
    rows = {t: {"AS per seed pair": ", ".join(f"{v:.3f}" for v in vals), "spread": max(vals) - min(vals)}
            for t, vals in n["by_task"].items()}
    rows["pooled"] = {"AS per seed pair": f"sd of one AS {n['sd']:.4f}", "spread": n["spread"]}
    return html_table(rows, index_name="task", store=noise,
                      caption="the seed noise of one AS: E1's tasks, each with other seed pairs of networks")
