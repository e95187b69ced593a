"""Plots of the Sec. 6 page (adversarial splits): Fig. 7-left/center/right, Tab. 1, App. F, App. D.

Each function takes a :class:`~tdlib.lab.results.ResultStore` (from ``tdlib.lab.experiments.get``) and
returns a matplotlib figure with the book's provenance caption; ``report_*`` return the paper's
claim and what the stored run shows, as wrapped text; tables are HTML tables.
"""
from __future__ import annotations

import numpy as np

from .common import SPLIT_COLORS, Text, caption, html_table, kind_color, new_fig


def _title(fig, text, store):
    caption(fig, store, title=text)
    return fig


def _short(name: str) -> str:
    return name.replace("randnet:", "rn:").replace("human:", "h:")


# ---- E13: Fig. 7-left / center -----------------------------------------------------------------
def plot_accuracy_drop(store):
    """Fig. 7-left: test accuracy on random vs adversarial splits, per (τ, τ') pair."""
    ent = store.entries
    keys = sorted(ent)
    fig, (ax,) = new_fig(height=3.8)
    xs = np.arange(len(keys))
    rnd = [ent[k]["random"]["test_acc"] for k in keys]
    adv = [ent[k]["adversarial"]["test_acc"] for k in keys]
    ax.bar(xs - 0.2, rnd, 0.4, label="random split", color=SPLIT_COLORS["random"])
    ax.bar(xs + 0.2, adv, 0.4, label="adversarial split (Eq. 6)", color=SPLIT_COLORS["adversarial"])
    for k_i, k in enumerate(keys):                                  # each network's accuracy
        for side, off in (("random", -0.2), ("adversarial", 0.2)):
            accs = ent[k][side].get("test_accs", [])
            ax.scatter([k_i + off] * len(accs), accs, s=12, color="white", edgecolor="k",
                       linewidth=0.4, zorder=3)
    ax.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(xs, [f"τ={_short(ent[k]['target'])}\nτ'={_short(ent[k]['by'])}" for k in keys], fontsize=8)
    ax.set_ylabel("test accuracy w.r.t. τ")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper right")
    return _title(fig, "Fig. 7-left: adversarial vs random splits (E13); dots: each network", store)


def plot_split_composition(store, key=None):
    """Fig. 7-center: sizes and class balance of the adversarial and the random split of one pair,
    and how often τ and τ' agree on each part."""
    key = key or sorted(store.entries)[0]
    e = store.entries[key]
    fig, axes = new_fig(2, height=3.4, sharey=True)
    for ax, side in zip(axes, ("random", "adversarial")):
        r = e[side]
        bottoms = np.zeros(2)
        for c in range(len(r["train_counts"])):
            vals = np.array([r["train_counts"][c], r["test_counts"][c]])
            ax.bar([0, 1], vals, bottom=bottoms, label=f"τ = {c}", color=kind_color("human"),
                   alpha=1.0 if c else 0.45)
            bottoms += vals
        ax.set_xticks([0, 1], [f"train\nτ==τ' {r['agree_train']:.2f}", f"test\nτ==τ' {r['agree_test']:.2f}"])
        ax.set_title(f"{side} split", fontsize=9)
    axes[0].set_ylabel("images")
    axes[0].legend(fontsize=8)
    return _title(fig, f"Fig. 7-center: split composition, τ={e['target']}, τ'={e['by']}", store)


def _mean_test_accs(entries) -> tuple:
    """Mean test accuracy on the random and on the adversarial splits of stored pairs."""
    entries = list(entries)
    return (np.mean([e["random"]["test_acc"] for e in entries]),
            np.mean([e["adversarial"]["test_acc"] for e in entries]))


def report_e13(store) -> str:
    drops = [e["drop"] for e in store.entries.values()]
    rnd, adv = _mean_test_accs(store.entries.values())
    return Text(f"Paper (Fig. 7-left): test accuracy drops far below random splits of equal size and balance.\n"
            f"This run ({store.data['profile']}): mean accuracy {rnd:.3f} (random) vs {adv:.3f} (adversarial), "
            f"drop {np.mean(drops):.3f} on average, {min(drops):.3f} at least, over {len(drops)} pairs.")


