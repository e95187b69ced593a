"""Are human tasks among the discovered ones? (Sec. 5.4, Fig. 6, App. J.)

An encoder defines a set of tasks, one per hyperplane of its embedding space (Sec. 4.3), too many
to list. App. J approximates the discovered task most similar to a human task τ by fitting a linear
classifier on the embeddings of X_tr to τ's labels: the fitted task (the sign of the fitted linear
function, a hyperplane with an offset) is compared with τ on X_te by the similarity of Eq. 2.

:func:`fit_linear_heads` fits many tasks at once: one logistic regression per task (weights (T, d),
offsets (T,)), full batch, LBFGS on the sum of the tasks' mean cross-entropies (the tasks share no
parameters, so this is T independent fits), a small L2 penalty (ours) keeping separable tasks finite.
Embeddings are standardized with X_tr's mean and std per dimension first.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .tasks import similarity

L2 = 1e-4          # ours: weight decay of the heads


def fit_linear_heads(emb_tr, labels_tr, steps: int = 300, l2: float = L2):
    """Logistic regressions of each task on the embeddings. ``emb_tr`` (n, d), ``labels_tr`` (T, n)
    in {0, 1}. Returns ``(W (T, d), b (T,), mean, std)`` for standardized inputs ``(e - mean) / std``."""
    e = torch.as_tensor(np.asarray(emb_tr), dtype=torch.float64)                 # (n,d)
    mean, std = e.mean(0), e.std(0).clamp_min(1e-8)
    e = (e - mean) / std
    y = torch.as_tensor(np.asarray(labels_tr), dtype=torch.float64)             # (T,n)
    w = torch.zeros(len(y), e.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(y), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=steps, tolerance_grad=1e-9, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = w @ e.T + b[:, None]                                            # (T,n)
        loss = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(1).sum()
        loss = loss + l2 * (w ** 2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return w.detach(), b.detach(), mean, std


def predict_heads(emb, heads) -> np.ndarray:
    """The fitted tasks (T, N) int64 on embeddings ``emb`` (N, d): 1 where the head's logit is > 0."""
    w, b, mean, std = heads
    e = (torch.as_tensor(np.asarray(emb), dtype=torch.float64) - mean) / std
    return ((w @ e.T + b[:, None]) > 0).long().numpy()


def closest_task_similarity(emb, tasks, train_idx, test_idx, steps: int = 300) -> dict:
    """For each task of ``tasks`` (T, N): fit a linear head on ``emb[train_idx]`` and return the
    Eq. 2 similarity on ``test_idx`` of the fitted task to it (``similarity``, T values), the same on
    X_tr (``train_similarity``), and the fitted tasks' balance on X_te."""
    emb, tasks = np.asarray(emb), np.asarray(tasks)
    tr, te = np.asarray(train_idx), np.asarray(test_idx)
    heads = fit_linear_heads(emb[tr], tasks[:, tr], steps)
    fitted = predict_heads(emb, heads)                                               # (T,N)
    return {"similarity": [similarity(f[te], t[te]) for f, t in zip(fitted, tasks)],
            "train_similarity": [similarity(f[tr], t[tr]) for f, t in zip(fitted, tasks)],
            "balance": [float(f[te].mean()) for f in fitted]}
