"""Figures and tables of the discovery diagnosis (experiment ``diag``) and of E5's baselines (issue 21)."""
from __future__ import annotations

import numpy as np

from ...diagnosis import meets_sandbox_bar
from .common import caption, html_table, kind_color, new_fig


def gradients_table(store):
    """Meta-gradient norms of the two terms on the untrained encoder, per setting."""
    rows = {}
    for k, e in store.entries.items():
        if k.startswith("gradients:"):
            rows[k.split(":", 1)[1]] = {
                "head": e.get("encoder_head", "?"), "T": e.get("temperature", "?"),
                "λ": e["uniformity_weight"], "t": e["uniformity_t"], "inner width": e["disc_width"],
                "|∇ proxy-AS|": float(np.mean(e["proxy"])), "|∇ L_unif|": float(np.mean(e["uniformity"])),
                "λ |∇L_unif| / |∇proxy|": e["effective_ratio"], "balance λ": e["balance_weight"],
                "inner steps": float(np.mean(e["inner_steps"]))}
    return html_table(rows, index_name="setting", store=store,
                      caption="meta-gradient norms on the untrained encoder, 4 hyperplanes (>> 1: the uniformity "
                              "term steers alone; 0: no uniformity term, and with the whitened head none is needed "
                              "to keep the tasks apart)")


def learnability_table(store):
    """Proxy-AS and held-out accuracy of fixed labellings under the profile's inner loop."""
    rows = {}
    for k, e in store.entries.items():
        if k.startswith("learnability:"):
            rows[e["task"]] = {"proxy-AS": e["proxy_as"], "± sd": e["proxy_as_sd"], "inner steps": e["inner_steps"],
                               "held-out accuracy": e["test_accuracy"]}
    for k, e in store.entries.items():
        if k.startswith("learnability_full:") and e["task"] in rows:
            rows[e["task"]].update({"no early stop: proxy-AS": e["proxy_as"], "steps": e["inner_steps"],
                                    "accuracy": e["test_accuracy"]})
    return html_table(rows, index_name="labels", store=store,
                      caption="what the inner loop can learn: a labelling at random labels' proxy-AS cannot be discovered")


def learnability_facts(store) -> dict:
    """Glue: the labellings of the learnability table ranked by proxy-AS (with all inner steps where diag
    ran them, else with the authors' early stop; human and random labels as their means), and what the
    ranking says: are simple image statistics (or planted cues) more learnable than human labels?"""
    out = {"learn_rank": "not stored yet", "learn_reading": "not stored yet"}
    ent = store.entries if store is not None else {}
    prefix = "learnability_full:" if any(k.startswith("learnability_full:") for k in ent) else "learnability:"
    rows = [e for k, e in ent.items() if k.startswith(prefix)]
    if not rows:
        return out
    score = {}
    for kind in ("human", "random"):
        v = [e["proxy_as"] for e in rows if e["task"].startswith(kind + ":")]
        if v:
            score[f"{kind} labels (mean of {len(v)})"] = float(np.mean(v))
    other = {e["task"].split(":", 1)[1]: e["proxy_as"] for e in rows if not e["task"].startswith(("human:", "random:"))}
    score.update(other)
    ranked = sorted(score.items(), key=lambda kv: -kv[1])
    steps = int(np.max([e["inner_steps"] for e in rows]))
    out["learn_rank"] = f"({steps} inner steps) " + " > ".join(f"{n} {v:.3f}" for n, v in ranked)
    human = next((v for n, v in score.items() if n.startswith("human")), None)
    ahead = [n for n, v in other.items() if human is not None and v > human]
    if human is None or not other:
        out["learn_reading"] = "not stored yet"
    elif ahead:
        out["learn_reading"] = (f"{len(ahead)} of the {len(other)} simple labellings ({', '.join(ahead)}) are more "
                                "learnable here than human labels: at this inner-loop budget the proxy-AS, the "
                                "quantity meta-training raises, scores such image statistics above human labels")
    else:
        out["learn_reading"] = "human labels are more learnable here than every simple labelling measured"
    return out


