"""What drives the discovery encoder (Sec. 4.3-4.4, Eq. 3-5; issue 21's diagnosis).

Three measurements, none of which trains anything beyond what it names:

- :func:`term_gradients`: the norm of the meta-gradient of each term of the meta-loss
  ``-proxyAS + λ L_unif`` (Eq. 5) on the encoder's parameters, per hyperplane, and their cosine. With
  ``λ |∇L_unif| >> |∇proxyAS|`` the encoder follows the uniformity term alone (the tasks move off
  every learnable cue); with ``λ = 0`` nothing keeps the hyperplanes' tasks apart (they collapse onto
  the one easiest cue).
- :func:`label_learnability`: the proxy-AS (Algorithm 1) of a *fixed* labelling, and the held-out
  accuracy the inner networks reach on it. A cue whose proxy-AS is no higher than random labels'
  cannot be found by discovery at that inner-loop budget, whatever the outer loop does.
- :func:`cue_recovery`: for discovered tasks on data with planted cues, the best-matching cue of each
  task (Eq. 2 similarity) and the distinct cues matched at a threshold.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call

from .sections import resolve
from .models import build_model
from .tasks import mean_pairwise_similarity, similarity
from .unroll import FunctionalNet, proxy_agreement


def _norm(gs) -> float:
    return float(torch.sqrt(sum((g.detach() ** 2).sum() for g in gs)))


def term_gradients(encoder, ds, profile, n_planes: int | None = None, seed: int = 0) -> dict:
    """Meta-gradient norms of the proxy-AS and of the uniformity term on ``encoder``'s trainable
    parameters, one meta-step's unroll per hyperplane (the profile's first ``n_planes``).
    Returns ``{"proxy": [...], "uniformity": [...], "cosine": [...], "ratio": mean λ-free ratio
    |∇L_unif| / |∇proxyAS|, "balance_weight": the λ at which the two norms are equal}``."""
    from .discovery import inner_batch_indices, inner_seeds, meta_step_loss, task_heads
    p = resolve(profile)
    planes = task_heads(p)
    n = len(planes) if n_planes is None else min(n_planes, len(planes))
    gen = torch.Generator().manual_seed(seed)
    tr = torch.as_tensor(np.asarray(ds.train_idx))
    params = [q for q in encoder.parameters() if q.requires_grad]
    out = {"proxy": [], "uniformity": [], "cosine": [], "proxy_as": [], "inner_steps": []}
    for k in range(n):
        batches = [ds.x[i] for i in inner_batch_indices(p, tr, gen)]
        _, res = meta_step_loss(encoder, planes[k], batches, p, inner_seeds(p, gen))
        gp = torch.autograd.grad(res.proxy_as, params, retain_graph=True, allow_unused=True)
        gu = torch.autograd.grad(res.extra, params, allow_unused=True)
        gp = [torch.zeros_like(q) if g is None else g for g, q in zip(gp, params)]
        gu = [torch.zeros_like(q) if g is None else g for g, q in zip(gu, params)]
        a, b = _norm(gp), _norm(gu)
        out["proxy"].append(a)
        out["uniformity"].append(b)
        out["cosine"].append(float(sum((x * y).sum() for x, y in zip(gp, gu))) / (a * b + 1e-12))
        out["proxy_as"].append(float(res.proxy_as.detach()))
        out["inner_steps"].append(res.steps)
    mp, mu = float(np.mean(out["proxy"])), float(np.mean(out["uniformity"]))
    out["ratio"] = mu / max(mp, 1e-12)
    out["balance_weight"] = mp / max(mu, 1e-12)
    return out


def label_learnability(ds, labels, profile, n_rep: int = 4, seed: int = 0) -> dict:
    """Algorithm 1's inner loop (no meta-graph) on the fixed binary ``labels`` (N,) with the profile's
    discovery settings (inner networks, lr, batch, steps, early stop, soft labels at its temperature):
    mean proxy-AS, inner steps run, and held-out (X_te) accuracy of the first network, over ``n_rep``
    unrolls on fresh batches; ``agreement01``: the two networks' 0-1 agreement on each step's batch
    (mean over the unrolls; ``agreement01_min``: the lowest), what the authors' early stop reads."""
    from .discovery import inner_batch_indices, inner_seeds, task_probs
    p = resolve(profile)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    tr = torch.as_tensor(np.asarray(ds.train_idx))
    te = torch.as_tensor(np.asarray(ds.test_idx))
    rows, trajs = [], []
    for _ in range(n_rep):
        idx = inner_batch_indices(p, tr, gen)
        nets = []
        for s in inner_seeds(p, gen):
            torch.manual_seed(int(s))
            nets.append(FunctionalNet.from_module(build_model(p.arch, 2, p.disc_width)))
        batches = [ds.x[i] for i in idx]
        lab = {id(b): y[i] for b, i in zip(batches, idx)}

        def target_fn(x):
            return task_probs(2.0 * lab[id(x)].float() - 1.0, p.temperature), torch.zeros(())
        res = proxy_agreement(nets, batches, target_fn, p.inner_lr, create_graph=False,
                              early_stop_agreement=p.early_stop_agreement,
                              early_stop_patience=p.early_stop_patience,
                              early_stop_min_steps=p.early_stop_min_steps)
        (params, buffers), _ = res.nets
        with torch.no_grad():
            m = nets[0].module.eval()
            acc = float((functional_call(m, (params, buffers), (ds.x[te],)).argmax(1) == y[te]).float().mean())
            m.train()
        rows.append((float(res.proxy_as.detach()), res.steps, acc))
        trajs.append(res.agreement01)
    a = np.array(rows)
    n = min(len(t) for t in trajs)
    return {"proxy_as": float(a[:, 0].mean()), "proxy_as_sd": float(a[:, 0].std()),
            "inner_steps": float(a[:, 1].mean()), "test_accuracy": float(a[:, 2].mean()),
            "agreement01": [float(np.mean([t[k] for t in trajs])) for k in range(n)],
            "agreement01_min": [float(np.min([t[k] for t in trajs])) for k in range(n)]}


