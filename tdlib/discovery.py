"""Task discovery with a shared encoder (Sec. 4.3-4.4, Eq. 3-5, App. I.1-I.2).

Task network t(x) = h(g_θ(x)): a shared encoder g_θ (the same backbone as the inner networks,
``build_model(arch, num_classes=d, width)``, whose ``.fc`` is the d-dim projection, followed by a
BatchNorm, so embeddings are centred and every hyperplane through the origin splits the images
roughly in half; ``encoder_head="linear_bn_scale"``, the authors' projector and the default: a Linear
without bias, then BatchNorm with a learnable scale and no bias; ``"bn_plain"``: the backbone's fc,
then BatchNorm without affine parameters) and a linear head h given by a unit vector u of R^d. The task's soft labels are ``softmax(T * [-<u,g(x)>, <u,g(x)>])``
with the temperature T multiplying the projection (numbers.md: T = 5).

Training (App. I.2): a fixed set of ``n_tasks`` predefined orthogonal hyperplanes (rows of a seeded
random orthogonal d x d matrix, so ``n_tasks <= d``); each meta-step takes ``tasks_per_step`` of them
(``hyperplane_order="cycle"``: each once per ``n_tasks`` meta-steps, shuffled, as the authors' code;
``"random"``: with replacement), runs the differentiable inner loop of :mod:`tdlib.unroll` (two
networks, from the same fixed initialization every meta-step with ``inner_fixed_init``, SGD on the
soft labels over fresh images with ``inner_fresh_images``, proxy-AS accumulated before each update,
stopped early once the 0-1 agreement stays above ``early_stop_agreement``) and takes one Adam step on
θ for ``-w proxyAS + λ L_unif`` (``w = proxy_weight``: 1, or 0 for E5's uniformity-only baseline, which
then skips the inner loop). The uniformity loss (Wang & Isola 2020),
``L_unif = log E exp(-t ||z - z'||^2)`` on L2-normalized embeddings z (``uniformity_t``: the paper's t = 2;
for small t it is ~ const + 2 t^2 ||E zz^T||_F^2, a decorrelation), is computed on each inner batch the
encoder saw and averaged over the inner steps. Adam's lr is ``meta_lr``, constant (the paper) or decayed
linearly to 0 over the run (``meta_lr_schedule="linear"``). Why smoke and cpu use t = 0.5, a balanced λ
and 4 hyperplanes a meta-step: :mod:`tdlib.diagnosis` and experiment ``diag`` (issue 21).

After training, tasks are sampled from ``K`` orthogonal hyperplanes (the first ``K`` predefined
ones): label 1 where the projection of the embedding (encoder in eval mode, BatchNorm statistics
re-estimated on X_tr) lies above its **median** over the pool, so every task is exactly balanced
like the human and random tasks it is compared with (``balance="origin"`` splits through the origin
instead, as the paper's hyperplanes do; with centred embeddings the two nearly coincide).

Runs are chunked: :func:`discover` saves the encoder, the Adam state, the sampler's RNG state, the
step and the history atomically every ``checkpoint_every`` meta-steps, and resumes from there with
the same result as an uninterrupted run. A non-finite loss stops the run with
:class:`DiscoveryDiverged`, keeping the last good checkpoint.

Regulated discovery (Sec. 5.1): with ``features`` (N, F), frozen per-image features (e.g. the
self-supervised ones of :mod:`tdlib.ssl`), the encoder is a 2-layer MLP on them
(:func:`build_feature_encoder`) instead of the backbone on images; the inner networks still train on
the images. Each inner batch of images is paired with the features of the same images.

A run writes into the folder it is given (``out_dir``): ``encoder.pt`` (one checkpoint file,
:mod:`tdlib.checkpoint`) and ``tasks.npz`` (``tasks`` (K,N) uint8 over the pool, ``scores`` (K,N) float16
projections, dataset signature). Where the lab keeps runs, and the task kind ``discovered:K`` that reads
their tasks, are :mod:`tdlib.lab.runs`'s.

Attention (ViT) runs through PyTorch's math kernel during meta-steps: the fused kernels have no
double backward, which the meta-gradient needs.

K-way tasks (App. C): with ``n_classes = K > 2`` the head of each task is K unit vectors (a regular
simplex from a seeded rotation, :mod:`tdlib.kway`), the soft labels are ``softmax(T * A g(x))``, the
inner networks have K outputs, and sampled tasks are balanced K-way labels (:func:`tdlib.kway.balanced_argmax`).
The binary path (``n_classes = 2``) is unchanged.
"""
from __future__ import annotations

import copy
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from .checkpoint import check_writable, folder_id, optimizer_state, read_checkpoint, save_checkpoint
from .sections import resolve
from .errors import ConfigError, Diverged
from .kway import kway_heads, kway_probs, sample_kway_tasks
from .models import build_model
from .train import cuda_determinism
from .unroll import FunctionalNet, proxy_agreement

UNIFORMITY_T = 2.0      # Wang & Isola 2020, Eq. 5 of the paper: exp(-2 ||z - z'||^2)


# a proxy-AS below this is no learning signal but a blown-up inner loop (the agreement term is minus a
# cross-entropy between two softmax outputs: -log 2 ~ -0.69 at chance, -100 means probabilities of e^-100)
PROXY_AS_FLOOR = -100.0