def tasks_proxy(store) -> dict:
    """``{group: {index: entry}}`` of diag's ``tasks_proxy`` entries (the proxy-AS of each group's tasks)."""
    out = {}
    for k, e in store.entries.items():
        if k.startswith("tasks_proxy:"):
            out.setdefault(e["group"], {})[e["index"]] = e
    return out


def tasks_proxy_table(store):
    """Does meta-training raise its own objective? Per group of tasks (the same hyperplanes), the mean
    proxy-AS over the same unrolls and the inner networks' held-out accuracy, and the paired difference
    of the discovered tasks from each other group (95% t interval over hyperplanes, sign-flip p)."""
    from ...uncertainty import paired_difference
    g = tasks_proxy(store)
    if "discovered" not in g:
        return None
    idx = sorted(g["discovered"])
    rows = {}
    for name, ent in g.items():
        r = {"tasks": len(ent), "mean proxy-AS": float(np.mean([ent[i]["proxy_as"] for i in sorted(ent)])),
             "held-out accuracy": float(np.mean([ent[i]["test_accuracy"] for i in sorted(ent)]))}
        if name != "discovered" and sorted(ent) == idx:
            d = paired_difference([g["discovered"][i]["proxy_as"] for i in idx], [ent[i]["proxy_as"] for i in idx])
            r["discovered minus this"] = f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], p = {d['p']:.3f}"
        rows[name] = r
    return html_table(rows, index_name="tasks of", store=store,
                      caption="the meta-objective measured on the tasks themselves: proxy-AS of each hyperplane's "
                              "task (hard labels, the profile's inner loop, the same unrolls for every group)")


def plot_early_stop(store, threshold: float = 0.6):
    """The two inner networks' 0-1 agreement on each step's batch (mean and lowest over the unrolls,
    early stop off) per labelling, against the authors' early-stop threshold: a rule that fires on
    random labels as early as on learnable ones cannot tell tasks apart."""
    runs = [(e["task"], e) for k, e in store.entries.items()
            if k.startswith("learnability_full:") and e.get("agreement01")]
    if not runs:
        return None
    fig, axes = new_fig(height=3.0)
    ax = axes[0]
    for name, e in runs:
        kind = name.split(":")[0]
        style = dict(c=kind_color(name), lw=2 if kind == "random" else 1.2, alpha=1.0 if kind in ("random", "human") else 0.7)
        steps = np.arange(1, len(e["agreement01"]) + 1)
        ax.plot(steps, e["agreement01"], label=name, **style)
        if kind == "random":
            ax.plot(steps, e["agreement01_min"], ls="--", c=kind_color(name), lw=1, label=f"{name} (lowest of the unrolls)")
    ax.axhline(threshold, ls=":", c="r", lw=1.5, label=f"authors' early stop ({threshold:g} for 3 steps)")
    ax.set(xlabel="inner step", ylabel="0-1 agreement of the two networks", ylim=(0.4, 1.02))
    ax.legend(fontsize=7, ncol=2)
    caption(fig, store, "early stop off; mean over the unrolls")
    return fig


def _label(name: str, default) -> str:
    return f"{name} (smoke default)" if name == default else name


def sandbox_rows(store) -> dict:
    from ..experiments.diag import smoke_default_run
    out, default = {}, smoke_default_run(store.entries)
    for k, e in store.entries.items():
        if k.startswith("sandbox:"):
            f, u = e["final"], e["trajectory"][0]
            out[_label(k.split(":", 1)[1], default)] = {
                "tasks' best cues": ", ".join(f"{b['cue']} {b['similarity']:.2f}" for b in f["best"]),
                "cues matched (>= 0.9)": ", ".join(f["matched"]) or "none",
                "mean pairwise similarity": f["mean_similarity"],
                "untrained: matched": ", ".join(u["matched"]) or "none",
                "proxy-AS first → last 20%": f"{e['proxy_first']:.3f} → {e['proxy_last']:.3f}",
                "meta-steps": f["step"]}
    return out