def cue_recovery(tasks, cues: dict, threshold: float = 0.9) -> dict:
    """For each task (K,N) its best-matching cue (``cues``: name -> (N,) binary labels) by Eq. 2
    similarity; ``matched``: the distinct cues some task matches at >= ``threshold``;
    ``mean_similarity``: the tasks' mean pairwise similarity."""
    tasks = np.asarray(tasks)
    best = []
    for t in tasks:
        sims = {c: similarity(t, v) for c, v in cues.items()}
        c = max(sims, key=sims.get)
        best.append({"cue": c, "similarity": float(sims[c])})
    return {"best": best,
            "matched": sorted({b["cue"] for b in best if b["similarity"] >= threshold}),
            "mean_similarity": mean_pairwise_similarity(tasks) if len(tasks) > 1 else float("nan")}


def meets_sandbox_bar(final: dict) -> bool:
    """Issue 21's bar on one run's cue recovery (:func:`cue_recovery`): >= 2 distinct cues matched at
    >= 0.9, mean pairwise similarity <= 0.7, no cue held by two tasks (:func:`duplicated_cues`)."""
    return len(final["matched"]) >= 2 and final["mean_similarity"] <= 0.7 and not duplicated_cues(final["best"])


def duplicated_cues(best, level: float = 0.9) -> list:
    """Cues that two tasks both match so closely that the two tasks are >= ``level`` similar to each
    other (Eq. 2 similarities obey sim(a, b) >= s_a + s_b - 1): a degenerate set, one cue twice."""
    out = []
    for i, a in enumerate(best):
        for b in best[i + 1:]:
            if a["cue"] == b["cue"] and a["similarity"] + b["similarity"] - 1 >= level and a["cue"] not in out:
                out.append(a["cue"])
    return out
