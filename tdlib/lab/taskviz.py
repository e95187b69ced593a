"""The most discriminative images of each class of a task (Sec. 5.1, Fig. 4-right, App. B, Fig. 10).

A task given by a scoring network (or any per-image score whose median split is the task, Sec. 4.4)
is shown by the images it is most sure about: the ``k`` highest scores for class 1 and the ``k``
lowest for class 0 (the paper ranks by the task network's predicted probability, a monotone function
of its logit). Scores come from a registry by task kind, so discovered tasks plug in with
``register_task_scorer(kind, fn)``:

- ``discovered:K[:PROFILE[/SUBFOLDER]]``: the projection ``<u_K, g(x)>`` of the embedding on the task's
  hyperplane, as saved with the tasks (``tasks.npz``, Sec. 4.3; the task's probability of class 1 is
  a monotone function of it);
- ``randnet:SEED[:ARCH]``: the random network's logit (Sec. 4.4);
- ``greenpixel:ROW,COL``: the green value of that pixel.

Any other task can be shown with explicit ``labels`` and ``scores`` (:func:`top_images_from_scores`).
"""
from __future__ import annotations

import base64
from typing import Callable

import numpy as np
import torch

_SCORERS: dict[str, Callable] = {}
_MEDIAN_SPLIT: set = set()


def register_task_scorer(kind: str, fn: Callable, median_split: bool = False) -> None:
    """``fn(dataset, arg: str) -> scores (N,)``; larger = more class 1, for tasks named ``kind:arg``.
    ``median_split=True``: the task's labels are exactly the median split of these scores (Sec. 4.4),
    so they are not computed a second time."""
    _SCORERS[kind] = fn
    if median_split:
        _MEDIAN_SPLIT.add(kind)


@torch.no_grad()
def _randnet_scores(ds, arg):
    from ..models import build_model
    from ..randnet import RANDNET_ARCH, RANDNET_WIDTH
    from ..train import predict_logits
    seed, _, arch = arg.partition(":")
    torch.manual_seed(int(seed))                      # exactly as randnet.random_network_task
    net = build_model(arch or RANDNET_ARCH, num_classes=1, width=RANDNET_WIDTH)
    return predict_logits(net, ds.x, amp=False)[:, 0].numpy().astype(np.float64)


def _greenpixel_scores(ds, arg):
    from ..greenpixel import green_pixel_scores, parse_pixel
    return green_pixel_scores(ds.images, parse_pixel(arg))


def _discovered_scores(ds, arg):
    from .runs import load_task_file
    idx, _, prof = arg.partition(":")
    scores = load_task_file(ds, prof or None)["scores"]
    i = int(idx)
    if not 0 <= i < len(scores):
        raise ValueError(f"only {len(scores)} discovered tasks are saved; index {i} is out of range")
    return scores[i].astype(np.float64)


register_task_scorer("discovered", _discovered_scores)      # labels: the saved median split
register_task_scorer("randnet", _randnet_scores, median_split=True)
register_task_scorer("greenpixel", _greenpixel_scores)


def task_scores(ds, name: str) -> np.ndarray:
    kind, _, arg = name.partition(":")
    if kind not in _SCORERS:
        raise ValueError(f"no scorer for task kind {kind!r} (have {sorted(_SCORERS)}); pass labels and "
                         f"scores to top_images_from_scores instead")
    return _SCORERS[kind](ds, arg)


def top_images_from_scores(images: np.ndarray, labels, scores, k: int = 8, among=None) -> dict:
    """Indices of the ``k`` most discriminative images per class: class 1 by highest score, class 0
    by lowest, among images with that label (``among``: restrict to these pool indices)."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    pool = np.arange(len(labels)) if among is None else np.asarray(among)
    out = {}
    for c, sign in ((0, 1.0), (1, -1.0)):
        cand = pool[labels[pool] == c]
        order = cand[np.argsort(sign * scores[cand], kind="stable")][:k]
        out[c] = order
    return out


def top_images_kway(images: np.ndarray, labels, scores, k: int = 8) -> dict:
    """App. C: per class ``c`` of a K-way task, the ``k`` images labelled ``c`` with the largest margin of
    their score for ``c`` over the best other class (``scores`` (N, K)), encoded for storage."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    out = {}
    for c in range(scores.shape[1]):
        margin = scores[:, c] - np.delete(scores, c, axis=1).max(1)
        cand = np.flatnonzero(labels == c)
        idx = cand[np.argsort(-margin[cand], kind="stable")][:k]
        out[str(c)] = {"index": idx.tolist(), "images": encode_images(images[idx])}
    return out


def encode_images(images: np.ndarray) -> dict:
    a = np.ascontiguousarray(images, dtype=np.uint8)
    return {"shape": list(a.shape), "b64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_images(d: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["b64"]), dtype=np.uint8).reshape(d["shape"])


def top_images(ds, name: str, k: int = 8) -> dict:
    """For task ``name``: the ``k`` most discriminative images of each class of the pool, with their
    indices and scores, the images themselves (base64 uint8, so stored results draw without data)."""
    from ..randnet import median_split
    from ..tasks import task_by_name
    scores = task_scores(ds, name)
    labels = median_split(scores) if name.partition(":")[0] in _MEDIAN_SPLIT else task_by_name(ds, name)
    top = top_images_from_scores(ds.images, labels, scores, k)
    return {"task": name, "balance": float(labels.mean()),
            "index": {str(c): v.tolist() for c, v in top.items()},
            "score": {str(c): scores[v].tolist() for c, v in top.items()},
            "images": {str(c): encode_images(ds.images[v]) for c, v in top.items()}}
