"""Sec. 6 experiments, adversarial train/test splits: E13 (Fig. 7-left/center), E14 (Fig. 7-right),
E15 (Tab. 1, CIFAR-10 10-way), E19 (App. F, Fig. 14) and E16 (Tab. 1, CelebA / ImageNet).

The split is made over the whole pool of the profile's dataset (X_tr and X_te together), as the
paper partitions the dataset; the high-AS tasks τ' are ``profile.adv_by`` (random-network tasks,
Sec. 6.3, until discovered tasks exist; on the built-in data also the planted cue ``cue:warm``).
Every evaluation trains ``profile.adv_seeds`` pairs of networks with the profile's recipe (no
augmentation) and reports the test accuracy and the AS measured on the split.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..agreement import agreement_score
from ..data import dataset_for
from ..results import run_items
from ..splits import (adversarial_split, evaluate_split, multiclass_adversarial_split,
                      random_split_like, summarize)
from ..tasks import default_task_names, random_task, task_by_name
from . import register

_DATASETS: dict = {}
_LABELS: dict = {}


def dataset(p, data_path=None):
    """The profile's dataset, loaded once per process."""
    key = (p.dataset, p.n_train, p.n_test, p.split_seed, str(data_path))
    if key not in _DATASETS:
        _DATASETS.clear()
        _LABELS.clear()
        _DATASETS[key] = dataset_for(p, data_path)
    return _DATASETS[key]


def labels(ds, name: str) -> np.ndarray:
    """``task_by_name`` with a per-process cache (random-network tasks take seconds on CPU)."""
    key = (id(ds), name)
    if key not in _LABELS:
        _LABELS[key] = task_by_name(ds, name)
    return _LABELS[key]


def targets(p) -> list:
    """The human-labelled targets τ: the first ``adv_targets`` of E1's sample (Sec. 6.1)."""
    humans = default_task_names(p.replace(n_human=max(p.n_human, p.adv_targets)))["human"]
    return humans[: p.adv_targets]


def e13_pairs(p) -> list:
    """(human τ, high-AS τ') pairs of Fig. 7-left: every target with every task of ``adv_by``."""
    return [(t, b) for t in targets(p) for b in p.adv_by]


def e14_tasks(p) -> list:
    """The task set of Fig. 7-right: the human targets and the high-AS tasks (Sec. 6.1)."""
    return targets(p) + [b for b in p.adv_by if b not in targets(p)]


def _summary(split, t, b):
    s = summarize(split, t, b)
    return {k: s[k] for k in ("n_train", "n_test", "train_counts", "test_counts", "agree_train",
                              "agree_test", "flipped") if k in s}


def _adv_item(ds, p, t_name, b_name, with_random: bool):
    def item():
        t, b = labels(ds, t_name), labels(ds, b_name)
        adv = adversarial_split(t, b, target_name=t_name, by_name=b_name)
        out = {"target": t_name, "by": b_name,
               "adversarial": {**evaluate_split(ds, t, adv, p, seeds=p.adv_seeds), **_summary(adv, t, b)}}
        if with_random:
            rnd = random_split_like(adv, t, seed=p.split_seed)
            out["random"] = {**evaluate_split(ds, t, rnd, p, seeds=p.adv_seeds), **_summary(rnd, t, b)}
            out["drop"] = out["random"]["test_acc"] - out["adversarial"]["test_acc"]
        return out
    return item


@register("e13")
def e13_adversarial_vs_random(p, data_path=None):
    """E13: test accuracy of human tasks on adversarial splits (Eq. 6) made with high-AS tasks vs
    random splits of the same sizes and class balance (Sec. 6.1, Fig. 7-left/center)."""
    ds = dataset(p, data_path)
    items = {f"{t}|{b}": _adv_item(ds, p, t, b, with_random=True) for t, b in e13_pairs(p)}
    return run_items("e13", p, items, desc="E13 adversarial vs random splits")


@register("e14")
def e14_accuracy_vs_delta_as(p, data_path=None):
    """E14: for every pair of tasks of a set of human and high-AS tasks, the test accuracy w.r.t.
    τ on the adversarial split vs AS(τ') - AS(τ) (Sec. 6.1, Fig. 7-right).

    ``as/NAME``: the task's AS on the dataset's standard split (Eq. 1). ``pair/A|B``: one
    adversarial split per unordered pair, trained with A's labels (on train A and B agree, so the
    same networks serve both orders; on test the accuracy w.r.t. B is 1 - that w.r.t. A). Pairs
    that E13 already trained (same split and seeds) are taken from E13's result of this profile."""
    ds = dataset(p, data_path)
    tasks = e14_tasks(p)
    e13 = e13_adversarial_vs_random(p, data_path).entries

    def as_item(name):
        return lambda: {"task": name, **agreement_score(ds, labels(ds, name), p)}

    def pair_item(a, b):
        def item():
            if f"{a}|{b}" in e13:
                return {"target": a, "by": b, "from": "e13", **e13[f"{a}|{b}"]["adversarial"]}
            return {"target": a, "by": b, **_adv_item(ds, p, a, b, with_random=False)()["adversarial"]}
        return item

    items = {f"as/{n}": as_item(n) for n in tasks}
    items.update({f"pair/{a}|{b}": pair_item(a, b) for a, b in itertools.combinations(tasks, 2)})
    return run_items("e14", p, items, desc="E14 accuracy vs AS difference")


