"""Issue 21's diagnosis, continued: does the AS gap between the discovered tasks and the baselines that
need no meta-learning depend on whether the networks of Eq. 1 fit their labels (Sec. 3.1-3.2: the
paper trains to zero training error; E5's cpu recipe stops at 15 epochs, train accuracy down to 0.95)?

Experiment ``asfit``: E5's groups on the first ``asfit_n`` hyperplanes, each task's AS measured again
with Sec. 3's networks (the ``sec3_*`` fields: at cpu a width-32 CNN trained until its evaluated train
accuracy reaches 0.995, at most 60 epochs, constant lr) on E5's pool. Entries ``GROUP:i`` for the groups

- ``discovered``: E5's main run's task on hyperplane i;
- ``untrained``: the same hyperplane on the encoder at its initialization;
- ``unif_only``: the same hyperplane after uniformity-only training (E5's baseline).

:func:`comparisons` pairs them by hyperplane (bootstrap interval, exact sign-flip p), beside E5's own
numbers for the same tasks (E5's recipe), so the change of the gap with the recipe is read directly.
"""
from __future__ import annotations

import numpy as np

from ...agreement import agreement_score
from ...data import dataset_for
from ...discovery import untrained_tasks
from ...uncertainty import paired_difference
from ..results import run_items
from ..runs import discover_tasks, require_tasks
from . import DISCOVERY, POOL, SEC3_TRAIN, register
from .sec3 import sec3_profile
from .sec4 import unif_only_point

GROUPS = ("discovered", "untrained", "unif_only")


def _skip(p) -> str:
    return "" if p.asfit_n else "asfit_n is 0 at this profile (its networks fit their labels already)"


@register("asfit", page="sec4_discovery", pool="main", needs=("e5",),
          title="E5's groups with networks that fit their labels: does the AS gap depend on the recipe? "
                "(issue 21's diagnosis)",
          fields=POOL + DISCOVERY + SEC3_TRAIN + ("task_seed", "asfit_n"),
          runs=("main",), skip=_skip, extends=("asfit_n",))
def asfit(p, data_path=None):
    if not p.asfit_n:                            # not run at this profile (_skip): an empty result
        return run_items("asfit", p, {}, desc="asfit")
    ds = dataset_for(p, data_path)
    fit = sec3_profile(p)
    cache = {}

    def tasks(g):
        if g not in cache:
            if g == "discovered":
                cache[g] = require_tasks(ds, p)["tasks"]
            elif g == "untrained":
                cache[g] = untrained_tasks(ds, p)
            else:
                q, out = unif_only_point(p)
                cache[g] = discover_tasks(ds, q, out)[0]
        return cache[g]
    items = {}
    for i in range(min(p.asfit_n, p.n_tasks)):   # interleaved, so a partial run stays paired
        for g in GROUPS:
            items[f"{g}:{i}"] = (lambda g=g, i=i: {"group": g, "index": i,
                                                   **agreement_score(ds, tasks(g)[i], fit)})
    return run_items("asfit", p, items, data=ds, desc="asfit: E5's groups, fitting networks")


def paired_index(entries: dict, groups=GROUPS) -> list:
    """The hyperplanes i for which every group's ``GROUP:i`` entry is stored (a partial run stays paired);
    summary entries named after a group (E5's ``unif_only``) are not hyperplanes."""
    idx = {k.partition(":")[2] for k in entries if k.partition(":")[0] in groups}
    return sorted(int(i) for i in idx if i.isdigit() and all(f"{g}:{i}" in entries for g in groups))


def comparisons(store, e5=None) -> dict:
    """Paired differences by hyperplane: ``discovered`` minus each other group, with the fitting networks
    (``fit``) and, for the same hyperplanes, with E5's recipe (``e5``). Also each group's mean AS and
    lowest evaluated train accuracy."""
    ent = store.entries
    idx = paired_index(ent)
    out = {"n": len(idx), "groups": {}, "fit": {}, "e5": {}}
    for g in GROUPS:
        rows = [ent[f"{g}:{i}"] for i in idx]
        out["groups"][g] = {"mean_as": float(np.mean([r["agreement"] for r in rows])) if rows else float("nan"),
                            "min_train_acc": float(min(r["train_acc"] for r in rows)) if rows else float("nan"),
                            "e5_mean_as": (float(np.mean([e5.entries[f"{g}:{i}"]["agreement"] for i in idx]))
                                           if e5 is not None and rows and all(f"{g}:{i}" in e5.entries for i in idx)
                                           else None)}
    disc = [ent[f"discovered:{i}"]["agreement"] for i in idx]
    for g in GROUPS[1:]:
        out["fit"][g] = paired_difference(disc, [ent[f"{g}:{i}"]["agreement"] for i in idx]) if idx else None
        if e5 is not None and idx and all(f"{k}:{i}" in e5.entries for k in ("discovered", g) for i in idx):
            out["e5"][g] = paired_difference([e5.entries[f"discovered:{i}"]["agreement"] for i in idx],
                                             [e5.entries[f"{g}:{i}"]["agreement"] for i in idx])
    return out
