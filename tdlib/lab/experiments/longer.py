"""Issue 21's diagnosis, continued: does the AS gap between the discovered tasks and the baselines that
need no meta-learning grow with meta-training (Sec. 4.3, Algorithm 1; App. I.2: the authors run 3,200
meta-steps, the cpu profile 40)?

Experiment ``longer``: the profile's discovery run again, with ``longer_meta_steps`` meta-steps and
everything else as E5's main run (same initialization, hyperplanes, data and learning-rate schedule
stretched over the longer run), in its own folder ``<profile>/longer``. Entries:

- ``run``: the run's summary: its mean pairwise task similarity (Eq. 2), the logged proxy-AS of its
  first and last 20% of meta-steps and the inner steps of each unroll;
- ``discovered:i``: the AS of its task on hyperplane i with E5's recipe (same pool, training, seed), so
  it pairs with E5's ``discovered:i`` / ``untrained:i`` / ``unif_only:i`` by hyperplane;
- ``tasks_proxy:i``: the proxy-AS of that task under the profile's inner loop over ``diag``'s unrolls
  (:data:`tdlib.lab.experiments.diag.PROXY_REPS`, the same seeds), paired with diag's ``tasks_proxy:*:i``.
  Computing it reads no stored diag result (the unrolls are the code's constants), so the record
  needs E5 only; :func:`comparisons` pairs with diag when one is given.

:func:`comparisons` computes the paired differences (bootstrap interval, exact sign-flip p) against
E5's groups; the book's Sec. 4 shows them as a table.
"""
from __future__ import annotations

import numpy as np

from ...data import dataset_for
from ...diagnosis import label_learnability
from ..runs import discover_tasks, discovery_dir
from ..results import run_items
from ...tasks import mean_pairwise_similarity, similarity_matrix
from ...uncertainty import paired_difference
from . import DISCOVERY, POOL, TRAIN, register
from .diag import PROXY_REPS
from .sec4 import _as_entry

FOLDER = "longer"


def longer_point(p):
    """The profile and folder of the longer run: E5's main run with ``longer_meta_steps`` meta-steps."""
    return p.replace(meta_steps=p.longer_meta_steps), discovery_dir(p.name) / FOLDER


def _skip(p) -> str:
    return "" if p.longer_meta_steps else "longer_meta_steps is 0 at this profile (its main run is long already)"


@register("longer", page="sec4_discovery", pool="main", needs=("e5",),
          title="Discovery with more meta-steps: the AS gap to the baselines (issue 21's diagnosis)",
          fields=POOL + TRAIN + DISCOVERY + ("task_seed", "longer_meta_steps"),
          runs=("longer",), skip=_skip)
def longer(p, data_path=None):
    if not p.longer_meta_steps:                  # not run at this profile (_skip): an empty result
        return run_items("longer", p, {}, desc="longer discovery run")
    ds = dataset_for(p, data_path)
    q, out = longer_point(p)
    cache = {}

    def tasks():
        if "t" not in cache:
            cache["t"] = discover_tasks(ds, q, out)
        return cache["t"][0]

    def run():
        t = tasks()
        hist = cache["t"][1]["history"]
        k = max(1, len(hist) // 5)
        return {"meta_steps": q.meta_steps, "step": cache["t"][1]["step"],
                "mean_similarity": mean_pairwise_similarity(t),
                "similarity_matrix": np.round(similarity_matrix(t), 4).tolist(),
                "proxy_first": float(np.mean([h["proxy_as"] for h in hist[:k]])),
                "proxy_last": float(np.mean([h["proxy_as"] for h in hist[-k:]])),
                "inner_steps": [h["inner_steps"] for h in hist], "history": hist,
                "train_seconds": cache["t"][1].get("train_seconds")}
    items = {"run": run}
    for i in range(p.n_tasks):
        items[f"discovered:{i}"] = (lambda i=i: _as_entry(ds, f"discovered:{i}", tasks()[i], p))
    for i in range(p.n_tasks):
        items[f"tasks_proxy:{i}"] = (lambda i=i: {"index": i, **label_learnability(
            ds, tasks()[i], p, n_rep=PROXY_REPS, seed=1000 + i)})
    return run_items("longer", p, items, data=ds, desc="longer discovery run")


def comparisons(store, e5, diag=None) -> dict:
    """Paired differences (by hyperplane) of the longer run's tasks against E5's groups: AS against
    ``discovered`` (E5's shorter run), ``untrained`` and ``unif_only``; proxy-AS against diag's groups.
    ``{"as": {group: paired_difference}, "proxy": {...}, "mean_as", "mean_similarity", "n"}``."""
    ent, e5e = store.entries, e5.entries
    idx = sorted(int(k.split(":")[1]) for k in ent if k.startswith("discovered:"))
    mine = [ent[f"discovered:{i}"]["agreement"] for i in idx]
    out = {"n": len(idx), "mean_as": float(np.mean(mine)) if mine else float("nan"),
           "mean_similarity": ent.get("run", {}).get("mean_similarity"), "as": {}, "proxy": {}}
    for g in ("discovered", "untrained", "unif_only"):
        other = [e5e.get(f"{g}:{i}", {}).get("agreement", float("nan")) for i in idx]
        out["as"][g] = {"mean": float(np.nanmean(other)) if other else float("nan"),
                        "longer_minus": paired_difference(mine, other)}
    if diag is not None:
        pidx = sorted(int(k.split(":")[1]) for k in ent if k.startswith("tasks_proxy:"))
        pm = [ent[f"tasks_proxy:{i}"]["proxy_as"] for i in pidx]
        for g in ("discovered", "untrained", "unif_only"):
            other = [diag.entries.get(f"tasks_proxy:{g}:{i}", {}).get("proxy_as", float("nan")) for i in pidx]
            if not np.isfinite(other).any():     # diag has not stored this group's proxy-AS (yet)
                continue
            out["proxy"][g] = {"mean": float(np.nanmean(other)),
                               "longer_minus": paired_difference(pm, other)}
    return out
