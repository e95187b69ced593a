r"""App. G, Proposition 1: the agreement score bounds the *best-case* test accuracy.

The equations of App. G were lost in extraction; this is our reconstruction from its text and proof
sketch. Fix the split (X_tr, X_te), the training labels τ(X_tr) and the learning algorithm A. For a
test image x let p_x(c) = P_{w ~ A}[f_w(x) = c] (K classes), and for a test labelling y of X_te

    Acc(y)  = E_w E_x [f_w(x) = y(x)]  = E_x p_x(y(x))                      (Eq. 9)
    AS      = E_{w1,w2} E_x [f_w1(x) = f_w2(x)] = E_x Σ_c p_x(c)^2          (Eq. 10, w1, w2 i.i.d.)
    Acc*    = max_y Acc(y) = E_x max_c p_x(c),  reached by the plurality vote y*(x) = argmax_c p_x(c).

**Proposition 1.** For every w' (and hence on average over w' ~ A):

    (i)   E_w E_x [f_w(x) = f_w'(x)]  <=  Acc*,   so   AS <= Acc*;
    (ii)  g(Acc*) <= AS,   with  g(m) = m^2 + (1 - m)^2 / (K - 1),
          i.e. for binary tasks  Acc* <= (1 + sqrt(2 AS - 1)) / 2;  weaker but simpler: 2 Acc* - 1 <= AS.

*Proof.* (i) For any labelling y, p_x(y(x)) <= max_c p_x(c) for every x, so Acc(y) <= Acc*; take
y = f_w' and average over w'. (ii) With m_x = max_c p_x(c), the other K - 1 classes share mass
1 - m_x, so Σ_c p_x(c)^2 >= m_x^2 + (1 - m_x)^2 / (K - 1) = g(m_x) (Cauchy-Schwarz); g is convex, so
AS = E_x Σ_c p_x(c)^2 >= E_x g(m_x) >= g(E_x m_x) = g(Acc*) (Jensen). Finally g(m) >= 2m - 1 because
m^2 - 2m + 1 = (1 - m)^2 >= 0. ∎

Reading: (i) a high AS means *some* labelling of X_te is predicted well (the AS lower-bounds the
best-case accuracy); (ii) any test accuracy, Acc(τ) <= Acc* <= g^{-1}(AS), so a high test accuracy
needs a high AS (a necessary condition). Neither says the AS predicts Acc(τ): the test labels τ(X_te)
may disagree with y* (Sec. 7, App. F).

**Finite samples.** With M trained networks we replace A by the uniform distribution over them. Then
the V-statistic ``as_v`` (w1 = w2 allowed) and ``best_case_acc`` are exactly the quantities above
and (i), (ii) hold exactly. The usual AS estimate averages distinct pairs only (``as_u``, what
:func:`~tdlib.agreement.agreement_score` reports for M = 2); ``as_u <= as_v``, so (i) also holds for
it, while (ii) with ``as_u`` is only an estimate and may fail by sampling error (we report it).
With M = 2 both sides of (i) coincide (as_v = Acc* = (1 + agreement) / 2), so the check needs M >= 3.
"""
from __future__ import annotations

import itertools

import numpy as np

EPS = 1e-9


def vote_fractions(preds, num_classes: int | None = None) -> np.ndarray:
    """``preds`` (M, N) class predictions of M networks -> p (N, K): the fraction voting for each class."""
    preds = np.asarray(preds, dtype=np.int64)
    k = int(num_classes or max(2, preds.max() + 1))
    return np.stack([(preds == c).mean(0) for c in range(k)], axis=1)


def as_v(preds) -> float:
    """E_x Σ_c p_x(c)^2: Eq. 10 with w1, w2 drawn independently from the M networks."""
    p = vote_fractions(preds)
    return float((p ** 2).sum(1).mean())


def as_u(preds) -> float:
    """Mean agreement over distinct pairs of networks (the unbiased estimate of Eq. 10)."""
    preds = np.asarray(preds)
    pairs = list(itertools.combinations(range(len(preds)), 2))
    if not pairs:
        raise ValueError("need at least two networks' predictions")
    return float(np.mean([np.mean(preds[i] == preds[j]) for i, j in pairs]))


def accuracy(preds, labels) -> float:
    """Acc(y), Eq. 9: accuracy w.r.t. ``labels`` averaged over the networks."""
    return float(np.mean(np.asarray(preds) == np.asarray(labels)[None]))


def best_case_accuracy(preds) -> tuple:
    """``(Acc*, y*)``: the highest Eq. 9 accuracy over all labellings of X_te and the plurality vote
    that reaches it."""
    p = vote_fractions(preds)
    return float(p.max(1).mean()), p.argmax(1)


def g(m, num_classes: int = 2):
    """g(m) = m^2 + (1 - m)^2 / (K - 1) of Proposition 1 (ii)."""
    m = np.asarray(m, dtype=np.float64)
    return m ** 2 + (1 - m) ** 2 / (num_classes - 1)


def g_inverse(a, num_classes: int = 2) -> float:
    """The largest m in [1/K, 1] with g(m) <= a: the upper bound on Acc* given the AS ``a``."""
    k = num_classes
    a = min(max(float(a), 1.0 / k), 1.0)
    # g(m) = a  <=>  k m^2 - 2 m + 1 - (k - 1) a = 0 (times (k - 1)); take the root >= 1/k
    return float((1 + np.sqrt(max(1 - k * (1 - (k - 1) * a), 0.0))) / k)


def check_proposition1(preds, labels=None, num_classes: int | None = None) -> dict:
    """Every quantity of Proposition 1 for M networks' predictions ``preds`` (M, N) on X_te, and
    whether each inequality holds. ``labels``: the task's test labels τ(X_te), optional."""
    preds = np.asarray(preds, dtype=np.int64)
    if preds.ndim != 2 or len(preds) < 2:
        raise ValueError(f"preds must be (M>=2, N) predictions, got shape {preds.shape}")
    k = int(num_classes or max(2, preds.max() + 1))
    av, au = as_v(preds), as_u(preds)
    best, _ = best_case_accuracy(preds)
    # (i) per w': E_w E_x [f_w = f_w'] <= Acc*, for every network w' of the M
    per_w = [float(np.mean(preds == preds[j][None])) for j in range(len(preds))]
    out = {"n_models": int(len(preds)), "n_test": int(preds.shape[1]), "num_classes": k,
           "as_u": au, "as_v": av, "best_case_acc": best, "upper_bound_on_best": g_inverse(av, k),
           "max_agreement_with_one_net": max(per_w),
           "i_per_network": bool(max(per_w) <= best + EPS),
           "i_as_v": bool(av <= best + EPS), "i_as_u": bool(au <= best + EPS),
           "ii_as_v": bool(g(best, k) <= av + EPS), "ii_linear": bool(2 * best - 1 <= av + EPS),
           "ii_as_u": bool(g(best, k) <= au + EPS)}
    if labels is not None:
        acc = accuracy(preds, labels)
        out["test_acc"] = acc
        out["acc_below_best"] = bool(acc <= best + EPS)
        out["acc_below_bound"] = bool(acc <= g_inverse(av, k) + EPS)
    out["holds"] = all(out[key] for key in ("i_per_network", "i_as_v", "i_as_u", "ii_as_v", "ii_linear"))
    return out