def sandbox_learnability_table(store):
    """Algorithm 1's inner loop on each planted cue and on the two mixtures of the easy ones (built-in
    data, smoke settings): does the objective prefer the cues? ``None`` while not stored."""
    e = store.entries.get("sandbox_learnability")
    if not e:
        return None
    rows = {k: {"proxy-AS": v["proxy_as"], "held-out accuracy": v["test_accuracy"],
                "similarity to warm": v["warm"], "similarity to light": v["light"]} for k, v in e.items()}
    return html_table(rows, index_name="task", store=store,
                      caption="how learnable each planted cue and each 45-degree mixture of the two easy cues "
                              "is in Algorithm 1's inner loop (built-in data, smoke settings; higher proxy-AS: "
                              "more learnable)")


def sandbox_learnability_facts(store) -> dict:
    """Glue: the proxy-AS of the easy cues and of their mixtures, and whether every mixture is below
    both cues."""
    out = {k: "not stored yet" for k in ("sbl_cues", "sbl_mixtures", "sbl_order")}
    e = (store.entries.get("sandbox_learnability") if store is not None else None) or {}
    if not e:
        return out
    cues = [e[c]["proxy_as"] for c in ("warm", "light") if c in e]
    mix = [v["proxy_as"] for c in ("red", "blue") for k, v in e.items() if k.startswith(f"background {c}")]
    out["sbl_cues"] = " and ".join(f"{x:.3f}" for x in cues)
    out["sbl_mixtures"] = " and ".join(f"{x:.3f}" for x in mix)
    out["sbl_order"] = ("below both planted cues. The objective itself prefers the cues to their mixtures, so "
                        "where a run settles is a matter of the optimization (the encoder's start, the "
                        "hyperplanes, λ), not of what the objective rewards"
                        if mix and cues and max(mix) < min(cues) else
                        "not below both planted cues: the objective does not prefer the cues to their mixtures")
    return out


def sandbox_seed_runs(store) -> dict:
    """{objective: {seed: final cue recovery}}: seed 0 from ``sandbox:NAME``, others from
    ``sandbox_seed:NAME:SEED``."""
    out = {}
    for k, e in store.entries.items():
        if k.startswith("sandbox:"):
            out.setdefault(k.split(":", 1)[1], {})[0] = e["final"]
        elif k.startswith("sandbox_seed:"):
            name, seed = k.split(":", 1)[1].rsplit(":", 1)
            out.setdefault(name, {})[int(seed)] = e["final"]
    return {n: dict(sorted(v.items())) for n, v in out.items()}


def sandbox_seed_rows(store) -> dict:
    from ..experiments.diag import smoke_default_run
    rows, default = {}, smoke_default_run(store.entries)
    for name, by_seed in sandbox_seed_runs(store).items():
        if len(by_seed) < 2:
            continue
        row = {f"seed {s}": (", ".join(f["matched"]) or "none") + f" ({f['mean_similarity']:.2f})"
               for s, f in by_seed.items()}
        row["seeds meeting the bar"] = f"{sum(meets_sandbox_bar(f) for f in by_seed.values())} of {len(by_seed)}"
        rows[_label(name, default)] = row
    return rows


def sandbox_seed_table(store):
    """Cues matched (>= 0.9) and mean pairwise similarity of each objective's tasks at each task seed."""
    rows = sandbox_seed_rows(store)
    if not rows:
        return None
    return html_table(rows, index_name="objective", store=store,
                      caption="cues matched (>= 0.9) and mean pairwise similarity, by task seed: built-in data, "
                              "smoke settings; the bar: 2 distinct cues, similarity <= 0.7, no cue twice")


