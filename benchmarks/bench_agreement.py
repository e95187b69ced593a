"""Time tdlib's AS training against a plain baseline, in one run (issue: speed).

Baseline: the straightforward loop: a DataLoader over CPU tensors (host->device copy per batch), fp32,
the two networks trained one after the other. tdlib: ``tdlib.train.train_classifier`` (data kept on
the device, seeded on-device permutation, bf16 autocast and channels-last on CUDA).

    python benchmarks/bench_agreement.py                      # CPU, small sizes (seconds)
    python benchmarks/bench_agreement.py --n 45000 --epochs 2 --archs resnet18 mlp vit --width 64   # GPU

Prints seconds per epoch, images/s, the ratio baseline/tdlib, and (CUDA) the achieved fraction of a
bf16 peak given with ``--peak-tflops`` (H100 SXM dense bf16: 989).
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F

from tdlib.models import build_model
from tdlib.train import default_device, train_classifier


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="training images (paper: 45000)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs timed per network")
    ap.add_argument("--archs", nargs="+", default=["cnn", "mlp"])
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak of the GPU")
    ap.add_argument("--paper-epochs", type=int, default=100, help="to extrapolate seconds per AS task")
    args = ap.parse_args(argv)
    device = default_device()
    x = torch.randn(args.n, 3, 32, 32)
    y = torch.randint(0, 2, (args.n,))
    rows = []
    for arch in args.archs:
        # warm-up (cuDNN autotune, allocator) on a few batches, untimed
        baseline_train(x[:1024], y[:1024], arch, args.width, 1, args.batch_size, 1e-3, 0, device)
        train_classifier(x[:1024], y[:1024], arch=arch, width=args.width, epochs=1,
                         batch_size=args.batch_size, device=device)
        times = {}
        for name, fn in [("baseline", lambda s: baseline_train(x, y, arch, args.width, args.epochs,
                                                                 args.batch_size, 1e-3, s, device)),
                         ("tdlib", lambda s: train_classifier(x, y, arch=arch, width=args.width,
                                                              epochs=args.epochs, batch_size=args.batch_size,
                                                              init_seed=s, order_seed=s, device=device))]:
            sync(device)
            t0 = time.perf_counter()
            for seed in (0, 1):                       # the pair of networks of one AS task
                fn(seed)
            sync(device)
            times[name] = (time.perf_counter() - t0) / (2 * args.epochs)      # seconds per epoch per net
        row = {"arch": arch, "device": str(device), "n": args.n, "width": args.width,
               "baseline_s_per_epoch": round(times["baseline"], 4), "tdlib_s_per_epoch": round(times["tdlib"], 4),
               "tdlib_images_per_s": round(args.n / times["tdlib"]),
               "speedup": round(times["baseline"] / times["tdlib"], 2),
               "tdlib_s_per_AS_task_paper_epochs": round(2 * args.paper_epochs * times["tdlib"], 1)}
        if device.type == "cuda":
            flops = train_flops_per_image(arch, args.width, device)
            row["fraction_of_bf16_peak"] = round(flops * args.n / times["tdlib"] / (args.peak_tflops * 1e12), 4)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
