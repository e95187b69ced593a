"""Issue 21's diagnosis, continued: E5 with the earlier cpu objective, beside E5's (book Sec. 4 "Does it
carry over to real images?").

Until session 12 the cpu profile discovered with the authors' encoder head (Linear + BatchNorm with a
learnable scale), labels at T = 5 and Eq. 5 at λ = 4 (t = 0.5). Its discovered tasks beat its untrained
encoder's by less than 0.03 AS and uniformity-only training's by less than 0.02, and its logged proxy-AS
fell over the run. The cpu default is now the objective that recovers the planted cues on the built-in
data (:class:`tdlib.discovery.BatchWhiten`, T = 2, λ = 0; ``config.py``). This record keeps the earlier
objective's figures on the same footing, so the page can show what the switch changed and what it did not.

Experiment ``bnhead``: the profile's main discovery run with :data:`BN_HEAD` (everything else as E5's:
data, hyperplanes, steps, inner loop, meta-optimizer) in its own folder ``<profile>/bnhead``, and its
two baselines that need no meta-learning with the same head: the untrained encoder, and uniformity-only
training (proxy-AS weight 0, the same λ, folder ``<profile>/bnhead_unif_only``). Every AS uses E5's
recipe (one pool, one training recipe), so the groups pair by hyperplane with E5's. Entries:

- ``run``: each group's mean pairwise similarity (Eq. 2), the logged proxy-AS of the first and last 20%
  of meta-steps, the inner steps of each unroll;
- ``discovered:i``, ``untrained:i``, ``unif_only:i``: the AS of each group's task on hyperplane i.

:func:`comparisons` gives the paired differences (bootstrap interval, exact sign-flip p): this objective's
discovered tasks minus its baselines, and E5's discovered tasks minus this objective's groups.
"""
from __future__ import annotations

import numpy as np

from ...data import dataset_for
from ...discovery import untrained_tasks
from ...tasks import mean_pairwise_similarity
from ...uncertainty import paired_difference
from ..runs import discover_tasks, discovery_dir
from ..results import run_items
from . import DISCOVERY, POOL, TRAIN, register
from .asfit import paired_index
from .sec4 import _as_entry

# the cpu profile's objective until session 12 (the authors' head and label temperature, Eq. 5 at λ = 4)
BN_HEAD = {"encoder_head": "linear_bn_scale", "temperature": 5.0, "uniformity_weight": 4.0}
GROUPS = ("discovered", "untrained", "unif_only")     # E5's groups, as asfit's


def bnhead_point(p, group: str = "discovered"):
    """The profile and folder of a run with the earlier objective: E5's main run with :data:`BN_HEAD`,
    or (``unif_only``) its uniformity-only baseline (proxy-AS weight 0, the same λ)."""
    q = p.replace(**BN_HEAD)
    if group == "unif_only":
        return q.replace(proxy_weight=0.0), discovery_dir(p.name) / "bnhead_unif_only"
    return q, discovery_dir(p.name) / "bnhead"


def _skip(p) -> str:
    return ("" if p.name in ("smoke", "cpu") else
            "issue 21's diagnosis at cpu scale (at smoke a check of the code)")


@register("bnhead", page="sec4_discovery", pool="main",
          title="E5 with the earlier cpu objective (BatchNorm head, T = 5, λ = 4) beside E5's (issue 21)",
          fields=POOL + TRAIN + DISCOVERY + ("task_seed",), runs=("bnhead",), skip=_skip)
def bnhead(p, data_path=None):
    ds = dataset_for(p, data_path)
    cache = {}

    def tasks(g):
        if g not in cache:
            if g == "untrained":
                cache[g] = (untrained_tasks(ds, bnhead_point(p)[0]), None)
            else:
                cache[g] = discover_tasks(ds, *bnhead_point(p, g))
        return cache[g][0]

    def run():
        tasks("discovered")
        hist = cache["discovered"][1]["history"]
        k = max(1, len(hist) // 5)
        return {"settings": dict(BN_HEAD), "meta_steps": p.meta_steps,
                "mean_similarity": {g: mean_pairwise_similarity(tasks(g)) for g in GROUPS},
                "proxy_first": float(np.mean([h["proxy_as"] for h in hist[:k]])),
                "proxy_last": float(np.mean([h["proxy_as"] for h in hist[-k:]])),
                "inner_steps": [h["inner_steps"] for h in hist]}
    items = {"run": run}
    for i in range(p.n_tasks):                   # interleaved, so a partial run stays paired
        for g in GROUPS:
            items[f"{g}:{i}"] = (lambda g=g, i=i: _as_entry(ds, f"{g}:{i}", tasks(g)[i], p))
    return run_items("bnhead", p, items, data=ds, desc="E5 with the earlier objective")


def comparisons(store, e5=None) -> dict:
    """``{"n", "index", "mean_as": {group}, "mean_similarity": {group}, "minus": {baseline: diff},
    "e5": {"n", "index", "mean_as": {group}, "minus": {group: diff}}}``: this objective's discovered tasks minus
    each of its baselines, and (with ``e5``) E5's discovered tasks minus each of this objective's groups,
    all paired by hyperplane (complete sets only)."""
    ent = store.entries
    idx = paired_index(ent, GROUPS)
    v = {g: [ent[f"{g}:{i}"]["agreement"] for i in idx] for g in GROUPS}
    out = {"n": len(idx), "index": idx,
           "mean_as": {g: float(np.mean(x)) if x else float("nan") for g, x in v.items()},
           "mean_similarity": (ent.get("run") or {}).get("mean_similarity", {}),
           "minus": {g: paired_difference(v["discovered"], v[g]) for g in GROUPS[1:]} if idx else {}}
    if e5 is not None:
        both = sorted(set(idx) & set(paired_index(e5.entries, GROUPS)))
        mine = [e5.entries[f"discovered:{i}"]["agreement"] for i in both]
        out["e5"] = {"n": len(both), "index": both,
                     "mean_as": {g: float(np.mean([e5.entries[f"{g}:{i}"]["agreement"] for i in both]))
                                 if both else float("nan") for g in GROUPS},
                     "minus": {g: paired_difference(mine, [ent[f"{g}:{i}"]["agreement"] for i in both])
                               for g in GROUPS} if both else {}}
    return out
