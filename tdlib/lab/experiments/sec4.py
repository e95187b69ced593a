"""Sec. 4 experiments: E5 (discovery, Fig. 1), E6 (proxy-AS vs AS, Fig. 16), E7 (random-network
tasks, Fig. 15), E18 (λ / d trade-off, Fig. 13). AS is always :func:`~tdlib.agreement.agreement_score`,
exactly as in E1."""
from __future__ import annotations

import numpy as np
import torch

from ...agreement import agreement_score
from ...data import dataset_for
from ...config import get_profile
from ...discovery import (_new_state, checkpoint_stale, discover, sample_tasks,
                          untrained_tasks)
from ..runs import discover_tasks, discovery_dir, load_tasks, require_tasks, run_name
from ...models import build_model
from ...randnet import naive_discovery, random_network_task
from ..results import load_store, run_items, set_aside
from ...tasks import default_task_names, mean_pairwise_similarity, similarity_matrix, task_by_name
from ...unroll import FunctionalNet, proxy_agreement
from . import DISCOVERY, POOL, TASKS, TRAIN, register


def _as_entry(ds, name, labels, p, **kw):
    return {"task": name, "kind": name.split(":")[0], **agreement_score(ds, labels, p, **kw)}


def _discovery_entry(ds, p, **kw):
    def run():
        out = discover(ds, p, out_dir=discovery_dir(run_name(p)), **kw)
        tasks = load_tasks(ds, p.name)
        out["similarity_matrix"] = np.round(similarity_matrix(tasks), 4).tolist()
        return out
    return run


def unseen_hyperplanes(p, n: int) -> torch.Tensor:
    """``n`` new random unit normals in R^d (App. I.2: "any hyperplane" gives a high-AS task), from
    a seed of their own, so none is one of the ``n_tasks`` trained ones (a random direction is,
    almost surely, none of them)."""
    g = torch.Generator().manual_seed(p.task_seed + 777_001)
    u = torch.randn(n, p.emb_dim, generator=g)
    return u / u.norm(dim=1, keepdim=True)


def e5_expected(p) -> int:
    """E5's entries: discovery, untrained; discovered/untrained, human/random, unseen AS; the baselines
    unif_only, naive (+ their AS), stats (+ AS); comparisons."""
    from ...tasks import IMAGE_STATS
    unseen = 1 + p.e5_n_unseen if p.e5_n_unseen else 0
    naive = min(p.n_tasks, p.e5_n_baseline)
    return 2 + 2 * p.n_tasks + 2 * p.e5_n_baseline + unseen + 2 + p.n_tasks + naive + 1 + len(IMAGE_STATS) + 1


@register("e5", page="sec4_discovery", pool="main", needs=(),
          title="Task discovery with a shared encoder (Sec. 4, Fig. 1)",
          fields=POOL + TRAIN + DISCOVERY + ("task_seed", "inner_checkpoint", "e5_n_baseline", "e5_n_unseen",
                                                "naive_max_draws", "naive_threshold"),
          runs=("main",), priority=2, expected=e5_expected)
