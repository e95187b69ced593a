"""Plots of the Sec. 6 page (adversarial splits): Fig. 7-left/center/right, Tab. 1, App. F, App. D.

Each function takes a :class:`~tdlib.results.ResultStore` (from ``tdlib.experiments.get``) and
returns a matplotlib figure whose title names the profile that produced it; ``report_*`` return
one line comparing the paper's claim with what the stored run shows.
"""
from __future__ import annotations

import numpy as np


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _title(fig, text, store):
    fig.suptitle(f"{text}\n{store.caption()}", fontsize=9)
    fig.tight_layout()
    return fig


def _short(name: str) -> str:
    return name.replace("randnet:", "rn:").replace("human:", "h:")


# ---- E13: Fig. 7-left / center -----------------------------------------------------------------
def plot_accuracy_drop(store):
    """Fig. 7-left: test accuracy on random vs adversarial splits, per (τ, τ') pair."""
    plt = _plt()
    ent = store.entries
    keys = sorted(ent)
    fig, ax = plt.subplots(figsize=(max(4.5, 1.1 * len(keys) + 2), 3.4))
    xs = np.arange(len(keys))
    rnd = [ent[k]["random"]["test_acc"] for k in keys]
    adv = [ent[k]["adversarial"]["test_acc"] for k in keys]
    ax.bar(xs - 0.2, rnd, 0.4, label="random split", color="tab:blue")
    ax.bar(xs + 0.2, adv, 0.4, label="adversarial split (Eq. 6)", color="tab:red")
    for k_i, k in enumerate(keys):                                  # each network's accuracy
        for side, off in (("random", -0.2), ("adversarial", 0.2)):
            accs = ent[k][side].get("test_accs", [])
            ax.scatter([k_i + off] * len(accs), accs, s=8, color="k", zorder=3)
    ax.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
    ax.set_xticks(xs, [f"τ={_short(ent[k]['target'])}\nτ'={_short(ent[k]['by'])}" for k in keys], fontsize=8)
    ax.set_ylabel("test accuracy w.r.t. τ")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="upper right")
    return _title(fig, "Fig. 7-left: adversarial vs random splits (E13)", store)


def plot_split_composition(store, key=None):
    """Fig. 7-center: sizes and class balance of the adversarial and the random split of one pair,
    and how often τ and τ' agree on each part."""
    plt = _plt()
    key = key or sorted(store.entries)[0]
    e = store.entries[key]
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.2), sharey=True)
    for ax, side in zip(axes, ("random", "adversarial")):
        r = e[side]
        bottoms = np.zeros(2)
        for c in range(len(r["train_counts"])):
            vals = np.array([r["train_counts"][c], r["test_counts"][c]])
            ax.bar([0, 1], vals, bottom=bottoms, label=f"τ = {c}", color=f"C{c}")
            bottoms += vals
        ax.set_xticks([0, 1], [f"train\nτ==τ' {r['agree_train']:.2f}", f"test\nτ==τ' {r['agree_test']:.2f}"])
        ax.set_title(f"{side} split", fontsize=9)
    axes[0].set_ylabel("images")
    axes[0].legend(fontsize=7)
    return _title(fig, f"Fig. 7-center: split composition, τ={e['target']}, τ'={e['by']}", store)


def _mean_test_accs(entries) -> tuple:
    """Mean test accuracy on the random and on the adversarial splits of stored pairs."""
    entries = list(entries)
    return (np.mean([e["random"]["test_acc"] for e in entries]),
            np.mean([e["adversarial"]["test_acc"] for e in entries]))


def report_e13(store) -> str:
    drops = [e["drop"] for e in store.entries.values()]
    rnd, adv = _mean_test_accs(store.entries.values())
    return (f"Paper (Fig. 7-left): test accuracy drops far below random splits of equal size and balance. "
            f"This run ({store.data['profile']}): mean accuracy {rnd:.3f} (random) vs {adv:.3f} (adversarial), "
            f"drop {np.mean(drops):.3f} on average, {min(drops):.3f} at least, over {len(drops)} pairs.")


# ---- E14: Fig. 7-right ----------------------------------------------------------------------
def plot_accuracy_vs_delta_as(store):
    """Fig. 7-right: test accuracy w.r.t. τ on the adversarial split vs AS(τ') - AS(τ)."""
    from ..experiments.sec6 import e14_points
    plt = _plt()
    pts = e14_points(store)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    groups = {}
    for q in pts:
        groups.setdefault(f"τ {q['target_kind']}, τ' {q['by_kind']}", []).append(q)
    for i, (g, qs) in enumerate(sorted(groups.items())):
        ax.scatter([q["delta_as"] for q in qs], [q["test_acc"] for q in qs], label=g, s=25, color=f"C{i}")
    ax.axhline(0.5, color="gray", ls="--", lw=1)
    ax.axvline(0.0, color="gray", ls=":", lw=1)
    ax.set_xlabel("AS(τ') − AS(τ)")
    ax.set_ylabel("test accuracy w.r.t. τ")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7)
    return _title(fig, "Fig. 7-right: accuracy vs AS difference (E14)", store)


