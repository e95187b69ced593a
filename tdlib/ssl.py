"""Self-supervised embeddings for regulated discovery (Sec. 5.1; SimCLR, Chen et al. 2020).

The paper regulates discovery with the embeddings of a SimCLR-pretrained ResNet-50: the discovery
encoder becomes a 2-layer MLP on those *frozen* features, while the AS (the inner networks) still sees
raw pixels. Pretrained SimCLR weights cannot be downloaded here, so (deviation from the paper):

- **Default: a SimCLR model trained by this project** on X_tr (no labels) with the NT-Xent loss,
  on one of our backbones (``ssl_arch``, ``ssl_width``; ``cnn`` at ``cpu``) followed by SimCLR's
  2-layer projection head; the features are the backbone's output before its ``.fc`` (the head is
  dropped, as in SimCLR). Augmentations are batched torch ops on tensors, each image with its own
  draw from a seeded generator: random resized crop (area 0.2-1, aspect 3/4-4/3) and horizontal flip
  as one affine resampling, colour jitter (brightness, contrast, saturation 0.4 each, with p 0.8;
  SimCLR's hue jitter is left out) and greyscale (p 0.2), on [0, 1] images, then the dataset's
  standardization. Training is chunked and resumable: ``results/<profile>/ssl/encoder.pt`` holds the
  backbone, head, optimizer, generator state, epoch, loss history and provenance.
- **User weights** (``ssl_weights`` = a path): a state dict of one of our backbones
  (``build_model(ssl_arch, width=ssl_width)``; its ``fc.*`` keys are ignored, a leading ``module.``
  is stripped, our own ``encoder.pt`` works too), or of torchvision's ``resnet50`` (``ssl_arch =
  "resnet50"``; built with ``weights=None`` and loaded from the file, never downloaded; its ``fc`` is
  dropped, 2048 features, fed the 32x32 images as they are).

:func:`frozen_features` returns the features (N, F) of the whole pool, standardized with X_tr's
mean and std per feature (the MLP encoder's input scale), deterministic (eval mode, no grad).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .sections import resolve
from .models import build_model
from .checkpoint import atomic_torch_save


def _safe_load(path, map_location):
    """``torch.load`` with ``weights_only=True`` (no code in a file runs); the one non-tensor type our
    checkpoints hold, torch's ``TorchVersion`` (in the stored provenance), is allowed by name."""
    from torch.torch_version import TorchVersion
    with torch.serialization.safe_globals([TorchVersion]):
        return torch.load(path, map_location=map_location, weights_only=True)

TORCHVISION_ARCHS = ("resnet50",)


