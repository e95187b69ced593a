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

from ...agreement import agreement_score
from ...data import dataset_for
from ..results import run_items
from ...splits import (adversarial_split, evaluate_split, multiclass_adversarial_split,
                      random_split_like, summarize)
from ...tasks import default_task_names, random_task, task_by_name
from . import POOL, TASKS, TRAIN, register

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


@register("e13", page="sec6_adversarial", pool="main", needs=(),
          title="Adversarial vs random splits (Sec. 6.1, Fig. 7)",
          fields=POOL + TRAIN + TASKS + ('adv_by', 'adv_seeds', 'adv_targets'),
          runs=("adv_by",), priority=4)
def e13_adversarial_vs_random(p, data_path=None):
    """E13: test accuracy of human tasks on adversarial splits (Eq. 6) made with high-AS tasks vs
    random splits of the same sizes and class balance (Sec. 6.1, Fig. 7-left/center)."""
    ds = dataset(p, data_path)
    items = {f"{t}|{b}": _adv_item(ds, p, t, b, with_random=True) for t, b in e13_pairs(p)}
    return run_items("e13", p, items, data=ds, desc="E13 adversarial vs random splits")


@register("e14", page="sec6_adversarial", pool="main", needs=('e13',),
          title="Test accuracy vs AS difference (Sec. 6.1, Fig. 7-right)",
          fields=POOL + TRAIN + TASKS + ('adv_by', 'adv_seeds', 'adv_targets'),
          runs=("adv_by",), priority=5)
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
    return run_items("e14", p, items, data=ds, desc="E14 accuracy vs AS difference")


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


def compare_splits(ds, p, t, b, t_name, b_name, multiclass: bool) -> dict:
    """Adversarial split (Eq. 6, or Eq. 7 with ``multiclass``) of target labels ``t`` by ``b``
    and a random split of the same sizes and class counts, each evaluated with the profile's
    recipe; returns both results and ``drop`` = random - adversarial test accuracy."""
    k = max(2, int(t.max()) + 1)
    if multiclass:
        adv = multiclass_adversarial_split(t, b, num_classes=k, target_name=t_name, by_name=b_name)
    else:
        adv = adversarial_split(t, b, target_name=t_name, by_name=b_name)
    rnd = random_split_like(adv, t, seed=p.split_seed)
    keep = ("n_train", "n_test", "train_counts", "test_counts", "agree_train", "agree_test", "C1", "C0", "flipped")
    res = {"target": t_name, "by": b_name}
    for name, sp in (("adversarial", adv), ("random", rnd)):
        s = summarize(sp, t, b, num_classes=k)
        res[name] = {**evaluate_split(ds, t, sp, p, seeds=p.adv_seeds), **{x: s[x] for x in keep if x in s}}
    res["drop"] = res["random"]["test_acc"] - res["adversarial"]["test_acc"]
    return res


@register("e15", page="sec6_adversarial", pool="main", needs=(),
          title="10-way adversarial split of CIFAR-10 (Tab. 1, Eq. 7)",
          fields=POOL + TRAIN + ('adv_by', 'adv_multiclass_by', 'adv_seeds'),
          runs=("adv_by",))
def e15_multiclass(p, data_path=None):
    """E15: the 10-way class task with a partial correlation to a binary high-AS task (Eq. 7;
    C1 = the 5 classes whose indicator is least similar to τ', so each part holds about half the
    pool) vs a random split of the same sizes and class counts (Sec. 6.2, Tab. 1)."""
    ds = dataset(p, data_path)

    def item(b_name):
        return lambda: compare_splits(ds, p, labels(ds, "classes:all"), labels(ds, b_name),
                                      "classes:all", b_name, multiclass=True)

    items = {f"classes:all|{b}": item(b) for b in p.adv_by[: p.adv_multiclass_by]}
    return run_items("e15", p, items, data=ds, desc="E15 10-way adversarial split")


# ---- E16: CelebA and ImageNet (Sec. 6.3, Tab. 1, App. D), only when their files are here ----------
E16_CELEBA_TARGET = "Male"     # ours: the CelebA attribute of Tab. 1 was lost in extraction
E16_BY = "randnet:0"           # Sec. 6.3: the task of a randomly initialized network
E16_HOWTO = {
    "celeba": "CelebA for torchvision.datasets.CelebA: ROOT/celeba/ holding img_align_celeba/ (the aligned "
              "JPEGs) and list_attr_celeba.txt, identity_CelebA.txt, list_bbox_celeba.txt, "
              "list_landmarks_align_celeba.txt, list_eval_partition.txt (from the CelebA site / Google Drive)",
    "imagenet": "ImageNet-1k for torchvision.datasets.ImageNet: ROOT/imagenet/ holding ILSVRC2012_img_train.tar "
                "and ILSVRC2012_devkit_t12.tar.gz (from image-net.org, after registering)",
}


def extra_root():
    """Where E16 looks for torchvision's CelebA / ImageNet files: ``$TDLIB_CACHE`` (as for CIFAR-10's
    torchvision files), default ``~/.cache/tdlib``."""
    import os
    from pathlib import Path
    return Path(os.environ.get("TDLIB_CACHE", "~/.cache/tdlib")).expanduser()