def e5_discovery(p, data_path=None):
    """E5: discover tasks with the shared encoder, then their AS as in E1 and their similarity
    (Sec. 4.1-4.4, Fig. 1-center). Every AS entry here uses one pool (``dataset_for(p)``) and one
    training recipe (the profile's), so the kinds compare directly:

    - ``discovered:i``: the ``n_tasks`` trained hyperplanes on the meta-trained encoder;
    - ``untrained:i``: the same hyperplanes on the untrained encoder (meta-step 0; our control,
      separating what the meta-optimization adds from what the architecture gives);
    - ``unseen:i``: ``e5_n_unseen`` new random hyperplanes on the trained encoder (App. I.2's claim);
    - ``human:i`` / ``random:i``: ``e5_n_baseline`` human and random-labelled tasks (E1's names)."""
    ds = dataset_for(p, data_path)
    items = {"discovery": _discovery_entry(ds, p)}
    for i in range(p.n_tasks):
        items[f"discovered:{i}"] = (lambda i=i: _as_entry(ds, f"discovered:{i}", load_tasks(ds, p.name)[i], p))
    cache = {}

    def untrained():
        if "t" not in cache:
            cache["t"] = untrained_tasks(ds, p)
        return cache["t"]

    def unseen():
        if "u" not in cache:
            enc = _load_trained_encoder(p)
            cache["u"] = sample_tasks(enc, ds, unseen_hyperplanes(p, p.e5_n_unseen))[0]
        return cache["u"]
    items["untrained"] = lambda: {"mean_similarity": mean_pairwise_similarity(untrained()),
                                  "similarity_matrix": np.round(similarity_matrix(untrained()), 4).tolist()}
    for i in range(p.n_tasks):            # interleaved with discovered:i, so a partial run stays balanced
        items[f"untrained:{i}"] = (lambda i=i: _as_entry(ds, f"untrained:{i}", untrained()[i], p))
    order = ["discovery", "untrained"] + [k for i in range(p.n_tasks) for k in (f"discovered:{i}", f"untrained:{i}")]
    # baselines that need no meta-learning (issue 21), each with its own mean pairwise similarity
    for key, fn in e5_baselines(ds, p, cache).items():
        items[key] = fn
        order.append(key)
    names = default_task_names(p.replace(n_human=p.e5_n_baseline, n_random=p.e5_n_baseline))
    for h, r in zip(names["human"], names["random"]):
        for name in (h, r):
            items[name] = (lambda name=name: _as_entry(ds, name, task_by_name(ds, name), p))
            order.append(name)
    if p.e5_n_unseen:
        items["unseen"] = lambda: {"mean_similarity": mean_pairwise_similarity(unseen()) if len(unseen()) > 1
                                   else float("nan"), "n": int(p.e5_n_unseen)}
        order.append("unseen")
    for i in range(p.e5_n_unseen):
        items[f"unseen:{i}"] = (lambda i=i: _as_entry(ds, f"unseen:{i}", unseen()[i], p))
        order.append(f"unseen:{i}")
    items = {k: items[k] for k in order}
    store = run_items("e5", p, items, data=ds, desc="E5 discovery")
    if all(k in store for k in items) and "comparisons" not in store:
        store.put("comparisons", e5_comparisons(store.entries), 0.0)
    return store


UNIF_ONLY = "unif_only"          # E5's uniformity-only run: discovery_dir(profile)/unif_only


def unif_only_point(p):
    """The profile and folder of E5's uniformity-only baseline: the same run with the proxy-AS weight 0
    (λ as the profile's, or 1 where the profile has λ = 0, so that something trains)."""
    q = p.replace(proxy_weight=0.0, uniformity_weight=p.uniformity_weight if p.uniformity_weight > 0 else 1.0)
    return q, discovery_dir(p.name) / UNIF_ONLY


