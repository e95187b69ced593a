"""Supervised training of one network: the learning algorithm A of Sec. 3 (Adam, cross-entropy).

The data stay on the device as one tensor; each epoch is a seeded permutation, so nothing runs on
the host per batch. The three sources of stochasticity of Sec. 3.2 / Fig. 2-right are separate
arguments: ``init_seed`` (weights), ``order_seed`` (mini-batch order) and ``deterministic``
(CUDA nondeterminism: ``False`` lets cuDNN pick nondeterministic kernels; CPU runs are always
deterministic). Mixed precision (bf16 autocast) and channels-last are used on CUDA only.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from .models import build_model


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def cuda_determinism(deterministic: bool):
    """Fix (or free) cuDNN's algorithm choice for the duration of a run."""
    old = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old


def _autocast(device: torch.device, amp: bool):
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


LR_SCHEDULES = ("constant", "linear")


def lr_factor(schedule: str, total: int):
    """Multiplier of the lr at step i of ``total``: ``constant`` (the paper) or ``linear`` (to 0 over
    the run; the cpu profile)."""
    if schedule == "constant":
        return lambda i: 1.0
    if schedule == "linear":
        return lambda i: 1.0 - i / total
    raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}")


def train_classifier(x: torch.Tensor, y, *, arch: str = "cnn", width: int = 16, num_classes: int = 2,
                     epochs: int = 10, batch_size: int = 512, lr: float = 1e-3, lr_schedule: str = "constant",
                     init_seed: int = 0, order_seed: int = 0, deterministic: bool = True,
                     device=None, amp: bool = True, progress=None) -> torch.nn.Module:
    """Train ``arch`` on ``(x, y)`` with Adam and cross-entropy; returns the model in eval mode.

    ``x``: (N,3,32,32) float; ``y``: (N,) int labels. ``lr_schedule``: see :func:`lr_factor`.
    ``progress``: an optional tqdm bar advanced per epoch."""
    device = torch.device(device) if device is not None else default_device()
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {epochs}, {batch_size}")
    mem = torch.channels_last if device.type == "cuda" else torch.contiguous_format
    x = x.to(device).contiguous(memory_format=mem)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)
    torch.manual_seed(init_seed)                                     # source 1: initialization
    model = build_model(arch, num_classes, width).to(device).to(memory_format=mem)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = sum(1 for s in range(0, len(x), batch_size) if len(x) - s >= 2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor(lr_schedule, max(1, epochs * steps_per_epoch)))
    order = torch.Generator().manual_seed(order_seed)                # source 2: data order
    n = len(x)
    with cuda_determinism(deterministic):                            # source 3: CUDA kernels
        model.train()
        for _ in range(epochs):
            perm = torch.randperm(n, generator=order).to(device)
            for start in range(0, n, batch_size):
                idx = perm[start:start + batch_size]
                if len(idx) < 2:                                     # BatchNorm needs 2 samples
                    continue
                with _autocast(device, amp):
                    loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
            if progress is not None:
                progress.update(1)
    return model.eval()


@torch.no_grad()
def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 2048, amp: bool = True):
    """Logits of ``model`` on ``x`` in eval mode, as a float32 CPU tensor (N,K)."""
    device = next(model.parameters()).device
    model.eval()
    outs = []
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device)
        if device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp):
            outs.append(model(xb).float().cpu())
    return torch.cat(outs)


def predict(model, x, batch_size: int = 2048, amp: bool = True) -> np.ndarray:
    """Argmax predictions (N,) as int64."""
    return predict_logits(model, x, batch_size, amp).argmax(1).numpy().astype(np.int64)