def sandbox_default_facts(store) -> dict:
    """Glue: the objective the smoke profile runs now; how many task seeds meet the bar with it at the
    longest run stored (the bar's, as ``tests/test_sandbox.py`` runs it) and whether that is every seed;
    and, at one number of meta-steps (the shortest run of both), the profile's objective against the
    earlier default (Eq. 5, t = 0.5, λ = 5)."""
    from ..experiments.diag import is_smoke_default, smoke_default_run
    keys = ("sb_default", "sb_default_steps", "sb_default_seeds", "sb_robust", "sb_same_steps")
    out = {k: "not stored yet" for k in keys}
    if store is None:
        return out
    runs, default = sandbox_seed_runs(store), smoke_default_run(store.entries)
    steps = {k.split(":", 1)[1]: e["final"]["step"] for k, e in store.entries.items() if k.startswith("sandbox:")}

    def met(name):
        by_seed = runs.get(name) or {}
        return sum(meets_sandbox_bar(f) for f in by_seed.values()), len(by_seed)
    if default:
        k, n = met(default)
        out.update(sb_default=default, sb_default_steps=str(steps[default]), sb_default_seeds=f"{k} of {n}")
        out["sb_robust"] = ("every task seed stored meets it" if k == n else
                            f"{n - k} of the {n} task seeds stored miss it, so at this scale the bar is met at "
                            "some seeds, not robustly: which cues a run recovers is a draw of the seed")
    earlier = "t=0.5, λ=5"
    same = [n for n in steps if earlier in steps and steps[n] == steps[earlier]
            and is_smoke_default(store.entries[f"sandbox:{n}"].get("overrides", {}))]
    if same:
        (k1, n1), (k0, n0) = met(same[0]), met(earlier)
        out["sb_same_steps"] = (f"{k1} of {n1} task seeds for the profile's objective against {k0} of {n0} for the "
                                f"earlier default, both at {steps[earlier]} meta-steps")
    return out


def sandbox_table(store):
    return html_table(sandbox_rows(store), index_name="objective", store=store,
                      caption="discovery on the built-in data (planted cues known): smoke settings, seed 0")