def report_e14(store) -> str:
    from ..experiments.sec6 import e14_points
    pts = e14_points(store)
    if len(pts) < 3:
        return f"This run ({store.data['profile']}): only {len(pts)} points."
    d = np.array([q["delta_as"] for q in pts])
    a = np.array([q["test_acc"] for q in pts])
    r = float(np.corrcoef(d, a)[0, 1])
    return (f"Paper (Fig. 7-right): accuracy w.r.t. τ falls as AS(τ') − AS(τ) grows (the network follows "
            f"the task with the higher AS). This run ({store.data['profile']}): Pearson r = {r:.2f} over "
            f"{len(pts)} ordered pairs; accuracy {a[d > 0].mean():.3f} where AS(τ') > AS(τ), "
            f"{a[d < 0].mean():.3f} where AS(τ') < AS(τ).")


# ---- E15: Tab. 1, CIFAR-10 row --------------------------------------------------------------
def table_multiclass(store) -> str:
    """Tab. 1: a text table of random vs adversarial test accuracy (E15's CIFAR-10 row, E16's
    CelebA / ImageNet rows)."""
    if not store.entries:
        return f"nothing stored for {store.data['experiment']} at profile {store.data['profile']} (see above)"
    head = "τ'"
    lines = [f"{'split':<12} {head:<12} {'train':>6} {'test':>6}  accuracy", "-" * 50]
    for e in store.entries.values():
        lines.append(f"target {e['target']}")
        for side in ("random", "adversarial"):
            r = e[side]
            lines.append(f"{side:<12} {e['by']:<12} {r['n_train']:>6} {r['n_test']:>6}  {r['test_acc']:.3f}")
        lines.append(f"{'':<12} C1 = {e['adversarial'].get('C1')}   drop {e['drop']:.3f}")
    lines.append(f"({store.caption()})")
    return "\n".join(lines)


def report_e15(store) -> str:
    rnd, adv = _mean_test_accs(store.entries.values())
    return (f"Paper (Tab. 1, CIFAR-10): 10-way accuracy drops noticeably on the Eq. 7 split; a random split "
            f"with half the data gives about 0.8 (ResNet-18, full scale). This run ({store.data['profile']}): "
            f"{rnd:.3f} (random) vs {adv:.3f} (adversarial).")


# ---- E19: App. F ----------------------------------------------------------------------------
def plot_as_on_split(store):
    """App. F, Fig. 14-right: AS measured on the adversarial split vs test accuracy w.r.t. τ;
    the reference marks a random-labelled task trained on an adversarial split."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    pairs = [v for k, v in store.entries.items() if k.startswith("pair/")]
    refs = [v for k, v in store.entries.items() if k.startswith("reference/")]
    ax.scatter([q["test_acc"] for q in pairs], [q["as_split"] for q in pairs], s=25,
               label="pairs of E14 (both orders)")
    for r in refs:
        ax.scatter([r["test_acc"]], [r["agreement"]], marker="x", s=60, color="tab:red",
                   label=f"random labels on {_short(r['split_of'])} split")
    ax.axhline(0.5, color="gray", ls="--", lw=1)
    ax.set_xlabel("test accuracy w.r.t. τ on the adversarial split")
    ax.set_ylabel("AS measured on the split")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=7)
    return _title(fig, "App. F: AS on adversarial splits (E19)", store)


def report_e19(store) -> str:
    pairs = [v for k, v in store.entries.items() if k.startswith("pair/")]
    refs = [v for k, v in store.entries.items() if k.startswith("reference/")]
    if not pairs:
        return f"This run ({store.data['profile']}): no pairs stored."
    low = [q["as_split"] for q in pairs if q["test_acc"] < 0.5]
    ref = f"; a random-labelled task trained on such a split: AS {refs[0]['agreement']:.3f}" if refs else ""
    return (f"Paper (App. F): the AS measured on adversarial splits stays high even where test accuracy is "
            f"near chance or below. This run ({store.data['profile']}): AS on the split "
            f"{np.mean(low) if low else float('nan'):.3f} on average over the {len(low)} ordered pairs with "
            f"accuracy below 0.5, at least {min(q['as_split'] for q in pairs):.3f} over all {len(pairs)}{ref}.")


# ---- App. D: image grids --------------------------------------------------------------------
def show_split_examples(ds, split, target, by, n: int = 8, seed: int = 0, title: str = ""):
    """App. D-like grid: rows = (train | test) x τ class, each row ``n`` random images; the row
    label gives τ and τ' of its images (on train they agree, on test they differ)."""
    plt = _plt()
    target, by = np.asarray(target), np.asarray(by)
    rng = np.random.default_rng(seed)
    flipped = split.meta.get("flipped", False)
    rows = []
    for part, idx in (("train", split.train_idx), ("test", split.test_idx)):
        for c in (0, 1):
            members = idx[target[idx] == c]
            pick = rng.choice(members, min(n, len(members)), replace=False) if len(members) else []
            bv = by[members[0]] if len(members) else None
            rows.append((f"{part}: τ={c}, τ'={bv}", pick))
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.05))
    for r, (label, pick) in enumerate(rows):
        for j in range(n):
            ax = axes[r, j]
            ax.axis("off")
            if j < len(pick):
                ax.imshow(ds.images[pick[j]])
        axes[r, 0].set_title(label, fontsize=8, loc="left")
    note = " (τ' flipped: train where τ != τ' as given)" if flipped else ""
    fig.suptitle(f"{title or split.describe()}{note}", fontsize=9)
    fig.tight_layout()
    return fig