def e14_points(store) -> list:
    """Both orders of every E14 pair: dicts with target, by, delta_as = AS(τ') - AS(τ), test_acc
    w.r.t. τ, and the AS measured on the split (App. F)."""
    ent = store.entries
    pts = []
    for key, v in ent.items():
        if not key.startswith("pair/"):
            continue
        a, b = v["target"], v["by"]
        if f"as/{a}" not in ent or f"as/{b}" not in ent:
            continue
        as_a, as_b = ent[f"as/{a}"]["agreement"], ent[f"as/{b}"]["agreement"]
        for t, tp, acc, d in ((a, b, v["test_acc"], as_b - as_a), (b, a, 1.0 - v["test_acc"], as_a - as_b)):
            pts.append({"target": t, "by": tp, "delta_as": d, "test_acc": acc,
                        "as_split": v["agreement"], "target_kind": t.split(":")[0], "by_kind": tp.split(":")[0]})
    return pts


@register("e15")
def e15_multiclass(p, data_path=None):
    """E15: the 10-way class task with a partial correlation to a binary high-AS task (Eq. 7;
    C1 = the 5 classes whose indicator is least similar to τ', so each part holds about half the
    pool) vs a random split of the same sizes and class counts (Sec. 6.2, Tab. 1)."""
    ds = dataset(p, data_path)

    def item(b_name):
        def run():
            t, b = labels(ds, "classes:all"), labels(ds, b_name)
            adv = multiclass_adversarial_split(t, b, num_classes=ds.num_classes,
                                               target_name="classes:all", by_name=b_name)
            rnd = random_split_like(adv, t, seed=p.split_seed)
            keep = ("n_train", "n_test", "train_counts", "test_counts", "C1", "C0", "flipped")
            res = {"target": "classes:all", "by": b_name}
            for name, sp in (("adversarial", adv), ("random", rnd)):
                s = summarize(sp, t, num_classes=ds.num_classes)
                res[name] = {**evaluate_split(ds, t, sp, p, seeds=p.adv_seeds),
                             **{k: s[k] for k in keep if k in s}}
            res["drop"] = res["random"]["test_acc"] - res["adversarial"]["test_acc"]
            return res
        return run

    items = {f"classes:all|{b}": item(b) for b in p.adv_by[: p.adv_multiclass_by]}
    return run_items("e15", p, items, desc="E15 10-way adversarial split")


@register("e19")
def e19_as_on_adversarial_split(p, data_path=None):
    """E19: the AS measured on adversarial splits stays high even where the test accuracy is low
    (App. F, Fig. 14-right). Pair entries are read from E14 (same networks); ``reference/...``
    entries train a random-labelled task on the first E13 pair's adversarial split: what a task
    the networks do not generalize on gives on the same split."""
    ds = dataset(p, data_path)
    e14 = e14_accuracy_vs_delta_as(p, data_path)
    points = {f"{q['target']}|{q['by']}": q for q in e14_points(e14)}
    items = {f"pair/{k}": (lambda q=q: q) for k, q in points.items()}
    t_name, b_name = e13_pairs(p)[0]

    def reference():
        adv = adversarial_split(labels(ds, t_name), labels(ds, b_name), target_name=t_name, by_name=b_name)
        r = random_task(len(ds), p.task_seed)
        return {"target": f"random:{p.task_seed}", "split_of": f"{t_name}|{b_name}",
                **evaluate_split(ds, r, adv, p, seeds=p.adv_seeds)}

    items[f"reference/random:{p.task_seed}|{t_name}|{b_name}"] = reference
    return run_items("e19", p, items, desc="E19 AS on adversarial splits")


def example_split(profile="auto", data_path=None, pair=None):
    """The adversarial split of one E13 pair (default: the first) for pictures (App. D-like).

    ``profile="auto"``: the profile of E13's best stored result, else ``smoke``; when that
    profile's data are not here, the built-in data (``smoke``) with a note. Returns
    ``(dataset, split, target labels, by labels)``."""
    from ..config import get_profile
    from ..data import DataNotFoundError
    from ..results import best_stored
    if profile == "auto":
        stored = best_stored("e13")
        profile = stored.data["profile"] if stored is not None else "smoke"
    p = get_profile(profile)
    try:
        ds = dataset(p, data_path)
    except DataNotFoundError as e:
        print(f"{e}\n-> showing the built-in data (profile smoke) instead")
        p = get_profile("smoke")
        ds = dataset(p)
    t_name, b_name = pair or e13_pairs(p)[0]
    t, b = labels(ds, t_name), labels(ds, b_name)
    return ds, adversarial_split(t, b, target_name=t_name, by_name=b_name), t, b