def plot_sandbox(store):
    """Best-cue similarity of each task over meta-steps, one panel per objective."""
    from ..experiments.diag import smoke_default_run
    default = smoke_default_run(store.entries)
    runs = [(_label(k.split(":", 1)[1], default), e) for k, e in store.entries.items() if k.startswith("sandbox:")]
    if not runs:
        return None
    ncols = min(3, len(runs))
    fig, axes = new_fig(ncols=ncols, height=2.9, nrows=-(-len(runs) // ncols), sharey=True)
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    for ax, (name, e) in zip(axes, runs):
        steps = [t["step"] for t in e["trajectory"]]
        for i in range(len(e["trajectory"][0]["best"])):
            ax.plot(steps, [t["best"][i]["similarity"] for t in e["trajectory"]], marker=".",
                    label=f"task {i}: {e['final']['best'][i]['cue']}")
        ax.axhline(0.9, ls=":", c="k", lw=1)
        ax.set(title=name, xlabel="meta-step", ylim=(0.5, 1.0))
        ax.legend(fontsize=7)
    for ax in axes[::ncols]:
        ax.set_ylabel("similarity to its best cue")
    caption(fig, store, "built-in data, seed 0; dotted: the 0.9 match threshold")
    return fig


def baselines_table(e5):
    """E5's discovered tasks against the baselines that need no meta-learning: mean AS, n, diversity,
    and the difference with its 95% interval over tasks."""
    from ..experiments.sec4 import current_comparisons
    comp = current_comparisons(e5.entries) or {}     # from the per-task entries (partial: what is stored)
    rows = {}
    for kind, c in comp.items():
        d = c.get("discovered_minus") or {}
        rows[kind] = {"mean AS": c.get("mean_as"), "n": c.get("n"), "mean pairwise similarity": c.get("mean_similarity"),
                      "discovered minus": d.get("mean"),
                      "95% interval": (f"{d['low']:+.3f} to {d['high']:+.3f}" if d.get("low") == d.get("low") and d
                                       else ""),
                      "p": d.get("p"), "paired": d.get("paired")}
    return html_table(rows, index_name="tasks", store=e5,
                      caption="discovered tasks vs baselines that need no meta-learning (one pool, one AS recipe)")


def _tasks_proxy_facts(diag) -> dict:
    from ...uncertainty import paired_difference
    g = tasks_proxy(diag)
    out = {}
    if "discovered" not in g:
        return out
    idx = sorted(g["discovered"])
    for name in ("untrained", "unif_only"):
        if name in g and sorted(g[name]) == idx:
            d = paired_difference([g["discovered"][i]["proxy_as"] for i in idx], [g[name][i]["proxy_as"] for i in idx])
            out[f"diag_proxy_minus_{name}"] = f"{d['mean']:+.3f} (95% interval {d['low']:+.3f} to {d['high']:+.3f}, n = {d['n']})"
    return out


def stat_match_facts(diag) -> dict:
    """Glue: each group's mean best similarity to a simple image statistic (diag's ``stat_match``), which
    statistics the discovered tasks match, and the discovered minus the untrained encoder's, paired by
    hyperplane (95% t interval, n tasks)."""
    from ...uncertainty import paired_difference
    out = {k: "not stored yet" for k in ("stat_match", "stat_match_cues", "stat_match_minus_untrained")}
    ent = diag.entries if diag is not None else {}
    sims = {e["group"]: [b["similarity"] for b in e["best"]] for k, e in ent.items() if k.startswith("stat_match:")}
    if "discovered" not in sims:
        return out
    names = {"discovered": "discovered", "untrained": "untrained encoder", "unif_only": "uniformity only"}
    out["stat_match"] = ", ".join(f"{names.get(g, g)} {np.mean(v):.3f}" for g, v in sims.items())
    cues = sorted({b["cue"].split(":", 1)[1] for b in ent["stat_match:discovered"]["best"]})
    out["stat_match_cues"] = ", ".join(cues)
    if len(sims.get("untrained", [])) == len(sims["discovered"]):
        d = paired_difference(sims["discovered"], sims["untrained"])
        out["stat_match_minus_untrained"] = _diff(d)
    return out


def facts(diag=None, e5=None) -> dict:
    """Numbers the page's prose quotes (glue)."""
    out = {}
    if diag is not None:
        for k, e in diag.entries.items():
            if k.startswith("gradients:"):
                key = "".join(ch if ch.isalnum() else "_" for ch in k.split(":", 1)[1])[:20]
                out[f"diag_ratio_{key}"] = round(e["effective_ratio"], 1)
        out.update(_tasks_proxy_facts(diag))
    if e5 is not None:
        prm = e5.data.get("params") or {}
        out["e5_settings"] = (f"λ = {prm.get('uniformity_weight')}, t = {prm.get('uniformity_t', 2.0)}, "
                              f"d = {prm.get('emb_dim')}, {prm.get('n_tasks')} hyperplanes, "
                              f"{prm.get('meta_steps')} meta-steps of {prm.get('tasks_per_step', 1)} hyperplane(s), "
                              f"Adam {prm.get('meta_lr')} ({prm.get('meta_lr_schedule', 'constant')}), "
                              f"inner networks of width {prm.get('disc_width')}")
    if e5 is not None and (e5.entries.get("comparisons") or any(k.startswith("discovered:") for k in e5.entries)):
        from ..experiments.sec4 import current_comparisons
        comp = current_comparisons(e5.entries)
        for kind in ("untrained", "unif_only"):
            if kind in comp:
                d = comp[kind]["discovered_minus"]
                out[f"e5_minus_{kind}"] = f"{d['mean']:+.3f} (95% interval {d['low']:+.3f} to {d['high']:+.3f})"
    if e5 is not None:
        for kind in ("untrained", "unif_only"):
            out.setdefault(f"e5_minus_{kind}", "not stored yet")
    return out


def longer_table(longer, e5, diag=None):
    """Issue 21: the same discovery run with more meta-steps against E5's groups (the same hyperplanes):
    mean AS and proxy-AS of each group, and the longer run's paired difference from each (t 95%
    interval over hyperplanes, sign-flip p). ``None`` while the longer run is not stored."""
    if longer is None or e5 is None or not any(k.startswith("discovered:") for k in longer.entries):
        return None
    from ..experiments.longer import comparisons
    c = comparisons(longer, e5, diag)
    run = longer.entries.get("run", {})
    steps = run.get("meta_steps", "?")
    short = (e5.data.get("params") or {}).get("meta_steps", "?")
    fmt = lambda d: (f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}], p = {d['p']:.3f}"   # noqa: E731
                     if d.get("low") == d.get("low") else f"{d['mean']:+.3f}")
    rows = {f"discovered, {steps} meta-steps (this run)": {
        "tasks": c["n"], "mean AS": c["mean_as"], "mean pairwise similarity": c["mean_similarity"],
        "mean proxy-AS": float(np.mean([e["proxy_as"] for k, e in longer.entries.items() if k.startswith("tasks_proxy:")]))
        if any(k.startswith("tasks_proxy:") for k in longer.entries) else None,
        "this run minus (AS)": "", "this run minus (proxy-AS)": ""}}
    names = {"discovered": f"discovered, {short} meta-steps (E5)", "untrained": "untrained encoder (E5)",
             "unif_only": f"uniformity only, {short} meta-steps (E5)"}
    sims = {"discovered": (e5.entries.get("discovery") or {}).get("mean_similarity"),
            "untrained": (e5.entries.get("untrained") or {}).get("mean_similarity"),
            "unif_only": (e5.entries.get("unif_only") or {}).get("mean_similarity")}
    for g, label in names.items():
        a = c["as"].get(g, {})
        p = c["proxy"].get(g, {})
        rows[label] = {"tasks": c["n"], "mean AS": a.get("mean"), "mean pairwise similarity": sims[g],
                       "mean proxy-AS": p.get("mean"),
                       "this run minus (AS)": fmt(a["longer_minus"]) if a else "",
                       "this run minus (proxy-AS)": fmt(p["longer_minus"]) if p else ""}
    return html_table(rows, index_name="tasks", store=longer,
                      caption="the main discovery run with more meta-steps, against E5's groups on the same "
                              "hyperplanes (one pool, one AS recipe; proxy-AS over diag's unrolls)")


