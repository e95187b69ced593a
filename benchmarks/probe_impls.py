"""Which train_impl departs from "plain" on CUDA, and by how much against plain rerun (nondeterminism).

    python benchmarks/probe_impls.py            # on a GPU: ~30 s; writes $OUT/impl_diag.json (default /tmp)
    EPOCHS=1 WIDTH=4 python benchmarks/probe_impls.py   # a CPU rehearsal (every impl is "plain" there)
    N=4096 ...                                  # training images (4,096: no partial batch at 512)

The pair of Eq. 1 (vary init and order, seed 0) on synthetic data, task human:0, the gpu profile with
fit_stop 0; per impl its AS, test accuracy and the fraction of test predictions equal to plain's. Stored
run: benchmarks/results/impl_cuda_20261204_NVIDIA-H200.json (tests/test_gpu.py cites it)."""
import json, os, sys, time
import numpy as np, torch
sys.path.insert(0, os.getcwd())
from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib import tasks
from tdlib.agreement import agreement_score
N = int(os.environ.get("N", 4000))
WIDTH = {"width": int(os.environ["WIDTH"])} if "WIDTH" in os.environ else {}
ds = load_dataset("synthetic", n_train=N, n_test=1000, seed=0)
lab = tasks.task_by_name(ds, "human:0")
rows = {}
DEV = "cuda" if torch.cuda.is_available() else "cpu"
for epochs in tuple(int(e) for e in os.environ.get("EPOCHS", "3,15").split(",")):
    p = get_profile("gpu", epochs=epochs, fit_stop=0.0, n_train=N, **WIDTH)
    runs = {}
    for impl in ("plain", "plain2", "streams", "graph", "streams+graph"):
        t = time.perf_counter()
        r = agreement_score(ds, lab, p.replace(train_impl=impl.rstrip("2")), vary=("init", "order"), device=DEV,
                            return_predictions=True)
        runs[impl] = r
        print(epochs, impl, round(r["agreement"], 4), round(r["test_acc"], 4), f"{time.perf_counter()-t:.1f}s", flush=True)
    ref = runs["plain"]["predictions"]
    for impl, r in runs.items():
        same = [float(np.mean(np.array(a) == np.array(b))) for a, b in zip(ref, r["predictions"])]
        rows[f"{epochs}ep:{impl}"] = {"AS": r["agreement"], "test_acc": r["test_acc"], "pred_agree_with_plain": same}
        print(epochs, impl, "pred agree with plain", [round(s, 4) for s in same], flush=True)
out = os.environ.get("OUT", "/tmp")
json.dump({"device": (torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu"), "torch": torch.__version__, "rows": rows},
          open(os.path.join(out, "impl_diag.json"), "w"), indent=1)
