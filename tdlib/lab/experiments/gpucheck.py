"""How far the gpu profile's cost savers move the agreement score (issue 11; Sec. 3.2's protocol).

``gpucheck``: on the first 2 human and 2 random tasks of E1 (:data:`N_CHECK` each), the AS with the profile's
recipe (e.g. gpu: each network stops once it fits 98% of its training labels, at most 30 epochs)
beside the AS with the paper's protocol on the same pool and seeds (every network trained the paper's
100 epochs, no fit-stop). Each entry is one task under one recipe, so a GPU window stores what it
finishes. The difference per task and its mean say whether the cheaper recipe can stand in for the
paper's (the paper's claims are about networks that fit their labels).
"""
from __future__ import annotations

from ...agreement import agreement_score
from ...config import get_profile
from ...tasks import default_task_names, task_by_name
from ..results import run_items
from . import SEC3_POOL, TASKS, TRAIN, register
from .sec3 import sec3_dataset


def protocol_of(p):
    """``p`` without its cost savers: the paper's epochs, no fit-stop (same data, arch, optimizer)."""
    return p.replace(epochs=get_profile("paper").epochs, fit_stop=0.0)


CHECKED = ("gpu", "smoke")    # the profile whose cost savers it checks, and its rehearsal in CI
N_CHECK = 2          # tasks of each kind (issue 11: at least 2 human and 2 random); ~17 GPU-min at gpu


def _rough_seconds(p, as_task_seconds) -> float:
    """Half its entries train the paper's 100 epochs: the mean of the two recipes' rough cost
    (``as_task_seconds``: the queue's cost of one AS task at a profile)."""
    return (as_task_seconds(p) + as_task_seconds(p.replace(epochs=100))) / 2


def check_tasks(p) -> list:
    k = N_CHECK
    names = default_task_names(p.replace(n_human=k, n_random=k))
    return names["human"][:k] + names["random"][:k]


@register("gpucheck", page="sec3_agreement", pool="sec3", needs=(),
          title="the gpu profile's AS beside the 100-epoch protocol (issue 11)",
          fields=SEC3_POOL + TRAIN + TASKS,
          priority=1, expected=lambda p: 2 * 2 * N_CHECK, rough_seconds=_rough_seconds,
          skip=lambda p: "" if p.name in CHECKED else f"checks the gpu profile's cost savers; not run at {p.name}")
def gpucheck(p, data_path=None):
    ds = sec3_dataset(p, data_path)
    q = protocol_of(p)
    items = {}
    for name in check_tasks(p):
        for label, prof in (("profile", p), ("protocol", q)):
            items[f"{label}/{name}"] = (lambda name=name, prof=prof, label=label: {
                "task": name, "kind": name.split(":")[0], "recipe": label, "epochs": prof.epochs,
                "fit_stop": prof.fit_stop, **agreement_score(ds, task_by_name(ds, name), prof)})
    return run_items("gpucheck", p, items, desc="gpu profile vs protocol", data=ds)


def summarize(store) -> dict:
    """Per task: AS under the profile and under the protocol, and the difference; their means by kind."""
    e = store.entries
    rows = {}
    for key, v in e.items():
        rows.setdefault(v["task"], {"kind": v["kind"]})[v["recipe"]] = v["agreement"]
    out = {"tasks": {}, "mean_diff": {}}
    for task, r in rows.items():
        if "profile" in r and "protocol" in r:
            out["tasks"][task] = {**r, "diff": round(r["profile"] - r["protocol"], 4)}
    for kind in ("human", "random"):
        d = [r["diff"] for r in out["tasks"].values() if r["kind"] == kind]
        out["mean_diff"][kind] = round(sum(d) / len(d), 4) if d else None
    return out