def longer_facts(longer, e5, diag=None) -> dict:
    """The numbers the page quotes about the longer run (glue), or 'not stored yet'."""
    keys = ("longer_steps", "longer_minus_untrained", "longer_minus_unif_only", "longer_minus_discovered",
            "longer_similarity", "longer_proxy_first", "longer_proxy_last")
    if longer is None or e5 is None or not any(k.startswith("discovered:") for k in longer.entries):
        return {k: "not stored yet" for k in keys}
    from ..experiments.longer import comparisons
    c = comparisons(longer, e5, diag)
    run = longer.entries.get("run", {})
    out = {"longer_steps": str(run.get("meta_steps", "?")), "longer_similarity": f"{c['mean_similarity']:.3f}"
           if c["mean_similarity"] is not None else "not stored yet",
           "longer_proxy_first": f"{run['proxy_first']:.3f}" if "proxy_first" in run else "not stored yet",
           "longer_proxy_last": f"{run['proxy_last']:.3f}" if "proxy_last" in run else "not stored yet"}
    for g in ("untrained", "unif_only", "discovered"):
        out[f"longer_minus_{g}"] = _diff(c["as"][g]["longer_minus"])
    return out


def _diff(d) -> str:
    return (f"{d['mean']:+.3f} (95% interval {d['low']:+.3f} to {d['high']:+.3f}, n = {d['n']})"
            if d["low"] == d["low"] else f"{d['mean']:+.3f} (n = {d['n']})")


def _stored(store) -> bool:
    return store is not None and any(k.startswith("discovered:") for k in store.entries)


