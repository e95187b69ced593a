"""Seconds per discovery meta-step and peak memory (Sec. 4, App. I.2), our engine vs `higher`.

    OMP_NUM_THREADS=1 python benchmarks/bench_discovery.py            # cpu profile (+ paper on CUDA)
    python benchmarks/bench_discovery.py --profile smoke --steps 2    # quick
    python benchmarks/bench_discovery.py --store                      # on CUDA: also write
        benchmarks/results/discovery_<gpu>_<date>.json (GPU name, date, commit, s/meta-step,
        meta-steps per GPU-minute per variant); refused without CUDA (prepared, not yet run)

One meta-step = sample a hyperplane, unroll ``inner_steps`` SGD steps of two fresh networks on the
encoder's soft labels (Algorithm 1), backward through the unroll, one Adam step on the encoder.
Variants: ``torch.func`` (ours, :mod:`tdlib.unroll`), ours with every inner step checkpointed, and
the same meta-step written with ``higher.innerloop_ctx`` (what the paper used). Each variant runs in
a fresh process so its peak memory (CPU: max RSS; CUDA: max allocated) is its own. Synthetic images
(timing only depends on shapes).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _higher_meta_loss(encoder, u, batches, p, seeds, device):
    import higher
    import torch

    from tdlib.discovery import task_probs, uniformity_loss
    from tdlib.models import build_model
    from tdlib.unroll import agreement_term, soft_cross_entropy
    nets = []
    for s in seeds:
        torch.manual_seed(int(s))
        nets.append(build_model(p.arch, 2, p.disc_width).to(device).train())
    opts = [torch.optim.SGD(n.parameters(), lr=p.inner_lr) for n in nets]
    total, extra = 0.0, 0.0
    with higher.innerloop_ctx(nets[0], opts[0], copy_initial_weights=True) as (f1, d1), \
            higher.innerloop_ctx(nets[1], opts[1], copy_initial_weights=True) as (f2, d2):
        for x in batches:
            emb = encoder.train()(x)
            probs = task_probs(emb @ u, p.temperature)
            l1, l2 = f1(x), f2(x)
            total = total + agreement_term(l1, l2)
            extra = extra + uniformity_loss(emb)
            d1.step(soft_cross_entropy(l1, probs))
            d2.step(soft_cross_entropy(l2, probs))
    return -total / len(batches) + p.uniformity_weight * extra / len(batches)


def _worker(args, q):
    import torch

    from tdlib.discovery import build_encoder, meta_step_loss, orthogonal_hyperplanes
    p, variant, steps, device, warmup = args
    p = p.replace(early_stop_agreement=2.0)                # time the full unroll (the `higher` loop has no early stop)
    dev = torch.device(device)
    torch.manual_seed(0)
    encoder = build_encoder(p.arch, p.emb_dim, p.disc_width).to(dev)
    opt = torch.optim.Adam(encoder.parameters(), lr=p.meta_lr)
    planes = orthogonal_hyperplanes(p.emb_dim, p.n_tasks).to(dev)
    x = torch.randn(p.inner_batch * 4, 3, 32, 32, device=dev)
    times = []
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    try:
        for k in range(steps + warmup):                      # warm-up steps are not timed
            batches = [x[torch.randint(len(x), (p.inner_batch,), device=dev)] for _ in range(p.inner_steps)]
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            if variant == "higher":
                loss = _higher_meta_loss(encoder, planes[k % p.n_tasks], batches, p, [2 * k, 2 * k + 1], dev)
            else:
                loss, _ = meta_step_loss(encoder, planes[k % p.n_tasks], batches, p, [2 * k, 2 * k + 1],
                                         checkpoint=(variant == "ours+checkpoint"), device=dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            if k >= warmup:
                times.append(time.perf_counter() - t0)
        peak = (torch.cuda.max_memory_allocated() / 2 ** 30 if dev.type == "cuda"
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20)
        q.put({"s_per_meta_step": sum(times) / len(times), "peak_gib": peak, "error": None})
    except torch.OutOfMemoryError:
        q.put({"s_per_meta_step": None, "peak_gib": None, "error": "out of memory"})


def saved_graph_bytes(p, batch: int, steps: int = 2) -> int:
    """Bytes of the distinct tensors the plain (uncheckpointed) unroll saves for the meta-backward."""
    import torch

    from tdlib.discovery import build_encoder, meta_step_loss, orthogonal_hyperplanes
    p = p.replace(inner_batch=batch, inner_steps=steps, early_stop_agreement=2.0)
    torch.manual_seed(0)
    enc = build_encoder(p.arch, p.emb_dim, p.disc_width)
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        seen[(s.data_ptr(), s.nbytes())] = s.nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        meta_step_loss(enc, orthogonal_hyperplanes(p.emb_dim, 1)[0],
                       [torch.randn(batch, 3, 32, 32) for _ in range(steps)], p, [1, 2])
    return sum(seen.values())


def estimate_paper_memory():
    """Extrapolate the paper setting's meta-graph memory from two small batches on the CPU: the graph
    grows linearly with the batch; checkpointed, only one step's graph plus every step's state live."""
    from tdlib.config import get_profile
    from tdlib.models import build_model
    p = get_profile("paper")
    b1, b2 = 8, 16
    m1, m2 = (saved_graph_bytes(p, b) / 2 for b in (b1, b2))          # per inner step
    per_img = (m2 - m1) / (b2 - b1)
    step = m1 + per_img * (p.inner_batch - b1)
    n_par = sum(q.numel() for q in build_model(p.arch, 2, p.disc_width).parameters())
    state = 2 * n_par * 4                                             # two nets' fp32 parameters
    gib = 2 ** 30
    print(f"paper ({p.arch} w{p.disc_width}, {p.inner_steps} steps x {p.inner_batch}, fp32), from saved-tensor "
          f"bytes at batch {b1}/{b2}: {step / gib:.1f} GiB of graph per inner step; plain unroll "
          f"~{p.inner_steps * step / gib:.0f} GiB; checkpointed ~{(step + p.inner_steps * state) / gib:.1f} GiB "
          f"(one step's graph + {p.inner_steps} states of {state / gib:.2f} GiB)", flush=True)


def run(profile, variant, steps, device, warmup=1, one_process=False):
    if one_process:                                          # same numbers, peak memory shared by all variants
        import queue
        q = queue.Queue()
        _worker((profile, variant, steps, device, warmup), q)
        return q.get()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_worker, args=((profile, variant, steps, device, warmup), q))
    proc.start()
    out = q.get()
    proc.join()
    return out


def store_rows(rows, gpu: str, root=None) -> Path:
    """Write the rows with the GPU name, date and commit to ``benchmarks/results/``."""
    import datetime
    import re

    from tdlib.lab.results import git_commit
    root = Path(root) if root else Path(__file__).resolve().parent / "results"
    root.mkdir(parents=True, exist_ok=True)
    date = datetime.datetime.now(datetime.timezone.utc)
    path = root / f"discovery_{re.sub(r'[^A-Za-z0-9]+', '-', gpu).strip('-')}_{date:%Y%m%d-%H%M}.json"
    path.write_text(json.dumps({"benchmark": "discovery meta-step", "gpu": gpu, "commit": git_commit(),
                                "date": date.isoformat(timespec="seconds"), "rows": rows}, indent=1))
    print(f"stored {path}", flush=True)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", action="append", default=None,
                    help="profile(s) to time (default: cpu, plus paper when CUDA is present)")
    ap.add_argument("--steps", type=int, default=3, help="timed meta-steps per variant (after 1 warm-up)")
    ap.add_argument("--estimate-paper-memory", action="store_true",
                    help="also extrapolate the paper setting's meta-graph memory from small CPU batches")
    ap.add_argument("--warmup", type=int, default=1, help="untimed meta-steps first")
    ap.add_argument("--variants", default="ours,ours+checkpoint,higher")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a profile field, e.g. --set disc_width=16 (repeatable)")
    ap.add_argument("--one-process", action="store_true",
                    help="run every variant in this process (peak memory then covers all of them)")
    ap.add_argument("--store", action="store_true",
                    help="on CUDA: write benchmarks/results/discovery_<gpu>_<date>.json")
    args = ap.parse_args(argv)
    import torch
    cuda = torch.cuda.is_available()
    if args.store and not cuda:
        print("error: --store records a GPU benchmark; no CUDA device here. Fix: run it on a GPU machine",
              file=sys.stderr)
        return 2
    profiles = args.profile or (["cpu", "paper"] if cuda else ["cpu"])
    device = "cuda" if cuda else "cpu"
    rows = []
    for prof in profiles:
        from tdlib.lab.cli import profile_from_args
        p = profile_from_args(argparse.Namespace(profile=prof, set=args.set))
        for variant in args.variants.split(","):
            r = run(p, variant, args.steps, device, args.warmup, args.one_process)
            row = {"profile": prof, "device": device, "arch": p.arch, "width": p.disc_width,
                   "inner_steps": p.inner_steps, "inner_batch": p.inner_batch, "variant": variant,
                   "threads": torch.get_num_threads(), **r,
                   "meta_steps_per_gpu_minute": (round(60 / r["s_per_meta_step"], 2)
                                                 if r["s_per_meta_step"] and cuda else None)}
            rows.append(row)
            secs = f"{r['s_per_meta_step']:.2f} s/meta-step" if r["s_per_meta_step"] else r["error"]
            peak = f"peak {r['peak_gib']:.2f} GiB" if r["peak_gib"] else ""
            mem = "max RSS" if device == "cpu" else "max allocated"
            print(f"{prof:6s} {variant:16s} {p.arch} w{p.disc_width} {p.inner_steps} steps x {p.inner_batch}: "
                  f"{secs}, {peak} ({mem})", flush=True)
    print(json.dumps(rows))
    if args.store:
        store_rows(rows, torch.cuda.get_device_name(0))
    if args.estimate_paper_memory:
        estimate_paper_memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