def e5_baselines(ds, p, cache) -> dict:
    """E5's baselines that need no meta-learning (issue 21), as run_items items: the uniformity-only
    encoder's tasks (``unif_only:i``, the same hyperplanes), random-network tasks drawn until as
    dissimilar as the discovered ones (``naive:i``, ``e5_n_baseline`` of them: naive discovery, App. H.2,
    at the discovered tasks' largest pairwise similarity) and simple image statistics split at their
    median (``stat:NAME``)."""
    from ...tasks import IMAGE_STATS
    items = {}

    def unif_tasks():
        if "uo" not in cache:
            q, out = unif_only_point(p)
            if checkpoint_stale(q, out):                 # E5's own sub-run, made with other settings: E5's
                set_aside(out)                           # store is current, so this run is redone (kept aside)
            cache["uo"] = discover_tasks(ds, q, out)
        return cache["uo"][0]

    def unif_summary():
        t = unif_tasks()
        summ = cache["uo"][1]
        return {"mean_similarity": mean_pairwise_similarity(t), "proxy_weight": 0.0,
                "uniformity_weight": unif_only_point(p)[0].uniformity_weight, "step": summ["step"],
                "history": summ["history"], "similarity_matrix": np.round(similarity_matrix(t), 4).tolist()}
    items[UNIF_ONLY] = unif_summary
    for i in range(p.n_tasks):
        items[f"{UNIF_ONLY}:{i}"] = (lambda i=i: _as_entry(ds, f"{UNIF_ONLY}:{i}", unif_tasks()[i], p))

    def naive_tasks():
        if "nv" not in cache:
            disc = load_tasks(ds, p.name)
            s = similarity_matrix(disc)
            thr = float((s - np.eye(len(s))).max()) + 1e-9 if len(s) > 1 else p.naive_threshold
            kept, seeds, draws = naive_discovery(ds.x, p.n_tasks, thr, p.naive_max_draws, arch=p.arch, width=p.width)
            cache["nv"] = (kept, {"threshold": thr, "seeds": seeds, "draws": draws, "found": len(kept),
                                  "wanted": p.n_tasks})
        return cache["nv"][0]

    def naive_summary():
        t = naive_tasks()
        return {**cache["nv"][1], "mean_similarity": mean_pairwise_similarity(t) if len(t) > 1 else float("nan")}
    items["naive"] = naive_summary
    for i in range(min(p.n_tasks, p.e5_n_baseline)):       # as many as human / random tasks
        def naive_as(i=i):
            t = naive_tasks()
            return _as_entry(ds, f"naive:{i}", t[i], p) if i < len(t) else {"task": f"naive:{i}", "kind": "naive",
                                                                             "missing": "naive discovery found fewer"}
        items[f"naive:{i}"] = naive_as
    stats = [f"stat:{k}" for k in IMAGE_STATS]
    items["stats"] = lambda: {"mean_similarity": mean_pairwise_similarity(np.stack([task_by_name(ds, n) for n in stats])),
                              "names": stats}
    for n in stats:
        items[n] = (lambda n=n: _as_entry(ds, n, task_by_name(ds, n), p))
    return items


def current_comparisons(entries: dict):
    """E5's comparisons (:func:`e5_comparisons`) computed from its stored per-task entries, so a reader
    gets today's interval method (the stored ``comparisons`` entry is what the run computed then; None
    when no discovered task is stored)."""
    if any(k.startswith("discovered:") for k in entries):
        return e5_comparisons(entries)
    return entries.get("comparisons")


def e5_comparisons(entries: dict) -> dict:
    """Discovered tasks against each baseline of E5: the difference of mean AS with a 95% interval over
    tasks (paired by hyperplane for the untrained and uniformity-only encoders, unpaired otherwise)
    and each group's mean AS, n and mean pairwise similarity."""
    from ...uncertainty import paired_difference, unpaired_difference

    def group(kind):
        return {int(k.split(":")[1]) if k.split(":")[1].isdigit() else k: v["agreement"]
                for k, v in entries.items() if k.startswith(kind + ":") and "agreement" in v}
    disc = group("discovered")
    sims = {"discovered": entries.get("discovery", {}).get("mean_similarity"),
            "untrained": entries.get("untrained", {}).get("mean_similarity"),
            UNIF_ONLY: entries.get(UNIF_ONLY, {}).get("mean_similarity"),
            "naive": entries.get("naive", {}).get("mean_similarity"),
            "stat": entries.get("stats", {}).get("mean_similarity")}
    out = {"discovered": {"mean_as": float(np.mean(list(disc.values()))) if disc else None, "n": len(disc),
                          "mean_similarity": sims["discovered"]}}
    for kind in ("untrained", UNIF_ONLY, "naive", "stat", "human", "random"):
        g = group(kind)
        if not g:
            continue
        keys = sorted(set(g) & set(disc), key=str)
        diff = (paired_difference([disc[k] for k in keys], [g[k] for k in keys]) if kind in ("untrained", UNIF_ONLY)
                else unpaired_difference(list(disc.values()), list(g.values())))
        out[kind] = {"mean_as": float(np.mean(list(g.values()))), "n": len(g), "mean_similarity": sims.get(kind),
                     "discovered_minus": diff}
    return out


def _load_trained_encoder(p):
    """The meta-trained encoder of the profile's default discovery run (on the CPU)."""
    state = _new_state(p, "cpu")
    ck = torch.load(discovery_dir(p.name) / "encoder.pt", map_location="cpu", weights_only=True)
    state["encoder"].load_state_dict(ck["encoder"])
    return state["encoder"]


