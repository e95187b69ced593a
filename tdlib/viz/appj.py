"""Plots of E12 (Sec. 5.4, Fig. 6, App. J) and of the SSL-regulated tasks (Sec. 5.1, Fig. 4-bottom-right)
for ``book/sec5_study.md``; every figure title carries the store's caption (which profile made it)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


CLAIM = ("Paper (Sec. 5.4, Fig. 6, App. J): the similarity between a human task and the closest task of the "
         "encoder (a linear head fitted on its embeddings) grows with the embedding size d but stays "
         "relatively low for most human tasks; discovery regulated by SimCLR embeddings (Sec. 5.1) raises it "
         "notably, and its tasks look more aligned with CIFAR-10 classes.")


def _runs(store):
    """Entry names of encoder runs: the d sweep (sorted by d), then main, ssl."""
    e = store.entries
    dims = sorted((k for k in e if k.startswith("d=")), key=lambda k: e[k]["d"])
    return dims + [k for k in ("main", "ssl") if k in e]


def table(store) -> str:
    e = store.entries
    head = (f"{'encoder':<24}{'d':>4}{'steps':>7}{'mean sim':>10}{'median':>8}{'max':>7}{'>0.8':>7}"
            f"{'>0.9':>7}{'untrained mean':>16}{'untrained max':>15}")
    rows = [head]
    for k in _runs(store) + [k for k in ("ssl features", "untrained ssl features") if k in e]:
        r = e[k]
        u = r.get("untrained", {})
        rows.append(f"{k:<24}{r.get('d', r.get('dim', '')):>4}{r.get('meta_steps', '-'):>7}{r['mean']:>10.3f}"
                    f"{r['median']:>8.3f}{r['max']:>7.3f}{r['frac_above_0.8']:>7.2f}{r['frac_above_0.9']:>7.2f}"
                    f"{u.get('mean', float('nan')):>16.3f}{u.get('max', float('nan')):>15.3f}")
    return "\n".join(rows)


def as_table(store) -> str:
    """AS of the SSL-regulated tasks next to the plain run of the same d and steps (E18's folder), same recipe."""
    if "ssl as" not in store.entries:
        return "(no AS of the regulated tasks stored)"
    r = store.entries["ssl as"]
    out = [f"SSL-regulated tasks: AS {np.round(r['as'], 3).tolist()} (mean {r['mean_as']:.3f}); "
           f"mean pairwise similarity of the run's tasks {r['mean_similarity']:.3f}"]
    if "plain as" in store.entries:
        q = store.entries["plain as"]
        out.append(f"plain discovery, same d and steps ({q['tasks'][0].rsplit('/', 1)[-1]}): AS "
                   f"{np.round(q['as'], 3).tolist()} (mean {q['mean_as']:.3f}); mean pairwise similarity "
                   f"{q['mean_similarity']:.3f}")
    return "\n".join(out)


def plot_similarity(store):
    """Fig. 6: per human task (sorted), the similarity of the closest task of each encoder on X_te.
    Left: vs d (solid: discovered; dashed: the same encoder untrained). Right: SSL regulation."""
    e = store.entries
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    dims = [k for k in _runs(store) if k.startswith("d=")]
    cmap = plt.get_cmap("viridis")
    for i, k in enumerate(dims):
        c = cmap(i / max(len(dims) - 1, 1) * 0.85)
        axes[0].plot(np.sort(e[k]["similarity"])[::-1], color=c, label=f"d = {e[k]['d']} (mean {e[k]['mean']:.3f})")
        axes[0].plot(np.sort(e[k]["untrained"]["similarity"])[::-1], color=c, ls="--", lw=0.8)
    axes[0].set_title("closest discovered task vs d (dashed: untrained)", fontsize=9)
    ref = next((k for k in dims if "ssl" in e and e[k]["d"] == e["ssl"]["d"]), None)
    lines = [(ref, f"plain, d = {e[ref]['d']}", "tab:gray")] if ref else []
    lines += [("main", f"plain, d = {e['main']['d']}, {e['main']['meta_steps']} steps", "tab:blue")] if "main" in e else []
    lines += [("ssl", f"SSL-regulated, d = {e['ssl']['d']}", "tab:red")] if "ssl" in e else []
    lines += [("ssl features", "SSL features themselves (ours)", "tab:orange")] if "ssl features" in e else []
    lines += [("untrained ssl features", "SSL backbone untrained (ours)", "tab:brown")] \
        if "untrained ssl features" in e else []
    for k, label, c in lines:
        axes[1].plot(np.sort(e[k]["similarity"])[::-1], color=c, label=f"{label} (mean {e[k]['mean']:.3f})",
                     ls=":" if "features" in k else "-")
    if "ssl" in e:
        axes[1].plot(np.sort(e["ssl"]["untrained"]["similarity"])[::-1], color="tab:red", ls="--", lw=0.8,
                     label="SSL MLP encoder, untrained")
    axes[1].set_title("regulated discovery (Sec. 5.1)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("human tasks, sorted")
        ax.set_ylabel("similarity (Eq. 2) on X_te")
        ax.set_ylim(0.48, 1.0)
        ax.legend(fontsize=7)
    fig.suptitle(f"Human tasks among the discovered ones (Sec. 5.4, Fig. 6, App. J)\n{store.caption()}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_grids(store):
    """The most discriminative images of each class of the SSL-regulated and the plain tasks."""
    from ..taskviz import decode_images
    grids = store.entries.get("grids", {})
    names = sorted(grids, key=lambda n: (grids[n]["run"] != "ssl", n))
    if not names:
        return None
    k = len(grids[names[0]]["index"]["0"])
    fig, axes = plt.subplots(len(names), 1, figsize=(0.75 * (2 * k + 1), 1.0 * len(names) + 0.6), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        g = grids[name]
        im0, im1 = decode_images(g["images"]["0"]), decode_images(g["images"]["1"])
        gap = np.full((32, 8, 3), 255, np.uint8)
        ax.imshow(np.concatenate([*im0, gap, *im1], axis=1))
        ax.set_xticks([16 * len(im0), 32 * len(im0) + 8 + 16 * len(im1)], ["class 0", "class 1"], fontsize=7)
        ax.set_yticks([])
        ax.set_ylabel(f"{g['run']}\n{name}", rotation=0, ha="right", va="center", fontsize=7)
    fig.suptitle(f"SSL-regulated vs plain discovered tasks: most discriminative images (Sec. 5.1)\n"
                 f"{store.caption()}", fontsize=9)
    fig.tight_layout()
    return fig


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
    return f"{CLAIM}\nThis run ({store.caption()}): mean similarity over the 126 human tasks, {seen}."
