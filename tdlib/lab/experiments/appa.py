"""App. A experiment: E21, task discovery on Tiny ImageNet (Fig. 8). Needs the data
(``TDLIB_TINYIMAGENET`` or ``data_path``, see :mod:`tdlib.data`); without it, a
:class:`~tdlib.data.DataNotFoundError` says how to get it. Not run in CI or the book."""
from __future__ import annotations

import numpy as np

from ...agreement import agreement_score
from ...data import dataset_for
from ...discovery import discover
from ..runs import discovery_dir
from ..results import run_items
from ...tasks import human_kway_task, similarity_matrix
from . import DISCOVERY, POOL, TRAIN, register


def tinyimagenet_profile(p):
    """The profile ``p`` on Tiny ImageNet: ``tin_n_train`` / ``tin_n_test`` images of ``tin_image_size``."""
    return p.replace(dataset="tinyimagenet", n_train=p.tin_n_train, n_test=p.tin_n_test)


@register("e21", page="sec4_discovery", pool="main", needs=(),
          title="Task discovery on Tiny ImageNet (App. A, Fig. 8)",
          fields=POOL + TRAIN + DISCOVERY + ('n_human', 'tin_n_test', 'tin_n_train'),
          runs=("main",), skip="needs Tiny ImageNet ($TDLIB_TINYIMAGENET)")
def e21_tinyimagenet(p, data_path=None):
    """E21: binary discovery on Tiny ImageNet with the profile's encoder and d (App. A), stored in
    ``discovery/tinyimagenet/``; then the AS of the discovered tasks and of ``n_human`` human binary
    tasks (the 200 classes split 100 vs 100, seeded, ``human:k2:i``), as in E1.
    Paper: every discovered task has AS above 0.8, the human tasks below 0.65."""
    q = tinyimagenet_profile(p)
    ds = dataset_for(q, data_path)                         # DataNotFoundError (with the fix) if absent
    out_dir = discovery_dir(p.name) / "tinyimagenet"

    def tasks():
        with np.load(out_dir / "tasks.npz") as z:
            return z["tasks"].astype(np.int64)

    def run_discovery():
        out = discover(ds, q, out_dir=out_dir, progress=False)
        out["similarity_matrix"] = similarity_matrix(tasks()).round(4).tolist()
        return out
    items = {"discovery": run_discovery}
    for i in range(q.n_tasks):
        items[f"discovered:{i}"] = (lambda i=i: {"task": f"discovered:{i}", "kind": "discovered",
                                                 **agreement_score(ds, tasks()[i], q)})
    for i in range(q.n_human):
        items[f"human:k2:{i}"] = (lambda i=i: {"task": f"human:k2:{i}", "kind": "human", **agreement_score(
            ds, human_kway_task(ds.classes, 2, i, ds.num_classes), q)})
    return run_items("e21", q, items, data=ds, desc="E21 Tiny ImageNet")
