"""Claims of Sec. 3.2 (E1-E4): the agreement score separates human- from random-labelled tasks."""
from __future__ import annotations

from . import SEPARATION, Check, claims, close, fmt, gt, mean, row, train_premise

PAGE = "sec3_agreement"


def _by_kind(entries, prefix=None):
    """{kind: [entry, ...]} of entries whose key starts with ``prefix/`` (all when None)."""
    out = {}
    for k, e in entries.items():
        if not isinstance(e, dict) or "agreement" not in e:
            continue
        if prefix is not None and k.split("/")[0] != prefix:
            continue
        out.setdefault(e.get("kind", k.split(":")[0]), []).append(e)
    return out


def _as(es):
    """Per-task AS values of a group (the comparisons take their interval over tasks), None if empty."""
    v = [e["agreement"] for e in es or []]
    return v or None


def _train(es):
    return [e.get("train_acc") for e in es or []]


@claims("e1", page=PAGE)
def e1(st):
    g = _by_kind(st.entries("e1"))
    h, r = g.get("human"), g.get("random")
    prem = [train_premise("human tasks", _train(h)), train_premise("random tasks", _train(r)), st.complete("e1")]
    return [
        row(st, "e1", "Human-labelled tasks have a clearly higher AS than random-labelled ones "
            "(Sec. 3.2, Fig. 1-center)", "Fig. 1-center: shown in a figure, no number in the text",
            [gt(f"human mean AS ({len(h or [])} tasks)", _as(h), f"random mean AS ({len(r or [])} tasks)",
                _as(r), SEPARATION)], prem),
        row(st, "e1", "Random-labelled tasks have an AS close to chance (Sec. 3.2)", "0.5 (chance level)",
            [close("random mean AS", _as(r), 0.5)], [prem[1]]),
    ]


@claims("e2", page=PAGE)
def e2(st):
    ent = st.entries("e2")
    archs = list(dict.fromkeys(k.split("/")[0] for k in ent))
    base = st.params("e2").get("arch", archs[0] if archs else "resnet18")
    sep, train = [], []
    for a in archs:
        g = _by_kind(ent, a)
        sep.append(gt(f"{a}: human AS", _as(g.get("human")), "random AS", _as(g.get("random")), SEPARATION)
                   if g.get("human") and g.get("random") else
                   Check(f"{a}: {'random' if g.get('human') else 'human'} tasks not stored", None))
        train.append(train_premise(a, _train(g.get("human", []) + g.get("random", []))))
    lower = [gt(f"{base} human AS", _as(_by_kind(ent, base).get("human")), f"{a} human AS",
                _as(_by_kind(ent, a).get("human")), 0.0) for a in archs if a != base]
    note = f"{base} stands in for ResNet-18" if base != "resnet18" else ""
    prem = train + [st.complete("e2")]
    return [
        row(st, "e2", "Every architecture (ResNet-18, MLP, ViT) separates human- from random-labelled tasks "
            "(Sec. 3.2, Fig. 2-left)", "Fig. 2-left: shown in a figure, no number in the text",
            sep or [Check("no architecture stored", None)], prem),
        row(st, "e2", "MLP and ViT have a lower AS than ResNet-18 (convolutions suit small data; Sec. 3.2)",
            "Fig. 2-left: shown in a figure, no number in the text", lower or [Check("other architectures not stored", None)], prem, note),
    ]


@claims("e3", page=PAGE)
def e3(st):
    ent = st.entries("e3")
    sizes = sorted({int(k.split("/")[0]) for k in ent if k.split("/")[0].isdigit()})
    g = {s: _by_kind(ent, str(s)) for s in sizes}
    if len(sizes) < 2:
        none = [Check("fewer than two training sizes stored", None)]
        return [row(st, "e3", c, "Fig. 2-center: shown in a figure, no number in the text", none) for c in (
            "With less training data the AS of human-labelled tasks falls (Sec. 3.2, Fig. 2-center)",
            "With less training data the AS of random-labelled tasks rises (Sec. 3.2, Fig. 2-center)",
            "Human- and random-labelled tasks stay distinguishable at every size (Sec. 3.2)")]
    lo, hi = sizes[0], sizes[-1]
    prem = [train_premise(f"{s} images", _train(g[s].get("human", []) + g[s].get("random", []))) for s in sizes]
    prem.append(st.complete("e3"))
    kinds = lambda s, k: _as(g[s].get(k))
    return [
        row(st, "e3", "With less training data the AS of human-labelled tasks falls (Sec. 3.2, Fig. 2-center)",
            "Fig. 2-center: shown in a figure, no number in the text", [gt(f"human AS at {hi} images", kinds(hi, "human"),
                                               f"at {lo} images", kinds(lo, "human"))], prem,
            "by size: " + ", ".join(f"{s}: {fmt(mean(kinds(s, 'human') or []))}" for s in sizes)),
        row(st, "e3", "With less training data the AS of random-labelled tasks rises (Sec. 3.2, Fig. 2-center)",
            "Fig. 2-center: shown in a figure, no number in the text", [gt(f"random AS at {lo} images", kinds(lo, "random"),
                                               f"at {hi} images", kinds(hi, "random"))], prem,
            "by size: " + ", ".join(f"{s}: {fmt(mean(kinds(s, 'random') or []))}" for s in sizes)),
        row(st, "e3", "Human- and random-labelled tasks stay distinguishable at every size (Sec. 3.2)",
            "Fig. 2-center: shown in a figure, no number in the text",
            [gt(f"{s} images: human AS", kinds(s, "human"), "random AS", kinds(s, "random"), SEPARATION)
             for s in sizes], prem),
    ]