def bnhead_table(bnhead, e5):
    """Issue 21: E5's groups (the default objective: whitened, T = 2, λ = 0) beside the same groups with
    the earlier cpu objective (BatchNorm head, T = 5, λ = 4), on the same hyperplanes, one pool and one AS
    recipe: mean AS, mean pairwise similarity, each objective's discovered tasks minus its own baselines
    and E5's discovered tasks minus the earlier objective's groups (paired by hyperplane). ``None`` while
    either is not stored."""
    if not _stored(bnhead) or not _stored(e5):
        return None
    from ..experiments.bnhead import BN_HEAD, comparisons
    c = comparisons(bnhead, e5)
    if not c.get("e5", {}).get("n"):
        return None
    from ..experiments.sec4 import current_comparisons
    ce = current_comparisons(e5.entries) or {}
    bn = f"BatchNorm head, T = {BN_HEAD['temperature']:g}, λ = {BN_HEAD['uniformity_weight']:g}"
    names = {"discovered": "discovered", "untrained": "untrained encoder", "unif_only": "uniformity only"}
    rows = {}
    for g, label in names.items():
        own = (ce.get(g) or {}).get("discovered_minus")
        rows[f"E5 (default): {label}"] = {"tasks": c["e5"]["n"], "mean AS": c["e5"]["mean_as"][g],
                                          "mean pairwise similarity": (ce.get(g) or {}).get("mean_similarity"),
                                          "its discovered minus": _diff(own) if own else "",
                                          "E5's discovered minus": ""}
    for g, label in names.items():
        rows[f"earlier ({bn}): {label}"] = {
            "tasks": c["n"], "mean AS": c["mean_as"][g], "mean pairwise similarity": c["mean_similarity"].get(g),
            "its discovered minus": _diff(c["minus"][g]) if g in c["minus"] else "",
            "E5's discovered minus": _diff(c["e5"]["minus"][g])}
    return html_table(rows, index_name="objective: tasks", store=bnhead,
                      caption="E5's groups beside the earlier cpu objective's, on the same hyperplanes (one pool, "
                              "E5's AS recipe; differences paired by hyperplane)")


def bnhead_facts(bnhead, e5) -> dict:
    """The numbers the page quotes about the earlier objective beside E5's (glue), or 'not stored yet'."""
    keys = ("bnhead_groups", "bnhead_minus_untrained", "bnhead_minus_unif_only", "bnhead_proxy",
            "e5_minus_bnhead_discovered", "e5_minus_bnhead_untrained", "e5_groups", "bnhead_why")
    out = {k: "not stored yet" for k in keys}
    from ..experiments.sec4 import current_comparisons
    comp = (current_comparisons(e5.entries) or {}) if _stored(e5) else {}
    if all((comp.get(g) or {}).get("mean_as") is not None for g in ("discovered", "untrained", "unif_only")):
        out["e5_groups"] = ", ".join(f"{comp[g]['mean_as']:.3f}" for g in ("discovered", "untrained")) + \
            f" and {comp['unif_only']['mean_as']:.3f}"
    if not _stored(bnhead):
        return out
    from ..experiments.bnhead import comparisons
    c = comparisons(bnhead, e5 if _stored(e5) else None)
    m = c["mean_as"]
    run = bnhead.entries.get("run") or {}
    out.update(bnhead_groups=f"{m['discovered']:.3f}, {m['untrained']:.3f} and {m['unif_only']:.3f}",
               bnhead_minus_untrained=_diff(c["minus"]["untrained"]),
               bnhead_minus_unif_only=_diff(c["minus"]["unif_only"]))
    if "proxy_first" in run:
        out["bnhead_proxy"] = f"{run['proxy_first']:.3f} -> {run['proxy_last']:.3f}"
    if c.get("e5", {}).get("n"):
        e = c["e5"]["mean_as"]
        out.update(e5_minus_bnhead_discovered=_diff(c["e5"]["minus"]["discovered"]),
                   e5_minus_bnhead_untrained=_diff(c["e5"]["minus"]["untrained"]))
        lower_base = e["untrained"] < m["untrained"] and e["unif_only"] < m["unif_only"]
        if e["discovered"] > m["discovered"]:
            why = "E5's discovered tasks score higher than the earlier objective's"
            why += ", and its baselines lower" if lower_base else ""
        elif lower_base:
            why = ("E5's gaps to its baselines are wider because its baselines score lower, not because its "
                   "discovered tasks score higher")
        else:
            why = "E5's discovered tasks do not score higher than the earlier objective's"
        out["bnhead_why"] = why
    return out


