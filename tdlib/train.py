"""Supervised training of one network: the learning algorithm A of Sec. 3 (Adam, cross-entropy).

The data stay on the device as one tensor; each epoch is a seeded permutation, so nothing runs on
the host per batch. The three sources of stochasticity of Sec. 3.2 / Fig. 2-right are separate
arguments: ``init_seed`` (weights), ``order_seed`` (mini-batch order) and ``deterministic``
(CUDA nondeterminism: ``False`` lets cuDNN pick nondeterministic kernels; CPU runs are always
deterministic). Mixed precision (bf16 autocast) and channels-last are used on CUDA only.

Once per epoch (one host sync) a network's running loss and train accuracy are read from the device:
a non-finite loss (or non-finite weights at the end) raises :class:`~tdlib.errors.Diverged`, and with
``fit_stop`` a network stops as soon as its running train accuracy over an epoch reaches it and its
accuracy on the training set, evaluated as it will be used (eval mode), does too (Sec. 3.2: the networks
fit their training labels; the authors' code stops at 98% when it scores tasks).

Implementations (``impl``, profile field ``train_impl``; each gives the same networks on CPU):

- ``plain``: the networks one after the other, eager steps.
- ``streams``: the networks of a pair interleaved step by step, each on its own CUDA stream, so the
  GPU overlaps their kernels (on CPU: interleaved on the host, identical networks).
- ``graph``: each full-batch train step captured once as a CUDA graph and replayed (no per-kernel
  launch cost; CUDA only, else ``plain``). The first steps run eagerly (warm-up), the last partial
  batch of an epoch too.
- ``streams+graph``: both.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ConfigError, Diverged
from .models import build_model

TRAIN_IMPLS = ("plain", "streams", "graph", "streams+graph")
GRAPH_WARMUP_STEPS = 3


def default_device() -> torch.device:
    """``$TDLIB_DEVICE`` (e.g. ``cpu``, ``cuda:1``; pytest's ``--device`` sets it), else CUDA when present."""
    import os
    if os.environ.get("TDLIB_DEVICE"):
        return torch.device(os.environ["TDLIB_DEVICE"])
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
        # no weight-cast cache: required inside CUDA-graph capture, and the same kernels in every impl
        return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
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


class _Run:
    """One network being trained: model, optimizer, its own data order, on-device epoch statistics."""

    def __init__(self, x, y, *, arch, width, num_classes, epochs, batch_size, lr, lr_schedule, init_seed,
                 order_seed, device, amp, mem, fit_stop, graph, stream):
        self.x, self.y, self.device, self.amp, self.epochs = x, y, device, amp, epochs
        self.arch, self.lr, self.fit_stop = arch, lr, fit_stop
        torch.manual_seed(init_seed)                                 # source 1: initialization
        self.model = build_model(arch, num_classes, width).to(device).to(memory_format=mem)
        self.graph_on = graph and device.type == "cuda"
        if self.graph_on:        # a tensor lr lets the captured step see schedule changes
            self.opt = torch.optim.Adam(self.model.parameters(), lr=torch.tensor(lr, device=device),
                                        capturable=True)
        else:
            self.opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        n = len(x)
        self.batches = [(s, min(n, s + batch_size)) for s in range(0, n, batch_size) if n - s >= 2]  # BN: >= 2
        self.batch_size = batch_size
        self.total = max(1, epochs * len(self.batches))
        self.factor = lr_factor(lr_schedule, self.total)
        self.schedule = lr_schedule
        self.order = torch.Generator().manual_seed(order_seed)       # source 2: data order
        self.stream = stream
        self.step_i, self.epochs_run, self.done = 0, 0, False
        self.train_acc = float("nan")
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        self.graph, self.static_idx = None, None
        self.model.train()

    def _ctx(self):
        return torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()

    def _set_lr(self):
        if self.schedule == "constant":
            return                                                   # no host work per step
        lr = self.lr * self.factor(self.step_i)
        for g in self.opt.param_groups:
            if torch.is_tensor(g["lr"]):
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr

    def _step(self, idx):
        with _autocast(self.device, self.amp):
            logits = self.model(self.x[idx])
            loss = F.cross_entropy(logits, self.y[idx])
        loss.backward()
        self.opt.step()
        self.loss_sum += loss.detach().float()
        self.correct += (logits.detach().argmax(1) == self.y[idx]).sum()

    def start_epoch(self):
        with self._ctx():
            self.perm = torch.randperm(len(self.x), generator=self.order).to(self.device)
            self.loss_sum.zero_()
            self.correct.zero_()

    def step(self, b):
        """Mini-batch ``b`` of the current epoch."""
        s, e = self.batches[b]
        with self._ctx():
            self._set_lr()
            full = e - s == self.batch_size
            if self.graph_on and full and self.step_i >= GRAPH_WARMUP_STEPS:
                if self.graph is None:
                    self._capture()
                self.static_idx.copy_(self.perm[s:e])
                self.graph.replay()
            else:
                # eager step; grads are zeroed, not freed, once a graph holds them
                self.opt.zero_grad(set_to_none=self.graph is None)
                self._step(self.perm[s:e])
            self.step_i += 1

    def _capture(self):
        torch.cuda.synchronize(self.device)           # warm-up steps (on this stream) finished
        self.static_idx = torch.zeros(self.batch_size, dtype=torch.long, device=self.device)
        self.opt.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph, stream=self.stream):
            self._step(self.static_idx)

    def end_epoch(self):
        """One host sync: divergence check and fit-stop."""
        self.epochs_run += 1
        with self._ctx():                                  # read on this net's stream: waits for it only
            loss_sum, correct = self.loss_sum.item(), self.correct.item()
        if not math.isfinite(loss_sum):
            raise Diverged(
                f"training diverged: {self.arch} had a non-finite loss in epoch {self.epochs_run} "
                f"(lr={self.lr}); nothing is stored. Fix: lower the lr (--set lr=1e-3 is the paper's).")
        seen = sum(e - s for s, e in self.batches)
        self.train_acc = correct / max(seen, 1)
        if self.epochs_run >= self.epochs or (self.fit_stop and self.train_acc >= self.fit_stop
                                              and self.eval_train_acc() >= self.fit_stop):
            self.finish()

    def eval_train_acc(self) -> float:
        """The network's accuracy on its training set as it will be used (eval mode: BatchNorm's running
        statistics), read only once the running accuracy has reached ``fit_stop``: a network stops when it
        fits its labels as evaluated, not only over the last epoch's mini-batches (whose BatchNorm uses
        batch statistics; measured at cpu: running 0.995 vs evaluated 0.87 on one human task)."""
        self.model.eval()
        correct = 0
        with self._ctx(), torch.no_grad(), _autocast(self.device, self.amp):
            for s in range(0, len(self.x), 1024):
                correct += int((self.model(self.x[s:s + 1024]).argmax(1) == self.y[s:s + 1024]).sum())
        self.model.train()
        self.eval_acc = correct / max(len(self.x), 1)
        return self.eval_acc

    def finish(self):
        self.done = True
        with self._ctx():
            finite = bool(torch.stack([torch.isfinite(p.detach()).all() for p in self.model.parameters()]).all())
        if not finite:
            raise Diverged(f"training diverged: {self.arch} ended with non-finite weights after "
                           f"{self.epochs_run} epochs (lr={self.lr}); nothing is stored. Fix: lower the lr.")
        self.model.eval()
        self.model.epochs_run = self.epochs_run         # what the fit-stop left of the epoch budget
        self.model.fit_train_acc = self.train_acc       # running train accuracy of the last epoch


