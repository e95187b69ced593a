"""Plots and tables of the Sec. 5 / App. G book page (``book/sec5_study.md``), matplotlib only.

Each function takes a :class:`~tdlib.lab.results.ResultStore`; figures carry the book's provenance
caption (:func:`.common.caption`), tables are :func:`.common.html_table`, claims are wrapped text.
Colours are the task kinds' (:data:`.common.KIND_COLORS`); tasks discovered with another
architecture (Sec. 5.2) keep the ``discovered`` colour and get that architecture's marker.
"""
from __future__ import annotations

import numpy as np

from .common import (ARCH_MARKERS, FULL_WIDTH, Text, caption, html_table, image_rows, kind_color,
                     new_fig, no_paths)


def _color(group, groups=()):
    return kind_color(group)


def _marker(group) -> str:
    """``discovered-mlp`` -> the MLP's marker; other groups: a circle."""
    return ARCH_MARKERS.get(group.partition("-")[2], "o") if group.startswith("discovered-") else "o"


def _title(fig, store, text):
    caption(fig, store, title=text)


# ----------------------------------------------------------------------------------------------
CONDITIONS = {"clean": "pixel kept", "others_noised": "other pixels = noise",
              "pixel_noised": "that pixel = marginal noise", "pixel_noised_gaussian": "that pixel = N(0,1)"}


def green_studies(store) -> dict:
    """E11's trained settings (its entries other than the ``neighbour cue`` measurement)."""
    return {k: e for k, e in store.entries.items() if "clean" in e}


def green_pixel_table(store):
    """E11: AS and accuracy on X_te as is, with the other pixels noised, with the pixel noised."""
    rows = {}
    for key, e in green_studies(store).items():
        name = f"{e['arch']}, {e.get('n_train', '?')} images, {e.get('epochs', '?')} epochs"
        for cond, label in CONDITIONS.items():
            rows[f"{name}: {label}"] = {"AS": e[cond]["agreement"], "test accuracy": e[cond]["acc"]}
    return html_table(rows, index_name="trained setting: test images",
                      caption="E11: the green pixel task", store=store)


def plot_green_pixel(store):
    """E11: accuracy and AS per input condition (one panel per trained setting), chance at 0.5."""
    conds = ["clean", "others_noised", "pixel_noised", "pixel_noised_gaussian"]
    labels = ["pixel kept", "other pixels\n= noise", "that pixel =\nmarginal noise", "that pixel\n= N(0,1)"]
    es = list(green_studies(store).items())
    fig, axes = new_fig(len(es), height=3.6)
    for ax, (key, e) in zip(axes, es):
        xs = np.arange(len(conds))
        ax.bar(xs - 0.18, [e[c]["acc"] for c in conds], 0.36, label="test accuracy", color=kind_color("greenpixel"))
        ax.bar(xs + 0.18, [e[c]["agreement"] for c in conds], 0.36, label="AS (agreement)",
               color=kind_color("greenpixel"), alpha=0.45)
        ax.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
        ax.set_xticks(xs, labels, fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{e['arch']}, {e.get('n_train', '?')} training images, {e.get('epochs', '?')} epochs",
                     fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    _title(fig, store, f"Green pixel task, pixel {tuple(es[0][1]['pixel'])} (Sec. 5.4)")
    return fig


# ----------------------------------------------------------------------------------------------
def prop1_table(store):
    """E20: the quantities of Proposition 1 per task and whether (i), (ii) hold."""
    rows = {}
    for key, e in store.entries.items():
        rows[key] = {"networks": e["n_models"], "AS (pairs)": e["as_u"], "AS (V)": e["as_v"],
                     "Acc*": e["best_case_acc"], "bound g⁻¹(AS)": e["upper_bound_on_best"],
                     "Acc(τ)": e.get("test_acc", float("nan")),
                     "(i) holds": bool(e["i_as_v"] and e["i_as_u"] and e["i_per_network"]),
                     "(ii) holds": bool(e["ii_as_v"] and e["ii_linear"]), "(ii) with pair AS": bool(e["ii_as_u"])}
    return html_table(rows, index_name="task", caption="E20: Proposition 1", store=store)


def plot_prop1(store):
    """E20: per task, AS <= Acc* <= g^-1(AS), with the task's own test accuracy for reference."""
    es = list(store.entries.values())
    fig, (ax,) = new_fig(height=3.6)
    xs = np.arange(len(es))
    for x, e in zip(xs, es):
        ax.plot([x, x], [e["as_v"], e["upper_bound_on_best"]], color="lightgray", lw=6, zorder=0)
    ax.scatter(xs, [e["as_u"] for e in es], marker="v", color="0.3", label="AS (distinct pairs)", zorder=3)
    ax.scatter(xs, [e["as_v"] for e in es], marker="_", s=300, color="k", label="AS (V-statistic): lower bound")
    ax.scatter(xs, [e["best_case_acc"] for e in es], marker="o", color="k", label="Acc* = best-case accuracy", zorder=3)
    ax.scatter(xs, [e["upper_bound_on_best"] for e in es], marker="_", s=300, color="0.45",
               label="g⁻¹(AS): upper bound")
    ax.scatter(xs, [e.get("test_acc", np.nan) for e in es], marker="x", color="0.55",
               label="Acc(τ) (task's test labels)", zorder=3)
    ax.set_xticks(xs, [e["task"] for e in es], fontsize=8)
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=7.5, loc="lower left", ncol=2)
    ax.set_ylim(0.2, 1.02)
    _title(fig, store, f"Proposition 1 (App. G) on {es[0]['n_models']} trained {es[0]['arch']} networks per task")
    return fig


