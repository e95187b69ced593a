"""Issue 21's diagnosis, continued: E5 with the whitened objective (ours; :class:`tdlib.discovery.BatchWhiten`,
book Sec. 4 "Discovery where the answer is known"). On the built-in data the whitened embedding with
labels at T = 2 and no uniformity term recovers both easy planted cues at 3 of 3 task seeds, where
Eq. 5 did at 2 of 3. Does it also lift the discovered tasks' AS above the baselines on real images?

Experiment ``whiten``: the profile's main discovery run with ``encoder_head="whiten"``,
``temperature=2`` and ``uniformity_weight=0`` (everything else as E5's: data, hyperplanes, steps,
inner loop, meta-optimizer) in its own folder ``<profile>/whiten``, and the two baselines that need no
meta-learning with the same head: the untrained whitened encoder, and uniformity-only training of it
(proxy-AS weight 0, λ = 1, same steps, folder ``<profile>/whiten_unif_only``). Every AS uses E5's
recipe (one pool, one training recipe), so the groups pair by hyperplane. Entries:

- ``run``: the run's summary: each group's mean pairwise similarity (Eq. 2), the logged proxy-AS of
  the first and last 20% of meta-steps, the inner steps of each unroll;
- ``discovered:i``, ``untrained:i``, ``unif_only:i``: the AS of each group's task on hyperplane i.

:func:`comparisons` gives the paired differences (bootstrap interval, exact sign-flip p): the figures
of issue 21's cpu bar (>= 0.03 above both baselines, n >= 8, similarity <= 0.6) for this objective.
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

WHITENED = {"encoder_head": "whiten", "temperature": 2.0, "uniformity_weight": 0.0}
GROUPS = ("discovered", "untrained", "unif_only")     # E5's groups, as asfit's


def whiten_point(p, group: str = "discovered"):
    """The profile and folder of a whitened run: E5's main run with :data:`WHITENED`, or (``unif_only``)
    its uniformity-only baseline (proxy-AS weight 0, λ = 1)."""
    q = p.replace(**WHITENED)
    if group == "unif_only":
        return q.replace(proxy_weight=0.0, uniformity_weight=1.0), discovery_dir(p.name) / "whiten_unif_only"
    return q, discovery_dir(p.name) / "whiten"


def _skip(p) -> str:
    return ("" if p.name in ("smoke", "cpu") else
            "issue 21's diagnosis at cpu scale (at smoke its settings are the profile's own, a check of the code)")


@register("whiten", page="sec4_discovery", pool="main", needs=("e5",),
          title="E5 with the whitened objective: the AS gap to the baselines (issue 21's diagnosis)",
          fields=POOL + TRAIN + DISCOVERY + ("task_seed",), runs=("whiten",), skip=_skip)
def whiten(p, data_path=None):
    ds = dataset_for(p, data_path)
    cache = {}

    def tasks(g):
        if g not in cache:
            if g == "untrained":
                cache[g] = (untrained_tasks(ds, whiten_point(p)[0]), None)
            else:
                cache[g] = discover_tasks(ds, *whiten_point(p, g))
        return cache[g][0]

    def run():
        tasks("discovered")
        hist = cache["discovered"][1]["history"]
        k = max(1, len(hist) // 5)
        return {"settings": dict(WHITENED), "meta_steps": p.meta_steps,
                "mean_similarity": {g: mean_pairwise_similarity(tasks(g)) for g in GROUPS},
                "proxy_first": float(np.mean([h["proxy_as"] for h in hist[:k]])),
                "proxy_last": float(np.mean([h["proxy_as"] for h in hist[-k:]])),
                "inner_steps": [h["inner_steps"] for h in hist]}
    items = {"run": run}
    for i in range(p.n_tasks):                   # interleaved, so a partial run stays paired
        for g in GROUPS:
            items[f"{g}:{i}"] = (lambda g=g, i=i: _as_entry(ds, f"{g}:{i}", tasks(g)[i], p))
    return run_items("whiten", p, items, data=ds, desc="E5 with the whitened objective")


def comparisons(store) -> dict:
    """``{"n", "index", "mean_as": {group}, "mean_similarity": {group}, "minus": {baseline: paired_difference}}``:
    the whitened run's tasks minus each baseline's, paired by hyperplane (complete triples only)."""
    ent = store.entries
    idx = paired_index(ent, GROUPS)
    v = {g: [ent[f"{g}:{i}"]["agreement"] for i in idx] for g in GROUPS}
    return {"n": len(idx), "index": idx, "mean_as": {g: float(np.mean(x)) if x else float("nan") for g, x in v.items()},
            "mean_similarity": (ent.get("run") or {}).get("mean_similarity", {}),
            "minus": {g: paired_difference(v["discovered"], v[g]) for g in GROUPS[1:]} if idx else {}}