def train_networks(x: torch.Tensor, y, runs: list, *, arch: str = "cnn", width: int = 16, num_classes: int = 2,
                   epochs: int = 10, batch_size: int = 512, lr: float = 1e-3, lr_schedule: str = "constant",
                   device=None, amp: bool = True, fit_stop: float = 0.0, impl: str = "plain",
                   progress=None) -> list:
    """Train one network per ``runs[k]`` (``init_seed``, ``order_seed``, ``deterministic``) on the same
    ``(x, y)`` with Adam and cross-entropy; returns the models in eval mode, each with ``epochs_run`` and
    ``fit_train_acc``. ``impl``: see the module docstring; every impl gives the same networks on CPU.
    The networks share one ``deterministic`` setting (the pair of Eq. 1 always does)."""
    device = torch.device(device) if device is not None else default_device()
    if impl not in TRAIN_IMPLS:
        raise ConfigError(f"train_impl must be one of {TRAIN_IMPLS}, got {impl!r} (profile field train_impl)")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    if epochs < 1 or batch_size < 2:
        raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {epochs}, {batch_size}")
    if not 0.0 <= fit_stop <= 1.0:
        raise ConfigError(f"fit_stop is a train accuracy in [0, 1] (0 = off), got {fit_stop}")
    lr_factor(lr_schedule, 1)                                        # refuse unknown schedules first
    if len({bool(r.get("deterministic", True)) for r in runs}) > 1:
        raise ValueError("the networks trained together must share `deterministic`")
    cuda = device.type == "cuda"
    mem = torch.channels_last if cuda else torch.contiguous_format
    x = x.to(device).contiguous(memory_format=mem)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)
    interleave = impl.startswith("streams")
    graph = impl.endswith("graph")
    deterministic = bool(runs[0].get("deterministic", True)) if runs else True
    models = []
    with cuda_determinism(deterministic):                            # source 3: CUDA kernels
        groups = [runs] if interleave else [[r] for r in runs]
        for group in groups:
            if cuda:
                torch.cuda.synchronize(device)
            nets = [_Run(x, y, arch=arch, width=width, num_classes=num_classes, epochs=epochs,
                         batch_size=batch_size, lr=lr, lr_schedule=lr_schedule,
                         init_seed=r.get("init_seed", 0), order_seed=r.get("order_seed", 0), device=device,
                         amp=amp, mem=mem, fit_stop=fit_stop, graph=graph,
                         stream=torch.cuda.Stream(device) if (cuda and (interleave or graph)) else None)
                    for r in group]
            for net in nets:
                if net.stream is not None:
                    net.stream.wait_stream(torch.cuda.current_stream(device))
            while not all(net.done for net in nets):
                live = [net for net in nets if not net.done]
                for net in live:
                    net.start_epoch()
                for b in range(len(live[0].batches)):
                    for net in live:
                        net.step(b)
                for net in live:
                    net.end_epoch()
                if progress is not None and progress is not False:   # False: no bar (as None)
                    progress.update(1)
            if cuda:
                for net in nets:
                    if net.stream is not None:
                        torch.cuda.current_stream(device).wait_stream(net.stream)
            models += [net.model for net in nets]
    return models


