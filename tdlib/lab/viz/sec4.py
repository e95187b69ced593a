"""Figures of Sec. 4 (Fig. 1-center, 13, 15, 16) from stored E1, E5, E6, E7 and E18 results."""
from __future__ import annotations

import numpy as np

from .common import as_bins, KIND_COLORS, caption, html_table, kind_color, new_fig, summarize


def _as_by_kind(store) -> dict:
    out = {}
    for e in store.entries.values():
        if isinstance(e, dict) and "agreement" in e and "kind" in e:
            out.setdefault(e["kind"], []).append(e["agreement"])
    return out


def _proxy_rise(hist) -> tuple:
    """Mean proxy-AS of the first and of the last 20% of meta-steps."""
    pa = np.array([h["proxy_as"] for h in hist])
    w = max(1, len(pa) // 5)
    return float(pa[:w].mean()), float(pa[-w:].mean())


def summary(e5) -> dict:
    """Mean AS of each kind of task in E5 (discovered, untrained encoder, unseen hyperplanes, human,
    random: one pool, one training recipe), the discovered tasks' mean pairwise similarity, the
    meta-training's length, time and proxy-AS rise. E1 is not mixed in: it uses another pool."""
    g = _as_by_kind(e5)
    out = {f"AS {k}": summarize(v) for k, v in sorted(g.items())}
    disc = e5.entries.get("discovery", {})
    out["mean similarity (discovered)"] = round(disc.get("mean_similarity", float("nan")), 3)
    if "untrained" in e5.entries:
        out["mean similarity (untrained encoder)"] = round(e5.entries["untrained"]["mean_similarity"], 3)
    for other in ("untrained", "random", "human", "unseen"):
        if "discovered" in g and other in g:
            out[f"discovered minus {other}"] = round(float(np.mean(g["discovered"]) - np.mean(g[other])), 3)
    if disc.get("history"):
        first, last = _proxy_rise(disc["history"])
        out["proxy-AS first/last 20% of meta-steps"] = f"{first:.3f} -> {last:.3f} ({last - first:+.3f})"
        out["meta-steps"] = disc.get("step", len(disc["history"]))
        if "train_seconds" in disc:
            out["training seconds"] = disc["train_seconds"]
    out["profile"] = e5.data["profile"]
    return out


def plot_as_comparison(e5):
    """Fig. 1-center: AS of discovered tasks next to human- and random-labelled ones, all from E5
    (one pool, one recipe)."""
    groups = _as_by_kind(e5)
    fig, (ax,) = new_fig(width=5.5)
    bins = as_bins(groups)
    for kind in ("random", "human", "untrained", "unseen", "discovered"):
        if kind in groups:
            v = groups[kind]
            ax.hist(v, bins=bins, alpha=0.65, color=kind_color(kind),
                    label=f"{kind} (mean {np.mean(v):.2f}, n={len(v)})")
    ax.axvline(0.5, ls=":", c="k", lw=1)
    ax.set(xlabel="agreement score", ylabel="tasks", title="AS: discovered vs human vs random")
    ax.legend(fontsize=8)
    caption(fig, e5, "every kind trained on E5's pool with one recipe")
    return fig


def plot_discovery_curve(e5, window: int = 10):
    """Proxy-AS and uniformity loss over meta-steps (running means)."""
    hist = e5.entries["discovery"]["history"]
    steps = np.array([h["step"] for h in hist])
    fig, axes = new_fig(2, width=4.2)
    fig.subplots_adjust(wspace=0.35)
    for ax, key, label in zip(axes, ("proxy_as", "uniformity"), ("proxy-AS (-CE)", "uniformity loss")):
        v = np.array([h[key] for h in hist])
        w = min(window, len(v))
        ax.plot(steps, v, ".", ms=3, alpha=0.35, color=kind_color("discovered"))
        ax.plot(steps[w - 1:], np.convolve(v, np.ones(w) / w, "valid"), color=kind_color("discovered"))
        ax.set(xlabel="meta-step", ylabel=label)
    axes[0].set_title("encoder training")
    caption(fig, e5)
    return fig


def plot_similarity(matrix, store, title="pairwise similarity of discovered tasks"):
    """A task-similarity matrix (Eq. 2) as a heatmap."""
    m = np.asarray(matrix)
    fig, (ax,) = new_fig(width=4.2, height=3.6)
    im = ax.imshow(m, vmin=0.5, vmax=1.0, cmap="viridis")
    off = m[~np.eye(len(m), dtype=bool)]
    ax.set(title=f"{title}\n(mean off-diagonal {off.mean():.3f})", xlabel="task", ylabel="task")
    fig.colorbar(im, ax=ax, fraction=0.046)
    caption(fig, store)
    return fig


def plot_discovered_similarity(e5):
    return plot_similarity(e5.entries["discovery"]["similarity_matrix"], e5)


def plot_random_networks(e7, e5=None):
    """Fig. 15 (App. H): random-network tasks have a high AS but are similar to each other; naive
    discovery (draw random networks, keep one whose max similarity to the kept ones is below the
    threshold) as a curve: tasks kept against networks drawn."""
    sim = e7.entries["similarity"]
    naive = e7.entries.get("naive")
    fig, axes = new_fig(3 if naive else 2, width=3.6, height=3.6)
    m = np.asarray(sim["similarity_matrix"])
    im = axes[0].imshow(m, vmin=0.5, vmax=1.0, cmap="viridis")
    axes[0].set(title=f"random-network tasks: similarity\n(mean {sim['mean_similarity']:.3f})",
                xlabel="task", ylabel="task")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    groups = {"randnet": _as_by_kind(e7).get("randnet", [])}
    if e5 is not None:
        groups["discovered"] = _as_by_kind(e5).get("discovered", [])
    for x, (kind, v) in enumerate(groups.items()):
        axes[1].scatter(np.full(len(v), x), v, color=kind_color(kind), alpha=0.7)
        if v:
            axes[1].plot([x - 0.2, x + 0.2], [np.mean(v)] * 2, color="k")
    axes[1].set_xticks(range(len(groups)), list(groups))
    axes[1].axhline(0.5, ls=":", c="k", lw=1)
    axes[1].set(ylabel="agreement score", ylim=(0.4, 1.02), title="AS")
    extra = ""
    if naive:
        kept_at = [s + 1 for s in naive.get("seeds", [])]          # the draw (1-based) each task was kept at
        xs = [0] + kept_at + [naive["draws"]]
        ys = [0] + list(range(1, len(kept_at) + 1)) + [len(kept_at)]
        axes[2].step(xs, ys, where="post", color=kind_color("randnet"), label="naive (random networks)")
        axes[2].axhline(naive["wanted"], ls="--", c=kind_color("discovered"), lw=1.2,
                        label=f"wanted (discovery: {naive['wanted']} in one run)")
        axes[2].set(xlabel="random networks drawn", ylabel="tasks kept", ylim=(0, naive["wanted"] + 1),
                    title=f"naive discovery\n(max similarity < {naive['threshold']})")
        axes[2].legend(fontsize=7.5, loc="lower right")
        extra = (f"naive discovery: {naive['found']}/{naive['wanted']} tasks with max similarity < "
                 f"{naive['threshold']} after {naive['draws']} random networks")
    caption(fig, e7, extra, others=(e5,))
    return fig


def plot_proxy_vs_as(e6):
    """Fig. 16: proxy-AS vs AS, and agreement on X_te over inner steps, per kind of task."""
    fig, axes = new_fig(2, width=4.5)
    for e in e6.entries.values():
        c = kind_color(e["kind"])
        axes[0].scatter(e["proxy_as"], e["agreement"], color=c, label=e["kind"])
        axes[1].plot(e["steps"], e["test_agreement"], "-", color=c, alpha=0.7, label=e["kind"])
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        keep = dict(zip(lab, h))
        ax.legend(keep.values(), keep.keys(), fontsize=8)
    axes[0].set(xlabel="proxy-AS (inner loop, -CE)", ylabel="AS (full training)", title="proxy-AS vs AS")
    axes[1].axhline(0.5, ls=":", c="k", lw=1)
    axes[1].set(xlabel="inner SGD step", ylabel="agreement on X_te", title="agreement over inner steps")
    caption(fig, e6)
    return fig


def proxy_as_correlation(e6) -> float:
    """Pearson correlation of proxy-AS and AS over E6's tasks."""
    x = np.array([e["proxy_as"] for e in e6.entries.values()])
    y = np.array([e["agreement"] for e in e6.entries.values()])
    return float(np.corrcoef(x, y)[0, 1]) if len(x) > 2 and x.std() > 0 and y.std() > 0 else float("nan")


def plot_kway_grids(e17):
    """E17 (App. C; paper Fig. 11): per discovered K-way task, its most discriminative images of each class."""
    from ..taskviz import decode_images
    from .common import image_rows
    ent = {k: e for k, e in e17.entries.items() if k.startswith("images:")}
    if not ent:
        return None
    # about 15 images a row whatever K, so every row has the same scale
    rows = [(f"{e['task']} (K = {e['k']})", *[decode_images(c["images"])[: max(2, 15 // int(e["k"]))]
                                                for _, c in sorted(e["classes"].items(), key=lambda kv: int(kv[0]))])
            for _, e in sorted(ent.items())]
    return image_rows(rows, e17, "Most discriminative images of each class of discovered K-way tasks (paper Fig. 11)")


def facts(e6=None, e7=None, e17=None) -> dict:
    """Numbers the Sec. 4 prose quotes (glued): E6's proxy-AS/AS correlation, E7's mean similarity and
    naive-discovery counts, E17's meta-steps, tasks per kind and the largest one-class share of a
    random K-way task's predictions."""
    out = {}
    if e6 is not None:
        out["e6_corr"] = proxy_as_correlation(e6)
        out["e6_n"] = len(e6.entries)
    if e7 is not None:
        sim = e7.entries.get("similarity", {})
        if "mean_similarity" in sim:
            out["e7_mean_similarity"] = float(sim["mean_similarity"])
        naive = e7.entries.get("naive")
        if naive:
            out.update({f"e7_naive_{k}": naive[k] for k in ("found", "wanted", "draws")})
    if e17 is not None:
        groups = kway_groups(e17)
        out["e17_ks"] = " and ".join(str(k) for k in groups)
        steps = [e17.entries[f"discovery:k{k}"]["step"] for k in groups if f"discovery:k{k}" in e17.entries]
        if steps:
            out["e17_steps"] = max(steps)
        per = [len(v) for g in groups.values() for v in g.values()]
        if per:
            out["e17_per_kind"] = min(per)
        bal = [e for k, e in e17.entries.items() if k.startswith("balance:")]
        out["e17_argmax_fractions"] = ("; ".join(f"K = {e['k']}: " + ", ".join(
            "(" + " ".join(f"{f:.2f}" for f in row) + ")" for row in e["argmax_fractions"]) for e in bal)
            if bal else "not stored")
        rnd = [e for e in e17.entries.values() if isinstance(e, dict) and e.get("kind") == "random"]
        if rnd:
            low = min(rnd, key=lambda e: e["agreement"])
            out.update(e17_random_min_as=float(low["agreement"]), e17_random_min_task=f"`{low['task']}`",
                       e17_random_min_chance=1 / int(low["k"]),
                       e17_random_max_train_acc=float(max(e["train_acc"] for e in rnd)))
    return out


# ----------------------------------------------------------------------------------------------
# λ / d trade-off (Fig. 13)
# ----------------------------------------------------------------------------------------------
def tradeoff_points(e18) -> list:
    return sorted((e for e in e18.entries.values()), key=lambda e: (e["d"], e["lambda"]))


def plot_tradeoff(e18, highlight=None):
    """Fig. 13: mean AS vs mean similarity of each (λ, d) run; ``highlight=(λ, d)`` rings one."""
    pts = tradeoff_points(e18)
    fig, (ax,) = new_fig(width=5.0, height=3.6)
    dims = sorted({e["d"] for e in pts})
    cmap = __import__("matplotlib").colormaps["plasma"]
    for i, d in enumerate(dims):
        row = [e for e in pts if e["d"] == d]
        c = cmap(i / max(len(dims) - 1, 1) * 0.8)
        ax.plot([e["mean_similarity"] for e in row], [e["mean_as"] for e in row], "o-", color=c, label=f"d={d}")
        for e in row:
            ax.annotate(f"λ={e['lambda']:g}", (e["mean_similarity"], e["mean_as"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 3))
    if highlight is not None:
        for e in pts:
            if e["lambda"] == highlight[0] and e["d"] == highlight[1]:
                ax.scatter([e["mean_similarity"]], [e["mean_as"]], s=250, facecolors="none", edgecolors="k")
    ax.set(xlabel="mean pairwise similarity", ylabel="mean AS", title="λ / d trade-off")
    ax.legend(fontsize=8)
    caption(fig, e18)
    return fig


def _tradeoff_panels(pts, lam, d, profile=""):
    """Fig. 13 with the run (λ, d) ringed, and that run's per-task AS beside it."""
    fig, axes = new_fig(2, width=4.6, height=3.5)
    fig.subplots_adjust(wspace=0.35)
    ax, bx = axes
    dims = sorted({e["d"] for e in pts})
    cmap = __import__("matplotlib").colormaps["plasma"]
    for i, dd in enumerate(dims):
        row = sorted((e for e in pts if e["d"] == dd), key=lambda e: e["lambda"])
        c = cmap(i / max(len(dims) - 1, 1) * 0.8)
        ax.plot([e["mean_similarity"] for e in row], [e["mean_as"] for e in row], "o-", color=c, label=f"d={dd}")
        for e in row:
            ax.annotate(f"λ={e['lambda']:g}", (e["mean_similarity"], e["mean_as"]), fontsize=7,
                        textcoords="offset points", xytext=(4, 3))
    ax.set(xlabel="mean pairwise similarity", ylabel="mean AS", title="λ / d trade-off (all runs)")
    ax.legend(fontsize=8)
    e = next((e for e in pts if e["lambda"] == lam and e["d"] == d), None)
    if e is None:
        bx.text(0.5, 0.5, f"λ={lam:g}, d={d}\nnot in the stored sweep", ha="center", va="center")
        bx.set(xticks=[], yticks=[], title="this run")
    else:
        ax.scatter([e["mean_similarity"]], [e["mean_as"]], s=260, facecolors="none", edgecolors="k", lw=2)
        v = np.asarray(e["as"], dtype=float)
        bx.bar(np.arange(len(v)), v, color=KIND_COLORS["discovered"], alpha=0.8)
        bx.axhline(v.mean(), color="k", lw=1, label=f"mean {v.mean():.3f}")
        bx.axhline(0.5, ls=":", c="k", lw=1)
        bx.set(ylim=(0.4, 1.0), xlabel="discovered task", ylabel="agreement score",
               title=f"λ={lam:g}, d={d}: AS of its {len(v)} tasks")
        bx.set_xticks(np.arange(len(v)))
        bx.legend(fontsize=8, loc="lower right")
    if profile:
        fig.text(0.01, -0.02, f"Results: {profile}", fontsize=7, color="0.35", ha="left", va="top")
    return fig


def _tradeoff_numbers(pts, lam, d):
    e = next((e for e in pts if e["lambda"] == lam and e["d"] == d), None)
    if e is None:
        return [("λ, d", f"{lam:g}, {d}"), ("stored", "no: compute it with a live kernel")]
    return [("λ (uniformity weight)", f"{lam:g}"), ("d (embedding size)", d),
            ("mean AS", f"{e['mean_as']:.3f}"), ("mean pairwise similarity", f"{e['mean_similarity']:.3f}"),
            ("AS of each task", ", ".join(f"{a:.3f}" for a in e["as"])),
            ("proxy-AS, last 5 meta-steps", f"{e['final_proxy_as']:.3f}")]


def tradeoff_explorer(e18, run=None, lambdas=(), dims=()):
    """λ and d sliders over the stored E18 sweep (App. E, Fig. 13) that change the figure and the
    numbers in the static book (precomputed, no kernel). With a live kernel, front ends with a
    widget manager show the same sliders as ipywidgets; ``run(λ, d) -> entry`` (an E18 entry)
    then computes a point that is not stored (``lambdas``/``dims`` add slider values)."""
    from .gridview import GridView
    pts = tradeoff_points(e18)
    lams = sorted({e["lambda"] for e in pts})
    ds = sorted({e["d"] for e in pts})
    cap = e18.caption()
    view = GridView({"λ": lams, "d": ds},
                    render=lambda q: _tradeoff_panels(pts, q["λ"], q["d"], cap),
                    numbers=lambda q: _tradeoff_numbers(pts, q["λ"], q["d"]),
                    title="E18 λ / d trade-off")
    view.live = _tradeoff_widget(pts, sorted(set(lams) | set(lambdas)), sorted(set(ds) | set(dims)), run, cap)
    return view


def _tradeoff_widget(pts, lams, ds, run, cap):
    """The live-kernel twin of the static sliders (None without ipywidgets)."""
    try:
        import ipywidgets as w
    except ImportError:
        return None
    from IPython.display import display
    import matplotlib.pyplot as plt
    pts = list(pts)
    lam_s = w.SelectionSlider(options=[(f"{v:g}", v) for v in lams], description="λ")
    d_s = w.SelectionSlider(options=[(str(v), v) for v in ds], description="d")
    button = w.Button(description="compute this point", disabled=run is None)
    out = w.Output()

    def show(*_):
        out.clear_output(wait=True)
        with out:
            fig = _tradeoff_panels(pts, lam_s.value, d_s.value, cap)
            display(fig)
            plt.close(fig)
            display(_rows_html(_tradeoff_numbers(pts, lam_s.value, d_s.value)))

    def compute(_):
        button.disabled = True
        button.description = "computing..."
        try:
            entry = run(lam_s.value, d_s.value)
            pts[:] = [e for e in pts if (e["lambda"], e["d"]) != (entry["lambda"], entry["d"])] + [entry]
        finally:
            button.disabled, button.description = False, "compute this point"
        show()
    lam_s.observe(show, "value")
    d_s.observe(show, "value")
    button.on_click(compute)
    show()
    return w.VBox([w.HBox([lam_s, d_s, button]), out])


def _rows_html(rows):
    from IPython.display import HTML
    import html as h
    body = "".join(f"<tr><th style='text-align:left'>{h.escape(str(a))}</th><td>{h.escape(str(b))}</td></tr>"
                   for a, b in rows)
    return HTML(f"<table>{body}</table>")


# ----------------------------------------------------------------------------------------------
# K-way discovery (App. C, E17)
# ----------------------------------------------------------------------------------------------
def kway_groups(e17) -> dict:
    """``{K: {kind: [AS, ...]}}`` from a stored E17."""
    out: dict = {}
    for e in e17.entries.values():
        if isinstance(e, dict) and "agreement" in e and "k" in e:
            out.setdefault(int(e["k"]), {}).setdefault(e["kind"], []).append(e["agreement"])
    return {k: out[k] for k in sorted(out)}


def kway_summary(e17):
    """Per K: mean AS of each kind next to chance (1/K), and the discovery run's meta-steps and
    proxy-AS at its start and end, its tasks' largest class fraction and mean pairwise similarity
    (Eq. 2 maximised over label matchings); an HTML table, one row per K."""
    rows = {}
    for k, groups in kway_groups(e17).items():
        row = {"chance 1/K": round(1 / k, 3)}
        row.update({f"AS {kind}": summarize(v) for kind, v in sorted(groups.items())})
        disc = e17.entries.get(f"discovery:k{k}")
        if disc:
            row["meta-steps"] = disc["step"]
            pa = [h["proxy_as"] for h in disc["history"]]
            w = max(1, min(5, len(pa) // 2))
            row[f"proxy-AS first/last {w} steps"] = f"{np.mean(pa[:w]):.3f} -> {np.mean(pa[-w:]):.3f}"
            row["largest class fraction (discovered)"] = max(max(b) for b in disc["balance"])
            row["mean similarity (discovered)"] = round(disc["mean_similarity"], 3)
        rows[f"K={k}"] = row
    return html_table(rows, index_name="K", caption="E17: AS mean ± std (n tasks)", store=e17)


def plot_kway_as(e17):
    """App. C: AS of K-way discovered, human and random tasks, one panel per K, chance 1/K dotted."""
    groups = kway_groups(e17)
    fig, axes = new_fig(max(len(groups), 1), width=3.8, height=3.4)
    fig.subplots_adjust(wspace=0.35)
    kinds = ("random", "human", "discovered")
    for ax, (k, g) in zip(axes, groups.items()):
        for x, kind in enumerate(kinds):
            v = g.get(kind, [])
            ax.scatter(np.full(len(v), x), v, color=kind_color(kind), alpha=0.75)
            if v:
                ax.plot([x - 0.25, x + 0.25], [np.mean(v)] * 2, color="k")
        ax.axhline(1 / k, ls=":", c="k", lw=1, label=f"chance 1/K = {1 / k:.2f}")
        ax.set_xticks(range(len(kinds)), kinds)
        ax.set(ylim=(0, 1.02), title=f"K = {k} classes", ylabel="agreement score")
        ax.legend(fontsize=8, loc="lower right")
    caption(fig, e17)
    return fig
