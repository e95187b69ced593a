"""Sec. 3.2 experiments: E1 (Fig. 1-center, 2-left), E2 (Fig. 2-left), E3 (Fig. 2-center),
E4 (Fig. 2-right). Each entry is one task's :func:`~tdlib.agreement.agreement_score`, on a pool with
``p.sec3_n_train`` training images (:func:`sec3_dataset`), with Sec. 3's own networks (:func:`sec3_profile`:
the ``sec3_*`` width, epochs, fit-stop and lr schedule; the paper's premise is that they fit their labels)."""
from __future__ import annotations

from ...agreement import ALL_SOURCES, agreement_score
from ...data import dataset_for
from ..results import run_items
from ...tasks import default_task_names, task_by_name
from . import SEC3_POOL, SEC3_TRAIN, TASKS, register

# Fig. 2-right: which sources of stochasticity differ between the two networks
STOCHASTICITY = {"all fixed": (), "init": ("init",), "data order": ("order",), "cuda": ("cuda",),
                 "all varied": ALL_SOURCES}


def sec3_dataset(p, data_path=None, download: bool = False):
    """The pool of Sec. 3's experiments: ``p.sec3_n_train`` train images, ``p.n_test`` held out."""
    return dataset_for(p, data_path, download, n_train=p.sec3_n_train)


def sec3_profile(p):
    """``p`` with Sec. 3's networks as its training recipe (the ``sec3_*`` fields; Sec. 3.2)."""
    return p.replace(width=p.sec3_width, epochs=p.sec3_epochs, fit_stop=p.sec3_fit_stop,
                     lr_schedule=p.sec3_lr_schedule)


def _as_item(ds, name, p, **kw):
    return lambda: {"task": name, "kind": name.split(":")[0],
                    **agreement_score(ds, task_by_name(ds, name), sec3_profile(p), **kw)}


def _ablation_tasks(p):
    names = default_task_names(p)
    return names["human"][: p.n_ablation] + names["random"][: p.n_ablation]


@register("e1", page="sec3_agreement", pool="sec3", needs=(),
          title="AS of human- vs random-labelled tasks (Sec. 3.2, Fig. 1-center, 2-left)",
          fields=SEC3_POOL + SEC3_TRAIN + TASKS,
          priority=0, expected=lambda p: p.n_human + p.n_random, then=(("gpu", "paper"),))
def e1_human_vs_random(p, data_path=None):
    """E1: AS of human-labelled vs random-labelled tasks (Sec. 3.2, Fig. 1-center, 2-left)."""
    ds = sec3_dataset(p, data_path)
    names = default_task_names(p)
    items = {n: _as_item(ds, n, p) for n in names["human"] + names["random"]}
    return run_items("e1", p, items, data=ds, desc="E1 human vs random")


@register("e2", page="sec3_agreement", pool="sec3", needs=(),
          title="AS with each architecture (Sec. 3.2, Fig. 2-left)",
          fields=SEC3_POOL + SEC3_TRAIN + TASKS + ('archs', 'n_ablation'),
          expected=lambda p: len(p.archs) * 2 * p.n_ablation)
def e2_architectures(p, data_path=None):
    """E2: the same for each architecture (Sec. 3.2, Fig. 2-left, App. I.3)."""
    ds = sec3_dataset(p, data_path)
    items = {f"{a}/{n}": _as_item(ds, n, p, arch=a) for a in p.archs for n in _ablation_tasks(p)}
    return run_items("e2", p, items, data=ds, desc="E2 architectures")


@register("e3", page="sec3_agreement", pool="sec3", needs=(),
          title="AS vs the size of X_tr (Sec. 3.2, Fig. 2-center)",
          fields=SEC3_POOL + SEC3_TRAIN + TASKS + ('n_ablation', 'train_sizes'),
          expected=lambda p: len([s for s in p.train_sizes if s <= p.sec3_n_train]) * 2 * p.n_ablation)
def e3_train_size(p, data_path=None):
    """E3: AS vs size of X_tr (Sec. 3.2, Fig. 2-center); subsets are prefixes of a seeded order."""
    ds = sec3_dataset(p, data_path)
    sizes = [s for s in p.train_sizes if s <= len(ds.train_idx)]
    items = {f"{s}/{n}": _as_item(ds, n, p, train_idx=ds.train_idx[:s]) for s in sizes
             for n in _ablation_tasks(p)}
    return run_items("e3", p, items, data=ds, desc="E3 train size")


