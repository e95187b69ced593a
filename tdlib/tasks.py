"""Tasks (labellings of the image pool) and task similarity (Sec. 3.2, Eq. 2).

A task is an ``int64`` label vector over the whole pool of a :class:`~tdlib.data.Dataset`.

- Human-labelled tasks (Sec. 3.2): split the 10 classes into two sets of 5; the 252 ordered
  splits give 126 distinct tasks up to flipping the labels. We enumerate them with class 0 always
  in the "0" group, so ``human:i`` for ``i`` in ``0..125`` names each distinct task once.
- Random-labelled tasks (Sec. 3.2): i.i.d. balanced coin flips per image, fixed by a seed.
- Planted-cue tasks of the synthetic data (``cue:warm`` ...), for tests.
- Simple image statistics split at their median (``stat:brightness``, ``stat:red_blue`` ...): baselines.
- The dataset's own K-way classes (``classes:all``), the multi-class target of Sec. 6.2.
- K-way tasks (App. C): ``human:kK:i`` groups the classes into K near-equal groups (the i-th seeded
  grouping), ``random:kK:i`` is balanced K-way random labels; :func:`kway_similarity` extends Eq. 2
  (max over matchings of the labels).
- Task names: ``human:3``, ``random:0``, ``cue:position``; :func:`task_by_name` resolves them.
  Other modules register more kinds (``randnet:``, ``discovered:``) with :func:`register_task_kind`.
"""
from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

N_HUMAN_TASKS = 126


