"""Plots of E12 (Sec. 5.4, Fig. 6, App. J) and of the SSL-regulated tasks (Sec. 5.1, Fig. 4-bottom-right)
for ``book/sec5_study.md``; every figure title carries the store's caption (which profile made it)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import KIND_COLORS, Text, caption, html_table, image_rows, new_fig


CLAIM = ("Paper (Sec. 5.4, Fig. 6, App. J): the similarity between a human task and the closest task of the "
         "encoder (a linear head fitted on its embeddings) grows with the embedding size d but stays "
         "relatively low for most human tasks; discovery regulated by SimCLR embeddings (Sec. 5.1) raises it "
         "notably, and its tasks look more aligned with CIFAR-10 classes.")


def _runs(store):
    """Entry names of encoder runs: the d sweep (sorted by d), then main, ssl."""
    e = store.entries
    dims = sorted((k for k in e if k.startswith("d=")), key=lambda k: e[k]["d"])
    return dims + [k for k in ("main", "ssl") if k in e]


def table(store):
    """E12: per encoder, the similarity of the closest task to each of the 126 human tasks."""
    e = store.entries
    rows = {}
    for k in _runs(store) + [k for k in ("ssl features", "untrained ssl features") if k in e]:
        r = e[k]
        u = r.get("untrained", {})
        rows[k] = {"d": r.get("d", r.get("dim", "")), "meta-steps": r.get("meta_steps", "-"), "mean": r["mean"],
                   "median": r["median"], "max": r["max"], "share > 0.8": f"{r['frac_above_0.8']:.2f}",
                   "share > 0.9": f"{r['frac_above_0.9']:.2f}", "untrained: mean": u.get("mean", float("nan")),
                   "untrained: max": u.get("max", float("nan"))}
    return html_table(rows, index_name="encoder", caption="E12: similarity "
                      "(Eq. 2) on X_te of the closest task to each human task", store=store)


def as_table(store):
    """AS of the SSL-regulated tasks next to the plain run of the same d and steps (E18's folder), same recipe."""
    if "ssl as" not in store.entries:
        return Text("(no AS of the regulated tasks stored)")
    rows = {}
    for key, label in (("ssl as", "SSL-regulated"), ("plain as", "plain, same d and steps")):
        if key in store.entries:
            r = store.entries[key]
            rows[label] = {"run": r["tasks"][0].rsplit("/", 1)[-1] if r.get("tasks") else "",
                           "AS of each task": [float(x) for x in r["as"]], "mean AS": r["mean_as"],
                           "mean pairwise similarity": r["mean_similarity"]}
    return html_table(rows, index_name="discovery", caption="E12: AS of "
                      "the regulated and the plain discovered tasks", store=store)


def plot_similarity(store):
    """Fig. 6: per human task (sorted), the similarity of the closest task of each encoder on X_te.
    Left: vs d (solid: discovered; dashed: the same encoder untrained). Right: SSL regulation."""
    e = store.entries
    fig, axes = new_fig(2, height=3.8)
    dims = [k for k in _runs(store) if k.startswith("d=")]
    cmap = plt.get_cmap("viridis")
    for i, k in enumerate(dims):
        c = cmap(i / max(len(dims) - 1, 1) * 0.85)
        axes[0].plot(np.sort(e[k]["similarity"])[::-1], color=c, label=f"d = {e[k]['d']} (mean {e[k]['mean']:.3f})")
        axes[0].plot(np.sort(e[k]["untrained"]["similarity"])[::-1], color=c, ls="--", lw=0.8)
    axes[0].set_title("closest discovered task vs d (dashed: untrained)", fontsize=9)
    ref = next((k for k in dims if "ssl" in e and e[k]["d"] == e["ssl"]["d"]), None)
    lines = [(ref, f"plain, d = {e[ref]['d']}", "#ff9896")] if ref else []
    lines += [("main", f"plain, d = {e['main']['d']}, {e['main']['meta_steps']} steps", KIND_COLORS["discovered"])] \
        if "main" in e else []
    lines += [("ssl", f"SSL-regulated, d = {e['ssl']['d']}", KIND_COLORS["ssl"])] if "ssl" in e else []
    lines += [("ssl features", "SSL features themselves (ours)", "0.15")] if "ssl features" in e else []
    lines += [("untrained ssl features", "SSL backbone untrained (ours)", "0.6")] \
        if "untrained ssl features" in e else []
    for k, label, c in lines:
        axes[1].plot(np.sort(e[k]["similarity"])[::-1], color=c, label=f"{label} (mean {e[k]['mean']:.3f})",
                     ls=":" if "features" in k else "-")
    if "ssl" in e:
        axes[1].plot(np.sort(e["ssl"]["untrained"]["similarity"])[::-1], color=KIND_COLORS["ssl"], ls="--", lw=0.8,
                     label="SSL MLP encoder, untrained")
    axes[1].set_title("regulated discovery (Sec. 5.1)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("human tasks, sorted")
        ax.set_ylabel("similarity (Eq. 2) on X_te")
        ax.set_ylim(0.48, 1.0)
        ax.legend(fontsize=7)
    caption(fig, store, title="Human tasks among the discovered ones (Sec. 5.4, Fig. 6, App. J)")
    return fig


def plot_grids(store):
    """The most discriminative images of each class of the SSL-regulated and the plain tasks."""
    from ..taskviz import decode_images
    grids = store.entries.get("grids", {})
    names = sorted(grids, key=lambda n: (grids[n]["run"] != "ssl", n))
    if not names:
        return None
    rows = [(f"{grids[n]['run']}: {n}", decode_images(grids[n]["images"]["0"]), decode_images(grids[n]["images"]["1"]))
            for n in names]
    return image_rows(rows, store, "SSL-regulated vs plain discovered tasks: most discriminative images (Sec. 5.1)")


def summary(store) -> str:
    e = store.entries
    dims = [k for k in _runs(store) if k.startswith("d=")]
    seen = "; ".join(f"d={e[k]['d']}: mean {e[k]['mean']:.3f} (untrained {e[k]['untrained']['mean']:.3f})"
                     for k in dims)
    if "ssl" in e:
        seen += f"; SSL-regulated d={e['ssl']['d']}: mean {e['ssl']['mean']:.3f}"
    if "ssl features" in e:
        seen += f"; SSL features themselves: {e['ssl features']['mean']:.3f}"
    if "untrained ssl features" in e:
        seen += f"; the SSL backbone untrained: {e['untrained ssl features']['mean']:.3f}"
    return Text(f"{CLAIM}\nThis run ({store.data['profile']}): mean similarity over the 126 human tasks, {seen}.")
