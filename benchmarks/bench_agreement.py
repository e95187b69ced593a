"""Time tdlib's AS training against a plain baseline, every implementation in one run (issue 11).

Baseline: the straightforward loop: a DataLoader over CPU tensors (host->device copy per batch), fp32,
the two networks trained one after the other. tdlib: ``tdlib.train.train_networks`` with each
``train_impl`` (``plain``: data kept on the device, seeded on-device permutation, bf16 autocast and
channels-last on CUDA; ``streams``: the pair interleaved on two CUDA streams; ``graph``: CUDA graph of
the train step; ``streams+graph``), each training the pair of one AS task.

    python benchmarks/bench_agreement.py                      # CPU, small sizes (seconds)
    python benchmarks/bench_agreement.py --n 45000 --epochs 2 --archs resnet18 mlp vit --width 64   # GPU

Prints one JSON row per architecture: seconds per epoch per network of the baseline and of each impl,
the ratio baseline/impl, images/s, and (CUDA) the achieved fraction of a bf16 peak given with
``--peak-tflops`` (H100/H200 SXM dense bf16: 989). On CUDA the rows are stored as
``benchmarks/results/agreement_<date>_<gpu>.json`` with the GPU's name, the date and the commit.
"""
from __future__ import annotations

import argparse
import datetime
import json
import re
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tdlib.models import build_model  # noqa: E402
from tdlib.train import TRAIN_IMPLS, default_device, train_networks  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline_train(x, y, arch, width, epochs, batch_size, lr, seed, device):
    """The plain loop: DataLoader, per-batch copies, fp32."""
    torch.manual_seed(seed)
    model = build_model(arch, 2, width).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size,
                                         shuffle=True, generator=torch.Generator().manual_seed(seed))
    model.train()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


def train_flops_per_image(arch, width, device):
    """Forward+backward FLOPs of one image (3x forward), from torch's FLOP counter."""
    from torch.utils.flop_counter import FlopCounterMode
    model = build_model(arch, 2, width).to(device)
    x = torch.randn(8, 3, 32, 32, device=device)
    with FlopCounterMode(display=False) as fc:
        model(x).sum().backward()
    return fc.get_total_flops() / 8


# as in an AS task (Eq. 1, every source of stochasticity varied): cuDNN may pick its fastest kernels
PAIR = [{"init_seed": 0, "order_seed": 0, "deterministic": False},
        {"init_seed": 1, "order_seed": 1, "deterministic": False}]


def _time(fn, device) -> float:
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="training images (paper: 45000)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs timed per network")
    ap.add_argument("--archs", nargs="+", default=["cnn", "mlp"])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--impls", nargs="+", default=list(TRAIN_IMPLS), choices=TRAIN_IMPLS)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak of the GPU")
    ap.add_argument("--paper-epochs", type=int, default=100, help="to extrapolate seconds per AS task")
    ap.add_argument("--out", default=None, help="JSON file for the rows (default on CUDA: benchmarks/results/)")
    args = ap.parse_args(argv)
    device = default_device()
    x = torch.randn(args.n, 3, 32, 32)
    y = torch.randint(0, 2, (args.n,))
    rows = []
    for arch in args.archs:
        kw = dict(arch=arch, width=args.width, batch_size=args.batch_size, device=device)
        # warm-up (cuDNN autotune, allocator) on a few batches, untimed
        baseline_train(x[:1024], y[:1024], arch, args.width, 1, args.batch_size, 1e-3, 0, device)
        w = 1024 + args.n % args.batch_size               # also the last, partial batch's shape
        train_networks(x[:w], y[:w], PAIR[:1], epochs=1, impl="graph", **kw)
        per_epoch = 2 * args.epochs                               # network-epochs of one pair
        base = _time(lambda: [baseline_train(x, y, arch, args.width, args.epochs, args.batch_size, 1e-3, r["init_seed"],
                                             device) for r in PAIR], device) / per_epoch
        row = {"arch": arch, "device": str(device), "n": args.n, "width": args.width,
               "batch_size": args.batch_size, "epochs": args.epochs,
               "baseline_s_per_epoch": round(base, 4), "impls": {}}
        flops = train_flops_per_image(arch, args.width, device) if device.type == "cuda" else None
        for impl in args.impls:
            try:
                t = _time(lambda: train_networks(x, y, PAIR, epochs=args.epochs, impl=impl, **kw), device) / per_epoch
            except Exception as e:                                # one broken impl must not lose the others
                row["impls"][impl] = {"error": f"{type(e).__name__}: {e}",
                                      "trace": traceback.format_exc(limit=3)[-1500:]}
                continue
            r = {"s_per_epoch": round(t, 4), "images_per_s": round(args.n / t), "speedup": round(base / t, 2),
                 "s_per_AS_task_paper_epochs": round(2 * args.paper_epochs * t, 1)}
            if flops:
                r["fraction_of_bf16_peak"] = round(flops * args.n / t / (args.peak_tflops * 1e12), 4)
            row["impls"][impl] = r
        ok = {k: v for k, v in row["impls"].items() if "speedup" in v}
        if ok:
            best = max(ok, key=lambda k: ok[k]["speedup"])
            row.update(best_impl=best, tdlib_s_per_epoch=ok[best]["s_per_epoch"], speedup=ok[best]["speedup"])
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = args.out or (RESULTS_DIR / _default_name(device) if device.type == "cuda" else None)
    if out:
        save(rows, out, device)
    return rows


def _default_name(device) -> str:
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", torch.cuda.get_device_name(device)).strip("-")
    return f"agreement_{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M}_{gpu}.json"


def save(rows, out, device) -> Path:
    from tdlib.lab.results import git_commit
    meta = {"benchmark": "bench_agreement", "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "torch": torch.__version__, "commit": git_commit(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:], "rows": rows}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(meta, indent=1))
    print(f"stored {out}", flush=True)
    return out


if __name__ == "__main__":
    main()
