"""The "green pixel task" of Sec. 5.4: a high-AS task that humans would not see.

Label of an image = 1 if the green intensity of one fixed pixel ``(row, col)`` is above a threshold
chosen to split the pool evenly (its median), else 0. Task name: ``greenpixel:ROW,COL``
(``greenpixel:`` alone uses the profile default, the top-left corner; the paper does not say which
pixel). The labels are a function of that one pixel value only: the threshold is a uint8 value ``t``
and ``label = green > t``, where ``t`` is whichever of ``median - 1`` and ``median`` splits the pool
closest to half/half (ties at the median all go to one side, so the split is balanced up to the
mass of one intensity value, ~1% on CIFAR-10).

Sec. 5.4 checks that the network reads the rule and nothing else:

- ``others_noised``: every pixel *except* ``(row, col)`` is replaced by N(0, 1) noise on the
  standardized scale (the scale the networks see; ``Dataset.x`` is standardized channel-wise), the
  cue pixel keeps its three channels. Paper: accuracy "remains almost the same".
- ``pixel_noised``: only ``(row, col)`` is replaced, by default with a sample from the pixel's
  *marginal* (all three channels of that pixel taken from another, random image of the pool, so the
  input stays on the data manifold and the label becomes independent of it); ``"gaussian"`` uses
  N(0, 1) on the standardized scale instead. Paper: accuracy "drops to the chance level of 0.5".
"""
from __future__ import annotations

import numpy as np
import torch

from .tasks import register_task_kind

DEFAULT_PIXEL = (0, 0)      # = Profile.green_pixel (Sec. 5.4 does not give the position)
GREEN = 1                   # RGB channel index


def parse_pixel(arg: str) -> tuple:
    """``"3,5"`` -> ``(3, 5)``; ``""`` -> :data:`DEFAULT_PIXEL`."""
    if not arg:
        return DEFAULT_PIXEL
    try:
        r, c = (int(v) for v in arg.split(","))
    except ValueError:
        raise ValueError(f"green pixel must be ROW,COL (e.g. greenpixel:0,0), got {arg!r}") from None
    return r, c


def green_threshold(values: np.ndarray) -> int:
    """The uint8 threshold ``t`` such that ``values > t`` is closest to a half/half split."""
    values = np.asarray(values).astype(np.int64)
    med = int(np.median(values))
    cands = [t for t in (med - 1, med) if t >= 0]
    return min(cands, key=lambda t: abs(np.mean(values > t) - 0.5))


def green_pixel_task(images: np.ndarray, pixel=DEFAULT_PIXEL, threshold=None) -> np.ndarray:
    """Labels of the green pixel task over ``images`` (N, H, W, 3) uint8 (Sec. 5.4)."""
    r, c = pixel
    n, h, w, _ = images.shape
    if not (0 <= r < h and 0 <= c < w):
        raise ValueError(f"pixel {pixel} is outside the {h}x{w} images")
    g = images[:, r, c, GREEN].astype(np.int64)
    t = green_threshold(g) if threshold is None else threshold
    return (g > t).astype(np.int64)


def green_pixel_scores(images: np.ndarray, pixel=DEFAULT_PIXEL) -> np.ndarray:
    """The green value itself: the task's score (for picture grids, Sec. 5.1)."""
    r, c = pixel
    return images[:, r, c, GREEN].astype(np.float64)


def noise_all_but_pixel(x: torch.Tensor, pixel, seed: int = 0) -> torch.Tensor:
    """Every pixel except ``pixel`` replaced by N(0, 1) (standardized scale); ``x`` is (N,3,H,W)."""
    r, c = pixel
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(x.shape, generator=g, dtype=x.dtype)
    out[:, :, r, c] = x[:, :, r, c]
    return out


