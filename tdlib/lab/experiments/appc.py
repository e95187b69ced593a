"""App. C experiment: E17, K-way task discovery. AS is :func:`~tdlib.agreement.agreement_score`,
exactly as in E1 (it trains networks with K outputs when the labels have K classes)."""
from __future__ import annotations

from ...agreement import agreement_score
from ...data import dataset_for
from ...discovery import discover
from ..runs import discovery_dir, load_task_file, load_tasks, run_name
from ..results import run_items
from ...tasks import kway_similarity, task_by_name
from . import DISCOVERY, POOL, TRAIN, register


def _kway_entry(ds, name, labels, p, k):
    return {"task": name, "kind": name.split(":")[0], "k": k, **agreement_score(ds, labels, p)}


@register("e17", page="sec4_discovery", pool="main", needs=(),
          title="K-way task discovery (App. C)",
          fields=POOL + TRAIN + DISCOVERY + ('grid_k', 'inner_checkpoint', 'kway_classes', 'kway_meta_steps', 'kway_n_tasks',
                                              'task_seed'),
          runs=("kway",))
def e17_kway(p, data_path=None):
    """E17: for each K in ``kway_classes``, a K-way discovery run (App. C; ``kway_meta_steps``
    meta-steps, stored in ``discovery/k{K}/``, tasks ``discovered:I:PROFILE/kK``; entry keys
    ``discovered:kK:I``), then the AS of ``kway_n_tasks`` discovered K-way
    tasks next to as many balanced random K-way labellings and human K-way tasks (CIFAR-10's
    classes in K near-equal groups). Chance agreement of K balanced classes is 1/K. Entries
    ``images:kK:I``: the ``grid_k`` most discriminative images of each class of discovered task I
    (the paper's App. C figure)."""
    ds = dataset_for(p, data_path)
    items = {}
    for k in p.kway_classes:
        def run(k=k):
            q = p.replace(n_classes=k, meta_steps=p.kway_meta_steps)
            out = discover(ds, q, out_dir=discovery_dir(run_name(q)), n_sample=p.kway_n_tasks, progress=False)
            tasks = load_tasks(ds, f"{p.name}/k{k}")
            n = len(tasks)
            out["similarity_matrix"] = [[round(kway_similarity(tasks[i], tasks[j]), 4) for j in range(n)]
                                        for i in range(n)]
            return out
        items[f"discovery:k{k}"] = run

        def argmax_balance(k=k):          # App. C: the heads give balanced tasks "as far as the embeddings are
            import numpy as np            # uniform": the class fractions of the plain argmax, before the
            saved = load_task_file(ds, f"{p.name}/k{k}")     # balanced assignment (tdlib.kway) evens them
            fr = [np.bincount(np.asarray(s, np.float32).argmax(1), minlength=k) / len(s) for s in saved["scores"]]
            return {"k": k, "argmax_fractions": [[round(float(f), 4) for f in row] for row in fr],
                    "max_deviation": float(max(abs(f - 1 / k) for row in fr for f in row))}
        items[f"balance:k{k}"] = argmax_balance
    def images(k, i):
        from ..taskviz import top_images_kway
        saved = load_task_file(ds, f"{p.name}/k{k}")
        return {"task": f"discovered:{i}:{p.name}/k{k}", "k": k,
                "classes": top_images_kway(ds.images, saved["tasks"][i], saved["scores"][i], p.grid_k)}
    for i in range(p.kway_n_tasks):          # task i of every K and kind before task i + 1 (partial runs)
        for k in p.kway_classes:
            items[f"discovered:k{k}:{i}"] = (lambda k=k, i=i: _kway_entry(
                ds, f"discovered:k{k}:{i}", load_tasks(ds, f"{p.name}/k{k}")[i], p, k))
            for kind in ("random", "human"):
                name = f"{kind}:k{k}:{i}"
                items[name] = (lambda name=name, k=k: _kway_entry(ds, name, task_by_name(ds, name), p, k))
            items[f"images:k{k}:{i}"] = (lambda k=k, i=i: images(k, i))
    return run_items("e17", p, items, data=ds, desc="E17 K-way discovery")

