"""The agreement score, Eq. 1 (Sec. 3.1).

AS(τ) = E_{w1,w2 ~ A(X_tr, τ)} E_{x ~ X_te} [argmax f_w1(x) == argmax f_w2(x)]

Two networks are trained on the same labelled train set, differing only in the sources of
stochasticity we let vary (Sec. 3.2, Fig. 2-right): ``"init"``, ``"order"`` and ``"cuda"``. The
AS is the fraction of held-out images on which their predictions agree; it needs no test labels.
We also report each network's accuracy w.r.t. the task's labels on X_te and X_tr.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .config import Profile, untracked
from .sections import resolve
from .train import predict, predict_logits, train_classifier, train_networks

ALL_SOURCES = ("init", "order", "cuda")


def agreement(pred1, pred2) -> float:
    """Fraction of images on which two prediction vectors agree (the inner expectation of Eq. 1)."""
    pred1, pred2 = np.asarray(pred1), np.asarray(pred2)
    return float(np.mean(pred1 == pred2))


def run_seeds(seed: int, vary=ALL_SOURCES) -> list[dict]:
    """Seeds of the two networks: sources in ``vary`` differ between them, the others are shared."""
    bad = set(vary) - set(ALL_SOURCES)
    if bad:
        raise ValueError(f"unknown stochasticity source(s) {sorted(bad)}; choose from {ALL_SOURCES}")
    runs = []
    for k in range(2):
        runs.append({"init_seed": seed * 2 + (k if "init" in vary else 0),
                     "order_seed": seed * 2 + (k if "order" in vary else 0) + 7919,
                     "deterministic": "cuda" not in vary})
    return runs


def agreement_score(ds, labels, profile: "Profile | str" = "smoke", *, arch=None, width=None,
                    train_idx=None, test_idx=None, seed: int = 0, vary=ALL_SOURCES, device=None,
                    return_predictions: bool = False, progress=None) -> dict:
    """AS of the task ``labels`` (over the pool of ``ds``) with the profile's training recipe.

    ``train_idx``/``test_idx`` default to the dataset's X_tr / X_te (Sec. 3.2); pass others for
    smaller training sets (Fig. 2-center) or adversarial splits (App. F). Returns a dict with
    ``agreement``, ``test_acc`` and ``train_acc`` (means over the two networks) and ``seconds``."""
    p = resolve(profile)
    t0 = time.perf_counter()
    pair = train_pair(ds, labels, p, arch=arch, width=width, train_idx=train_idx, seed=seed, vary=vary,
                      device=device, progress=progress)
    labels = np.asarray(labels, dtype=np.int64)
    te = ds.test_idx if test_idx is None else np.asarray(test_idx)
    preds_te = [predict(m, ds.x[te], amp=p.amp) for m in pair["models"]]
    out = {"agreement": agreement(*preds_te),
           "test_acc": float(np.mean([np.mean(pr == labels[te]) for pr in preds_te])),
           "train_acc": pair["train_acc"], "seconds": round(time.perf_counter() - t0, 2),
           "arch": pair["arch"], "n_train": pair["n_train"], "n_test": int(len(te))}
    if p.fit_stop:                      # epochs each network trained before it fit its labels (cost saver)
        out["epochs_run"] = pair["epochs_run"]
    if return_predictions:
        out["predictions"] = [p_.tolist() for p_ in preds_te]
    return out


# ----------------------------------------------------------------------------------------------
# one trained pair, many test sets (Sec. 5.3 domains, Sec. 5.4 noised inputs, App. G)
# ----------------------------------------------------------------------------------------------
def train_pair(ds, labels, profile: "Profile | str" = "smoke", *, arch=None, width=None, train_idx=None,
               seed: int = 0, vary=ALL_SOURCES, device=None, n_models: int = 2, epochs=None,
               progress=None) -> dict:
    """Train the networks of Eq. 1 once (same recipe and seeds as :func:`agreement_score`), so they
    can be evaluated on several test sets. ``n_models > 2`` adds networks (App. G needs more than a
    pair); the first two are exactly those of ``agreement_score(..., seed=seed)``.

    Returns ``{"models": [...], "arch", "train_acc", "n_train", "seconds"}``."""
    p = resolve(profile)
    arch, width = arch or p.arch, width or p.width
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (len(ds),):
        raise ValueError(f"labels must have one entry per image of the pool ({len(ds)}), got {labels.shape}")
    tr = ds.train_idx if train_idx is None else np.asarray(train_idx)
    num_classes = int(labels.max()) + 1 if labels.max() > 1 else 2
    runs = run_seeds(seed, vary)
    for k in range(2, n_models):        # extra networks: the pair's pattern with more seeds
        extra = run_seeds(seed + 100_003 * k, vary)[1]
        runs.append(extra)
    t0 = time.perf_counter()
    with untracked():                   # how, not what: every impl trains the same networks (tdlib.train)
        impl = p.train_impl
    common = dict(arch=arch, width=width, num_classes=num_classes, epochs=epochs or p.epochs,
                  batch_size=p.batch_size, lr=p.lr, lr_schedule=p.lr_schedule, device=device, amp=p.amp,
                  fit_stop=p.fit_stop, impl=impl, progress=progress)
    if impl.startswith("streams"):          # the networks trained together (same networks on CPU)
        models = train_networks(ds.x[tr], labels[tr], runs, **common)
    else:
        models = [train_classifier(ds.x[tr], labels[tr], **common, **run) for run in runs]
    logits_tr = [predict_logits(m, ds.x[tr], amp=p.amp) for m in models]
    check_not_collapsed(logits_tr, labels[tr], p)
    accs = [float(np.mean(lg.argmax(1).numpy() == labels[tr])) for lg in logits_tr]
    return {"models": models, "arch": arch, "amp": p.amp, "train_acc": float(np.mean(accs)),
            "epochs_run": [getattr(m, "epochs_run", None) for m in models],
            "n_train": int(len(tr)), "seconds": round(time.perf_counter() - t0, 2)}


COLLAPSE_FRACTION = 0.95      # a network predicting one class for this share of X_tr ...
COLLAPSE_LABELS = 0.9         # ... on a task whose labels are not that lopsided ...
COLLAPSE_SPREAD = 1e-5        # ... with the same logits for every training image (relative spread) collapsed


def check_not_collapsed(logits_tr, labels_tr, p=None) -> None:
    """Refuse a degenerate pair (issue 17). A network collapsed if it predicts one class for >= 95% of
    its training images, on a task whose labels are not themselves that lopsided, with outputs that do
    not depend on its input (the same logits for every training image: e.g. ``lr=1e4`` kills every
    ReLU; train accuracy at chance, loss finite). The pair's AS would be 1.0 (both onto one class) or
    0.0 (onto two) and stored as a measurement. A network that merely leans to one class after a few
    epochs (a hard random-label task at small scale) still depends on its input and is kept.
    ``logits_tr``: each network's logits (N,C) on X_tr. Raises :class:`~tdlib.errors.Diverged`."""
    import torch

    from .errors import Diverged
    labels_tr = np.asarray(labels_tr)
    if np.bincount(labels_tr).max() / max(len(labels_tr), 1) > COLLAPSE_LABELS:
        return
    for k, lg in enumerate(logits_tr):
        lg = torch.as_tensor(lg).double()
        pred = lg.argmax(1).numpy()
        counts = np.bincount(pred)
        frac = counts.max() / max(len(pred), 1)
        spread = float((lg - lg.median(0).values).abs().max()) if len(lg) else 0.0
        constant = not math.isfinite(spread) or spread <= COLLAPSE_SPREAD * (1 + float(lg.abs().max()))
        if frac >= COLLAPSE_FRACTION and constant:
            acc = float(np.mean(pred == labels_tr))
            lr = f" (lr={p.lr})" if p is not None else ""
            raise Diverged(f"network {k} of the pair gives the same output for every one of its {len(pred)} "
                           f"training images (class {int(counts.argmax())}, train accuracy {acc:.2f}): training "
                           f"collapsed{lr}, nothing stored. Fix: a smaller lr (--set lr=1e-3, Sec. 3.2).")


def pair_agreements(pair: dict, test_sets: dict) -> dict:
    """AS (Eq. 1) of a trained pair on each test set. ``test_sets``: name -> ``x`` (N,3,32,32), or
    name -> ``(x, y)`` to also get the mean accuracy w.r.t. labels ``y``.
    Returns name -> ``{"agreement", "n", "majority"[, "acc"]}`` (AS over the first two networks;
    ``majority``: per network, the share of its most frequent prediction: near 1 for both, the networks
    predict one class there and their agreement is 0 or 1 whatever the task)."""
    out = {}
    for name, item in test_sets.items():
        x, y = item if isinstance(item, tuple) else (item, None)
        preds = [predict(m, x, amp=pair.get("amp", True)) for m in pair["models"]]
        r = {"agreement": agreement(preds[0], preds[1]), "n": int(len(x)),
             "majority": [float(np.bincount(np.asarray(pr).astype(np.int64)).max() / max(len(pr), 1))
                          for pr in preds[:2]]}
        if y is not None:
            r["acc"] = float(np.mean([np.mean(pr == np.asarray(y)) for pr in preds]))
        out[name] = r
    return out