# ---- E14: Fig. 7-right ----------------------------------------------------------------------
def plot_accuracy_vs_delta_as(store):
    """Fig. 7-right: test accuracy w.r.t. τ on the adversarial split vs AS(τ') - AS(τ)."""
    from ..experiments.sec6 import e14_points
    pts = e14_points(store)
    fig, (ax,) = new_fig(height=3.8)
    groups = {}
    for q in pts:
        groups.setdefault((q["target_kind"], q["by_kind"]), []).append(q)
    markers = {}
    for (tk, bk), qs in sorted(groups.items()):              # colour: the kind of τ'; marker: the kind of τ
        m = markers.setdefault(tk, "osv^D"[len(markers) % 5])
        ax.scatter([q["delta_as"] for q in qs], [q["test_acc"] for q in qs], label=f"τ {tk}, τ' {bk}", s=34,
                   color=kind_color(bk), marker=m, edgecolor="k", linewidth=0.4)
    ax.axhline(0.5, color="gray", ls="--", lw=1)
    ax.axvline(0.0, color="gray", ls=":", lw=1)
    ax.set_xlabel("AS(τ') − AS(τ)")
    ax.set_ylabel("test accuracy w.r.t. τ")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    return _title(fig, "Fig. 7-right: accuracy vs AS difference (E14)", store)


def report_e14(store) -> str:
    from ..experiments.sec6 import e14_points
    pts = e14_points(store)
    if len(pts) < 3:
        return Text(f"This run ({store.data['profile']}): only {len(pts)} points.")
    d = np.array([q["delta_as"] for q in pts])
    a = np.array([q["test_acc"] for q in pts])
    r = float(np.corrcoef(d, a)[0, 1])
    return Text(f"Paper (Fig. 7-right): accuracy w.r.t. τ falls as AS(τ') − AS(τ) grows (the network follows "
            f"the task with the higher AS).\nThis run ({store.data['profile']}): Pearson r = {r:.2f} over "
            f"{len(pts)} ordered pairs; accuracy {a[d > 0].mean():.3f} where AS(τ') > AS(τ), "
            f"{a[d < 0].mean():.3f} where AS(τ') < AS(τ).")


# ---- E15: Tab. 1, CIFAR-10 row --------------------------------------------------------------
def table_multiclass(store):
    """Tab. 1: random vs adversarial test accuracy (E15's CIFAR-10 row, E16's CelebA / ImageNet rows),
    an HTML table."""
    if not store.entries:
        return Text(f"Nothing stored for {store.data['experiment'].upper()} at profile {store.data['profile']} "
                    "(see above).")
    rows = {}
    for e in store.entries.values():
        for side in ("random", "adversarial"):
            r = e[side]
            rows[f"{e['target']}, {side} split"] = {
                "τ'": e["by"] if side == "adversarial" else "", "C1 (Eq. 7)": e["adversarial"].get("C1", "")
                if side == "adversarial" else "", "train": r["n_train"], "test": r["n_test"],
                "test accuracy": r["test_acc"], "drop": e["drop"] if side == "adversarial" else ""}
    return html_table(rows, index_name="target, split", caption=f"{store.data['experiment'].upper()} (Tab. 1)", store=store)


def report_e15(store) -> str:
    rnd, adv = _mean_test_accs(store.entries.values())
    return Text(f"Paper (Tab. 1, CIFAR-10): 10-way accuracy drops noticeably on the Eq. 7 split; a random split "
            f"with half the data gives about 0.8 (ResNet-18, full scale).\nThis run ({store.data['profile']}): "
            f"{rnd:.3f} (random) vs {adv:.3f} (adversarial).")


