"""Plots and tables of the Sec. 5 / App. G book page (``book/sec5_study.md``), matplotlib only.

Each function takes a :class:`~tdlib.results.ResultStore` and puts the store's caption (which
profile, device, commit) in the figure title, so a figure always says what produced it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

GROUP_COLORS = {"human": "tab:blue", "random": "tab:red", "randnet": "tab:green",
                "greenpixel": "tab:olive", "discovered": "tab:purple"}
# tasks discovered with each architecture (Sec. 5.2): one colour per architecture
DISCOVERED_COLORS = ["tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:cyan", "tab:gray"]


def _color(group, groups=()):
    disc = [g for g in dict.fromkeys(groups) if g.startswith("discovered-")]
    if group in disc:
        return DISCOVERED_COLORS[disc.index(group) % len(DISCOVERED_COLORS)]
    return GROUP_COLORS.get(group.split("-")[0], "tab:purple")


def _title(fig, store, text):
    fig.suptitle(f"{text}\n{store.caption()}", fontsize=9)


# ----------------------------------------------------------------------------------------------
def green_pixel_table(store) -> str:
    """E11 as text: AS and accuracy on X_te as is, with the other pixels noised, with the pixel noised."""
    rows = [f"{'setting':<42} {'condition':<22} {'AS':>6} {'accuracy':>9}"]
    for key, e in store.entries.items():
        for cond in ("clean", "others_noised", "pixel_noised", "pixel_noised_gaussian"):
            rows.append(f"{key:<42} {cond:<22} {e[cond]['agreement']:>6.3f} {e[cond]['acc']:>9.3f}")
    return "\n".join(rows)


def plot_green_pixel(store):
    """E11: accuracy and AS per input condition (one panel per trained setting), chance at 0.5."""
    conds = ["clean", "others_noised", "pixel_noised", "pixel_noised_gaussian"]
    labels = ["pixel kept", "other pixels\n= noise", "that pixel =\nmarginal noise", "that pixel\n= N(0,1)"]
    es = list(store.entries.items())
    fig, axes = plt.subplots(1, len(es), figsize=(5.2 * len(es), 3.4), squeeze=False)
    for ax, (key, e) in zip(axes[0], es):
        xs = np.arange(len(conds))
        ax.bar(xs - 0.18, [e[c]["acc"] for c in conds], 0.36, label="test accuracy")
        ax.bar(xs + 0.18, [e[c]["agreement"] for c in conds], 0.36, label="AS (agreement)")
        ax.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
        ax.set_xticks(xs, labels, fontsize=7)
        ax.set_ylim(0, 1.05)
        ax.set_title(f"{e['arch']}, {e.get('n_train', '?')} training images, {e.get('epochs', '?')} epochs",
                     fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    _title(fig, store, f"Green pixel task, pixel {tuple(es[0][1]['pixel'])} (Sec. 5.4)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
def prop1_table(store) -> str:
    """E20 as text: the quantities of Proposition 1 per task and whether (i), (ii) hold."""
    rows = [f"{'task':<16}{'M':>3}{'AS(pairs)':>10}{'AS(V)':>8}{'Acc*':>8}{'bound':>8}{'Acc(τ)':>8}"
            f"{'(i)':>6}{'(ii)':>6}{'(ii) w/ pairs':>15}"]
    for key, e in store.entries.items():
        rows.append(f"{key:<16}{e['n_models']:>3}{e['as_u']:>10.3f}{e['as_v']:>8.3f}"
                    f"{e['best_case_acc']:>8.3f}{e['upper_bound_on_best']:>8.3f}{e.get('test_acc', float('nan')):>8.3f}"
                    f"{str(e['i_as_v'] and e['i_as_u'] and e['i_per_network']):>6}"
                    f"{str(e['ii_as_v'] and e['ii_linear']):>6}{str(e['ii_as_u']):>15}")
    return "\n".join(rows)


def plot_prop1(store):
    """E20: per task, AS <= Acc* <= g^-1(AS), with the task's own test accuracy for reference."""
    es = list(store.entries.values())
    fig, ax = plt.subplots(figsize=(9, 3.4))
    xs = np.arange(len(es))
    for x, e in zip(xs, es):
        ax.plot([x, x], [e["as_v"], e["upper_bound_on_best"]], color="lightgray", lw=6, zorder=0)
    ax.scatter(xs, [e["as_u"] for e in es], marker="v", label="AS (distinct pairs)", zorder=3)
    ax.scatter(xs, [e["as_v"] for e in es], marker="_", s=300, color="k", label="AS (V-statistic): lower bound")
    ax.scatter(xs, [e["best_case_acc"] for e in es], marker="o", label="Acc* = best-case accuracy", zorder=3)
    ax.scatter(xs, [e["upper_bound_on_best"] for e in es], marker="_", s=300, color="tab:red",
               label="g⁻¹(AS): upper bound")
    ax.scatter(xs, [e.get("test_acc", np.nan) for e in es], marker="x", color="tab:gray",
               label="Acc(τ) (task's test labels)", zorder=3)
    ax.set_xticks(xs, [e["task"] for e in es], fontsize=8)
    ax.set_ylim(0.4, 1.02)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _title(fig, store, f"Proposition 1 (App. G) on {es[0]['n_models']} trained {es[0]['arch']} networks per task")
    fig.tight_layout()
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
    fig, axes = plt.subplots(1, len(archs), figsize=(max(7.0, 0.9 * len(domains) + 2) * len(archs), 3.6),
                             squeeze=False)
    for ax, arch in zip(axes[0], archs):
        for gi, g in enumerate(groups):
            sel = [i for i, r in enumerate(rows) if r[0] == arch and r[1] == g]
            off = (gi - (len(groups) - 1) / 2) * 0.12
            for n, i in enumerate(sel):
                ax.scatter(np.arange(len(domains)) + off, m[i], color=_color(g), s=18,
                           label=g if n == 0 else None)
        ax.axhline(0.5, color="gray", ls="--", lw=1)
        ax.set_xticks(range(len(domains)), domains, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("AS")
        ax.set_title(arch, fontsize=9)
        ax.legend(fontsize=7)
    _title(fig, store, "AS measured on test images of other domains (Sec. 5.3, Fig. 5)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
def plot_arch_matrix(store):
    """E9 (Fig. 4-left): pairwise scatter of each task's AS on two architectures, coloured by group."""
    from ..experiments.sec5 import arch_correlations, arch_matrix
    m = arch_matrix(store)
    archs, table = m["archs"], m["as"]
    corr = arch_correlations(store)
    pairs = [(i, j) for i in range(len(archs)) for j in range(i + 1, len(archs))]
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.3 * len(pairs), 3.3), squeeze=False)
    for ax, (i, j) in zip(axes[0], pairs):
        for g in dict.fromkeys(m["groups"]):
            sel = [k for k, gg in enumerate(m["groups"]) if gg == g]
            ax.scatter(table[sel, i], table[sel, j], color=_color(g, m["groups"]), s=22, label=g)
        ax.plot([0.4, 1], [0.4, 1], color="lightgray", lw=1, zorder=0)
        ax.set_xlabel(f"AS on {archs[i]}")
        ax.set_ylabel(f"AS on {archs[j]}")
        r = corr[("all", archs[i], archs[j])]
        ax.set_title(f"r (all tasks) = {r:.2f}", fontsize=9)
        ax.legend(fontsize=7)
    _title(fig, store, "AS of each task measured on two architectures (Sec. 5.2, Fig. 4-left)")
    fig.tight_layout()
    return fig