# ----------------------------------------------------------------------------------------------
# loss
# ----------------------------------------------------------------------------------------------
def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent (SimCLR Eq. 1) of two views (B, D) of the same B images: for each of the 2B
    embeddings, cross-entropy of picking its partner among the 2B - 1 others by cosine similarity / τ."""
    b = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)                          # (2B,D)
    sim = z @ z.T / temperature                                          # (2B,2B)
    sim = sim.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device), float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(b)]).to(z.device)   # partner index
    return F.cross_entropy(sim, target)


# ----------------------------------------------------------------------------------------------
# augmentations (batched, seeded)
# ----------------------------------------------------------------------------------------------
def _grey(x: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)                                  # (B,1,H,W)


def augment(x: torch.Tensor, gen: torch.Generator, *, min_scale: float = 0.2, jitter: float = 0.4,
            p_jitter: float = 0.8, p_grey: float = 0.2) -> torch.Tensor:
    """A random view of each image of ``x`` (B, 3, H, W) in [0, 1]; same shape, values in [0, 1].
    All randomness comes from ``gen`` (CPU generator), so a seed fixes the views."""
    b = len(x)

    def u(lo, hi, *shape):
        return lo + (hi - lo) * torch.rand(b, *shape, generator=gen)

    # random resized crop + horizontal flip as one affine map of the [-1, 1] output grid
    area = u(min_scale, 1.0)
    logr = u(math.log(3 / 4), math.log(4 / 3))
    sw = (area * logr.exp()).sqrt().clamp(max=1.0)                      # crop width / image width
    sh = (area / logr.exp()).sqrt().clamp(max=1.0)
    cx, cy = (1 - sw) * u(-1, 1), (1 - sh) * u(-1, 1)                   # crop centre, crop inside
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2] = sw * flip, cx
    theta[:, 1, 1], theta[:, 1, 2] = sh, cy
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)   # (B,H,W,2)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    # colour jitter (brightness, contrast, saturation), applied to a random subset
    on = (torch.rand(b, generator=gen) < p_jitter).view(b, 1, 1, 1).to(x.device)
    bright = u(1 - jitter, 1 + jitter, 1, 1, 1).to(x.device)
    contrast = u(1 - jitter, 1 + jitter, 1, 1, 1).to(x.device)
    sat = u(1 - jitter, 1 + jitter, 1, 1, 1).to(x.device)
    y = (x * bright).clamp(0, 1)
    m = _grey(y).mean(dim=(2, 3), keepdim=True)                          # (B,1,1,1)
    y = ((y - m) * contrast + m).clamp(0, 1)
    g = _grey(y)
    y = ((y - g) * sat + g).clamp(0, 1)
    x = torch.where(on, y, x)
    grey = (torch.rand(b, generator=gen) < p_grey).view(b, 1, 1, 1).to(x.device)
    return torch.where(grey, _grey(x).expand_as(x), x)


# ----------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------
def build_backbone(arch: str, width: int) -> nn.Module:
    """A feature extractor: our backbone with ``.fc`` = identity, or torchvision's resnet50
    (``weights=None``: nothing is downloaded)."""
    if arch in TORCHVISION_ARCHS:
        import torchvision
        net = getattr(torchvision.models, arch)(weights=None)
    else:
        net = build_model(arch, num_classes=1, width=width)
    net.fc = nn.Identity()
    return net


def feature_dim(backbone: nn.Module) -> int:
    with torch.no_grad():
        return int(backbone.eval()(torch.zeros(2, 3, 32, 32)).shape[1])


class SimCLR(nn.Module):
    """Backbone + SimCLR's projection head (Linear-ReLU-Linear); the features are the backbone's."""

    def __init__(self, arch: str, width: int, proj_dim: int = 128):
        super().__init__()
        self.backbone = build_backbone(arch, width)
        f = feature_dim(self.backbone)
        self.head = nn.Sequential(nn.Linear(f, f), nn.ReLU(), nn.Linear(f, proj_dim))

    def forward(self, x):                          # x: (B,3,32,32) -> (B,proj_dim)
        return self.head(self.backbone(x))


_CK_KEYS = ("ssl_arch", "ssl_width", "ssl_proj_dim", "ssl_batch", "ssl_lr", "ssl_temperature",
            "dataset", "n_train", "split_seed", "task_seed")


def checkpoint_stale(p, out_dir) -> list:
    """How the SimCLR checkpoint in ``out_dir`` differs from what profile ``p`` would train now
    (``["ssl_lr: 0.001 -> 0.002"]``); empty if there is none or it matches."""
    path = Path(out_dir) / "encoder.pt"
    if not path.is_file():
        return []
    made = _safe_load(path, "cpu")["profile"]
    return [f"{k}: {made.get(k)!r} -> {p.as_dict().get(k)!r}" for k in _CK_KEYS if made.get(k) != p.as_dict().get(k)]


def _channel_stats(ds):
    x = torch.from_numpy(ds.images[np.asarray(ds.train_idx)]).permute(0, 3, 1, 2).float() / 255
    return x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)   # (1,3,1,1) each


def train_ssl(ds, profile="smoke", *, out_dir, epochs: int | None = None, resume: bool = True,
              stop_after: int | None = None, progress: bool = True, device=None) -> dict:
    """SimCLR on X_tr (no labels) up to ``epochs`` (default ``profile.ssl_epochs``), saving
    ``out_dir/encoder.pt`` after every epoch (one file, :func:`tdlib.checkpoint.atomic_torch_save`);
    resumes from it. ``stop_after``: run at most this many epochs
    in this call. Returns ``{"model", "epoch", "history"}``."""
    from tqdm.auto import tqdm
    p = resolve(profile)
    device = torch.device(device) if device is not None else torch.device("cpu")
    epochs = p.ssl_epochs if epochs is None else epochs
    path = Path(out_dir) / "encoder.pt"
    torch.manual_seed(p.task_seed)
    model = SimCLR(p.ssl_arch, p.ssl_width, p.ssl_proj_dim).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=p.ssl_lr)
    gen = torch.Generator().manual_seed(p.task_seed + 777)
    epoch, history = 0, []
    if resume and path.is_file():
        ck = _safe_load(path, device)
        diff = [k for k in _CK_KEYS if ck["profile"].get(k) != p.as_dict().get(k)]
        if diff:
            raise ValueError(f"SSL checkpoint {path} was made with other settings (differ in {diff}). "
                             "Fix: delete it, or run with resume=False.")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        epoch, history = ck["epoch"], ck["history"]
    mean, std = _channel_stats(ds)
    x01 = torch.from_numpy(ds.images[np.asarray(ds.train_idx)]).permute(0, 3, 1, 2).float() / 255   # (n,3,32,32)
    n, bs = len(x01), min(p.ssl_batch, len(x01))
    end = epochs if stop_after is None else min(epochs, epoch + stop_after)
    bar = tqdm(total=epochs, initial=epoch, desc=f"SimCLR [{p.name}]", disable=not progress)
    while epoch < end:
        t0, losses = time.perf_counter(), []
        model.train()
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n - bs + 1, bs):                               # drop the last partial batch
            xb = x01[perm[s:s + bs]]
            v1, v2 = ((augment(xb, gen) - mean) / std, (augment(xb, gen) - mean) / std)
            loss = nt_xent(model(v1.to(device)), model(v2.to(device)), p.ssl_temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        epoch += 1
        history.append({"epoch": epoch, "loss": float(np.mean(losses)),
                        "seconds": round(time.perf_counter() - t0, 2)})
        atomic_torch_save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                           "epoch": epoch, "history": history, "profile": p.as_dict(),
                           "torch": str(torch.__version__)}, path)
        bar.update(1)
        bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
    bar.close()
    return {"model": model, "epoch": epoch, "history": history, "path": str(path)}


# ----------------------------------------------------------------------------------------------
# user-supplied weights
# ----------------------------------------------------------------------------------------------
def load_backbone_weights(path, arch: str, width: int) -> nn.Module:
    """A backbone (``.fc`` = identity) with weights from ``path``: a state dict of
    ``build_model(arch, width=width)`` or of torchvision's ``arch``, or our SimCLR ``encoder.pt``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"SSL weights file {str(path)!r} does not exist. Fix: set ssl_weights (--set ssl_weights=PATH) to a "
            f"state dict of build_model({arch!r}, width={width}) or of torchvision's resnet50 "
            f"(with ssl_arch='resnet50'), or leave it empty to train the project's own SimCLR model.")
    sd = _safe_load(path, "cpu")
    if isinstance(sd, dict) and "model" in sd and isinstance(sd["model"], dict):       # our encoder.pt
        sd = {k[len("backbone."):]: v for k, v in sd["model"].items() if k.startswith("backbone.")}
    elif isinstance(sd, dict) and "state_dict" in sd:
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ValueError(f"{path} holds a {type(sd).__name__}, not a state dict. Fix: save "
                         f"`model.state_dict()` with torch.save.")
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
    net = build_backbone(arch, width)
    fix = (f"Fix: set ssl_arch / ssl_width to the network the file was saved from (our archs: cnn, "
           f"resnet18, mlp, vit; torchvision: resnet50), or strip the key prefix of the file (only "
           f"'module.' is stripped here).")
    want = net.state_dict()
    missing, unexpected = sorted(set(want) - set(sd)), sorted(set(sd) - set(want))
    if missing or unexpected:
        raise ValueError(
            f"SSL weights {str(path)!r} do not match backbone {arch!r} (width {width}): "
            f"{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected keys "
            f"(e.g. {unexpected[:3]}). {fix}")
    shapes = [f"{k}: {tuple(sd[k].shape)} in the file, {tuple(v.shape)} here" for k, v in want.items()
              if tuple(sd[k].shape) != tuple(v.shape)]
    if shapes:
        raise ValueError(f"SSL weights {str(path)!r} do not fit backbone {arch!r} (width {width}): "
                         f"{len(shapes)} tensors differ in shape (e.g. {shapes[0]}). {fix}")
    net.load_state_dict(sd)
    return net.eval()


