"""Sec. 5 (empirical study of tasks) and App. G experiments:

- E11 (Sec. 5.4): the green pixel task: AS, test accuracy, accuracy with the other pixels / that pixel noised.
- E20 (App. G, Prop. 1): the inequalities between AS and best-case accuracy on trained networks.
- E10 (Sec. 5.3, Fig. 5): AS measured on test images of other domains (+ Gaussian noise).
- E9 (Sec. 5.2, Fig. 4-left): AS of task groups on each architecture; correlations between them.
- E8 (Sec. 5.1, Fig. 4-right, App. B): the most discriminative images of each class of a task.

E9 and E8 use discovered tasks (Sec. 4, :mod:`tdlib.discovery`): E9 one group per architecture of
``p.study_disc_archs``, discovered *with* that architecture (:func:`discovered_groups`; the profile's own arch is
the default discovery run, the others run in ``discovery/arch_<arch>``), E8 the grids of discovered
tasks. Random-network tasks (``randnet:SEED[:ARCH]``, Sec. 4.4; high AS, but very similar to each
other, App. H) stay as an extra group, and are still the high-AS group of E10.
"""
from __future__ import annotations

import numpy as np

from ...agreement import pair_agreements, train_pair
from ...data import dataset_for
from ..results import run_items
from ...tasks import default_task_names, task_by_name
from . import DISCOVERY, POOL, TASKS, TRAIN, register

# high-AS group of random-network tasks (Sec. 4.4), beside the discovered ones
HIGH_AS_STANDIN = "randnet"


def study_groups(p, extra: "dict | None" = None) -> dict:
    """Task groups of Sec. 5.2-5.3: ``human``, ``random`` and the high-AS stand-in ``randnet``
    (``p.study_group_size`` each), plus ``extra`` (group -> task names, e.g. discovered tasks)."""
    k = p.study_group_size
    names = default_task_names(p.replace(n_human=max(k, 1), n_random=max(k, 1)))
    groups = {"human": names["human"][:k], "random": names["random"][:k],
              HIGH_AS_STANDIN: [f"randnet:{s}" for s in range(k)]}
    groups.update(extra or {})
    return groups


def discovered_groups(p, archs=None) -> dict:
    """``{"discovered-<arch>": names}``: the first ``p.study_group_size`` tasks discovered with each
    arch of ``archs`` (default ``p.study_disc_archs``), named ``discovered:K:<where>`` (see
    :func:`~tdlib.lab.runs.arch_run`)."""
    from ..runs import arch_run
    k = min(p.study_group_size, p.n_tasks)
    return {f"discovered-{a}": [f"discovered:{i}:{arch_run(p, a)[1]}" for i in range(k)]
            for a in (archs or p.study_disc_archs)}


def ensure_discovered(ds, p, arch) -> dict:
    """Run discovery with ``arch`` (:func:`~tdlib.lab.runs.arch_run`) unless its tasks are saved
    for this dataset after all its meta-steps; a summary of the run."""
    from ..runs import arch_run, discovery_dir, require_tasks
    from ...tasks import mean_pairwise_similarity
    q, where = arch_run(p, arch)
    saved = require_tasks(ds, q, where)               # trained or resumed first; other settings refused
    import torch
    ck = discovery_dir(where) / "encoder.pt"        # not kept for every run (the MLP's is 5 MB at cpu)
    hist = torch.load(ck, map_location="cpu", weights_only=True)["history"] if ck.is_file() else []
    pas = [h["proxy_as"] for h in hist] or [float("nan")]
    with np.load(saved["path"]) as z:
        steps = int(z["step"])
    return {"arch": arch, "where": where, "meta_steps": steps, "n_tasks": int(len(saved["tasks"])),
            "mean_similarity": mean_pairwise_similarity(saved["tasks"]),
            "proxy_as_first5": float(np.mean(pas[:5])), "proxy_as_last5": float(np.mean(pas[-5:])),
            "seconds_per_meta_step": float(np.mean([h["seconds"] for h in hist])) if hist else float("nan")}


def _study_train_idx(ds, p):
    return ds.train_idx[: min(p.study_n_train, len(ds.train_idx))]


# ----------------------------------------------------------------------------------------------
@register("e11", page="sec5_study", pool="main", needs=(),
          title="The green pixel task (Sec. 5.4)",
          fields=POOL + TRAIN + ('green_arch', 'green_epochs', 'green_n_train', 'green_pixel'))
