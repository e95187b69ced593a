"""Random-network tasks (Sec. 4.4, App. H.1) and naive discovery by drawing them (App. H.2).

A freshly initialized network (PyTorch's default Kaiming-uniform init, App. I.3) gives a logit
per image; sorting the logits and splitting the images evenly at the median gives a balanced
binary task. Task name: ``randnet:SEED`` (architecture and width from the ``smoke``-independent
defaults below, or ``randnet:SEED:ARCH``).
"""
from __future__ import annotations

import numpy as np
import torch

from .models import build_model
from .tasks import register_task_kind, similarity
from .train import predict_logits

RANDNET_ARCH = "resnet18"     # App. H.1: the same ResNet-18 and init as for measuring the AS
RANDNET_WIDTH = 16            # ours: a narrower ResNet-18 keeps this cheap on CPU


def median_split(scores) -> np.ndarray:
    """Label the upper half of ``scores`` 1 and the lower half 0 (ties broken by order)."""
    scores = np.asarray(scores)
    labels = np.zeros(len(scores), dtype=np.int64)
    labels[np.argsort(scores, kind="stable")[len(scores) // 2:]] = 1
    return labels


@torch.no_grad()
def random_network_task(x: torch.Tensor, seed: int, arch: str = RANDNET_ARCH,
                        width: int = RANDNET_WIDTH, device=None) -> np.ndarray:
    """Labels of the task of a randomly initialized ``arch`` on images ``x`` (N,3,32,32).

    The network is in eval mode, so BatchNorm uses its initial running statistics (identity)."""
    torch.manual_seed(seed)
    net = build_model(arch, num_classes=1, width=width)
    if device is not None:
        net = net.to(device)
    logits = predict_logits(net, x, amp=False)[:, 0]             # (N,1) -> (N,)
    return median_split(logits.numpy())


def naive_discovery(x: torch.Tensor, n_tasks: int, threshold: float, max_draws: int = 1000,
                    arch: str = RANDNET_ARCH, width: int = RANDNET_WIDTH, progress: bool = False):
    """App. H.2: draw random-network tasks, keep one if its max similarity to the kept ones is
    below ``threshold``. Returns ``(kept_tasks (K,N), kept_seeds, draws)``."""
    from tqdm.auto import tqdm
    kept, seeds = [], []
    draws = 0
    bar = tqdm(total=n_tasks, desc="naive discovery", disable=not progress)
    while len(kept) < n_tasks and draws < max_draws:
        t = random_network_task(x, draws, arch, width)
        draws += 1
        if not kept or max(similarity(t, k) for k in kept) < threshold:
            kept.append(t)
            seeds.append(draws - 1)
            bar.update(1)
    bar.close()
    return np.array(kept), seeds, draws


def _randnet_kind(ds, arg: str):
    seed, _, arch = arg.partition(":")
    return random_network_task(ds.x, int(seed), arch or RANDNET_ARCH)


register_task_kind("randnet", _randnet_kind)