def human_class_splits(num_classes: int = 10) -> list[tuple[int, ...]]:
    """All distinct 5-vs-5 class splits: the classes labelled 1, as sorted tuples (126 of them).

    Class 0 is always labelled 0, which picks one of each flip-pair."""
    rest = range(1, num_classes)
    return [c for c in itertools.combinations(rest, num_classes // 2)]


def human_task(classes: np.ndarray, index: int) -> np.ndarray:
    """Label 1 for images whose class is in the ``index``-th split (Sec. 3.2)."""
    splits = human_class_splits()
    if not 0 <= index < len(splits):
        raise ValueError(f"human task index must be in 0..{len(splits) - 1}, got {index}")
    return np.isin(classes, splits[index]).astype(np.int64)


def sample_human_indices(n: int = 20, seed: int = 0) -> list[int]:
    """A seeded sample of ``n`` distinct human tasks out of 126 (Sec. 3.2: 20)."""
    if not 0 < n <= N_HUMAN_TASKS:
        raise ValueError(f"n must be in 1..{N_HUMAN_TASKS}, got {n}")
    return sorted(np.random.default_rng(seed).choice(N_HUMAN_TASKS, n, replace=False).tolist())


def random_task(n_images: int, seed: int) -> np.ndarray:
    """Random labels, exactly balanced, fixed by ``seed`` (Sec. 3.2)."""
    labels = np.zeros(n_images, dtype=np.int64)
    labels[np.random.default_rng(10_000 + seed).permutation(n_images)[: n_images // 2]] = 1
    return labels


def similarity(t1, t2) -> float:
    """Task similarity, Eq. 2: ``max(mean[t1 == t2], mean[t1 == 1 - t2])`` in [0.5, 1].

    Flipping a task's labels gives the same task, hence the max."""
    t1, t2 = np.asarray(t1), np.asarray(t2)
    if t1.shape != t2.shape:
        raise ValueError(f"tasks must label the same images: shapes {t1.shape} vs {t2.shape}")
    n_equal = int(np.sum(t1 == t2))                     # integer counts keep it exactly symmetric
    return max(n_equal, t1.size - n_equal) / t1.size


def similarity_matrix(tasks) -> np.ndarray:
    """Pairwise Eq. 2 similarity of binary tasks; ``tasks`` is (K, N). Returns (K, K)."""
    t = np.asarray(tasks).astype(np.float64)              # (K,N)
    n = t.shape[1]
    n_equal = t @ t.T + (1 - t) @ (1 - t).T               # (K,K) number of equal labels
    return np.maximum(n_equal, n - n_equal) / n


def mean_pairwise_similarity(tasks) -> float:
    s = similarity_matrix(tasks)
    k = len(s)
    return float((s.sum() - np.trace(s)) / (k * (k - 1))) if k > 1 else float("nan")


# ----------------------------------------------------------------------------------------------
# K-way tasks (App. C)
# ----------------------------------------------------------------------------------------------
def class_groups(num_classes: int, k: int, index: int) -> list[np.ndarray]:
    """The ``index``-th seeded grouping of ``num_classes`` classes into ``k`` groups whose sizes
    differ by at most one (CIFAR-10, K = 5: five pairs; K = 3: 4 + 3 + 3; K = 2 on 200 classes:
    100 vs 100, App. A's human tasks on Tiny ImageNet)."""
    if not 2 <= k <= num_classes:
        raise ValueError(f"need 2 <= K <= {num_classes} groups of classes, got K = {k}")
    perm = np.random.default_rng([20_000 + k, index]).permutation(num_classes)
    return [np.sort(g) for g in np.array_split(perm, k)]


def human_kway_task(classes: np.ndarray, k: int, index: int, num_classes: int | None = None) -> np.ndarray:
    """Label g for images whose class is in group g of :func:`class_groups` (App. C's human tasks)."""
    classes = np.asarray(classes)
    groups = class_groups(num_classes or int(classes.max()) + 1, k, index)
    lut = np.empty(sum(len(g) for g in groups), dtype=np.int64)
    for g, members in enumerate(groups):
        lut[members] = g
    return lut[classes]


def random_kway_task(n_images: int, k: int, seed: int) -> np.ndarray:
    """Balanced random K-way labels (class sizes differ by at most one), fixed by ``seed``."""
    labels = np.arange(n_images, dtype=np.int64) % k
    return labels[np.random.default_rng([30_000 + k, seed]).permutation(n_images)]


def kway_similarity(t1, t2) -> float:
    """Eq. 2 for K-way tasks: the largest fraction of equal labels over all matchings of t2's
    classes to t1's (relabelling gives the same task). Equals :func:`similarity` for K = 2."""
    from scipy.optimize import linear_sum_assignment
    t1, t2 = np.asarray(t1, dtype=np.int64), np.asarray(t2, dtype=np.int64)
    if t1.shape != t2.shape:
        raise ValueError(f"tasks must label the same images: shapes {t1.shape} vs {t2.shape}")
    k = int(max(t1.max(), t2.max())) + 1
    conf = np.zeros((k, k), dtype=np.int64)                # (K,K) co-occurrence counts
    np.add.at(conf, (t1, t2), 1)
    r, c = linear_sum_assignment(-conf)
    return int(conf[r, c].sum()) / t1.size


def mean_pairwise_kway_similarity(tasks) -> float:
    t = np.asarray(tasks)
    k = len(t)
    vals = [kway_similarity(t[i], t[j]) for i in range(k) for j in range(i + 1, k)]
    return float(np.mean(vals)) if vals else float("nan")


def _kway_or(binary_fn, kway_fn):
    """A task-kind resolver: ``kK:ARG`` goes to the K-way task, anything else to the binary one."""
    def resolve(ds, arg):
        if arg.startswith("k"):
            kk, sep, rest = arg[1:].partition(":")
            if not sep or not kk.isdigit():
                raise ValueError(f"K-way task names look like kK:INDEX (e.g. k3:0), got {arg!r}")
            return kway_fn(ds, int(kk), int(rest))
        return binary_fn(ds, arg)
    return resolve


# ----------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------
_KINDS: dict[str, Callable] = {}


def register_task_kind(kind: str, fn: Callable) -> None:
    """``fn(dataset, arg: str) -> labels`` makes tasks named ``kind:arg``."""
    _KINDS[kind] = fn


def _cue(ds, arg):
    if arg not in ds.attrs or arg == "cifar_index":
        raise ValueError(f"dataset {ds.name!r} has no planted cue {arg!r}; "
                         f"it has {sorted(k for k in ds.attrs if k != 'cifar_index')}")
    v = ds.attrs[arg]
    return (v > np.median(v)).astype(np.int64) if v.max() > 1 else v.astype(np.int64)


# simple image statistics (issue 21: baselines that need no learning at all), each split at its median
IMAGE_STATS = {
    "brightness": lambda x: x.mean(dim=(1, 2, 3)),                          # overall (standardized) intensity
    "red_blue": lambda x: x[:, 0].mean(dim=(1, 2)) - x[:, 2].mean(dim=(1, 2)),   # warm vs cool colour
    "top_bottom": lambda x: x[:, :, :16].mean(dim=(1, 2, 3)) - x[:, :, 16:].mean(dim=(1, 2, 3)),
    "left_right": lambda x: x[..., :16].mean(dim=(1, 2, 3)) - x[..., 16:].mean(dim=(1, 2, 3)),
    "contrast": lambda x: x.flatten(1).std(dim=1),                          # spread of the pixel values
}


def image_stat_task(ds, name: str) -> np.ndarray:
    """``stat:NAME``: label 1 where the image statistic ``NAME`` (:data:`IMAGE_STATS`) is above its median."""
    if name not in IMAGE_STATS:
        raise ValueError(f"unknown image statistic {name!r}; choose one of {sorted(IMAGE_STATS)}")
    scores = np.concatenate([IMAGE_STATS[name](ds.x[s:s + 4096].float()).numpy()
                             for s in range(0, len(ds.x), 4096)])
    labels = np.zeros(len(scores), dtype=np.int64)
    labels[np.argsort(scores, kind="stable")[len(scores) // 2:]] = 1
    return labels


register_task_kind("human", _kway_or(lambda ds, arg: human_task(ds.classes, int(arg)),
                                     lambda ds, k, i: human_kway_task(ds.classes, k, i, ds.num_classes)))
register_task_kind("random", _kway_or(lambda ds, arg: random_task(len(ds), int(arg)),
                                      lambda ds, k, i: random_kway_task(len(ds), k, i)))
register_task_kind("cue", _cue)
register_task_kind("stat", image_stat_task)
register_task_kind("classes", lambda ds, arg: np.asarray(ds.classes, dtype=np.int64))


def task_by_name(ds, name: str) -> np.ndarray:
    """Resolve ``kind:arg`` (e.g. ``human:3``, ``random:0``, ``cue:warm``) to labels over ``ds``."""
    kind, sep, arg = name.partition(":")
    if sep and kind == "discovered" and kind not in _KINDS:    # the lab's stored runs name these tasks
        raise ValueError(f"task {name!r}: discovered tasks are read from stored discovery runs. Fix: "
                         "`import tdlib.lab` first (it registers the kind), or run `python -m tdlib ...`")
    if not sep or kind not in _KINDS:
        raise ValueError(f"bad task name {name!r}; use one of "
                         f"{', '.join(k + ':<arg>' for k in sorted(_KINDS))} (e.g. human:3, random:0)")
    try:
        return _KINDS[kind](ds, arg)
    except ValueError as e:
        raise ValueError(f"task {name!r}: {e}") from None


def default_task_names(profile) -> dict[str, list[str]]:
    """The human and random task names of an experiment (Sec. 3.2: 20 + 20)."""
    return {"human": [f"human:{i}" for i in sample_human_indices(profile.n_human, profile.task_seed)],
            "random": [f"random:{profile.task_seed * 1000 + i}" for i in range(profile.n_random)]}