# ----------------------------------------------------------------------------------------------
def domain_table(store):
    """E10: (rows of (arch, group, task), domain names, AS matrix)."""
    es = [e for k, e in store.entries.items() if k != "domains"]
    domains = list(dict.fromkeys(d for e in es for d in e["agreement"]))
    rows = [(e["arch"], e["group"], e["task"]) for e in es]
    m = np.array([[e["agreement"].get(d, np.nan) for d in domains] for e in es])
    return rows, domains, m


def plot_domains(store):
    """E10 (Fig. 5): AS per test domain, one panel per architecture, one marker per task."""
    rows, domains, m = domain_table(store)
    archs = list(dict.fromkeys(r[0] for r in rows))
    groups = list(dict.fromkeys(r[1] for r in rows))
    fig, axes = new_fig(1, nrows=len(archs), height=3.0)
    for ax, arch in zip(axes, archs):
        for gi, g in enumerate(groups):
            sel = [i for i, r in enumerate(rows) if r[0] == arch and r[1] == g]
            off = (gi - (len(groups) - 1) / 2) * 0.12
            for n, i in enumerate(sel):
                ax.scatter(np.arange(len(domains)) + off, m[i], color=_color(g), s=22,
                           label=g if n == 0 else None)
        ax.axhline(0.5, color="gray", ls="--", lw=1)
        ax.set_xticks(range(len(domains)), domains, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("AS")
        ax.set_title(arch, fontsize=9)
        ax.legend(fontsize=7)
    _title(fig, store, "AS measured on test images of other domains (paper Fig. 5)")
    return fig


# ----------------------------------------------------------------------------------------------
def plot_arch_matrix(store):
    """E9 (Fig. 4-left): pairwise scatter of each task's AS on two architectures, coloured by group."""
    from ..experiments.sec5 import arch_correlations, arch_matrix
    m = arch_matrix(store)
    archs, table = m["archs"], m["as"]
    corr = arch_correlations(store)
    pairs = [(i, j) for i in range(len(archs)) for j in range(i + 1, len(archs))]
    fig, axes = new_fig(len(pairs), width=FULL_WIDTH / max(len(pairs), 1), height=3.3)
    for ax, (i, j) in zip(axes, pairs):
        for g in dict.fromkeys(m["groups"]):
            sel = [k for k, gg in enumerate(m["groups"]) if gg == g]
            ax.scatter(table[sel, i], table[sel, j], color=_color(g, m["groups"]), marker=_marker(g),
                       s=26, label=g)
        ax.plot([0.4, 1], [0.4, 1], color="lightgray", lw=1, zorder=0)
        ax.set_xlabel(f"AS on {archs[i]}")
        ax.set_ylabel(f"AS on {archs[j]}")
        r = corr[("all", archs[i], archs[j])]
        ax.set_title(f"r (all tasks) = {r:.2f}", fontsize=9)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    _title(fig, store, "AS of each task measured on two architectures (Sec. 5.2, Fig. 4-left)")
    return fig


def group_arch_table(store):
    """E9: mean AS of each group's tasks on each architecture (rows: groups, columns: archs);
    ``*`` marks the architecture a discovered group was discovered with."""
    from ..experiments.sec5 import arch_matrix
    m = arch_matrix(store)
    rows = {}
    first = ["human", "random", "randnet"]                       # then the discovered groups
    for g in sorted(dict.fromkeys(m["groups"]), key=lambda g: first.index(g) if g in first else len(first)):
        sel = [i for i, gg in enumerate(m["groups"]) if gg == g]
        own = g.partition("-")[2] if g.startswith("discovered-") else None
        rows[g] = {"tasks": len(sel), **{f"AS on {a}": f"{_mean(m['as'][sel, j]):.3f}{'*' if a == own else ''}"
                                         for j, a in enumerate(m["archs"])}}
    return html_table(rows, index_name="group", caption="E9: mean AS "
                      f"per group (* = the architecture the group was discovered with)", store=store)


def discovery_runs(store):
    """E9's discovery runs, one row per architecture (meta-steps, proxy-AS first/last, similarity)."""
    rows = {}
    for k, e in store.entries.items():
        if k.startswith("discovery/"):
            rows[e["arch"]] = {"run": e["where"], "meta-steps": e["meta_steps"],
                               "s per meta-step": f"{e['seconds_per_meta_step']:.1f}",
                               "proxy-AS, first 5 steps": e["proxy_as_first5"],
                               "proxy-AS, last 5 steps": e["proxy_as_last5"],
                               "mean similarity": e["mean_similarity"], "tasks": e["n_tasks"]}
    return html_table(rows, index_name="architecture", caption="E9: the discovery run of each architecture", store=store)


#: sets of E9 groups over which the AS of two architectures is correlated (Sec. 5.2)
CORRELATION_SETS = {
    "all tasks": lambda g: True,
    "human, random, random-network": lambda g: not g.startswith("discovered"),
    "human and random": lambda g: g in ("human", "random"),
    "discovered (every architecture)": lambda g: g.startswith("discovered"),
}


def correlations(store, min_tasks: int = 3) -> dict:
    """``{set name: {"tasks": n, "a vs b": r}}``: Pearson r of the AS on two architectures over each
    set of :data:`CORRELATION_SETS` and each group, only where it holds at least ``min_tasks`` tasks
    (a correlation of two tasks is not defined)."""
    from ..experiments.sec5 import arch_matrix
    m = arch_matrix(store)
    sets = {name: [i for i, g in enumerate(m["groups"]) if keep(g)] for name, keep in CORRELATION_SETS.items()}
    for g in dict.fromkeys(m["groups"]):
        sets[g] = [i for i, gg in enumerate(m["groups"]) if gg == g]
    out = {}
    for name, idx in sets.items():
        if len(idx) < min_tasks or any(len(idx) == len(v) and idx == v for v in
                                       [out[n]["_idx"] for n in out]):
            continue
        row = {"tasks": len(idx), "_idx": idx}
        for i, a in enumerate(m["archs"]):
            for j, b in enumerate(m["archs"]):
                if j > i:
                    u, v = m["as"][idx, i], m["as"][idx, j]
                    ok = ~(np.isnan(u) | np.isnan(v))
                    row[f"{a} vs {b}"] = (float(np.corrcoef(u[ok], v[ok])[0, 1]) if ok.sum() >= min_tasks
                                          and u[ok].std() > 0 and v[ok].std() > 0 else float("nan"))
        out[name] = row
    return {n: {k: v for k, v in r.items() if k != "_idx"} for n, r in out.items()}


def correlation_table(store):
    """E9: the correlation table of :func:`correlations` (sets of fewer than 3 tasks left out)."""
    from ..experiments.sec5 import arch_matrix
    m = arch_matrix(store)
    sizes = {g: m["groups"].count(g) for g in dict.fromkeys(m["groups"])}
    small = [g for g, n in sizes.items() if n < 3]
    note = (f"; single groups of fewer than 3 tasks ({', '.join(small)}) have no defined correlation and are "
            f"left out" if small else "")
    return html_table(correlations(store), index_name="tasks over which r is taken",
                      caption=f"E9: Pearson r of the AS on two architectures{note}",
                      digits=2, store=store)


def facts(store) -> dict:
    """Numbers the Sec. 5 prose quotes (glued), from a stored E9, E11 or E12."""
    exp = store.data["experiment"]
    es = store.entries
    out = {}
    if exp == "e9":
        from ..experiments.sec5 import arch_matrix
        m = arch_matrix(store)
        for g in dict.fromkeys(m["groups"]):
            sel = [i for i, gg in enumerate(m["groups"]) if gg == g]
            out[f"e9_n_{g}"] = len(sel)
            for j, a in enumerate(m["archs"]):
                out[f"e9_as_{g}_{a}"] = _mean(m["as"][sel, j])
                tr = [e["train_acc"] for k, e in es.items() if k.startswith(f"{a}/") and e.get("group") == g]
                if tr:
                    out[f"e9_train_acc_{g}_{a}_min"], out[f"e9_train_acc_{g}_{a}_max"] = min(tr), max(tr)
        out["e9_n_tasks"] = len(m["tasks"])
        for key, r in correlations(store).get("all tasks", {}).items():
            if key != "tasks":
                out[f"e9_r_{key.replace(' vs ', '_')}"] = r
        out["e9_n_train"] = next((e["n_train"] for e in es.values() if "n_train" in e), float("nan"))
        for k, e in es.items():
            if k.startswith("discovery/"):
                out[f"e9_steps_{e['arch']}"] = e["meta_steps"]
    elif exp == "e11":
        for i, e in enumerate(green_studies(store).values()):
            out.update({f"e11_{i}_arch": f"`{e['arch']}`", f"e11_{i}_n_train": e["n_train"],
                        f"e11_{i}_epochs": e["epochs"]})
        cue = es.get("neighbour cue") or {"best_neighbour": "not measured", "best_acc": float("nan")}
        out.update({"e11_neighbour": f"({cue['best_neighbour']})", "e11_neighbour_acc": cue["best_acc"]})
    elif exp == "e12":
        for k, e in es.items():
            if isinstance(e, dict) and "mean" in e:
                key = k.replace("=", "").replace(" ", "_")
                out[f"e12_mean_{key}"] = float(e["mean"])
                if "meta_steps" in e:
                    out[f"e12_steps_{key}"] = e["meta_steps"]
        maxes = [float(e["max"]) for k, e in es.items() if (k.startswith("d=") or k in ("main", "ssl")) and "max" in e]
        out["e12_max"] = max(maxes) if maxes else float("nan")
        prm = store.data.get("params", {})
        out.update({f"e12_{k}": prm[k] for k in ("ssl_epochs", "n_train") if k in prm})
        if "ssl_arch" in prm:
            out["e12_ssl_arch"] = f"`{prm['ssl_arch']}`"
        for k in ("ssl as", "plain as"):
            if k in es:
                out[f"e12_as_{k.split()[0]}"] = float(es[k]["mean_as"])
                out[f"e12_as_{k.split()[0]}_n"] = len(es[k]["as"])
    return out


# ----------------------------------------------------------------------------------------------
def plot_task_grids(store, tasks=None):
    """E8 (Fig. 4-right, App. B): per task, the most discriminative images of class 0 and class 1."""
    from ..taskviz import decode_images
    names = tasks or [n for n in store.data.get("params", {}).get("tasks", []) if n in store.entries] \
        or list(store.entries)                      # the run's order (the file keeps keys sorted)
    rows = [(name, decode_images(store.entries[name]["images"]["0"]),
             decode_images(store.entries[name]["images"]["1"])) for name in names]
    return image_rows(rows, store, "Most discriminative images of each class (Sec. 5.1, App. B)")


def plot_sis_heatmaps(store):
    """E22 (App. B, Fig. 9): per task network, the share of test images whose top-5% SIS features
    cover each pixel; the cross marks the centre of mass, the circle its spread."""
    import matplotlib.pyplot as plt
    names = [n for n in store.data.get("params", {}).get("tasks", []) if n in store.entries] or list(store.entries)
    ncols = min(len(names), 4)
    nrows = -(-len(names) // ncols)
    fig, axes = new_fig(ncols, height=2.9, nrows=nrows)
    for ax in axes[len(names):]:
        ax.axis("off")
    vmax = max(float(np.max(store.entries[n]["heatmap"])) for n in names) or 1.0
    for ax, n in zip(axes, names):
        e = store.entries[n]
        im = ax.imshow(np.asarray(e["heatmap"]), cmap="magma", vmin=0, vmax=vmax)
        cy, cx = e["centre"]
        ax.plot(cx, cy, "+", color="cyan", ms=9, mew=1.5)
        ax.add_patch(plt.Circle((cx, cy), e["spread"], fill=False, color="cyan", lw=0.8, ls="--"))
        ax.set_title(f"{n.replace(':' + store.profile_name, '') if n.startswith('discovered:') else n}\n"
                     f"spread {e['spread']:.0f} px, acc {e['test_acc']:.2f}", fontsize=7.5)
        ax.set_xticks([]), ax.set_yticks([])
    cax = axes[ncols - 1].inset_axes([1.05, 0.05, 0.06, 0.9])  # inside the layout (tight_layout ignores it)
    fig.colorbar(im, cax=cax, label="share of images")
    n_img = store.entries[names[0]]["n_images"]
    p = store.data.get("params", {})
    caption(fig, store, title="Where task networks look: Sufficient Input Subsets (paper Fig. 9)",
            extra=f"top 5% of {p.get('sis_patch', 1)}x{p.get('sis_patch', 1)}-pixel blocks per image, "
                  f"{n_img} test images, {p.get('sis_remove', 1)} removed per backward-selection round")
    return fig


# ----------------------------------------------------------------------------------------------
# the paper's claim next to what the run shows
CLAIMS = {
    "e11": "Paper (Sec. 5.4): the green pixel task has a high AS and a high test accuracy; accuracy stays almost the same when all other pixels are noise and drops to "
           "chance (0.5) when that pixel is noise.",
    "e20": "Paper (App. G, Prop. 1): AS <= Acc* (the best test accuracy over all labellings of X_te), and a "
           "second inequality bounding Acc* from above by a function of the AS (ours: g(Acc*) <= AS).",
    "e10": "Paper (Sec. 5.3, Fig. 5): human and discovered tasks stay above random-labelled ones on every "
           "domain; discovered tasks' AS is almost domain-independent, human tasks' AS varies more.",
    "e9": "Paper (Sec. 5.2, Fig. 4-left): tasks discovered with each architecture have a high AS on it, but a "
          "high-AS task for one architecture need not have a high AS on another (e.g. on ViT); MLP and ViT "
          "correlate well for all groups; correlations measured on human tasks alone mislead.",
    "e22": "Paper (App. B, Fig. 9): the SIS heatmap of a network trained on CIFAR-10's classes is roughly "
           "centred (objects sit in the middle); discovered tasks look at different, more localized areas "
           "(the more so the smaller d).",
    "e8": "Paper (Sec. 5.1, App. B): the most discriminative images of discovered tasks suggest colour-like "
          "cues (e.g. blue sky/water vs orange); the larger d, the less interpretable.",
}


def _mean(xs):
    xs = [x for x in xs if x == x]
    return float(np.mean(xs)) if xs else float("nan")


def summary(store) -> str:
    """Two lines: the paper's claim, and what this stored run shows."""
    exp = store.data["experiment"]
    es = store.entries
    if exp == "e11":
        lines = []
        for k, e in green_studies(store).items():
            lines.append(f"{k}: AS {e['clean']['agreement']:.3f}, test acc {e['clean']['acc']:.3f}; "
                         f"others noised {e['others_noised']['acc']:.3f}; pixel noised "
                         f"{e['pixel_noised']['acc']:.3f} (marginal) / {e['pixel_noised_gaussian']['acc']:.3f} (N(0,1))")
        run = "; ".join(lines)
    elif exp == "e20":
        ok = all(e["holds"] for e in es.values())
        n_u = sum(not e["ii_as_u"] for e in es.values())
        run = (f"(i) and (ii) hold exactly on all {len(es)} tasks' trained networks: {ok}; "
               f"(ii) with the distinct-pair AS estimate fails on {n_u} of {len(es)} (finite-sample, expected). "
               + ", ".join(f"{e['task']}: AS {e['as_u']:.2f} <= Acc* {e['best_case_acc']:.2f} <= "
                           f"{e['upper_bound_on_best']:.2f}" for e in es.values()))
    elif exp == "e10":
        rows, domains, m = domain_table(store)
        parts = []
        for g in dict.fromkeys(r[1] for r in rows):
            sel = [i for i, r in enumerate(rows) if r[1] == g]
            parts.append(f"{g}: " + ", ".join(f"{d} {_mean(m[sel, j]):.2f}" for j, d in enumerate(domains)))
        miss = es.get("domains", {}).get("missing", {})
        run = "mean AS per group and domain: " + " | ".join(parts) + (
            f". Missing domains (not measured): {', '.join(miss)}" if miss else "")
    elif exp == "e9":
        from ..experiments.sec5 import arch_correlations, arch_matrix
        m = arch_matrix(store)
        means = " | ".join(f"{g}: " + ", ".join(
            f"{a} {_mean(m['as'][[i for i, gg in enumerate(m['groups']) if gg == g], j]):.2f}"
            for j, a in enumerate(m["archs"])) for g in dict.fromkeys(m["groups"]))
        corr = arch_correlations(store)
        cs = ", ".join(f"{a}~{b} {r:.2f}" for (n, a, b), r in corr.items() if n == "all")
        own = []
        for g in dict.fromkeys(m["groups"]):
            if g.startswith("discovered-"):
                sel = [i for i, gg in enumerate(m["groups"]) if gg == g]
                col = [_mean(m["as"][sel, j]) for j in range(len(m["archs"]))]
                own.append(f"{g} highest on {m['archs'][int(np.nanargmax(col))]}")
        run = (f"mean AS: {means}; correlation over all {len(m['tasks'])} tasks: {cs}"
               + (f"; {', '.join(own)}" if own else ""))
    elif exp == "e8":
        names = [n for n in store.data.get("params", {}).get("tasks", []) if n in es] or list(es)
        kinds = dict.fromkeys(k.split(":")[0] for k in names)
        run = f"{len(names)} tasks shown ({', '.join(kinds)}): " + ", ".join(names)
    else:
        run = f"{len(es)} entries"
    return Text(f"{CLAIMS.get(exp, '')}\nThis run ({store.data['profile']}): {run}")


def missing_domains(store):
    """E10: the test domains measured, and how to get the missing ones (no machine paths)."""
    d = store.entries.get("domains", {})
    rows = {name: {"measured": "yes", "how to get it": ""} for name in d.get("present", {})}
    for name, why in d.get("missing", {}).items():
        how = str(why).split("get it with ", 1)[-1] if "get it with " in str(why) else str(why)
        rows[name] = {"measured": "no", "how to get it": no_paths(how, "$TDLIB_DOMAINS")}
    return html_table(rows, index_name="test domain", caption="E10: test domains (put missing ones under "
                      "$TDLIB_DOMAINS, the data root, and rerun)", store=store)