def e11_green_pixel(p, data_path=None):
    """E11: the green pixel task (Sec. 5.4). One entry with the profile's recipe (``p.arch`` on X_tr for
    ``p.epochs``), and, where they differ from it, one with ``p.green_arch`` trained on
    ``p.green_n_train`` images for ``p.green_epochs`` (Sec. 3.2: 45K images, trained to ~zero train
    error). On CPU the 4K-image CNN learns the colour of the pixel's *neighbourhood* rather than the
    pixel itself; reliance on the pixel grows with the training set and with training length. The
    entry ``neighbour cue`` measures how well the neighbours' green values alone predict the label
    (:func:`tdlib.greenpixel.neighbour_cue`): the reason the noised-pixel accuracy stays above chance."""
    from ...data import load_dataset
    from ...greenpixel import green_pixel_study
    task = "greenpixel:{},{}".format(*p.green_pixel)
    ds = dataset_for(p, data_path)
    configs = {f"{task} [{p.arch}, {len(ds.train_idx)} train, {p.epochs} ep]": (p.arch, None, p.epochs)}
    if (p.green_arch, p.green_n_train, p.green_epochs) != (p.arch, p.n_train, p.epochs):
        configs[f"{task} [{p.green_arch}, {p.green_n_train} train, {p.green_epochs} ep]"] = (
            p.green_arch, p.green_n_train, p.green_epochs)

    def item(arch, n_train, epochs):
        def run():
            d = ds if n_train is None else load_dataset(p.dataset, n_train, p.n_test, p.split_seed,
                                                         data_path=data_path)
            return {"task": task, "n_train": int(len(d.train_idx)), "epochs": epochs,
                    **green_pixel_study(d, p.replace(epochs=epochs), arch=arch)}
        return run
    items = {k: item(*v) for k, v in configs.items()}
    from ...greenpixel import neighbour_cue            # the measured reason a network may read the neighbours
    items["neighbour cue"] = lambda: {"kind": "neighbour_cue",
                                      **neighbour_cue(ds.images, p.green_pixel, ds.train_idx, ds.test_idx)}
    return run_items("e11", p, items, data=ds, desc="E11 green pixel")


# ----------------------------------------------------------------------------------------------
def prop1_tasks(p) -> list:
    names = default_task_names(p.replace(n_human=1, n_random=1))
    return [names["human"][0], names["random"][0], "greenpixel:{},{}".format(*p.green_pixel), "randnet:0"]


@register("e20", page="sec5_study", pool="main", needs=(),
          title="Proposition 1: AS bounds accuracy (App. G)",
          fields=POOL + TRAIN + TASKS + ('green_pixel', 'prop1_arch', 'prop1_models'))
def e20_proposition1(p, data_path=None):
    """E20: App. G, Prop. 1 checked on ``p.prop1_models`` networks per task (``p.prop1_arch``)."""
    from ...bounds import check_proposition1
    from ...train import predict
    ds = dataset_for(p, data_path)

    def item(name):
        def run():
            labels = task_by_name(ds, name)
            pair = train_pair(ds, labels, p, arch=p.prop1_arch, n_models=p.prop1_models)
            preds = np.stack([predict(m, ds.x[ds.test_idx], amp=p.amp) for m in pair["models"]])
            return {"task": name, "kind": name.split(":")[0], "arch": pair["arch"],
                    "train_acc": pair["train_acc"], "seconds": pair["seconds"],
                    **check_proposition1(preds, labels[ds.test_idx])}
        return run
    return run_items("e20", p, {n: item(n) for n in prop1_tasks(p)}, data=ds, desc="E20 Prop. 1")


# ----------------------------------------------------------------------------------------------
@register("e10", page="sec5_study", pool="main", needs=(),
          title="AS on other domains (Sec. 5.3, Fig. 5)",
          fields=POOL + TRAIN + TASKS + DISCOVERY + ('domain_archs', 'domain_n_images', 'study_group_size',
                                                     'study_n_train', 'task_seed'),
          runs=("main",))
