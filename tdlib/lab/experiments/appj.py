"""Sec. 5.1 (regulated discovery) and Sec. 5.4 / App. J, Fig. 6 (human tasks among the discovered):

- E12: for each of the 126 human tasks, the most similar task an encoder defines (a linear head fitted
  on its embeddings of X_tr, :mod:`tdlib.linear_probe`), its Eq. 2 similarity on X_te; for discovery
  runs at several embedding sizes d (E18's runs, ``sweep_l{λ}_d{d}`` folders, trained here when
  missing), for the main discovery run, and for discovery regulated by self-supervised features
  (:mod:`tdlib.ssl`; folder ``discovery/ssl``, tasks ``discovered:K:PROFILE/ssl``). Controls (ours):
  the same heads on each encoder *untrained* (meta-step 0), on the frozen SSL features themselves, and
  on the features of the SSL backbone at its initialization (what SimCLR training adds).
  Also the AS of the regulated tasks and their most discriminative images (Sec. 5.1, Fig. 4-bottom-right).
"""
from __future__ import annotations

import numpy as np

from ...agreement import agreement_score
from ...data import dataset_for
from ...discovery import _new_state, discover, embed, train_encoder
from ..runs import discovery_dir
from ...linear_probe import closest_task_similarity
from ..results import run_items
from ...tasks import N_HUMAN_TASKS, human_task, mean_pairwise_similarity
from ..taskviz import encode_images, top_images_from_scores
from . import DISCOVERY, POOL, TRAIN, register
from .sec4 import sweep_point

SSL_FOLDER = "ssl"


def _summary(res: dict) -> dict:
    s = np.asarray(res["similarity"])
    return {"mean": float(s.mean()), "median": float(np.median(s)), "max": float(s.max()),
            "frac_above_0.8": float((s > 0.8).mean()), "frac_above_0.9": float((s > 0.9).mean())}


def _probe(ds, humans, emb, p) -> dict:
    res = closest_task_similarity(emb, humans, ds.train_idx, ds.test_idx, p.appj_head_steps)
    return {**res, **_summary(res)}


def _encoder_entry(ds, humans, q, out_dir, p, features=None, n_sample=None) -> dict:
    """Train (or resume) the discovery run of ``q`` in ``out_dir``, sample its tasks if not saved yet,
    then the App. J probe on its embeddings and on those of the untrained encoder."""
    state = train_encoder(ds, q, out_dir=out_dir, progress=False, features=features)
    if not (out_dir / "tasks.npz").is_file():
        discover(ds, q, out_dir=out_dir, n_sample=n_sample, progress=False, features=features)
    inputs = None if features is None else features
    trained = _probe(ds, humans, embed(state["encoder"], ds, inputs=inputs), p)
    in_dim = None if features is None else features.shape[1]
    untrained = _probe(ds, humans, embed(_new_state(q, "cpu", in_dim)["encoder"], ds, inputs=inputs), p)
    hist = state["history"]
    return {"d": q.emb_dim, "meta_steps": state["step"], "folder": out_dir.name,
            "final_proxy_as": float(np.mean([h["proxy_as"] for h in hist[-5:]])) if hist else None,
            **trained, "untrained": untrained}


@register("e12", page="sec5_study", pool="main", needs=(),
          title="Human tasks among the discovered ones, SSL-regulated discovery (Sec. 5.1, 5.4, App. J)",
          fields=POOL + TRAIN + DISCOVERY + ('appj_dims', 'appj_head_steps', 'grid_k', 'inner_checkpoint', 'ssl_arch', 'ssl_batch', 'ssl_epochs', 'ssl_hidden', 'ssl_lr', 'ssl_meta_steps', 'ssl_n_as', 'ssl_proj_dim', 'ssl_temperature', 'ssl_weights', 'ssl_width', 'sweep_meta_steps', 'sweep_n_tasks', 'task_seed'),
          runs=("main", "appj"))
def e12_human_in_discovered(p, data_path=None):
    """E12 (Sec. 5.4, Fig. 6, App. J): similarity of each human task to its closest discovered task,
    vs the embedding size d and with SSL-regulated discovery (Sec. 5.1)."""
    from ..runs import ssl_dir
    from ...ssl import frozen_features
    ds = dataset_for(p, data_path)
    humans = np.stack([human_task(ds.classes, i) for i in range(N_HUMAN_TASKS)])      # (126,N)
    cache = {}

    def feats():
        if "f" not in cache:
            cache["f"] = frozen_features(ds, p, out_dir=ssl_dir(p.name))
        return cache["f"]

    def ssl_run():
        q = p.replace(meta_steps=p.ssl_meta_steps)
        return q, discovery_dir(p.name) / SSL_FOLDER

    def dim_point(d):
        def run():
            q, out_dir = sweep_point(p, p.uniformity_weight, d)
            return _encoder_entry(ds, humans, q, out_dir, p, n_sample=min(p.sweep_n_tasks, d))
        return run

    items = {f"d={d}": dim_point(d) for d in p.appj_dims}
    items["main"] = lambda: _encoder_entry(ds, humans, p, discovery_dir(p.name), p)
    items["ssl features"] = lambda: {"dim": int(feats().shape[1]), **_probe(ds, humans, feats().numpy(), p)}
    items["untrained ssl features"] = lambda: {
        "dim": int(feats().shape[1]), **_probe(ds, humans, frozen_features(ds, p, untrained=True).numpy(), p)}

    def ssl_entry():
        q, out_dir = ssl_run()
        return _encoder_entry(ds, humans, q, out_dir, p, features=feats())
    items["ssl"] = ssl_entry

    def run_as(folder):
        def run():
            with np.load(folder / "tasks.npz") as z:
                tasks = z["tasks"].astype(np.int64)
            k = min(p.ssl_n_as, len(tasks))
            ases = [agreement_score(ds, t, p, seed=i)["agreement"] for i, t in enumerate(tasks[:k])]
            return {"tasks": [f"discovered:{i}:{p.name}/{folder.name}" for i in range(k)], "as": ases,
                    "mean_as": float(np.mean(ases)), "mean_similarity": mean_pairwise_similarity(tasks)}
        return run
    items["ssl as"] = run_as(ssl_run()[1])
    # the plain run of the same d and steps (E18's folder), its AS with the same recipe and seeds
    items["plain as"] = run_as(sweep_point(p, p.uniformity_weight, p.emb_dim)[1])

    def grids():
        out = {}
        runs = {"ssl": ssl_run()[1], "plain": sweep_point(p, p.uniformity_weight, p.emb_dim)[1]}
        for label, folder in runs.items():
            if not (folder / "tasks.npz").is_file():
                continue
            with np.load(folder / "tasks.npz") as z:
                tasks, scores = z["tasks"].astype(np.int64), z["scores"].astype(np.float64)
            for i in range(min(p.ssl_n_as, len(tasks))):
                top = top_images_from_scores(ds.images, tasks[i], scores[i], p.grid_k)
                out[f"discovered:{i}:{p.name}/{folder.name}"] = {
                    "run": label, "index": {str(c): v.tolist() for c, v in top.items()},
                    "images": {str(c): encode_images(ds.images[v]) for c, v in top.items()}}
        return out
    items["grids"] = grids
    return run_items("e12", p, items, data=ds, desc="E12 human tasks among discovered")