@claims("e4", page=PAGE)
def e4(st):
    ent = st.entries("e4")
    on_cpu = str(st.get("e4").data.get("provenance", {}).get("device", "")).startswith("cpu") if st.get("e4") else False
    conds = list(dict.fromkeys(k.split("/")[0] for k in ent))
    g = {c: _by_kind(ent, c) for c in conds}
    allf = [e["agreement"] for es in g.get("all fixed", {}).values() for e in es]
    if allf and on_cpu:             # a CPU run is deterministic: AS = 1 could not have come out otherwise
        fixed = Check(f"AS with all sources fixed: min {fmt(min(allf))} on a CPU, which is deterministic: the "
                      "claim (CUDA's nondeterminism is the third source) cannot be tested on this device", None)
    else:
        fixed = (Check(f"AS with all sources fixed: min {fmt(min(allf))}, max {fmt(max(allf))} "
                       f"({'= 1' if min(allf) >= 0.999 else 'not 1'})", min(allf) >= 0.999) if allf
                 else Check("'all fixed' not stored", None))
    prem = [train_premise(c, [e.get("train_acc") for es in g[c].values() for e in es]) for c in conds]
    prem.append(st.complete("e4"))
    rows = [row(st, "e4", "With init, data order and CUDA all fixed, training is deterministic: AS = 1 "
                "(Sec. 3.2, Fig. 2-right)", "1", [fixed], [prem[-1]])]
    for src in ("init", "data order", "cuda", "all varied"):
        h, r = _as(g.get(src, {}).get("human")), _as(g.get(src, {}).get("random"))
        if src == "cuda" and on_cpu and h is not None and min(h) >= 0.999 and (r is None or min(r) >= 0.999):
            part = Check(f"cuda: no CUDA nondeterminism on this device (AS {fmt(mean(h))} with only 'cuda' varied); "
                         "cannot be tested on a deterministic device", None)
        else:
            part = gt(f"{src}: human AS", h, "random AS", r, SEPARATION)
        what = "All three sources varied" if src == "all varied" else f"Only the {src} varied"
        rows.append(row(st, "e4", f"{what}: the AS separates human- from random-labelled tasks "
                        "(Sec. 3.2, Fig. 2-right)", "Fig. 2-right: shown in a figure, no number in the text", [part],
                        [p for p in prem if p.text.startswith(src + ":")] + [prem[-1]]))
    return rows


@claims("gpucheck", page=PAGE)
def gpucheck(st):
    """Not a claim of the paper: the premise that the gpu profile's cost savers (fit-stop at 98% train
    accuracy, at most 30 epochs) measure the AS of the 100-epoch protocol (Sec. 3.2), task by task."""
    rows = {}
    for e in st.entries("gpucheck").values():
        if isinstance(e, dict) and "agreement" in e:
            rows.setdefault((e.get("kind"), e.get("task")), {})[e.get("recipe")] = e["agreement"]
    parts = []
    for kind in ("human", "random"):
        diffs = [r["profile"] - r["protocol"] for (k, _), r in rows.items()
                 if k == kind and "profile" in r and "protocol" in r]
        d = mean(diffs)
        parts.append(close(f"{kind}: mean AS difference, profile minus protocol ({len(diffs)} tasks)", d, 0.0))
    return [row(st, "gpucheck", "The profile's cheaper recipe gives the AS of the paper's 100-epoch protocol "
                "(project check of the premise of Sec. 3.2, not a claim of the paper)", "0 (same AS)", parts,
                [st.complete("gpucheck")])]


@claims("asnoise", page=PAGE)
def asnoise(st):
    """Not a claim of the paper: the premise of single-pair AS estimates (Sec. 3.1: AS is an expectation
    over the pair's seeds; E1-E4 and the rest estimate it with one pair), measured on E1's tasks."""
    from ..experiments.sec3 import seed_noise
    store = st.get("asnoise")
    if store is None:
        parts = [Check("seed noise not stored", None)]
    else:
        n = seed_noise(store, st.get("e1"))
        g = _by_kind(st.entries("e1"))
        gap = mean(_as(g["human"])) - mean(_as(g["random"])) if g.get("human") and g.get("random") else None
        if not n["n_tasks"]:
            parts = [Check("seed noise: no task with two seed pairs stored", None)]
        else:
            ok = None if gap is None else n["sd"] * 3 < gap
            parts = [Check(f"pooled sd of one AS over seed pairs {fmt(n['sd'])} ({n['n_tasks']} tasks x "
                           f"{n['n_seeds']} seeds, largest spread {fmt(n['spread'])}); 3 sd "
                           f"{'<' if ok else '>='} E1's human - random gap {fmt(gap)}", ok)]
    return [row(st, "asnoise", "One pair of networks estimates a task's AS well enough to separate human from "
                "random tasks (project check of Sec. 3.1's expectation, not a claim of the paper)",
                "AS is an expectation over the networks' seeds (Sec. 3.1)", parts, [st.complete("asnoise")])]