def group_arch_table(store) -> str:
    """E9 as text: mean AS of each group's tasks on each architecture (rows: groups, columns: archs);
    ``*`` marks the architecture a discovered group was discovered with."""
    from ..experiments.sec5 import arch_matrix
    m = arch_matrix(store)
    lines = [f"{'group':<18}{'n':>3}" + "".join(f"{'AS on ' + a:>13}" for a in m["archs"])]
    first = ["human", "random", "randnet"]                       # then the discovered groups
    for g in sorted(dict.fromkeys(m["groups"]), key=lambda g: first.index(g) if g in first else len(first)):
        sel = [i for i, gg in enumerate(m["groups"]) if gg == g]
        own = g.partition("-")[2] if g.startswith("discovered-") else None
        lines.append(f"{g:<18}{len(sel):>3}" + "".join(
            f"{_mean(m['as'][sel, j]):>12.3f}{'*' if a == own else ' '}" for j, a in enumerate(m["archs"])))
    return "\n".join(lines)


def discovery_runs(store) -> str:
    """E9's discovery runs, one line per architecture (meta-steps, proxy-AS first/last, similarity)."""
    lines = []
    for k, e in store.entries.items():
        if k.startswith("discovery/"):
            lines.append(f"{e['arch']:<6} {e['where']:<16} {e['meta_steps']:>4} meta-steps "
                         f"({e['seconds_per_meta_step']:.1f} s each), proxy-AS {e['proxy_as_first5']:.3f} "
                         f"(first 5) -> {e['proxy_as_last5']:.3f} (last 5), mean similarity "
                         f"{e['mean_similarity']:.2f} over {e['n_tasks']} tasks")
    return "\n".join(lines)


