"""Sufficient Input Subsets heatmaps (App. B, Fig. 9; Carter et al. 2019, "What made you do this?").

SIS ranks the input features of one image by **backward selection**: starting from the whole image,
repeatedly mask the feature whose removal keeps the network's confidence in its original decision
highest; features removed last are the ones the decision rests on. App. B keeps the top 5% of the
ranking as a binary mask per image and averages the masks of a task's images into a heatmap: where in
the image a task network looks.

Here a feature is a ``patch x patch`` block of pixels (all channels), masked to 0, the mean of X_tr
after standardization (:func:`tdlib.data.load_dataset`). ``remove_per_round`` features are removed per
round of backward selection (the ones whose removal keeps the confidence highest); with 1 this is the
exact backward selection of Carter et al.; larger values are the batched approximation (Carter et al.
2021, "Overinterpretation") that costs ``~ F^2 / (2 k)`` forward passes per image instead of
``F^2 / 2`` for ``F`` features. What we use: :data:`DEFAULT_PATCH`, :data:`DEFAULT_REMOVE`."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

TOP_FRACTION = 0.05     # App. B: "the top 5% of the pixels" form the binary mask of an image
DEFAULT_PATCH = 2       # ours: 2x2-pixel features (256 on a 32x32 image), the paper ranks single pixels
DEFAULT_REMOVE = 8      # ours: features removed per backward-selection round (1 = exact SIS)


def _patch_masks(h: int, w: int, patch: int) -> torch.Tensor:
    """(F, h, w) boolean masks, one per ``patch x patch`` block, row-major."""
    if patch < 1 or h % patch or w % patch:
        raise ValueError(f"patch={patch} must be >= 1 and divide the image size {h}x{w}")
    gh, gw = h // patch, w // patch
    m = torch.zeros(gh * gw, h, w, dtype=torch.bool)
    for i in range(gh):
        for j in range(gw):
            m[i * gw + j, i * patch:(i + 1) * patch, j * patch:(j + 1) * patch] = True
    return m


@torch.no_grad()
def backward_selection(model: nn.Module, x: torch.Tensor, *, patch: int = DEFAULT_PATCH,
                       remove_per_round: int = DEFAULT_REMOVE, batch_size: int = 512,
                       seed: int = 0) -> np.ndarray:
    """The SIS ranking of one image ``x`` (3,H,W) under ``model`` (eval mode): ``(F,)`` int, the order in
    which the ``F`` patches were removed (first = least needed, last = most needed for the decision).

    The confidence is that of the class ``c`` the model predicts on the whole image, as the margin
    ``z_c - log sum_{j != c} exp z_j`` (the log-odds of its softmax probability: the same order, without the
    float32 saturation of a probability at 1.0). Ties are broken in a random order seeded by ``seed``
    (a fixed order would pile untouched patches of one image region into the top set)."""
    model.eval()
    device = next(model.parameters()).device
    x = x.to(device)
    masks = _patch_masks(x.shape[-2], x.shape[-1], patch).to(device)          # (F,H,W)
    cls = int(model(x[None]).argmax(1))
    keep = torch.ones(len(masks), dtype=torch.bool, device=device)           # features still present
    order: list[int] = []
    cur = x.clone()
    gen = torch.Generator().manual_seed(seed)
    others = torch.ones(model(x[None]).shape[1], dtype=torch.bool, device=device)
    others[cls] = False
    while keep.any():
        cand = keep.nonzero().flatten()                                       # (C,)
        cand = cand[torch.randperm(len(cand), generator=gen).to(device)]     # random tie order
        conf = []
        for s in range(0, len(cand), batch_size):
            c = cand[s:s + batch_size]
            xb = cur[None].repeat(len(c), 1, 1, 1)                            # (b,3,H,W)
            xb = xb.masked_fill(masks[c][:, None], 0.0)
            z = model(xb).float()
            conf.append(z[:, cls] - torch.logsumexp(z[:, others], 1))
        conf = torch.cat(conf)
        k = min(remove_per_round, len(cand))
        # the k whose removal keeps the confidence highest
        drop = cand[torch.argsort(-conf, stable=True)[:k]]
        order += drop.tolist()
        keep[drop] = False
        cur = cur.masked_fill(masks[drop].any(0)[None], 0.0)
    return np.asarray(order, dtype=np.int64)


def top_mask(order: np.ndarray, shape: tuple, patch: int, top: float = TOP_FRACTION) -> np.ndarray:
    """Binary (H,W) mask of the pixels in the last-removed ``top`` fraction of the patches (at least 1)."""
    h, w = shape
    n = max(1, int(round(top * len(order))))
    grid = np.zeros(len(order), dtype=bool)
    grid[order[-n:]] = True
    return np.kron(grid.reshape(h // patch, w // patch), np.ones((patch, patch), dtype=bool))


def sis_masks(model: nn.Module, x: torch.Tensor, *, patch: int = DEFAULT_PATCH,
              remove_per_round: int = DEFAULT_REMOVE, top: float = TOP_FRACTION, progress=None) -> np.ndarray:
    """(N,H,W) bool: per image of ``x`` (N,3,H,W), the pixels of its top-``top`` SIS features (image i's
    ties broken with seed i). ``progress``: an optional tqdm bar advanced per image."""
    out = np.zeros((len(x), *x.shape[-2:]), dtype=bool)
    for i in range(len(x)):
        order = backward_selection(model, x[i], patch=patch, remove_per_round=remove_per_round, seed=i)
        out[i] = top_mask(order, x.shape[-2:], patch, top)
        if progress is not None:
            progress.update(1)
    return out


def sis_heatmap(model: nn.Module, x: torch.Tensor, **kw) -> np.ndarray:
    """App. B's heatmap of a task network: the mean over images ``x`` (N,3,H,W) of their SIS masks
    (:func:`sis_masks`, same keywords), (H,W) in [0,1]."""
    return sis_masks(model, x, **kw).mean(0) if len(x) else np.zeros(x.shape[-2:])


def centre_of_mass(heat: np.ndarray) -> tuple:
    """(row, col) of a heatmap's centre of mass and its spread (root-mean-square distance to it, pixels)."""
    h, w = heat.shape
    yy, xx = np.mgrid[0:h, 0:w]
    tot = heat.sum()
    if tot <= 0:
        return float("nan"), float("nan"), float("nan")
    cy, cx = (heat * yy).sum() / tot, (heat * xx).sum() / tot
    spread = np.sqrt((heat * ((yy - cy) ** 2 + (xx - cx) ** 2)).sum() / tot)
    return float(cy), float(cx), float(spread)
