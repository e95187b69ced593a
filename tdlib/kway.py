"""K-way task networks for discovery (App. C): heads of K logits, soft labels, balanced sampling.

App. C extends the shared-encoder discovery of Sec. 4.3 from binary to K-way tasks: the task
network's linear layer predicts K logits, ``t(x) = softmax(T * A g(x))`` with A (K,d), trained with
the same proxy-AS and uniformity loss; A is made from a sampled rotation so that the K classes are
balanced whenever the embeddings are uniform. Our construction (the paper's formula was lost in
extraction): the rows of A are the K unit vertices of a **regular simplex centred at the origin**,
placed in a (K-1)-dim subspace of R^d spanned by rows of a seeded random rotation. A permutation of
the vertices is a rotation of that subspace, so under any rotation-invariant embedding distribution
the K argmax cells have equal mass 1/K. For K = 2 the simplex is ``{-u, u}`` and the soft labels are
exactly the binary ``softmax(T * [-<u,g>, <u,g>])`` of :mod:`tdlib.discovery`.

Heads of different tasks lie in mutually orthogonal subspaces as long as they fit (``d // (K-1)``
heads per rotation; more come from further seeded rotations), the analogue of the binary case's
orthogonal hyperplanes; for K = 2 the heads are ``(-q_i, q_i)`` with ``q_i`` the binary case's i-th
hyperplane normal.

Sampling (after training): class = argmax of the logits plus per-class offsets ``b`` found by block
coordinate ascent on the dual of the balanced assignment (:func:`balanced_argmax`), so each class
holds N/K images up to a small tolerance, like the median split of the binary case (which it
reproduces for K = 2).
"""
from __future__ import annotations

import math

import numpy as np
import torch


def simplex_vertices(k: int) -> torch.Tensor:
    """The K unit vertices (K, K-1) of a regular simplex centred at 0 (negated Helmert basis);
    for K = 2 they are ``[[-1], [1]]``, the binary task's ``[-s, s]``."""
    if k < 2:
        raise ValueError(f"a task needs K >= 2 classes, got {k}")
    h = torch.zeros(k - 1, k, dtype=torch.float64)           # rows: orthonormal, orthogonal to 1
    for j in range(1, k):
        h[j - 1, :j] = 1.0
        h[j - 1, j] = -float(j)
        h[j - 1] /= math.sqrt(j * (j + 1))
    v = -h.T                                                 # (K,K-1): vertex k = -H[:, k]
    return v / v.norm(dim=1, keepdim=True)


def _rotation(d: int, seed: int) -> torch.Tensor:
    """A seeded Haar-random orthogonal matrix (d,d), as :func:`tdlib.discovery.orthogonal_hyperplanes`."""
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))[None]).T       # rows orthonormal


def kway_heads(emb_dim: int, k: int, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` heads (n,K,d): each the K unit simplex vertices in a (K-1)-dim subspace spanned by
    consecutive rows of a seeded rotation; ``emb_dim // (K-1)`` heads per rotation, mutually
    orthogonal; rotation ``j`` uses seed ``seed`` (j = 0, the binary hyperplanes' one) or ``seed + 7919 j``."""
    per = emb_dim // (k - 1) if k >= 2 else 0
    if per < 1:
        raise ValueError(f"K = {k} classes need an embedding of at least K-1 = {k - 1} dims, got {emb_dim}")
    s = simplex_vertices(k)                                  # (K,K-1)
    heads = []
    for i in range(n):
        j, slot = divmod(i, per)
        q = _rotation(emb_dim, seed + 7919 * j)[slot * (k - 1):(slot + 1) * (k - 1)]   # (K-1,d)
        heads.append(s @ q)                                  # (K,K-1) @ (K-1,d) -> (K,d)
    return torch.stack(heads).float().contiguous()           # (n,K,d)


def kway_probs(emb: torch.Tensor, head: torch.Tensor, temperature: float) -> torch.Tensor:
    """Soft labels (B,K) of a K-way task: ``softmax(T * emb @ head.T)``; emb (B,d), head (K,d)."""
    return torch.softmax(temperature * (emb @ head.T), 1)


def balanced_argmax(scores: np.ndarray, tol: int = 1, max_sweeps: int = 500) -> np.ndarray:
    """Labels (N,) = argmax_k (scores[n,k] + b_k) with offsets b making every class hold N/K images
    (within ``tol``; the first ``N mod K`` classes get one more). ``scores``: (N,K).

    Block coordinate ascent on the dual of the balanced assignment: for each class in turn, set
    ``b_k`` so that exactly its quota of images prefers it given the other offsets. For K = 2 one
    step gives the median split."""
    s = np.asarray(scores, dtype=np.float64)
    n, k = s.shape
    quota = np.full(k, n // k) + (np.arange(k) < n % k)
    b = np.zeros(k)
    for _ in range(max_sweeps):
        for c in range(k):
            others = np.delete(s + b, c, axis=1).max(1)     # (N,) best competing class
            margin = others - s[:, c]                       # class c wins iff b_c > margin
            m = np.sort(margin)
            lo, hi = m[quota[c] - 1], m[quota[c]] if quota[c] < n else m[-1] + 1.0
            b[c] = 0.5 * (lo + hi)                          # exactly quota[c] margins lie below
        counts = np.bincount(np.argmax(s + b, 1), minlength=k)
        if np.abs(counts - quota).max() <= tol:
            break
    return np.argmax(s + b, 1).astype(np.int64)


def sample_kway_tasks(emb: torch.Tensor, heads: torch.Tensor, balance: str = "equal"):
    """Tasks (n,N) int64 from heads (n,K,d) on embeddings (N,d), and the logits (n,N,K).

    ``balance="equal"``: :func:`balanced_argmax` (N/K per class); ``"argmax"``: the plain argmax
    (balanced only as far as the embeddings are uniform, App. C)."""
    if balance not in ("equal", "argmax"):
        raise ValueError(f"balance must be 'equal' or 'argmax' for K-way tasks, got {balance!r}")
    logits = torch.einsum("nd,hkd->hnk", emb.double(), heads.double().cpu()).numpy()   # (n,N,K)
    if balance == "argmax":
        return logits.argmax(2).astype(np.int64), logits
    return np.stack([balanced_argmax(z) for z in logits]), logits