def e10_domains(p, data_path=None, root=None):
    """E10: AS on test images of other domains (Sec. 5.3, Fig. 5), for ``p.domain_archs``; X_tr is the
    first ``p.study_n_train`` training images. Groups: human, random, the first ``p.study_group_size``
    discovered tasks of the profile's main run (Fig. 5) and random-network tasks. Missing datasets are
    listed in the ``domains`` entry."""
    from ..runs import require_tasks
    from ...domains import load_domains
    ds = dataset_for(p, data_path)
    tr = _study_train_idx(ds, p)
    dom = load_domains(n=p.domain_n_images, root=root, data_path=data_path, seed=p.split_seed)
    test_sets = {"cifar10 (X_te)": ds.x[ds.test_idx], **dom["sets"]}
    n_disc = min(p.study_group_size, len(require_tasks(ds, p)["tasks"]))
    groups = study_groups(p, {"discovered": [f"discovered:{i}:{p.name}" for i in range(n_disc)]})

    def item(arch, name, group):
        def run():
            pair = train_pair(ds, task_by_name(ds, name), p, arch=arch, train_idx=tr)
            res = pair_agreements(pair, test_sets)
            return {"task": name, "group": group, "arch": arch, "n_train": len(tr),
                    "agreement": {k: v["agreement"] for k, v in res.items()},
                    "majority": {k: v["majority"] for k, v in res.items()}, "seconds": pair["seconds"]}
        return run
    items = {"domains": lambda: {"present": dom["present"], "missing": dom["missing"]}}
    items.update({f"{a}/{n}": item(a, n, g) for a in p.domain_archs for g, ns in groups.items() for n in ns})
    return run_items("e10", p, items, data=ds, desc="E10 domains")


# ----------------------------------------------------------------------------------------------
@register("e9", page="sec5_study", pool="main", needs=(),
          title="AS across architectures (Sec. 5.2)",
          fields=POOL + TRAIN + TASKS + DISCOVERY + ('archs', 'meta_steps', 'n_tasks', 'study_disc_archs', 'study_disc_meta_steps', 'study_group_size', 'study_n_train'),
          runs=("main", "archs"))
def e9_architectures(p, data_path=None, extra_groups=None):
    """E9: AS of each group's tasks measured with each architecture of ``p.archs`` (Sec. 5.2); X_tr is
    the first ``p.study_n_train`` training images. Groups: human, random, random-network, and tasks
    discovered with each architecture (entries ``discovery/<arch>`` run the discoveries first);
    ``extra_groups`` adds more."""
    ds = dataset_for(p, data_path)
    tr = _study_train_idx(ds, p)
    groups = study_groups(p, {**discovered_groups(p), **(extra_groups or {})})

    def item(arch, name, group):
        def run():
            pair = train_pair(ds, task_by_name(ds, name), p, arch=arch, train_idx=tr)
            res = pair_agreements(pair, {"X_te": ds.x[ds.test_idx]})["X_te"]
            return {"task": name, "group": group, "arch": arch, "agreement": res["agreement"],
                    "n_train": len(tr), "train_acc": pair["train_acc"], "seconds": pair["seconds"]}
        return run
    items = {f"discovery/{a}": (lambda a=a: ensure_discovered(ds, p, a)) for a in p.study_disc_archs}
    items.update({f"{a}/{n}": item(a, n, g) for g, ns in groups.items() for n in ns for a in p.archs})
    return run_items("e9", p, items, data=ds, desc="E9 architecture matrix")


def _as_entries(store) -> list:
    return [e for k, e in store.entries.items() if not k.startswith("discovery/")]


def arch_matrix(store) -> dict:
    """From an E9 store: ``{"tasks": [...], "groups": [...], "archs": [...], "as": (T, A) array}``."""
    entries = _as_entries(store)
    archs = list(dict.fromkeys(e["arch"] for e in entries))
    tasks = list(dict.fromkeys(e["task"] for e in entries))
    group = {e["task"]: e["group"] for e in entries}
    table = np.full((len(tasks), len(archs)), np.nan)
    for e in entries:
        table[tasks.index(e["task"]), archs.index(e["arch"])] = e["agreement"]
    return {"tasks": tasks, "groups": [group[t] for t in tasks], "archs": archs, "as": table}


def arch_correlations(store, groups=None) -> dict:
    """Pearson correlation of the AS between each pair of architectures (Sec. 5.2), over all tasks
    (``"all"``) and within each group. NaN where fewer than 3 tasks or no spread."""
    m = arch_matrix(store)
    sel = {"all": list(range(len(m["tasks"])))}
    for g in dict.fromkeys(m["groups"]):
        if groups is None or g in groups:
            sel[g] = [i for i, gg in enumerate(m["groups"]) if gg == g]
    out = {}
    for name, idx in sel.items():
        for i, a in enumerate(m["archs"]):
            for j, b in enumerate(m["archs"]):
                if j <= i:
                    continue
                u, v = m["as"][idx, i], m["as"][idx, j]
                ok = ~(np.isnan(u) | np.isnan(v))
                r = (float(np.corrcoef(u[ok], v[ok])[0, 1])
                     if ok.sum() >= 3 and u[ok].std() > 0 and v[ok].std() > 0 else float("nan"))
                out[(name, a, b)] = r
    return out