def _open_extra(name: str, root):
    """The torchvision dataset (train split), or None when its files are not there."""
    import torchvision
    try:
        if name == "celeba":
            return torchvision.datasets.CelebA(str(root), split="train", target_type="attr", download=False)
        return torchvision.datasets.ImageNet(str(root / "imagenet"), split="train")
    except (RuntimeError, OSError, ValueError):
        return None


def load_extra(name: str, p, root=None):
    """A pool of ``n_train + n_test`` seeded images of CelebA / ImageNet's train set, resized to
    32x32 (ours: the CIFAR-sized architectures of App. I.3; the paper used full-size images and a
    ResNet-50 for ImageNet), as a :class:`~tdlib.data.Dataset`; None when the files are absent."""
    from PIL import Image

    from ...data import Dataset, _standardize
    tv = _open_extra(name, root or extra_root())
    if tv is None:
        return None
    n = min(len(tv), p.n_train + p.n_test)
    pick = np.sort(np.random.default_rng(p.split_seed).permutation(len(tv))[:n])
    images, classes = np.zeros((n, 32, 32, 3), np.uint8), np.zeros(n, np.int64)
    if name == "celeba":
        attr = tv.attr_names.index(E16_CELEBA_TARGET)
        class_names = [f"not {E16_CELEBA_TARGET}", E16_CELEBA_TARGET]
    else:
        class_names = [c[0] for c in tv.classes]
    for j, i in enumerate(pick):
        img, y = tv[int(i)]
        w, h = img.size
        s = min(w, h)                                          # center crop, then resize
        img = img.convert("RGB").crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
        images[j] = np.asarray(img.resize((32, 32), Image.BILINEAR))
        classes[j] = int(y[attr]) if name == "celeba" else int(y)
    train_idx, test_idx = np.arange(min(p.n_train, n - 1)), np.arange(min(p.n_train, n - 1), n)
    return Dataset(name=name, images=images, x=_standardize(images, train_idx), classes=classes,
                   class_names=class_names, train_idx=train_idx, test_idx=test_idx,
                   attrs={"source_index": pick.astype(np.int64)})


@register("e16", page="sec6_adversarial", pool="main", needs=(),
          title="Adversarial splits of CelebA and ImageNet (Sec. 6.3, Tab. 1)",
          fields=POOL + TRAIN + ('adv_seeds',),
          skip=lambda p: "" if any(_open_extra(n, extra_root()) is not None for n in ("celeba", "imagenet"))
          else "needs CelebA or ImageNet files (see tdlib.lab.experiments.sec6.E16_HOWTO)")
def e16_celeba_imagenet(p, data_path=None, root=None):
    """E16: adversarial splits of CelebA (binary attribute, Eq. 6) and ImageNet (1000-way, Eq. 7)
    by a random-network task vs random splits of the same sizes (Sec. 6.3, Tab. 1), no
    augmentation. Runs only for the datasets whose files are present (see :data:`E16_HOWTO`);
    for the others it prints what to download and where, and stores nothing."""
    from ...randnet import random_network_task
    from ..results import ResultStore
    root = root or extra_root()
    params = {"celeba_target": E16_CELEBA_TARGET, "by": E16_BY}
    items, missing = {}, []
    for name in ("celeba", "imagenet"):
        if _open_extra(name, root) is None:
            missing.append(name)
            continue

        def run(name=name):
            ds = load_extra(name, p, root)
            b = random_network_task(ds.x, int(E16_BY.split(":")[1]))
            t_name = f"celeba:{E16_CELEBA_TARGET}" if name == "celeba" else "imagenet:classes"
            return {"dataset": name, **compare_splits(ds, p, ds.classes, b, t_name, E16_BY,
                                                      multiclass=name == "imagenet")}
        items[f"{name}|{E16_BY}"] = run
    for name in missing:
        print(f"E16: {name} skipped, its files are not under {root}. To run it, download {E16_HOWTO[name]} "
              f"(ROOT = {root}; set TDLIB_CACHE to use another folder).")
    if not items:
        return ResultStore("e16", p.name, {**p.as_dict(), **params})     # empty, not written
    return run_items("e16", p, items, params=params, desc="E16 CelebA / ImageNet")


@register("e19", page="sec6_adversarial", pool="main", needs=('e14',),
          title="AS on adversarial splits (App. F, Fig. 14)",
          fields=POOL + TRAIN + TASKS + ('adv_by', 'adv_seeds', 'adv_targets'),
          runs=("adv_by",))
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
    return run_items("e19", p, items, data=ds, desc="E19 AS on adversarial splits")


def example_split(profile="auto", data_path=None, pair=None):
    """The adversarial split of one E13 pair (default: the first) for pictures (App. D-like).

    ``profile="auto"``: the profile of E13's best stored result, else ``smoke``; when that
    profile's data are not here, the built-in data (``smoke``) with a note. Returns
    ``(dataset, split, target labels, by labels)``."""
    from ...config import get_profile
    from ...data import DataNotFoundError
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