class DiscoveryDiverged(Diverged, RuntimeError):
    """A non-finite meta-loss or encoder, or a proxy-AS below ``PROXY_AS_FLOOR``; the last good
    checkpoint is kept and no tasks are saved."""


# ----------------------------------------------------------------------------------------------
# pieces
# ----------------------------------------------------------------------------------------------
ENCODER_HEADS = ("linear_bn_scale", "bn_plain", "whiten")


class BatchWhiten(nn.Module):
    """Batch whitening of the embedding (ours, issue 21; not in the paper): ``z = L^{-1} (x - mean)``
    with ``cov + eps tr(cov)/d I = L L^T`` (Cholesky) over the batch in training, over running statistics in
    eval mode (updated like BatchNorm's: ``momentum``, or a cumulative average with ``momentum=None``).

    Every unit vector u then gives projections <u, z> of unit variance, and orthogonal hyperplanes give
    **uncorrelated** projections: two of the fixed orthogonal tasks cannot read the same cue, whatever
    the encoder does (the job the uniformity term does softly, Eq. 5), and a binary cue may sit on an
    axis as two clusters (which the uniformity term penalizes)."""

    def __init__(self, dim: int, eps: float = 1e-3, momentum: float | None = 0.1):
        super().__init__()
        self.dim, self.eps, self.momentum = dim, eps, momentum
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_cov", torch.eye(dim))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def reset_running_stats(self) -> None:
        self.running_mean.zero_()
        self.running_cov.copy_(torch.eye(self.dim))
        self.num_batches_tracked.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean = x.mean(0)
            xc = x - mean
            cov = xc.T @ xc / max(len(x) - 1, 1)
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                self.running_mean.mul_(1 - m).add_(m * mean.detach())
                self.running_cov.mul_(1 - m).add_(m * cov.detach())
        else:
            mean, cov = self.running_mean, self.running_cov
            xc = x - mean
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        scale = cov.diagonal().mean().detach()                  # eps relative to the embedding's scale
        chol = torch.linalg.cholesky(cov + self.eps * scale * eye)                  # (d,d) lower
        return torch.linalg.solve_triangular(chol, xc.T, upper=False).T               # (B,d)


def build_encoder(arch: str, emb_dim: int, width: int, head: str = "linear_bn_scale") -> nn.Module:
    """g_θ: the backbone with a ``d``-dim ``.fc`` projection, then a BatchNorm that centres each
    embedding dimension (so hyperplanes through the origin are balanced).

    ``head="linear_bn_scale"`` (the authors' code, numbers.md): ``.fc`` without bias, BatchNorm with a
    learnable scale and its bias frozen at 0 (the scale sets how sharp each direction's soft labels
    are). ``"bn_plain"``: ``.fc`` with bias, BatchNorm without affine parameters (our earlier head)."""
    if head not in ENCODER_HEADS:
        raise ConfigError(f"encoder_head must be one of {ENCODER_HEADS}, got {head!r}. "
                          "Fix: --set encoder_head=linear_bn_scale")
    backbone = build_model(arch, num_classes=emb_dim, width=width)
    if head == "whiten":
        return nn.Sequential(backbone, BatchWhiten(emb_dim))
    if head == "bn_plain":
        return nn.Sequential(backbone, nn.BatchNorm1d(emb_dim, affine=False))
    backbone.fc = nn.Linear(backbone.fc.in_features, emb_dim, bias=False)
    bn = nn.BatchNorm1d(emb_dim, affine=True)
    bn.bias.requires_grad_(False)                            # frozen at 0: hyperplanes through the origin
    return nn.Sequential(backbone, bn)


def build_feature_encoder(in_dim: int, emb_dim: int, hidden: int) -> nn.Module:
    """g_θ on frozen features (Sec. 5.1: "a 2-layer fully-connected network"): Linear-BN-ReLU-Linear
    to ``d``, then the same BatchNorm without affine as :func:`build_encoder`."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, emb_dim), nn.BatchNorm1d(emb_dim, affine=False))


def uniformity_loss(emb: torch.Tensor, t: float = UNIFORMITY_T) -> torch.Tensor:
    """``log E_{x != x'} exp(-t ||z - z'||^2)`` over pairs of a batch of L2-normalized embeddings."""
    z = nn.functional.normalize(emb, dim=1)                  # (B,d)
    sq = (2 - 2 * z @ z.T).clamp_min(0)                      # (B,B) squared distances on the sphere
    n = len(z)
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    # the diagonal masked to -inf, not cut out with a boolean index (whose backward accumulates with
    # atomics on CUDA, which would make runs irreproducible)
    return torch.logsumexp((-t * sq).masked_fill(eye, float("-inf")).flatten(), 0) - math.log(n * (n - 1))


def orthogonal_hyperplanes(emb_dim: int, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` orthonormal unit normals in R^d (rows of a seeded random orthogonal matrix)."""
    if not 0 < n <= emb_dim:
        raise ValueError(f"need 1 <= n_tasks <= emb_dim for orthogonal hyperplanes, got {n} and {emb_dim}")
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(emb_dim, emb_dim, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))[None]             # Haar-distributed
    return q.T[:n].float().contiguous()                      # (n,d)