# ----------------------------------------------------------------------------------------------
def inner_loop_curve(ds, labels, p, seed: int = 0, eval_every: int | None = None) -> dict:
    """Run Algorithm 1's inner loop (no meta-graph) on a task's hard labels: the proxy-AS, the 0-1
    agreement on each training batch, and the agreement on X_te every ``eval_every`` steps (Fig. 16;
    BatchNorm uses X_te's batch statistics, as the running ones lag far behind after a few steps)."""
    g = torch.Generator().manual_seed(seed)
    nets = []
    for k in range(2):
        torch.manual_seed(seed * 2 + k)
        nets.append(FunctionalNet.from_module(build_model(p.arch, 2, p.disc_width)))
    tr = torch.as_tensor(np.asarray(ds.train_idx))
    idx = [tr[torch.randperm(len(tr), generator=g)[: p.inner_batch]] for _ in range(p.inner_steps)]
    onehot = torch.nn.functional.one_hot(torch.as_tensor(np.asarray(labels), dtype=torch.long), 2).float()
    targets = iter([onehot[i] for i in idx])
    xte = ds.x[np.asarray(ds.test_idx)]
    every = eval_every or max(1, p.inner_steps // 10)
    steps, test_agree = [], []

    def callback(k, l1, l2, states):
        if k % every and k != p.inner_steps:
            return
        with torch.no_grad():          # batch statistics of X_te: the running ones lag after few steps
            preds = [net(xte, prm, buf)[0].argmax(1) for (prm, buf), net in zip(states, nets)]
        steps.append(k)
        test_agree.append(float((preds[0] == preds[1]).float().mean()))

    with torch.enable_grad():
        res = proxy_agreement(nets, [ds.x[i] for i in idx], lambda x: (next(targets), torch.zeros(())),
                              p.inner_lr, create_graph=False, step_callback=callback)
    return {"proxy_as": float(res.proxy_as.detach()), "batch_agreement": res.agreement01,
            "steps": steps, "test_agreement": test_agree}


def _stored_as(p, key, exp="e5"):
    """The AS of task ``key`` from ``exp``'s stored result at this profile when that result is current
    (same pool and recipe as this experiment; E1 is not used: it runs on Sec. 3's larger pool)."""
    store = load_store(exp, p.name)
    if store is not None and not store.stale(p) and key in store and "agreement" in store.entries[key]:
        return store.entries[key]["agreement"]
    return None


@register("e6", page="sec4_discovery", pool="main", needs=('e5',),
          title="Proxy-AS vs AS (App. I.1, Fig. 16)",
          fields=POOL + TRAIN + TASKS + DISCOVERY + ('disc_width', 'inner_batch', 'inner_lr', 'inner_steps', 'n_ablation',
                                                     'e5_n_baseline'),
          runs=("main",), priority=3)
def e6_proxy_as(p, data_path=None):
    """E6: proxy-AS (Algorithm 1, ``inner_steps`` steps) vs AS, and agreement over inner steps,
    for human, random and discovered tasks (App. I.1, Fig. 16)."""
    ds = dataset_for(p, data_path)
    names = default_task_names(p.replace(n_human=p.e5_n_baseline, n_random=p.e5_n_baseline))   # E5's, AS stored there
    todo = names["human"][: p.n_ablation] + names["random"][: p.n_ablation]
    n_disc = len(require_tasks(ds, p)["tasks"])       # the main run, made with p's settings (else refused)
    todo += [f"discovered:{i}" for i in range(min(p.n_ablation, n_disc))]

    def item(name):
        def run():
            labels = task_by_name(ds, name if not name.startswith("discovered") else f"{name}:{p.name}")
            out = {"task": name, "kind": name.split(":")[0], **inner_loop_curve(ds, labels, p)}
            stored = _stored_as(p, name)
            out["agreement"] = stored if stored is not None else agreement_score(ds, labels, p)["agreement"]
            out["as_from"] = "stored" if stored is not None else "computed"
            return out
        return run
    return run_items("e6", p, {n: item(n) for n in todo}, data=ds, desc="E6 proxy-AS")


@register("e7", page="sec4_discovery", pool="main", needs=(),
          title="Random-network tasks and naive discovery (Sec. 4.4, App. H, Fig. 15)",
          fields=POOL + TRAIN + TASKS + ('n_ablation', 'n_random', 'n_tasks', 'naive_max_draws', 'naive_threshold'))
def e7_random_networks(p, data_path=None):
    """E7: random-network tasks (Sec. 4.4, App. H, Fig. 15): high AS, but similar to each other;
    naive discovery (keep a draw if its max similarity to the kept ones is below a threshold)."""
    ds = dataset_for(p, data_path)
    n = max(p.n_random, 2)
    cache = {}

    def tasks():
        if "t" not in cache:
            cache["t"] = np.stack([random_network_task(ds.x, s, p.arch, p.width) for s in range(n)])
        return cache["t"]

    items = {"similarity": lambda: {"n": n, "arch": p.arch, "width": p.width,
                                    "similarity_matrix": np.round(similarity_matrix(tasks()), 4).tolist(),
                                    "mean_similarity": mean_pairwise_similarity(tasks())}}
    for s in range(min(p.n_ablation, n)):
        items[f"randnet:{s}"] = (lambda s=s: _as_entry(ds, f"randnet:{s}", tasks()[s], p))

    def naive():
        kept, seeds, draws = naive_discovery(ds.x, p.n_tasks, p.naive_threshold, p.naive_max_draws,
                                             arch=p.arch, width=p.width)
        return {"wanted": p.n_tasks, "found": len(kept), "draws": draws, "threshold": p.naive_threshold,
                "seeds": seeds, "max_draws": p.naive_max_draws}
    items["naive"] = naive
    return run_items("e7", p, items, data=ds, desc="E7 random networks")


def sweep_point(p, lam: float, d: int):
    """The profile and folder of one λ / d discovery run of E18 (also read by E12)."""
    q = p.replace(uniformity_weight=lam, emb_dim=d, n_tasks=d, meta_steps=p.sweep_meta_steps)
    return q, discovery_dir(p.name) / f"sweep_l{lam:g}_d{d}"


def tradeoff_point(p, lam, d, ds=None, data_path=None) -> dict:
    """One E18 point: a short discovery run with uniformity weight ``lam`` and embedding size ``d``
    (App. E), then the AS and mean pairwise similarity of its tasks (an E18 entry)."""
    ds = ds if ds is not None else dataset_for(p, data_path)
    q, out_dir = sweep_point(p, lam, d)
    k = min(p.sweep_n_tasks, d)
    tasks, summ = discover_tasks(ds, q, out_dir, n_sample=k)
    ases = [agreement_score(ds, t, p, seed=i)["agreement"] for i, t in enumerate(tasks)]
    return {"lambda": float(lam), "d": int(d), "mean_as": float(np.mean(ases)), "as": ases,
            "mean_similarity": mean_pairwise_similarity(tasks),
            "final_proxy_as": float(np.mean([h["proxy_as"] for h in summ["history"][-5:]]))}


def tradeoff_runner(store, data_path=None):
    """``(λ, d) -> E18 entry`` at the profile of a stored E18 (the book's live sliders)."""
    p = get_profile(store.data["profile"])
    return lambda lam, d: tradeoff_point(p, lam, d, data_path=data_path)


@register("e18", page="sec4_discovery", pool="main", needs=(),
          title="The lambda / d trade-off (App. E, Fig. 13)",
          fields=POOL + TRAIN + DISCOVERY + ('inner_checkpoint', 'sweep_dims', 'sweep_meta_steps', 'sweep_n_tasks', 'sweep_weights', 'task_seed'),
          runs=("sweep",))
def e18_tradeoff(p, data_path=None):
    """E18: the λ / d trade-off (App. E, Fig. 13): for each uniformity weight λ and embedding size
    d, a shorter discovery run, then the mean AS and mean pairwise similarity of its tasks."""
    ds = dataset_for(p, data_path)

    def point(lam, d):
        return lambda: tradeoff_point(p, lam, d, ds)
    items = {f"lambda={lam:g}/d={d}": point(lam, d) for d in p.sweep_dims for lam in p.sweep_weights}
    return run_items("e18", p, items, data=ds, desc="E18 λ/d sweep")