def asfit_table(asfit, e5=None):
    """Issue 21: E5's groups on the same hyperplanes, AS with networks that fit their labels (Sec. 3's
    recipe) beside E5's recipe: mean AS, lowest evaluated train accuracy, and discovered minus each
    baseline (paired, 95% t interval). ``None`` while nothing is stored."""
    if asfit is None or not any(k.startswith("discovered:") for k in asfit.entries):
        return None
    from ..experiments.asfit import comparisons
    c = comparisons(asfit, e5)
    if not c["n"]:
        return None
    fmt = lambda d: ("" if not d else f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"   # noqa: E731
                     if d.get("low") == d.get("low") else f"{d['mean']:+.3f}")
    rows = {}
    for g, v in c["groups"].items():
        rows[g] = {"hyperplanes": c["n"], "mean AS, fitting networks": v["mean_as"],
                   "lowest train accuracy": v["min_train_acc"], "mean AS, E5's recipe": v["e5_mean_as"],
                   "discovered minus, fitting": fmt(c["fit"].get(g)), "discovered minus, E5's recipe": fmt(c["e5"].get(g))}
    return html_table(rows, index_name="tasks", store=asfit,
                      caption="E5's tasks on the same hyperplanes, AS with networks trained until they fit their "
                              "labels (Sec. 3's recipe) and with E5's recipe")


def asfit_facts(asfit, e5=None) -> dict:
    """The numbers the page quotes about ``asfit`` (glue), or 'not stored yet'."""
    keys = ("asfit_minus_untrained", "asfit_minus_unif_only", "asfit_e5_minus_untrained", "asfit_e5_minus_unif_only", "asfit_n")
    out = {k: "not stored yet" for k in keys}
    if asfit is None or not any(k.startswith("discovered:") for k in asfit.entries):
        return out
    from ..experiments.asfit import comparisons
    c = comparisons(asfit, e5)
    if not c["n"]:
        return out
    out["asfit_n"] = str(c["n"])
    for src, pre in (("fit", "asfit_minus_"), ("e5", "asfit_e5_minus_")):
        for g in ("untrained", "unif_only"):
            d = c[src].get(g)
            if d:
                out[pre + g] = (f"{d['mean']:+.3f} (95% interval {d['low']:+.3f} to {d['high']:+.3f})"
                                if d["low"] == d["low"] else f"{d['mean']:+.3f}")
    return out


def long_run_facts(profiles=("paper", "gpu"), root=None) -> dict:
    """``paper_scale_run``: where the main discovery run of the paper-scale profiles stands, read from the
    ``history.json`` a GPU window leaves beside its checkpoint (``scripts/gpu_window.py unpack``): meta-steps
    done of the run's total, seconds a meta-step, unroll lengths and the proxy-AS at its start and over its
    last 10 steps. A run that has not finished is progress, not a result."""
    import json

    from ..runs import discovery_dir
    parts = []
    for prof in profiles:
        path = discovery_dir(prof, root) / "history.json"
        try:
            h = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        steps = h.get("history") or []
        if not steps:
            continue
        first = np.mean([r["proxy_as"] for r in steps[:10]])
        last = np.mean([r["proxy_as"] for r in steps[-10:]])
        inner = [r["inner_steps"] for r in steps if isinstance(r.get("inner_steps"), int)]
        done = "complete" if h.get("step") == h.get("total") else "not finished, so not a result"
        parts.append(f"`{prof}`: {h.get('step'):,} of {h.get('total'):,} meta-steps ({done}), "
                     f"{h['seconds_per_step']['mean']:.1f} s a meta-step on its GPU"
                     + (f", unrolls of {min(inner)}-{max(inner)} inner steps" if inner else "")
                     + f"; proxy-AS {first:.3f} over its first 10 meta-steps, {last:.3f} over its last 10")
    return {"paper_scale_run": "; ".join(parts) if parts else "no stored run at `gpu` or `paper` yet"}