def task_probs(proj: torch.Tensor, temperature: float) -> torch.Tensor:
    """Soft labels of a binary task from projections (B,): ``softmax(T * [-s, s])`` (B,2)."""
    s = temperature * proj
    return torch.softmax(torch.stack([-s, s], 1), 1)


def task_heads(p, n: int | None = None) -> torch.Tensor:
    """The profile's predefined task heads: ``n`` (default ``n_tasks``) orthogonal hyperplanes (n,d)
    for binary tasks, K-way simplex heads (n,K,d) when ``n_classes = K > 2`` (App. C)."""
    n = p.n_tasks if n is None else n
    if p.n_classes == 2:
        return orthogonal_hyperplanes(p.emb_dim, n, p.task_seed)
    return kway_heads(p.emb_dim, p.n_classes, n, p.task_seed)


def _dataset_signature(ds) -> dict:
    """What a run's tasks were sampled on; ``hash``: the pool's images, classes and split
    (:meth:`tdlib.data.Dataset.fingerprint`), so tasks of mirrored images with the same labels do not match."""
    sig = {"name": ds.name, "n": int(len(ds)), "n_train": int(len(ds.train_idx)),
           "class_checksum": int(np.asarray(ds.classes, dtype=np.int64)[: 1000].sum())}
    if hasattr(ds, "fingerprint"):
        sig["hash"] = ds.fingerprint()["hash"]
    return sig


def _same_data(stored: dict, ds) -> bool:
    """A stored signature matches ``ds`` on every key it holds (files saved before ``hash`` existed are
    compared on the others)."""
    cur = _dataset_signature(ds)
    return all(stored.get(k) == v for k, v in cur.items() if k in stored)


# ----------------------------------------------------------------------------------------------
# one meta-step
# ----------------------------------------------------------------------------------------------
def meta_step_loss(encoder: nn.Module, u: torch.Tensor, batches, p, net_seeds, *,
                   checkpoint: bool = False, create_graph: bool = True, device=None, enc_batches=None):
    """``(-proxyAS + λ L_unif, ProxyASResult)`` of one sampled hyperplane ``u`` (d,), or of one
    K-way head ``u`` (K,d) (App. C: inner networks with K outputs, soft labels over K classes).

    ``batches``: inner-loop input batches; ``net_seeds``: init seeds of the two inner networks;
    ``enc_batches``: the encoder's inputs for the same images (frozen features), if not the images.
    They are paired by identity: :func:`~tdlib.unroll.proxy_agreement` hands ``target_fn`` the very
    batch tensors it was given, also when it recomputes a checkpointed step."""
    n_out = 2 if u.dim() == 1 else len(u)
    device = device if device is not None else next(encoder.parameters()).device
    enc = FunctionalNet(encoder.train(), dict(encoder.named_parameters()),
                        {k: v.detach().clone() for k, v in encoder.named_buffers()})

    enc_in = None if enc_batches is None else {id(b): e for b, e in zip(batches, enc_batches)}
    if p.proxy_weight == 0:                                  # uniformity only (E5's baseline): no inner loop
        from .unroll import ProxyASResult
        unif = torch.stack([uniformity_loss(enc(x if enc_in is None else enc_in[id(x)])[0], p.uniformity_t)
                            for x in batches]).mean()
        return p.uniformity_weight * unif, ProxyASResult(proxy_as=torch.zeros((), device=device), extra=unif,
                                                         agreement01=[float("nan")], steps=0)

    nets = []
    for s in net_seeds:
        torch.manual_seed(int(s))
        nets.append(FunctionalNet.from_module(build_model(p.arch, n_out, p.disc_width).to(device=device,
                                                                                            dtype=u.dtype)))
    def target_fn(x):
        emb, _ = enc(x if enc_in is None else enc_in[id(x)])   # (B,d), train-mode BatchNorm
        probs = task_probs(emb @ u, p.temperature) if u.dim() == 1 else kway_probs(emb, u, p.temperature)
        return probs, uniformity_loss(emb, p.uniformity_t)

    with sdpa_kernel(SDPBackend.MATH):                       # double backward through attention (ViT)
        res = proxy_agreement(nets, batches, target_fn, p.inner_lr,
                              early_stop_agreement=p.early_stop_agreement,
                              early_stop_patience=p.early_stop_patience,
                              early_stop_min_steps=p.early_stop_min_steps,
                              checkpoint=checkpoint, create_graph=create_graph,
                              meta_params=[q for q in encoder.parameters() if q.requires_grad])
    loss = -p.proxy_weight * res.proxy_as + p.uniformity_weight * res.extra
    return loss, res


# ----------------------------------------------------------------------------------------------
# training with checkpoints
# ----------------------------------------------------------------------------------------------
def _new_state(p, device, in_dim: int | None = None):
    torch.manual_seed(p.task_seed)
    encoder = (build_encoder(p.arch, p.emb_dim, p.disc_width, p.encoder_head) if in_dim is None
               else build_feature_encoder(in_dim, p.emb_dim, p.ssl_hidden)).to(device)
    opt = torch.optim.Adam([q for q in encoder.parameters() if q.requires_grad], lr=p.meta_lr)
    gen = torch.Generator().manual_seed(p.task_seed + 12345)
    return {"encoder": encoder, "opt": opt, "gen": gen, "step": 0, "history": [], "train_seconds": 0.0}