# ----------------------------------------------------------------------------------------------
@register("e8", page="sec5_study", pool="main", needs=(),
          title="Most discriminative images of discovered tasks (Sec. 5.1, App. B)",
          fields=POOL + DISCOVERY + ('green_pixel', 'grid_k', 'grid_n_discovered', 'inner_checkpoint', 'study_disc_archs', 'study_disc_meta_steps', 'task_seed'),
          runs=("main", "archs"))
def e8_grids(p, data_path=None, tasks=None):
    """E8: the ``p.grid_k`` most discriminative images of each class (Sec. 5.1, App. B) for tasks with a
    score (default: the first ``p.grid_n_discovered`` discovered tasks of the profile's default run, the
    first task discovered with each other arch of ``p.study_disc_archs``, one random-network task and
    the green pixel for comparison). Runs the discoveries first if their tasks are not saved."""
    from ..runs import arch_run
    from ..taskviz import top_images
    ds = dataset_for(p, data_path)
    others = [a for a in p.study_disc_archs if a != p.arch]
    names = tasks or ([f"discovered:{i}:{p.name}" for i in range(min(p.grid_n_discovered, p.n_tasks))]
                      + [f"discovered:0:{arch_run(p, a)[1]}" for a in others]
                      + ["randnet:0", "greenpixel:{},{}".format(*p.green_pixel)])
    for a in [p.arch] + others:
        if any(n.startswith("discovered:") and n.split(":")[2:3] == [arch_run(p, a)[1]] for n in names):
            ensure_discovered(ds, p, a)
    return run_items("e8", p, {n: (lambda n=n: top_images(ds, n, p.grid_k)) for n in names}, data=ds,
                     params={"tasks": names}, desc="E8 grids")


# ----------------------------------------------------------------------------------------------
def sis_tasks(p) -> list:
    """E22's tasks: the first ``p.grid_n_discovered`` discovered tasks of the profile's main run, and for
    comparison (App. B) the original classification (``classes:all``), a human 5-vs-5 and a random task."""
    names = default_task_names(p.replace(n_human=1, n_random=1))
    return ([f"discovered:{i}:{p.name}" for i in range(min(p.grid_n_discovered, p.n_tasks))]
            + ["classes:all", names["human"][0], names["random"][0]])


@register("e22", page="sec5_study", pool="main", needs=(),
          title="Where task networks look: SIS heatmaps (App. B, Fig. 9)",
          fields=POOL + TRAIN + DISCOVERY + ('grid_n_discovered', 'task_seed', 'sis_n_images', 'sis_patch',
                                              'sis_remove'),
          runs=("main",))
def e22_sis(p, data_path=None):
    """E22 (App. B, Fig. 9): for each task of :func:`sis_tasks`, one network trained with the profile's
    recipe on X_tr; its Sufficient Input Subsets (:mod:`tdlib.sis`) on the first ``p.sis_n_images`` test
    images, top 5% of the features as a binary mask per image, averaged into a heatmap; with its centre
    of mass and spread (pixels), each image's mask's centre, the network's train and test accuracy."""
    import torch
    from ...sis import centre_of_mass, sis_masks
    from ...train import predict
    ds = dataset_for(p, data_path)
    names = sis_tasks(p)
    if any(n.startswith("discovered:") for n in names):
        ensure_discovered(ds, p, p.arch)
    img = ds.test_idx[: p.sis_n_images]

    def item(name):
        def run():
            labels = task_by_name(ds, name)
            pair = train_pair(ds, labels, p, n_models=1)
            model = pair["models"][0]
            with torch.no_grad():
                test_acc = float(np.mean(predict(model, ds.x[ds.test_idx], amp=p.amp) == labels[ds.test_idx]))
            masks = sis_masks(model.float().cpu(), ds.x[img], patch=p.sis_patch, remove_per_round=p.sis_remove)
            heat = masks.mean(0)
            cy, cx, spread = centre_of_mass(heat)
            return {"task": name, "kind": name.split(":")[0], "train_acc": pair["train_acc"],
                    "test_acc": test_acc, "n_images": int(len(img)), "heatmap": np.round(heat, 4).tolist(),
                    "centre": [round(cy, 2), round(cx, 2)], "spread": round(spread, 2),
                    "image_centres": [[round(a, 2), round(b, 2)] for a, b, _ in map(centre_of_mass, masks)],
                    "seconds": pair["seconds"]}
        return run
    return run_items("e22", p, {n: item(n) for n in names}, data=ds, params={"tasks": names},
                     desc="E22 SIS heatmaps")