# ----------------------------------------------------------------------------------------------
# frozen features
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def extract(backbone: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    backbone.eval()
    dev = next(backbone.parameters()).device
    return torch.cat([backbone(x[s:s + batch_size].to(dev)).float().cpu()
                      for s in range(0, len(x), batch_size)])                      # (N,F)


def frozen_features(ds, profile="smoke", weights=None, *, progress: bool = False, standardize: bool = True,
                    untrained: bool = False, **train_kw) -> torch.Tensor:
    """Frozen self-supervised features (N, F) of the whole pool: from ``weights`` (default
    ``profile.ssl_weights``) if given, else from the SimCLR model in ``out_dir`` (a keyword passed on to
    :func:`train_ssl`; trained or resumed first). Standardized per feature with X_tr's mean and std (``standardize``). ``untrained``: the
    same backbone at its SimCLR initialization instead (a control: what does SimCLR training add?)."""
    p = resolve(profile)
    weights = weights if weights is not None else (p.ssl_weights or None)
    if untrained:
        torch.manual_seed(p.task_seed)                     # as train_ssl's initialization
        backbone = SimCLR(p.ssl_arch, p.ssl_width, p.ssl_proj_dim).backbone
    elif weights:
        backbone = load_backbone_weights(weights, p.ssl_arch, p.ssl_width)
    elif "out_dir" not in train_kw:
        raise TypeError("frozen_features: give weights= (a backbone's file) or out_dir= (the folder of a SimCLR "
                        "run to train or resume, e.g. tdlib.lab.runs.ssl_dir(profile_name))")
    else:
        backbone = train_ssl(ds, p, progress=progress, **train_kw)["model"].backbone
    feats = extract(backbone, ds.x)                                                    # (N,F)
    if standardize:
        tr = feats[np.asarray(ds.train_idx)]
        feats = (feats - tr.mean(0)) / tr.std(0).clamp_min(1e-6)
    return feats
