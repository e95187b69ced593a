"""Claims of Sec. 4 and its appendices: E5 (discovery), E6 (proxy-AS, App. I.1), E7 (random-network
tasks, App. H), E17 (K-way, App. C), E18 (λ / d trade-off, App. E), E21 (Tiny ImageNet, App. A)."""
from __future__ import annotations

from . import (CLOSE, MARGIN, SEPARATION, Check, at_least, ci_above, claims, close, correlates, fmt, gt, mean,
               row, train_premise)
from ...diagnosis import duplicated_cues, meets_sandbox_bar
from ..experiments.diag import smoke_default_run
from .sec3 import _as, _by_kind, _train

PAGE = "sec4_discovery"


def _discovery_premise(entry, what="discovery") -> Check:
    """The meta-optimization improved its objective: mean proxy-AS of the last tenth of the meta-steps
    (at least 5) above that of the first tenth."""
    hist = (entry or {}).get("history") or []
    if len(hist) < 2:
        return Check(f"{what}: proxy-AS history not recorded", None)
    k = max(5, len(hist) // 10)
    first, last = mean([h["proxy_as"] for h in hist[:k]]), mean([h["proxy_as"] for h in hist[-k:]])
    return Check(f"{what} ({entry.get('step', len(hist))} meta-steps; paper ~1e5): proxy-AS of the last {k} steps "
                 f"{fmt(last)} {'>' if last > first else '<='} first {k} {fmt(first)}", last > first)


def _reference(st, exp, kind):
    """Entries of ``kind`` from ``exp``'s own store, else from E1's (named, with E1's recipe)."""
    own = _by_kind(st.entries(exp)).get(kind)
    if own:
        return own, f"{kind} ({exp})"
    return _by_kind(st.entries("e1")).get(kind), f"{kind} (E1: {st.recipe('e1')})"


def _uniformity_premise(st) -> Check:
    """The discovered tasks' dissimilarity rests on the uniformity term (Eq. 5, λ > 0; the authors'
    default 5): a run with λ = 0 fails this premise, with E18's points at the same d and λ > 0 beside it,
    and so does a whitened embedding (ours), which keeps the tasks apart by construction (said so)."""
    p = st.params("e5")
    lam, d = p.get("uniformity_weight"), p.get("emb_dim")
    if lam is None:
        return Check("uniformity weight λ of the discovery run: not recorded", None)
    if p.get("encoder_head") == "whiten":
        return Check(f"uniformity weight λ = {lam:g} (paper: λ > 0, authors' default 5): the tasks are kept apart "
                     "by the whitened embedding instead (ours, book Sec. 4 eq-whiten): orthonormal hyperplanes read "
                     "uncorrelated projections, so dissimilarity near 0.5 holds by construction, not by discovery "
                     "(not the paper's condition)", False)
    pts = sorted((e for e in st.entries("e18").values() if e.get("d") == d and e.get("lambda", 0) > 0),
                 key=lambda e: e["lambda"])
    alt = "; ".join(f"λ={e['lambda']:g}: similarity {fmt(e['mean_similarity'])}, AS {fmt(e['mean_as'])}" for e in pts)
    return Check(f"uniformity weight λ = {lam:g} (paper: λ > 0, authors' default 5)"
                 + (f"; E18 at the same d={d}: {alt}" if alt else ""), lam > 0)


@claims("e5", page=PAGE)
def e5(st):
    ent = st.entries("e5")
    g = _by_kind(ent)
    disc, unt, uns = g.get("discovered"), g.get("untrained"), g.get("unseen")
    hum, hname = _reference(st, "e5", "human")
    rnd, rname = _reference(st, "e5", "random")
    d = ent.get("discovery", {})
    note = f"discovered tasks: {st.recipe('e5')}"
    prem = [_discovery_premise(d), train_premise("discovered tasks", _train(disc)),
            gt("discovered AS", _as(disc), "the same hyperplanes on the untrained encoder (ours)", _as(unt), paired=True),
            st.complete("e5")]
    sim = d.get("mean_similarity")
    return [
        row(st, "e5", "Discovered tasks have an AS on par with (or above) human-labelled tasks "
            "(Sec. 4.4, Fig. 1-center)", "Fig. 1-center; authors' code: ResNet-18 discovered mean 0.879",
            [at_least(f"discovered mean AS ({len(disc or [])})", _as(disc), f"{hname} mean AS", _as(hum))],
            prem, note),
        row(st, "e5", "Discovered tasks have a far higher AS than random-labelled tasks (Sec. 4.4, Fig. 1-center)",
            "Fig. 1-center: shown in a figure, no number in the text",
            [gt("discovered mean AS", _as(disc), f"{rname} mean AS", _as(rnd), SEPARATION)], prem, note),
        row(st, "e5", "The discovered tasks are dissimilar: mean pairwise similarity (Eq. 2) close to its "
            "minimum 0.5 (Sec. 4.4)", "close to 0.5 (no number in the text)",
            [close(f"mean pairwise similarity of {d.get('n_tasks', '?')} tasks", sim, 0.5)],
            [prem[0], _uniformity_premise(st), st.complete("e5")]),
        *_baseline_rows(st, ent, prem, note),
        row(st, "e5", "Any hyperplane of the trained encoder gives a high-AS task, not only the trained ones "
            "(App. I.2)", "App. I.2 (no number)",
            [at_least(f"mean AS of {len(uns or [])} tasks from new random hyperplanes", _as(uns),
                      "the trained hyperplanes'", _as(disc)),
             # not vacuous: on a collapsed encoder every hyperplane gives the same (high-AS) task
             close("mean pairwise similarity of the new hyperplanes' tasks (distinct tasks, not copies)",
                   ent.get("unseen", {}).get("mean_similarity"), 0.5, 0.1)], prem, note),
        _issue_bar_row(st, ent, prem[:1], note),
    ]


def _issue_bar_row(st, ent, prem, note):
    """Issue 21's cpu bar, as stated (ours, not the paper's): the discovered tasks' AS more than 0.03 above
    the untrained encoder's and uniformity-only training's on the same hyperplanes (paired; judged on the
    whole interval, stricter than the bar's "mean >= 0.03, interval excluding 0"), at a mean pairwise
    similarity of at most 0.6."""
    from ..experiments.asfit import paired_index
    idx = paired_index(ent, ("discovered", "untrained", "unif_only"))
    mine = [ent[f"discovered:{i}"]["agreement"] for i in idx]
    parts = [gt(f"discovered tasks' AS ({len(idx)})", mine or None, f"{BASELINE_NAMES[g]}",
                [ent[f"{g}:{i}"]["agreement"] for i in idx] or None, 0.03, paired=True) for g in ("untrained", "unif_only")]
    sim = ent.get("discovery", {}).get("mean_similarity")
    parts.append(Check(f"mean pairwise similarity {fmt(sim)} (at most 0.6)", None if sim is None else sim <= 0.6))
    return row(st, "e5", "Discovery beats the untrained encoder and uniformity-only training by more than 0.03 AS, "
               "at a mean pairwise similarity <= 0.6 (issue 21's bar; ours, not the paper's)",
               "Sec. 4 / Fig. 1: discovered tasks have a high AS and are dissimilar", parts,
               prem + [st.complete("e5")], note)


BASELINE_NAMES = {"untrained": "the same hyperplanes on the untrained encoder",
                  "unif_only": "the same hyperplanes after uniformity-only training",
                  "naive": "random-network tasks drawn as dissimilar (naive discovery)",
                  "stat": "simple image statistics (median splits)"}


def _baseline_rows(st, ent, prem, note):
    """Issue 21: discovered tasks against baselines that need no meta-learning, each at its own
    diversity (mean pairwise similarity), on the 95% interval of the AS difference over tasks."""
    from ..experiments.sec4 import current_comparisons
    comp = current_comparisons(ent)      # from the per-task entries (a partial E5: what is stored so far)
    if comp is None:
        return []
    d = comp.get("discovered", {})
    sim_d = d.get("mean_similarity")
    parts = []
    for kind, name in BASELINE_NAMES.items():
        c = comp.get(kind)
        if not c:
            continue
        parts.append(ci_above(f"discovered (similarity {fmt(sim_d)})",
                              f"{name} (AS {fmt(c['mean_as'])}, similarity {fmt(c.get('mean_similarity'))})",
                              c.get("discovered_minus"), MARGIN))
    div = [close("mean pairwise similarity of the discovered tasks (baselines: "
                 + ", ".join(f"{k} {fmt(comp[k].get('mean_similarity'))}" for k in BASELINE_NAMES if k in comp) + ")",
                 sim_d, 0.5, 0.1)]
    return [row(st, "e5", "What meta-learning adds: the discovered tasks' AS is higher than that of tasks "
                "from baselines that need no meta-learning (our control; the paper compares with human and "
                "random labels only)", "no number (our control)", parts, prem[:1] + div, note)]


@claims("e6", page=PAGE)
def e6(st):
    ent = st.entries("e6")
    g = {}
    for e in ent.values():
        g.setdefault(e.get("kind"), []).append(e)
    final = lambda k: [e["test_agreement"][-1] for e in g.get(k, []) if e.get("test_agreement")] or None
    steps = max([e["steps"][-1] for e in ent.values() if e.get("steps")] or [0])
    note = f"0-1 agreement on X_te after {steps} inner steps (paper: 50)"
    pts = [(e["proxy_as"], e["agreement"]) for e in ent.values() if e.get("agreement") is not None]
    corr = correlates("proxy-AS and AS over tasks", [p[0] for p in pts], [p[1] for p in pts])
    from_ = {e.get("as_from") for e in ent.values()}
    return [
        row(st, "e6", "A few inner steps already separate human-labelled and discovered tasks from random ones "
            "(App. I.1, Fig. 16-left)", "50 steps (Fig. 16-left; shown in a figure, no number in the text)",
            [gt("human", final("human"), "random", final("random"), SEPARATION),
             gt("discovered", final("discovered"), "random", final("random"), SEPARATION)],
            [st.complete("e6")], note),
        row(st, "e6", "The proxy-AS correlates well with the AS (App. I.1, Fig. 16-right)",
            "Fig. 16-right: shown in a figure, no number in the text", [corr], [st.complete("e6")],
            "AS " + " and ".join({"stored": "read from the stored E1 / E5 results", "computed": "computed here"}.get(x, x)
                                 for x in sorted(x for x in from_ if x))),
    ]


def greedy_dissimilar(sim_matrix, threshold: float) -> int:
    """How many tasks of a set a greedy pass keeps so that every kept pair is below ``threshold``
    similarity (App. H.2's rule for naive discovery, applied to the discovered set)."""
    kept = []
    for i in range(len(sim_matrix)):
        if all(sim_matrix[i][j] < threshold for j in kept):
            kept.append(i)
    return len(kept)


def _naive_check(nv, disc) -> Check:
    """App. H.2's point, testable: at the same similarity threshold, drawing random networks
    (``naive_max_draws`` of them) yields fewer mutually dissimilar tasks than discovery delivers in
    one run (counted greedily on E5's similarity matrix). Fails when naive drawing keeps as many."""
    if not nv:
        return Check("naive discovery not stored", None)
    if not disc.get("similarity_matrix"):
        return Check(f"naive discovery kept {nv['found']} of {nv['wanted']} in {nv['draws']} draws; E5's discovered "
                     "similarity matrix not stored", None)
    k = greedy_dissimilar(disc["similarity_matrix"], nv["threshold"])
    return Check(f"at similarity < {nv['threshold']:g}: naive drawing kept {nv['found']} tasks in {nv['draws']} random "
                 f"networks, discovery {k} of its {len(disc['similarity_matrix'])} (E5)", nv["found"] < k)


@claims("e7", page=PAGE)
def e7(st):
    ent = st.entries("e7")
    rn = _by_kind(ent).get("randnet")
    disc = _by_kind(st.entries("e5")).get("discovered")
    hum, hname = _reference(st, "e7", "human")
    sim_r = ent.get("similarity", {}).get("mean_similarity")
    sim_d = st.entries("e5").get("discovery", {}).get("mean_similarity")
    nv = ent.get("naive")
    naive = _naive_check(nv, st.entries("e5").get("discovery", {}))
    from ...randnet import RANDNET_ARCH
    arch = st.params("e7").get("arch")
    sub = (f"random networks here: untrained {arch} (width {st.params('e7').get('width')}), the profile's AS "
           f"architecture; the task name randnet:i elsewhere (e.g. Sec. 6's tau') is a {RANDNET_ARCH}"
           if arch and arch != RANDNET_ARCH else "")
    return [
        row(st, "e7", "Random-network tasks have a high AS, on par with human-labelled and discovered ones "
            "(Sec. 4.4, App. H.1)", "no number in the text",
            [at_least(f"random-network mean AS ({len(rn or [])})", _as(rn), hname, _as(hum)),
             at_least("random-network mean AS", _as(rn), "discovered (E5)", _as(disc))],
            [train_premise("random-network tasks", _train(rn)), st.complete("e7")], sub),
        row(st, "e7", "Random-network tasks are very similar to each other, more than the discovered tasks "
            "(Sec. 4.4, App. H, Fig. 15-left)", "no number in the text",
            [gt(f"random-network mean pairwise similarity ({ent.get('similarity', {}).get('n', '?')} nets)", sim_r,
                "discovered tasks' (E5)", sim_d)], [_uniformity_premise(st), st.complete("e7")]),
        row(st, "e7", "Naive discovery by drawing random networks is inefficient (App. H.2, Fig. 15-center)",
            "Fig. 15-center: shown in a figure, no number in the text", [naive], [st.complete("e7")]),
    ]


@claims("e17", page=PAGE)
def e17(st):
    ent = st.entries("e17")
    ks = sorted({e["k"] for e in ent.values() if "k" in e})
    bal, sep, par = [], [], []
    for k in ks:
        b = ent.get(f"balance:k{k}", {})            # the plain argmax, before any rebalancing (issue 18)
        if b.get("argmax_fractions"):
            dev = b["max_deviation"]
            bal.append(Check(f"K={k}: plain-argmax class fractions (before rebalancing) within {fmt(dev)} of 1/K "
                             f"(margin {fmt(CLOSE)})", dev <= CLOSE))
        elif ent.get(f"discovery:k{k}"):
            bal.append(Check(f"K={k}: the class fractions before rebalancing are not stored", None))
        g = {kind: [e for e in ent.values() if e.get("k") == k and e.get("kind") == kind]
             for kind in ("discovered", "random", "human")}
        sep.append(gt(f"K={k}: discovered mean AS", _as(g["discovered"]), "random K-way", _as(g["random"]), SEPARATION))
        par.append(at_least(f"K={k}: discovered mean AS", _as(g["discovered"]), "human K-way", _as(g["human"])))
    prem = [st.complete("e17")]
    return [
        row(st, "e17", "K-way discovery (rotated simplex heads) gives balanced K-way tasks (App. C)",
            "balanced: each class 1/K", bal or [Check("no K-way discovery stored", None)], prem),
        row(st, "e17", "Discovered K-way tasks have a high AS: above random K-way labellings, on par with human "
            "K-way tasks (App. C, as in the binary case)", "App. C gives no numbers",
            (sep + par) or [Check("no K-way tasks stored", None)], prem),
    ]


@claims("e18", page=PAGE)
def e18(st):
    ent = st.entries("e18")
    dims = sorted({e["d"] for e in ent.values()})
    sim, acc, high = [], [], []
    for d in dims:
        pts = sorted((e for e in ent.values() if e["d"] == d), key=lambda e: e["lambda"])
        if len(pts) < 2:
            continue
        lo, hi = pts[0], pts[-1]
        sim.append(gt(f"d={d}: similarity at λ={lo['lambda']:g}", lo["mean_similarity"],
                      f"at λ={hi['lambda']:g}", hi["mean_similarity"], MARGIN))
        acc.append(gt(f"d={d}: mean AS at λ={lo['lambda']:g}", lo.get("as") or lo["mean_as"], f"at λ={hi['lambda']:g}",
                      hi.get("as") or hi["mean_as"], 0.0))
        best = min(pts, key=lambda e: e["mean_similarity"])
        high.append(at_least(f"d={d}: mean AS at the least similar point (λ={best['lambda']:g}, similarity "
                             f"{fmt(best['mean_similarity'])})", best.get("as") or best["mean_as"], f"at λ={lo['lambda']:g}",
                             lo.get("as") or lo["mean_as"]))
    curve = "; ".join(f"λ={e['lambda']:g}, d={e['d']}: AS {fmt(e['mean_as'])}, similarity {fmt(e['mean_similarity'])}"
                      for e in sorted(ent.values(), key=lambda e: (e["d"], e["lambda"])))
    none = [Check("fewer than two λ values stored for any d", None)]
    head = st.params("e18").get("encoder_head")
    # the trade-off needs a head that leaves dissimilarity to λ; a whitened embedding gives it at every λ
    prem = [Check(f"the encoder head leaves the tasks' dissimilarity to λ (head {head})", True)
            if head and head != "whiten" else
            Check("the sweep's embedding is whitened over the batch (ours, book Sec. 4 eq-whiten): orthonormal "
                  "hyperplanes read uncorrelated projections, so the tasks are near similarity 0.5 at every λ and "
                  "the uniformity term has little left to do (the paper's head, Linear + BatchNorm, leaves it to λ)",
                  False) if head else Check("the sweep's encoder head: not recorded", None),
            st.complete("e18")]
    steps = st.params("e18").get("sweep_meta_steps")
    curve += f" (each point a discovery run of {steps} meta-steps; the paper's runs: full length)" if steps else ""
    return [
        row(st, "e18", "A larger uniformity weight λ gives more dissimilar tasks (App. E, Fig. 13)",
            "Fig. 13: shown in a figure, no number in the text", sim or none, prem, curve),
        row(st, "e18", "A larger λ lowers the mean AS: λ trades AS for dissimilarity (App. E, Fig. 13)",
            "Fig. 13: shown in a figure, no number in the text", acc or none, prem, curve),
        row(st, "e18", "Discovery is not very sensitive to λ: the AS stays high even where the similarity is "
            "close to its minimum (App. E)", "Fig. 13: shown in a figure, no number in the text", high or none, prem),
    ]


@claims("e21", page=PAGE)
def e21(st):
    g = _by_kind(st.entries("e21"))
    disc, hum = g.get("discovered"), g.get("human")
    lo = min([e["agreement"] for e in disc]) if disc else None
    hi = max([e["agreement"] for e in hum]) if hum else None
    return [
        row(st, "e21", "On Tiny ImageNet every discovered task has AS above 0.8 (App. A, Fig. 8)", "> 0.8",
            [Check(f"min discovered AS {fmt(lo)}", lo > 0.8) if lo is not None
             else Check("discovered tasks on Tiny ImageNet: not stored", None)], [st.complete("e21")]),
        row(st, "e21", "On Tiny ImageNet human-labelled binary tasks have AS below 0.65 (App. A)", "< 0.65",
            [Check(f"max human AS {fmt(hi)}", hi < 0.65) if hi is not None
             else Check("human tasks on Tiny ImageNet: not stored", None)], [st.complete("e21")]),
    ]


@claims("diag", page=PAGE)
def diag(st):
    """Issue 21's diagnosis, as checks of the premises discovery rests on (ours; the paper states them
    only implicitly): the two terms of the meta-loss are of comparable size, the inner loop tells
    learnable labels from random ones, and discovery recovers distinct planted cues where they are known."""
    ent = st.entries("diag")
    rows = []
    auth = ent.get("gradients:authors t=2, λ=5")
    prof = ent.get("gradients:profile")

    def balanced(name, e):
        if not e:
            return Check(f"{name}: not stored", None)
        if not e.get("uniformity_weight"):
            return Check(f"{name}: no uniformity term (λ = 0), nothing to balance", None)
        r = e["effective_ratio"]
        return Check(f"{name}: λ|∇L_unif| / |∇proxy-AS| = {r:.2f} (comparable: between 1/3 and 3)", 1 / 3 <= r <= 3)
    rows.append(row(st, "diag", "Neither term of the meta-loss swamps the other at the start of training "
                    "(a premise of Eq. 5 with the authors' λ = 5, t = 2; ours: with the profile's settings)",
                    "numbers.md: λ = 5, t = 2", [balanced("authors' objective", auth), balanced("profile's objective", prof)],
                    [st.complete("diag")]))

    def learn(prefix, kind):
        v = [e["proxy_as"] for k, e in ent.items() if k.startswith(prefix) and e.get("task", "").startswith(kind + ":")]
        return v or None
    parts = [gt("proxy-AS of human labels (the authors' early stop)", learn("learnability:", "human"),
                "random labels'", learn("learnability:", "random"), MARGIN)]
    if any(k.startswith("learnability_full:") for k in ent):
        parts.append(gt("without the early stop", learn("learnability_full:", "human"),
                        "random labels'", learn("learnability_full:", "random"), MARGIN))
    rows.append(row(st, "diag", "The inner loop of the proxy-AS tells human-labelled tasks from random labels "
                    "(App. I.1: the proxy-AS is a usable training signal)", "Fig. 16 (50 inner steps)",
                    parts, [st.complete("diag")]))
    sb = [(k.split(":", 1)[1], e) for k, e in ent.items() if k.startswith("sandbox:")]
    checks = {}
    for name, e in sb:
        f = e["final"]
        dup = duplicated_cues(f["best"])
        checks[name] = Check(f"{name}: cues matched >= 0.9: {', '.join(f['matched']) or 'none'}, mean pairwise "
                             f"similarity {f['mean_similarity']:.3f}"
                             + (f", tasks duplicated on {', '.join(dup)}" if dup else "")
                             + f" (untrained encoder: {', '.join(e['trajectory'][0]['matched']) or 'none'})",
                             meets_sandbox_bar(f))
    # the claim is judged on the profile's own settings, at every task seed stored (issue 21's bar: 3 of 3);
    # the other objectives are the ablation, shown beside
    default = smoke_default_run(ent)
    own = [c for n, c in checks.items() if n == default]
    for k, e in ent.items():
        if default and k.startswith(f"sandbox_seed:{default}:"):
            f, seed = e["final"], k.rsplit(":", 1)[1]
            dup = duplicated_cues(f["best"])
            own.append(Check(f"seed {seed}: cues matched >= 0.9: {', '.join(f['matched']) or 'none'}, mean pairwise "
                             f"similarity {f['mean_similarity']:.3f}" + (f", tasks duplicated on {', '.join(dup)}" if dup else ""),
                             meets_sandbox_bar(f)))
    others = "; ".join(f"{c.text} [{'meets' if c.ok else 'misses'} the bar]" for n, c in checks.items()
                       if n != default)
    rows.append(row(st, "diag", "On images with planted cues, discovery puts distinct cues on distinct hyperplanes, "
                    "none twice "
                    "(ours: the built-in data, smoke settings, every task seed stored)", "no number (our sandbox)",
                    own or [Check("sandbox run at the smoke profile's settings: not stored", None)], [st.complete("diag")],
                    f"ablation: {others}" if others else ""))
    return rows


@claims("longer", page=PAGE)
def longer(st):
    """Issue 21's bar, on the longer run (ours, not a claim of the paper): the discovered tasks' AS
    above both baselines that need no meta-learning by more than 0.03 (paired by hyperplane, the
    interval over tasks), at a mean pairwise similarity of at most 0.6."""
    from ..experiments.longer import comparisons
    store, e5 = st.get("longer"), st.get("e5")
    if store is None or e5 is None:
        parts = [Check("the longer run or E5 not stored", None)]
    else:
        c = comparisons(store, e5, st.get("diag"))
        mine = [store.entries[k]["agreement"] for k in sorted(store.entries) if k.startswith("discovered:")]
        parts = []
        for g in ("untrained", "unif_only"):
            other = [e5.entries.get(f"{g}:{k.split(':')[1]}", {}).get("agreement") for k in sorted(store.entries)
                     if k.startswith("discovered:")]
            parts.append(gt(f"longer run's discovered tasks' AS ({len(mine)})", mine, f"E5's {g} (same hyperplanes)",
                            other, 0.03, paired=True))
        sim = c["mean_similarity"]
        parts.append(Check(f"mean pairwise similarity {fmt(sim)} (at most 0.6)", None if sim is None else sim <= 0.6))
    return [row(st, "longer", "With more meta-steps, discovery beats the baselines that need no meta-learning by "
                "more than 0.03 AS, at a mean pairwise similarity <= 0.6 (issue 21's bar; ours, not the paper's)",
                "Sec. 4 / Fig. 1: discovered tasks have a high AS and are dissimilar", parts, [st.complete("longer")])]


@claims("bnhead", page=PAGE)
def bnhead(st):
    """Issue 21's cpu bar asked against the stronger baselines (ours): E5's discovered tasks (the default,
    whitened objective) above the untrained encoder's and uniformity-only training's tasks *of the earlier
    objective* (BatchNorm head, T = 5, λ = 4), which score higher than E5's own baselines, by more than 0.03
    (paired by hyperplane, the interval over tasks)."""
    from ..experiments.bnhead import comparisons
    store, e5 = st.get("bnhead"), st.get("e5")
    ok = lambda s: s is not None and any(k.startswith("discovered:") for k in s.entries)   # noqa: E731
    if not ok(store) or not ok(e5):
        parts = [Check("the earlier objective's run or E5 not stored", None)]
    else:
        both = comparisons(store, e5)["e5"]["index"]
        mine = [e5.entries[f"discovered:{i}"]["agreement"] for i in both]
        parts = [gt(f"E5's discovered tasks' AS ({len(both)})", mine, f"earlier objective's {g} (BatchNorm head, "
                    "same hyperplanes)", [store.entries[f"{g}:{i}"]["agreement"] for i in both], 0.03, paired=True)
                 for g in ("untrained", "unif_only")]
    return [row(st, "bnhead", "Discovery beats the baselines that need no meta-learning by more than 0.03 AS "
                "also where they score highest: the earlier objective's BatchNorm-head encoder, untrained or "
                "trained on uniformity alone (issue 21's bar against the stronger baselines; ours)",
                "Sec. 4 / Fig. 1: discovered tasks have a high AS and are dissimilar", parts,
                [st.complete("bnhead"), st.complete("e5")])]


@claims("asfit", page=PAGE)
def asfit(st):
    """Issue 21's cpu bar, asked of networks that fit their labels (Sec. 3's recipe; ours): the discovered
    tasks' AS above the untrained-encoder and uniformity-only tasks on the same hyperplanes by more than
    0.03 (paired), with every network fitted (evaluated train accuracy >= sec3_fit_stop)."""
    store = st.get("asfit")
    if store is None or not store.entries:
        parts, prem = [Check("asfit not stored", None)], []
    else:
        ent = store.entries
        idx = sorted({k.split(":")[1] for k in ent if k.startswith("discovered:")
                      and all(f"{g}:{k.split(':')[1]}" in ent for g in ("untrained", "unif_only"))})
        disc = [ent[f"discovered:{i}"]["agreement"] for i in idx]
        parts = [gt(f"discovered tasks' AS with fitting networks ({len(disc)})", disc,
                    f"{g} (same hyperplanes, same networks)",
                    [ent.get(f"{g}:{i}", {}).get("agreement") for i in idx], 0.03, paired=True)
                 for g in ("untrained", "unif_only")]
        fit = (store.data.get("params") or {}).get("sec3_fit_stop") or 0.0
        low = {g: min((e["train_acc"] for k, e in ent.items() if k.startswith(g + ":")), default=None)
               for g in ("discovered", "untrained", "unif_only")}
        prem = [Check("networks fit their labels (evaluated train accuracy, lowest per group: "
                      + ", ".join(f"{g} {fmt(v)}" for g, v in low.items()) + f"; needed {fmt(fit)})",
                      None if None in low.values() else all(v >= fit for v in low.values()))]
    return [row(st, "asfit", "With networks that fit their labels, discovery beats the baselines that need no "
                "meta-learning by more than 0.03 AS (issue 21's bar asked of Sec. 3's recipe; ours)",
                "Sec. 3.2: AS of networks trained to zero training error", parts, prem + [st.complete("asfit")])]