def correlation_table(store) -> str:
    from ..experiments.sec5 import arch_correlations
    corr = arch_correlations(store)
    names = list(dict.fromkeys(k[0] for k in corr))
    pairs = list(dict.fromkeys((k[1], k[2]) for k in corr))
    head = f"{'tasks':<12}" + "".join(f"{a + ' vs ' + b:>18}" for a, b in pairs)
    lines = [head]
    for n in names:
        lines.append(f"{n:<12}" + "".join(f"{corr[(n, a, b)]:>18.2f}" for a, b in pairs))
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
def plot_task_grids(store, tasks=None):
    """E8 (Fig. 4-right, App. B): per task, the most discriminative images of class 0 and class 1."""
    from ..taskviz import decode_images
    names = tasks or [n for n in store.data.get("params", {}).get("tasks", []) if n in store.entries] \
        or list(store.entries)                      # the run's order (the file keeps keys sorted)
    k = len(store.entries[names[0]]["index"]["0"])
    fig, axes = plt.subplots(len(names), 1, figsize=(0.75 * (2 * k + 1), 1.0 * len(names) + 0.6),
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        e = store.entries[name]
        im0, im1 = decode_images(e["images"]["0"]), decode_images(e["images"]["1"])
        gap = np.full((32, 8, 3), 255, np.uint8)
        row = np.concatenate([*im0, gap, *im1], axis=1) if len(im0) and len(im1) else gap
        ax.imshow(row)
        ax.set_xticks([16 * len(im0), 32 * len(im0) + 8 + 16 * len(im1)], ["class 0", "class 1"], fontsize=7)
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
    _title(fig, store, "Most discriminative images of each class (Sec. 5.1, App. B)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------------------------
# the paper's claim next to what the run shows
CLAIMS = {
    "e11": "Paper (Sec. 5.4): the green pixel task has a high AS and a high test accuracy (the numbers were "
           "lost in extraction); accuracy stays almost the same when all other pixels are noise and drops to "
           "chance (0.5) when that pixel is noise.",
    "e20": "Paper (App. G, Prop. 1): AS <= Acc* (the best test accuracy over all labellings of X_te), and a "
           "second inequality bounding Acc* from above by a function of the AS (ours: g(Acc*) <= AS).",
    "e10": "Paper (Sec. 5.3, Fig. 5): human and discovered tasks stay above random-labelled ones on every "
           "domain; discovered tasks' AS is almost domain-independent, human tasks' AS varies more.",
    "e9": "Paper (Sec. 5.2, Fig. 4-left): tasks discovered with each architecture have a high AS on it, but a "
          "high-AS task for one architecture need not have a high AS on another (e.g. on ViT); MLP and ViT "
          "correlate well for all groups; correlations measured on human tasks alone mislead.",
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
        for k, e in es.items():
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
    return f"{CLAIMS.get(exp, '')}\nThis run ({store.data['profile']}): {run}"


def missing_domains(store) -> str:
    d = store.entries.get("domains", {})
    miss = d.get("missing", {})
    head = f"domains measured: {', '.join(d.get('present', {}))}"
    return head + ("\nmissing (get them and rerun):\n" + "\n".join(f"  - {k}: {v}" for k, v in miss.items())
                   if miss else "")