@register("e4", page="sec3_agreement", pool="sec3", needs=(),
          title="AS with each source of stochasticity varied (Sec. 3.2, Fig. 2-right)",
          fields=SEC3_POOL + SEC3_TRAIN + TASKS + ('n_ablation',),
          expected=lambda p: 5 * 2 * p.n_ablation)
def e4_stochasticity(p, data_path=None):
    """E4: which stochasticity varies between the two networks (Sec. 3.2, Fig. 2-right)."""
    ds = sec3_dataset(p, data_path)
    items = {f"{c}/{n}": _as_item(ds, n, p, vary=v) for c, v in STOCHASTICITY.items()
             for n in _ablation_tasks(p)}
    return run_items("e4", p, items, data=ds, desc="E4 stochasticity")


@register("asnoise", page="sec3_agreement", pool="sec3", needs=("e1",),
          title="The seed noise of one AS: E1's tasks with other network seeds (issue 18)",
          fields=SEC3_POOL + SEC3_TRAIN + TASKS + ("noise_tasks", "noise_seeds"),
          expected=lambda p: 2 * min(p.noise_tasks, p.n_human, p.n_random) * p.noise_seeds)
def asnoise(p, data_path=None):
    """How much one AS moves when only the pair's seeds change (Sec. 3.1: AS is an expectation over
    them): the first ``noise_tasks`` human and random tasks of E1, each with ``noise_seeds`` more seed
    pairs (``TASK/seed=S``, S >= 1; E1's entry is seed 0). :func:`seed_noise` summarises."""
    ds = sec3_dataset(p, data_path)
    names = default_task_names(p)
    k = min(p.noise_tasks, p.n_human, p.n_random)
    items = {f"{n}/seed={s}": _as_item(ds, n, p, seed=s)
             for s in range(1, p.noise_seeds + 1) for n in names["human"][:k] + names["random"][:k]}
    return run_items("asnoise", p, items, data=ds, desc="AS seed noise")


def seed_noise(store, e1=None) -> dict:
    """The seed noise of one AS from a stored ``asnoise`` (with E1's seed-0 entries where given): per
    task the AS over its seeds; ``sd``: the pooled within-task standard deviation of one AS; ``spread``:
    the largest max - min of one task over its seeds; ``n_tasks``, ``n_seeds``."""
    import numpy as np
    by = {}
    for key, v in store.entries.items():
        if isinstance(v, dict) and "agreement" in v and "/seed=" in key:
            by.setdefault(key.split("/seed=")[0], []).append(v["agreement"])
    if e1 is not None:
        for t in by:
            if isinstance(e1.entries.get(t), dict):
                by[t].insert(0, e1.entries[t]["agreement"])      # seed 0 first
    groups = [np.asarray(v, float) for v in by.values() if len(v) > 1]
    if not groups:
        return {"sd": float("nan"), "spread": float("nan"), "n_tasks": 0, "n_seeds": 0, "by_task": by}
    ss = sum(((g - g.mean()) ** 2).sum() for g in groups)
    dof = sum(len(g) - 1 for g in groups)
    return {"sd": float(np.sqrt(ss / dof)), "spread": float(max(g.max() - g.min() for g in groups)),
            "n_tasks": len(groups), "n_seeds": max(len(g) for g in groups), "by_task": by}


def measured_tolerance(profile: str, root=None) -> "tuple | None":
    """``(tolerance, why)`` for ``verify``: the largest spread of one task's AS over seed pairs at
    ``profile`` (a complete stored ``asnoise``), or None where it is not stored."""
    from ..results import load_store
    store = load_store("asnoise", profile, root)
    if store is None or not store.data.get("complete"):
        return None
    n = seed_noise(store, load_store("e1", profile, root))
    if not n["n_tasks"] or n["spread"] != n["spread"]:
        return None
    return float(n["spread"]), (f"the measured seed noise: the largest spread of one task's AS over "
                                f"{n['n_seeds']} seed pairs, {n['n_tasks']} tasks (experiment asnoise)")