def check_settings(p, steps=None, stop_after=None, n_sample=None) -> None:
    """Refuse settings that cannot work, before any compute (:class:`~tdlib.errors.ConfigError`)."""
    def need(ok, what, fix):
        if not ok:
            raise ConfigError(f"{what}. Fix: {fix}")
    for name in ("inner_steps", "inner_batch", "n_tasks", "emb_dim", "disc_width", "tasks_per_step"):
        v = getattr(p, name)
        need(isinstance(v, int) and v >= 1, f"profile field {name}={v!r} must be an integer >= 1",
             f"--set {name}=<n >= 1>")
    need(steps is None or steps >= 1, f"--steps {steps}: discovery needs at least 1 meta-step",
         "--steps N with N >= 1 (the profile's meta_steps by default)")
    need(stop_after is None or stop_after >= 1, f"--chunk {stop_after}: a chunk needs at least 1 meta-step",
         "--chunk N with N >= 1, or leave it out")
    need(n_sample is None or n_sample >= 1, f"--n-sample {n_sample}: sample at least 1 task",
         "--n-sample K with K >= 1 (default n_tasks)")
    need(p.inner_lr > 0 and math.isfinite(p.inner_lr), f"inner_lr={p.inner_lr} must be a positive number",
         "--set inner_lr=0.01")
    need(p.meta_lr > 0 and math.isfinite(p.meta_lr), f"meta_lr={p.meta_lr} must be a positive number",
         "--set meta_lr=0.001")
    need(p.meta_lr_schedule in ("constant", "linear"), f"meta_lr_schedule={p.meta_lr_schedule!r}",
         "--set meta_lr_schedule=constant (or linear)")
    need(p.hyperplane_order in ("cycle", "random"), f"hyperplane_order={p.hyperplane_order!r}",
         "--set hyperplane_order=cycle (or random)")
    need(p.encoder_head in ENCODER_HEADS, f"encoder_head={p.encoder_head!r}",
         f"--set encoder_head= one of {ENCODER_HEADS}")


def inner_seeds(p, gen) -> list:
    """Init seeds of the two inner networks: fixed across meta-steps (``inner_fixed_init``, the
    authors' code) or drawn anew from the run's generator."""
    if p.inner_fixed_init:
        return [p.task_seed * 2 + 1001, p.task_seed * 2 + 1002]
    return torch.randint(2 ** 31 - 1, (2,), generator=gen).tolist()


def hyperplane_indices(p, step: int, gen) -> list:
    """Hyperplanes of meta-step ``step`` (0-based), ``tasks_per_step`` of them. ``"cycle"``: the
    authors' order, each of the ``n_tasks`` once per cycle, every cycle shuffled by a seed of its own
    (no state to save: a resumed run continues the same sequence); ``"random"``: with replacement."""
    n, b = p.n_tasks, p.tasks_per_step
    if p.hyperplane_order == "random":
        return torch.randint(n, (b,), generator=gen).tolist()
    out, perms = [], {}
    for pos in range(step * b, step * b + b):
        c = pos // n
        if c not in perms:
            perms[c] = torch.randperm(n, generator=torch.Generator().manual_seed(p.task_seed * 100_003 + c))
        out.append(int(perms[c][pos % n]))
    return out