def noise_pixel(x: torch.Tensor, pixel, mode: str = "marginal", pool: "torch.Tensor | None" = None,
                seed: int = 0) -> torch.Tensor:
    """``pixel`` replaced by noise, the rest kept. ``mode="marginal"``: its three channels copied from
    random images of ``pool`` (default ``x``); ``"gaussian"``: N(0, 1) on the standardized scale."""
    r, c = pixel
    g = torch.Generator().manual_seed(seed)
    out = x.clone()
    if mode == "marginal":
        pool = x if pool is None else pool
        src = torch.randint(0, len(pool), (len(x),), generator=g)
        out[:, :, r, c] = pool[src][:, :, r, c]
    elif mode == "gaussian":
        out[:, :, r, c] = torch.randn((len(x), x.shape[1]), generator=g, dtype=x.dtype)
    else:
        raise ValueError(f"noise mode must be 'marginal' or 'gaussian', got {mode!r}")
    return out


NEIGHBOURS = ((0, 1), (1, 0), (1, 1))      # offsets of the pixels next to the cue pixel


def best_threshold_accuracy(values_tr, y_tr, values_te, y_te) -> float:
    """Test accuracy of the best one-threshold rule on uint8 ``values`` (either direction), the
    threshold and direction fit on the training values."""
    v, y = np.asarray(values_tr).astype(np.int64), np.asarray(y_tr).astype(np.int64)
    ts = np.arange(256)[:, None]
    acc = ((v[None, :] > ts) == y[None, :]).mean(1)            # (256,): rule "label = value > t"
    flip = 1 - acc                                             # rule "label = value <= t"
    i = int(np.argmax(np.maximum(acc, flip)))
    pred = np.asarray(values_te).astype(np.int64) > i
    if flip[i] > acc[i]:
        pred = ~pred
    return float((pred == np.asarray(y_te)).mean())


def neighbour_cue(images: np.ndarray, pixel, train_idx, test_idx) -> dict:
    """How much of the green pixel task its neighbours carry (the measured reason why a network may
    read them instead of the pixel, Sec. 5.4): for each neighbour in :data:`NEIGHBOURS` inside the
    image, the test accuracy of the best threshold on *its* green value (fit on X_tr); the pixel's
    own value gives 1 by construction."""
    r, c = pixel
    labels = green_pixel_task(images, pixel)
    tr, te = np.asarray(train_idx), np.asarray(test_idx)
    h, w = images.shape[1:3]
    out = {}
    for dr, dc in NEIGHBOURS:
        rr, cc = r + dr if r + dr < h else r - dr, c + dc if c + dc < w else c - dc
        g = images[:, rr, cc, GREEN]
        out[f"{rr},{cc}"] = best_threshold_accuracy(g[tr], labels[tr], g[te], labels[te])
    best = max(out, key=out.get)
    return {"pixel": list(pixel), "neighbours": out, "best_neighbour": best, "best_acc": out[best]}


def green_pixel_study(ds, profile, pixel=None, *, arch=None, seed: int = 0) -> dict:
    """Sec. 5.4 in one call: train the pair once on the green pixel task, then report AS and test
    accuracy on X_te as is, with all other pixels noised, and with the pixel noised (both modes)."""
    from .agreement import pair_agreements, train_pair
    pixel = tuple(pixel or profile.green_pixel)
    labels = green_pixel_task(ds.images, pixel)
    x_te = ds.x[ds.test_idx]
    pair = train_pair(ds, labels, profile, arch=arch, seed=seed)
    y_te = labels[ds.test_idx]
    sets = {"clean": x_te,
            "others_noised": noise_all_but_pixel(x_te, pixel, seed=seed + 1),
            "pixel_noised": noise_pixel(x_te, pixel, "marginal", pool=ds.x, seed=seed + 2),
            "pixel_noised_gaussian": noise_pixel(x_te, pixel, "gaussian", seed=seed + 3)}
    res = pair_agreements(pair, {k: (v, y_te) for k, v in sets.items()})
    return {"pixel": list(pixel), "arch": pair["arch"], "balance": float(labels.mean()),
            "train_acc": pair["train_acc"], "seconds": pair["seconds"], **res}


def _kind(ds, arg):
    return green_pixel_task(ds.images, parse_pixel(arg))


register_task_kind("greenpixel", _kind)
