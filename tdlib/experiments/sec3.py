"""Sec. 3.2 experiments: E1 (Fig. 1-center, 2-left), E2 (Fig. 2-left), E3 (Fig. 2-center),
E4 (Fig. 2-right). Each entry is one task's :func:`~tdlib.agreement.agreement_score`, on a pool with
``p.sec3_n_train`` training images (:func:`sec3_dataset`)."""
from __future__ import annotations

from ..agreement import ALL_SOURCES, agreement_score
from ..data import dataset_for
from ..results import run_items
from ..tasks import default_task_names, task_by_name
from . import SEC3_POOL, TASKS, TRAIN, register

# Fig. 2-right: which sources of stochasticity differ between the two networks
STOCHASTICITY = {"all fixed": (), "init": ("init",), "data order": ("order",), "cuda": ("cuda",),
                 "all varied": ALL_SOURCES}


def sec3_dataset(p, data_path=None, download: bool = False):
    """The pool of Sec. 3's experiments: ``p.sec3_n_train`` train images, ``p.n_test`` held out."""
    return dataset_for(p, data_path, download, n_train=p.sec3_n_train)


def _as_item(ds, name, p, **kw):
    return lambda: {"task": name, "kind": name.split(":")[0],
                    **agreement_score(ds, task_by_name(ds, name), p, **kw)}


def _ablation_tasks(p):
    names = default_task_names(p)
    return names["human"][: p.n_ablation] + names["random"][: p.n_ablation]


@register("e1", page="sec3_agreement", pool="sec3", needs=(),
          title="AS of human- vs random-labelled tasks (Sec. 3.2, Fig. 1-center, 2-left)",
          fields=SEC3_POOL + TRAIN + TASKS,
          priority=0, expected=lambda p: p.n_human + p.n_random, then=(("gpu", "paper"),))
def e1_human_vs_random(p, data_path=None):
    """E1: AS of human-labelled vs random-labelled tasks (Sec. 3.2, Fig. 1-center, 2-left)."""
    ds = sec3_dataset(p, data_path)
    names = default_task_names(p)
    items = {n: _as_item(ds, n, p) for n in names["human"] + names["random"]}
    return run_items("e1", p, items, data=ds, desc="E1 human vs random")


@register("e2", page="sec3_agreement", pool="sec3", needs=(),
          title="AS with each architecture (Sec. 3.2, Fig. 2-left)",
          fields=SEC3_POOL + TRAIN + TASKS + ('archs', 'n_ablation'),
          expected=lambda p: len(p.archs) * 2 * p.n_ablation)
def e2_architectures(p, data_path=None):
    """E2: the same for each architecture (Sec. 3.2, Fig. 2-left, App. I.3)."""
    ds = sec3_dataset(p, data_path)
    items = {f"{a}/{n}": _as_item(ds, n, p, arch=a) for a in p.archs for n in _ablation_tasks(p)}
    return run_items("e2", p, items, data=ds, desc="E2 architectures")


@register("e3", page="sec3_agreement", pool="sec3", needs=(),
          title="AS vs the size of X_tr (Sec. 3.2, Fig. 2-center)",
          fields=SEC3_POOL + TRAIN + TASKS + ('n_ablation', 'train_sizes'),
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
          fields=SEC3_POOL + TRAIN + TASKS + ('n_ablation',),
          expected=lambda p: 5 * 2 * p.n_ablation)
def e4_stochasticity(p, data_path=None):
    """E4: which stochasticity varies between the two networks (Sec. 3.2, Fig. 2-right)."""
    ds = sec3_dataset(p, data_path)
    items = {f"{c}/{n}": _as_item(ds, n, p, vary=v) for c, v in STOCHASTICITY.items()
             for n in _ablation_tasks(p)}
    return run_items("e4", p, items, data=ds, desc="E4 stochasticity")