def inner_batch_indices(p, train_idx: torch.Tensor, gen) -> list:
    """``inner_steps`` index batches of ``inner_batch`` images of X_tr. ``inner_fresh_images``: a
    permutation cut into consecutive batches (every image once; a new permutation when X_tr runs
    out), as a shuffled loader gives (App. I.2); else each batch drawn anew (images repeat)."""
    n, b = len(train_idx), p.inner_batch
    if b > n:
        raise ConfigError(f"inner_batch={b} is larger than X_tr ({n} images). Fix: --set inner_batch=<= {n}")
    if not p.inner_fresh_images:
        return [train_idx[torch.randperm(n, generator=gen)[:b]] for _ in range(p.inner_steps)]
    need = p.inner_steps * b
    perm = torch.cat([torch.randperm(n, generator=gen) for _ in range(-(-need // n))])
    return [train_idx[perm[i * b:(i + 1) * b]] for i in range(p.inner_steps)]


def _inputs_signature(features) -> dict | None:
    """What the encoder reads: None = images; else the frozen features' shape and sum."""
    if features is None:
        return None
    return {"shape": list(features.shape), "sum": round(float(features.double().sum()), 3)}


RESUME_KEYS = ("arch", "disc_width", "emb_dim", "n_tasks", "inner_lr", "inner_batch", "meta_lr",
               "uniformity_weight", "temperature", "task_seed", "dataset", "n_train", "split_seed",
               "inner_steps", "early_stop_agreement", "early_stop_patience", "n_classes",
               "early_stop_min_steps", "inner_fresh_images", "inner_fixed_init", "encoder_head",
               "hyperplane_order", "tasks_per_step", "uniformity_t", "proxy_weight", "meta_lr_schedule",
               "uniformity_weight_end")


# settings added after checkpoints were stored, with the value they implicitly had: checkpoints from
# before App. C were binary, from before ``uniformity_t`` used Eq. 5's t = 2 and a proxy-AS weight of 1
_IMPLICIT = {"n_classes": 2, "uniformity_t": 2.0, "proxy_weight": 1.0, "meta_lr_schedule": "constant",
             "uniformity_weight_end": -1.0}


def scheduled(settings: dict) -> bool:
    """Whether a run's trajectory depends on its length: the meta-lr or λ moves with ``step / total``."""
    s = {**_IMPLICIT, **settings}
    return s["meta_lr_schedule"] != "constant" or s["uniformity_weight_end"] >= 0


def run_total(ck: dict) -> int | None:
    """The meta-steps a checkpoint's schedule ran toward (``total``; before it was saved: its profile's
    ``meta_steps``; None: not known)."""
    total = ck.get("total")
    return ck["profile"].get("meta_steps") if total is None else total


def settings_diff(ck: dict, p, total: int | None = None) -> list:
    """The settings (:data:`RESUME_KEYS`) in which checkpoint ``ck`` differs from profile ``p``; with a
    schedule (:func:`scheduled`) also ``meta_steps`` when the run's total differs from ``total`` (default
    ``p.meta_steps``): a linear decay toward 4 steps resumed toward 40 is not the 40-step run."""
    made = {**_IMPLICIT, **ck["profile"]}                  # settings added later, as they were before
    diff = [k for k in RESUME_KEYS if made.get(k) != p.as_dict().get(k)]
    total = p.meta_steps if total is None else total
    if scheduled(made) and run_total(ck) not in (None, total):
        diff.append("meta_steps")
    return diff


def checkpoint_stale(p, out_dir) -> list:
    """How the discovery checkpoint in ``out_dir`` differs from what profile ``p`` would train now:
    ``["emb_dim: 8 -> 16", ...]``; empty if there is none or it matches (a resume would accept it)."""
    path = Path(out_dir) / "encoder.pt"
    if not path.is_file():                                   # a finished run that travelled without it
        tasks = Path(out_dir) / "tasks.npz"
        if not tasks.is_file():
            return []
        with np.load(tasks) as z:
            if "settings" not in z.files:
                return ["settings not recorded (tasks.npz made before they were; no encoder.pt to read)"]
            made = json.loads(str(z["settings"]))
            ck = {"profile": made, "total": made.get("meta_steps", int(z["step"]))}   # before: its step
    else:
        ck = read_checkpoint(path)
    made = {**_IMPLICIT, **ck["profile"], "meta_steps": run_total(ck)}
    return [f"{k}: {made.get(k)!r} -> {p.as_dict().get(k)!r}" for k in settings_diff(ck, p)]


def _save(state, p, path: Path) -> None:
    """The checkpoint, one file (:func:`tdlib.checkpoint.save_checkpoint`): the encoder's weights, Adam's
    whole state, the RNG state, step, history, the settings that made it and the data it was made on."""
    save_checkpoint({"encoder": state["encoder"].state_dict(), "opt": state["opt"].state_dict(),
                     "gen": state["gen"].get_state(), "step": state["step"], "history": state["history"],
                     "profile": p.as_dict(), "total": state.get("total"), "train_seconds": state.get("train_seconds", 0.0),
                     "inputs": state.get("inputs"), "data": state.get("data")},
                    path, folder=state.get("folder"), step=state["step"])



def _load(p, path: Path, device, inputs: dict | None = None, data: dict | None = None, total: int | None = None):
    state = _new_state(p, device, None if inputs is None else inputs["shape"][1])
    state["inputs"] = inputs
    ck = read_checkpoint(path)                              # device-agnostic (the RNG state stays on CPU)
    made_on = ck.get("data")                                 # None: saved before the data was recorded
    if made_on is not None and data is not None and made_on != data:
        raise ConfigError(f"checkpoint {path} was trained on other data ({made_on}), not on these images "
                          f"({data}); not resumed. Fix: point at the data it was made on (--data-path), or "
                          "run with --fresh (starts the run over on these images).")
    old = ck.get("inputs")
    if (old is None) != (inputs is None) or (inputs and (old["shape"] != inputs["shape"] or not math.isclose(
            old["sum"], inputs["sum"], rel_tol=1e-4, abs_tol=1e-2))):
        raise ConfigError(f"checkpoint {path} was made from other encoder inputs ({old}, now {inputs}). "
                          "Fix: delete it, or run with --fresh.")
    diff = settings_diff(ck, p, total)
    if diff == ["meta_steps"]:
        raise ConfigError(f"checkpoint {path} was made by a run of {run_total(ck)} meta-steps whose meta-lr or λ "
                          f"follows a schedule over its length; continuing it toward {total} would not be the "
                          f"{total}-step run. Fix: --steps {run_total(ck)} (its own length), or `discover --fresh` "
                          "(a new run of the new length), or `--replace-stale` in the queue.")
    if diff:
        raise ConfigError(f"checkpoint {path} was made with other settings (differ in {diff}). "
                          "Fix: `python -m tdlib run <experiment> --replace-stale` (keeps it under "
                          "results/<profile>/.stale/ and retrains), or `discover --fresh` (starts over).")
    state["encoder"].load_state_dict(ck["encoder"])
    state["opt"].load_state_dict(optimizer_state(ck, path))
    state["gen"].set_state(ck["gen"].cpu())
    state["step"], state["history"] = ck["step"], ck["history"]
    state["train_seconds"] = ck.get("train_seconds", 0.0)
    return state


def _default_device():
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def train_encoder(ds, profile="smoke", *, out_dir, steps: int | None = None, resume: bool = True,
                  fresh: bool = False, checkpoint_every: int = 25, inner_checkpoint: bool | None = None,
                  device=None, progress: bool = True, stop_after: int | None = None, features=None,
                  time_limit: float | None = None) -> dict:
    """Meta-train the shared encoder up to ``steps`` meta-steps (default ``profile.meta_steps``).
    ``features`` (N, F): regulated discovery, the encoder is an MLP on these frozen features.

    ``out_dir``: the run's folder (its checkpoint ``encoder.pt``; where a lab keeps it is the lab's choice,
    e.g. :func:`tdlib.lab.runs.discovery_dir`). With ``resume`` and a checkpoint there it continues from it; without ``resume`` a
    folder that holds a checkpoint is refused (ConfigError, nothing touched) unless ``fresh``.
    ``stop_after`` ends this call after that many meta-steps (a chunk), saving a checkpoint.
    ``time_limit`` (seconds from this call's start, the loading included) ends it before a meta-step that
    would not finish in time, each estimated at the slowest of the last 10 (at least one step runs), saving
    a checkpoint: a window's budget holds although the unrolls lengthen (at gpu one meta-step took 1-12 s,
    with 5-50 inner steps; a step-count chunk sized from the mean overran the first GPU window).
    Returns the state dict (``encoder``, ``opt``, ``gen``, ``step``, ``history``, ``train_seconds``)."""
    from tqdm.auto import tqdm
    t_call = time.perf_counter()
    p = resolve(profile)
    check_settings(p, steps, stop_after)
    if time_limit is not None and not time_limit > 0:
        raise ConfigError(f"time_limit is seconds for this call, > 0 (None = no limit), got {time_limit}")
    device = torch.device(device) if device is not None else _default_device()
    steps = p.meta_steps if steps is None else steps
    inner_checkpoint = p.inner_checkpoint if inner_checkpoint is None else inner_checkpoint
    out = Path(out_dir)
    ck_path = out / "encoder.pt"
    inputs = _inputs_signature(features)
    if ck_path.is_file() and not resume and not fresh:
        raise ConfigError(f"{ck_path} holds a trained encoder; not overwritten. Fix: --resume to continue it, "
                          "or --fresh to start over (replaces it and its tasks).")
    if (out / "tasks.npz").is_file() and not ck_path.is_file() and not fresh:
        raise ConfigError(f"{out / 'tasks.npz'} holds a finished run's tasks without its encoder.pt (as git or a "
                          "GPU window leaves it); not retrained over. Fix: bring its encoder.pt back to continue "
                          "it, or --fresh to train anew (replaces the tasks).")
    check_writable(out, "the discovery run's folder")                                     # before any compute, not at the first save
    data = ds.fingerprint() if hasattr(ds, "fingerprint") else None
    if resume and ck_path.is_file():
        state = _load(p, ck_path, device, inputs, data, steps)
    else:
        state = _new_state(p, device, None if features is None else features.shape[1])
        state["inputs"] = inputs
    state["data"], state["total"] = data, steps
    state["folder"] = folder_id(out)                        # a save refuses a folder moved or replaced meanwhile
    planes = task_heads(p).to(device)                        # (n_tasks,d), or (n_tasks,K,d) K-way
    x_all = ds.x.to(device)
    feats = None if features is None else features.to(device)
    train_idx = torch.as_tensor(np.asarray(ds.train_idx))
    last_good = state["step"]
    end = steps if stop_after is None else min(steps, state["step"] + stop_after)
    bar = tqdm(total=steps, initial=state["step"], desc=f"discovery [{p.name}]", disable=not progress)
    with cuda_determinism(True):                             # cuDNN's fixed kernels: a resume is bit-exact
        last_good = _train_loop(p, state, planes, x_all, feats, train_idx, end, bar, ck_path, last_good,
                                inner_checkpoint, device, checkpoint_every, total=steps,
                                deadline=None if time_limit is None else t_call + time_limit)
    bar.close()
    if state["step"] != last_good or not ck_path.is_file():
        _save(state, p, ck_path)
    return state


def meta_lr_at(p, step: int, total: int) -> float:
    """The encoder's Adam lr at meta-step ``step`` (0-based) of a run of ``total``: ``meta_lr``, or with
    ``meta_lr_schedule="linear"`` decayed linearly to 0 at ``total`` (a function of the step alone, so a
    resumed run continues the same schedule)."""
    if p.meta_lr_schedule == "linear":
        return p.meta_lr * max(0.0, 1.0 - step / max(total, 1))
    return p.meta_lr


def uniformity_weight_at(p, step: int, total: int) -> float:
    """λ at meta-step ``step`` (0-based) of a run of ``total``: ``uniformity_weight``, or with
    ``uniformity_weight_end >= 0`` moved linearly from it to ``uniformity_weight_end`` at ``total``."""
    if p.uniformity_weight_end < 0:
        return p.uniformity_weight
    f = min(1.0, step / max(total - 1, 1))
    return p.uniformity_weight + f * (p.uniformity_weight_end - p.uniformity_weight)


def _train_loop(p, state, planes, x_all, feats, train_idx, end, bar, ck_path, last_good,
                inner_checkpoint, device, checkpoint_every, total=None, deadline=None) -> int:
    """The meta-steps of :func:`train_encoder` up to ``end`` (or before the one that would pass
    ``deadline``, a ``time.perf_counter()`` value); returns the last checkpointed step."""
    encoder, opt, gen = state["encoder"], state["opt"], state["gen"]

    def diverged(why):
        bar.close()
        return DiscoveryDiverged(
            f"{why} at meta-step {state['step']}; stopped, no tasks saved. The last good checkpoint "
            f"(step {last_good}) is kept in {ck_path}. Fix: lower inner_lr / meta_lr (--set inner_lr=...), "
            f"then --fresh.")
    first = state["step"]
    while state["step"] < end:
        t0 = time.perf_counter()
        if deadline is not None and state["step"] > first:
            slowest = max(h["seconds"] for h in state["history"][-10:])
            if t0 + slowest > deadline:
                break
        ks = hyperplane_indices(p, state["step"], gen)
        seeds = inner_seeds(p, gen)
        loss, results = 0.0, []
        lam = uniformity_weight_at(p, state["step"], total or end)
        q = p if lam == p.uniformity_weight else p.replace(uniformity_weight=lam)
        for k in ks:                                         # a batch of tasks: their losses averaged
            idx = [i.to(device) for i in inner_batch_indices(p, train_idx, gen)]
            batches = [x_all[i] for i in idx]
            enc_batches = None if feats is None else [feats[i] for i in idx]
            lk, res = meta_step_loss(encoder, planes[k], batches, q, seeds, enc_batches=enc_batches,
                                     checkpoint=inner_checkpoint, device=device)
            loss = loss + lk / len(ks)
            results.append(res)
        proxy = float(sum(r.proxy_as.detach() for r in results) / len(results))    # one host sync
        if not math.isfinite(float(loss.detach())):
            raise diverged(f"non-finite meta-loss ({float(loss.detach())})")
        if proxy < PROXY_AS_FLOOR:
            raise diverged(f"proxy-AS {proxy:.3g} below {PROXY_AS_FLOOR:g} (the inner networks blew up: "
                           f"inner_lr={p.inner_lr})")
        for group in opt.param_groups:
            group["lr"] = meta_lr_at(p, state["step"], total or end)
        opt.zero_grad(set_to_none=True)
        with sdpa_kernel(SDPBackend.MATH):                   # checkpointed inner steps rerun in backward
            loss.backward()
        opt.step()
        if not all(bool(torch.isfinite(q).all()) for q in encoder.parameters()):
            raise diverged("non-finite encoder weights after the Adam step")
        state["step"] += 1
        secs = time.perf_counter() - t0
        state["train_seconds"] = state.get("train_seconds", 0.0) + secs
        state["history"].append({"step": state["step"], "hyperplane": ks[0] if len(ks) == 1 else ks,
                                 "proxy_as": proxy,
                                 "uniformity": float(sum(r.extra.detach() for r in results) / len(results)),
                                 "inner_steps": results[0].steps if len(ks) == 1 else [r.steps for r in results],
                                 "agreement01": results[0].agreement01[-1],
                                 "seconds": round(secs, 3)})
        bar.update(1)
        bar.set_postfix(proxy_as=f"{proxy:.3f}", unif=f"{state['history'][-1]['uniformity']:.3f}")
        if state["step"] % checkpoint_every == 0 or state["step"] == end:
            _save(state, p, ck_path)
            last_good = state["step"]
    return last_good


# ----------------------------------------------------------------------------------------------
# sampling tasks
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def embed(encoder: nn.Module, ds, batch_size: int = 1024, recalibrate: bool = True,
          inputs=None) -> torch.Tensor:
    """Embeddings (N,d) of the whole pool, encoder in eval mode; BatchNorm statistics first
    re-estimated on X_tr (cumulative average over batches) on a copy of the encoder. ``inputs``:
    what the encoder reads per image (frozen features (N,F)), if not the images ``ds.x``."""
    x = ds.x if inputs is None else inputs
    enc = copy.deepcopy(encoder)
    device = next(enc.parameters()).device
    if recalibrate:
        for m in enc.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, BatchWhiten)):
                m.reset_running_stats()
                m.momentum = None
        enc.train()
        xtr = x[np.asarray(ds.train_idx)]
        for s in range(0, len(xtr), batch_size):
            if len(xtr[s:s + batch_size]) > 1:
                enc(xtr[s:s + batch_size].to(device))
    enc.eval()
    return torch.cat([enc(x[s:s + batch_size].to(device)).float().cpu()
                      for s in range(0, len(ds), batch_size)])


def sample_tasks(encoder: nn.Module, ds, planes: torch.Tensor, balance: str = "median", inputs=None):
    """Tasks (K,N) int64 from the hyperplanes ``planes`` (K,d), and the projections (K,N).
    ``inputs``: the encoder's inputs per image (frozen features (N,F)), if not the images.

    K-way heads ``planes`` (n,K,d) give tasks (n,N) and logits (n,N,K) (App. C); ``"median"`` then
    means classes of N/K images each, ``"origin"`` the plain argmax."""
    if planes.dim() == 3:
        return sample_kway_tasks(embed(encoder, ds, inputs=inputs), planes,
                                 "equal" if balance == "median" else "argmax")
    if balance not in ("median", "origin"):
        raise ValueError(f"balance must be 'median' or 'origin', got {balance!r}")
    scores = (embed(encoder, ds, inputs=inputs) @ planes.cpu().T).T.numpy()     # (K,N)
    if balance == "origin":
        tasks = (scores > 0).astype(np.int64)
    else:
        from .randnet import median_split
        tasks = np.stack([median_split(s) for s in scores])
    return tasks, scores


def untrained_tasks(ds, profile) -> np.ndarray:
    """Tasks (K,N) of the profile's ``n_tasks`` hyperplanes on the encoder at its initialization (meta-step
    0): the control that separates what meta-training adds from what the architecture gives."""
    p = resolve(profile)
    planes = orthogonal_hyperplanes(p.emb_dim, p.n_tasks, p.task_seed)
    return sample_tasks(_new_state(p, "cpu")["encoder"], ds, planes)[0]


def _saved_tasks(path: Path, sig: dict, step: int, balance: str, settings: dict, k: int):
    """The tasks (K,N) already saved at ``path`` when they are this run's: same pool, meta-step, balance,
    number of tasks and settings (a file saved before ``settings`` held ``meta_steps`` matches on the
    others); else None. So reading a finished run does not rewrite its file (a re-sample differs from the
    saved one in float rounding, and a store under git would show a change nobody made)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as z:
            saved = json.loads(str(z["settings"])) if "settings" in z.files else None
            same = (saved is not None and json.loads(str(z["signature"])) == sig and int(z["step"]) == step
                    and str(z["balance"]) == balance and z["tasks"].shape[0] == k
                    and all(saved.get(key, settings[key]) == settings[key] for key in settings)
                    and set(saved) <= set(settings))
            return z["tasks"].astype(np.int64) if same else None
    except (OSError, ValueError, KeyError):
        return None


def discover(ds, profile="smoke", *, out_dir, steps=None, resume: bool = True, fresh: bool = False,
             n_sample=None, balance: str = "median", progress: bool = True, stop_after=None, features=None,
             **kw) -> dict:
    """Train the encoder (resuming), then sample ``n_sample`` (default ``n_tasks``) tasks from that many
    orthogonal hyperplanes and save them to ``out_dir/tasks.npz``. Returns a summary dict.
    ``features`` (N, F): regulated discovery on these frozen features (Sec. 5.1)."""
    p = resolve(profile)
    check_settings(p, steps, stop_after, n_sample)
    out = Path(out_dir)
    state = train_encoder(ds, p, steps=steps, out_dir=out, resume=resume, fresh=fresh, progress=progress,
                          stop_after=stop_after, features=features, **kw)
    k = p.n_tasks if n_sample is None else n_sample
    if p.n_classes == 2:
        planes = orthogonal_hyperplanes(p.emb_dim, max(k, p.n_tasks) if k <= p.emb_dim else k, p.task_seed)[:k]
    else:
        planes = task_heads(p, k)                            # (k,K,d)
    from .tasks import mean_pairwise_kway_similarity, mean_pairwise_similarity
    sig = _dataset_signature(ds)
    path = out / "tasks.npz"
    settings = {**{k: p.as_dict().get(k) for k in RESUME_KEYS}, "meta_steps": state.get("total")}
    kept = _saved_tasks(path, sig, state["step"], balance, settings, k)
    if kept is not None:              # a reader of a finished run: its saved tasks, the file untouched
        tasks = kept
    else:
        tasks, scores = sample_tasks(state["encoder"], ds, planes, balance, inputs=features)
        fd, tmp = tempfile.mkstemp(dir=out, prefix="tasks", suffix=".npz")
        os.close(fd)
        np.savez_compressed(tmp, tasks=tasks.astype(np.uint8), scores=scores.astype(np.float16),
                            signature=json.dumps(sig), profile=p.name, step=state["step"], balance=balance,
                            settings=json.dumps(settings))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    if p.n_classes == 2:
        sim, bal = mean_pairwise_similarity(tasks), [float(t.mean()) for t in tasks]
    else:                                                    # class fractions of each K-way task
        sim = mean_pairwise_kway_similarity(tasks)
        bal = [np.round(np.bincount(t, minlength=p.n_classes) / len(t), 4).tolist() for t in tasks]
    return {"step": state["step"], "train_seconds": round(state.get("train_seconds", 0.0), 1),
            "history": state["history"], "tasks_path": str(path),
            "n_tasks": int(len(tasks)), "mean_similarity": sim, "balance": bal, "n_classes": p.n_classes}