# ---- E19: App. F ----------------------------------------------------------------------------
def plot_as_on_split(store):
    """App. F, Fig. 14-right: AS measured on the adversarial split vs test accuracy w.r.t. τ;
    the reference marks a random-labelled task trained on an adversarial split."""
    fig, (ax,) = new_fig(height=3.8)
    pairs = [v for k, v in store.entries.items() if k.startswith("pair/")]
    refs = [v for k, v in store.entries.items() if k.startswith("reference/")]
    ax.scatter([q["test_acc"] for q in pairs], [q["as_split"] for q in pairs], s=30,
               label="pairs of E14 (both orders)", color=kind_color("human"))
    for r in refs:
        ax.scatter([r["test_acc"]], [r["agreement"]], marker="x", s=70, color=kind_color("random"),
                   label=f"random labels on {_short(r['split_of'])} split")
    ax.axhline(0.5, color="gray", ls="--", lw=1)
    ax.set_xlabel("test accuracy w.r.t. τ on the adversarial split")
    ax.set_ylabel("AS measured on the split")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=8)
    return _title(fig, "App. F: AS on adversarial splits (E19)", store)


def report_e19(store) -> str:
    pairs = [v for k, v in store.entries.items() if k.startswith("pair/")]
    refs = [v for k, v in store.entries.items() if k.startswith("reference/")]
    if not pairs:
        return Text(f"This run ({store.data['profile']}): no pairs stored.")
    low = [q["as_split"] for q in pairs if q["test_acc"] < 0.5]
    ref = f"; a random-labelled task trained on such a split: AS {refs[0]['agreement']:.3f}" if refs else ""
    return Text(f"Paper (App. F): the AS measured on adversarial splits stays high even where test accuracy is "
            f"near chance or below.\nThis run ({store.data['profile']}): AS on the split "
            f"{np.mean(low) if low else float('nan'):.3f} on average over the {len(low)} ordered pairs with "
            f"accuracy below 0.5, at least {min(q['as_split'] for q in pairs):.3f} over all {len(pairs)}{ref}.")


# ---- App. D: image grids --------------------------------------------------------------------
def split_note(split) -> str:
    """One sentence (markdown) saying how the rows of :func:`show_split_examples` relate τ and τ'
    for this split: which orientation of τ' made it (``split.meta["flipped"]``)."""
    if split.meta.get("flipped"):
        return ("This split uses τ' *flipped* (1 − τ', the same task up to the names of its labels, Eq. 2), "
                "because that orientation gives the larger train part. So with τ' as given, τ and τ' "
                "**disagree on every train image** and **agree on every test image**.")
    return "In the train rows τ and τ' **agree** on every image; in the test rows they **disagree**."


def show_split_examples(ds, split, target, by, n: int = 10, seed: int = 0, title: str = "", store=None):
    """App. D-like grid: rows = (train | test) x τ class, each row ``n`` random images; the row
    label gives τ and τ' (as given) of its images; :func:`split_note` says how they relate."""
    from .common import FULL_WIDTH
    target, by = np.asarray(target), np.asarray(by)
    rng = np.random.default_rng(seed)
    rows = []
    for part, idx in (("train", split.train_idx), ("test", split.test_idx)):
        for c in (0, 1):
            members = idx[target[idx] == c]
            pick = rng.choice(members, min(n, len(members)), replace=False) if len(members) else []
            bv = by[members[0]] if len(members) else None
            rows.append((f"{part}: τ = {c}, τ' = {bv}  ({len(members)} images)", pick))
    fig, axes = new_fig(1, nrows=len(rows), height=FULL_WIDTH / n + 0.3)
    for ax, (label, pick) in zip(axes, rows):
        ims = [np.asarray(ds.images[i]) for i in pick]
        if ims:
            ax.imshow(np.concatenate(ims, axis=1))
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(label, fontsize=9, loc="left", pad=3)
    note = "; τ' flipped (1 − τ') to make it" if split.meta.get("flipped") else ""
    caption(fig, store, f"{split.describe()}{note}", title=title or "Images of an adversarial split (App. D)",
            with_recipe=False)
    return fig