def train_classifier(x: torch.Tensor, y, *, arch: str = "cnn", width: int = 16, num_classes: int = 2,
                     epochs: int = 10, batch_size: int = 512, lr: float = 1e-3, lr_schedule: str = "constant",
                     init_seed: int = 0, order_seed: int = 0, deterministic: bool = True,
                     device=None, amp: bool = True, fit_stop: float = 0.0, impl: str = "plain",
                     progress=None) -> torch.nn.Module:
    """Train ``arch`` on ``(x, y)`` with Adam and cross-entropy; returns the model in eval mode.

    ``x``: (N,3,32,32) float; ``y``: (N,) int labels. ``lr_schedule``: see :func:`lr_factor`.
    ``fit_stop``: stop once the running train accuracy of an epoch reaches it (0 = train ``epochs``).
    ``progress``: an optional tqdm bar advanced per epoch. Raises :class:`~tdlib.errors.Diverged` on a
    non-finite loss or weights."""
    (model,) = train_networks(x, y, [{"init_seed": init_seed, "order_seed": order_seed,
                                      "deterministic": deterministic}],
                              arch=arch, width=width, num_classes=num_classes, epochs=epochs,
                              batch_size=batch_size, lr=lr, lr_schedule=lr_schedule, device=device, amp=amp,
                              fit_stop=fit_stop, impl=impl, progress=progress)
    return model


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
