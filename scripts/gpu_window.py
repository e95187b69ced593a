"""``python scripts/gpu_window.py prepare|stage|run|unpack``: one short GPU window -> stored results (issue 11).

Transport tooling, not the method or the lab: it lives outside the package (issue 19) and uses ``tdlib``
only through its command line and :func:`tdlib.lab.results.git_commit`.

A GPU window here is one machine reached by a device tool: each call carries the checkout (<= 64 MiB
in all) and brings back <= 8 files of <= 16 MiB from ``$OUT``; the machine stays warm a short while
between calls. CIFAR-10's 50K training images (two xz parts, 46 + 52 MiB, made by ``scripts/npz_parts.py``)
therefore arrive in two calls, and the state of an unfinished long run (a discovery encoder with its Adam
state, ignored by git) rides beside the first part:

- ``prepare`` (here): split CIFAR-10 into ``.gpu/data/part0{0,1}.npzpart`` if missing (~10 min on 2
  cores); print the device-tool calls, with the state files to carry.
- ``stage`` (call 1, on the GPU machine): copy part 0 and the carried state to ``/tmp/td/``.
- ``run`` (call 2): copy part 1, join both into ``/tmp/td/cifar10.npz`` (checksums verified), restore
  the state, then within ``--minutes``: the CUDA-only tests (``pytest -m cuda``), the agreement and
  discovery benchmarks, and the work queue (``python -m tdlib queue --replace-stale``; the committed
  old results stay in git) with the time left; finally everything it made (results, benchmark JSON,
  logs, state) packed as one archive, split into parts of <= 15 MiB under ``--out`` (``$OUT``).
- ``unpack`` (here): join those parts and extract them into the checkout.

``scripts/gpu_window.sh`` wraps these; DEVELOPING.md has the exact device-tool commands.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

HELP = "a GPU window: prepare (split CIFAR-10 here), stage / run (on the GPU machine), unpack (here)"
ROOT = Path(__file__).resolve().parents[1]
STAGE = Path(os.environ.get("TDLIB_STAGE", "/tmp/td"))
PART_MB = 15                                  # archive parts (the transfer limit is 16 MiB per file)
MAX_PARTS = 7                                 # + the manifest = 8 files back


def add_arguments(p):
    p.add_argument("action", choices=("prepare", "stage", "run", "unpack"))
    p.add_argument("--part", default=None, help="stage/run: the CIFAR-10 part this call carries")
    p.add_argument("--data", default=str(ROOT / ".gpu" / "data"), help="prepare: folder of the parts")
    p.add_argument("--source", default=None, help="prepare: the full cifar10.npz (default $TDLIB_DATA)")
    p.add_argument("--profile", default="gpu", help="run: the queue's profile (smoke: the CPU rehearsal)")
    p.add_argument("--minutes", type=float, default=9.0, help="run: the whole window's budget")
    p.add_argument("--out", default=os.environ.get("OUT"), help="run: folder for the packed archive ($OUT)")
    p.add_argument("--quick", action="store_true", help="run: tiny checks and benchmarks (CPU rehearsal)")
    p.add_argument("--allow-cpu", action="store_true", help="run: let the gpu profile run without a GPU")
    p.add_argument("--skip-checks", action="store_true",
                   help="run: no CUDA tests and benchmarks (later windows: all the time to the queue)")
    p.add_argument("--only", default=None, help="run: the queue's --only")
    p.add_argument("--set", action="append", default=[], help="run: the queue's --set FIELD=VALUE")
    p.add_argument("--root", default=str(ROOT), help="the checkout (results/ and benchmarks/ under it)")
    p.add_argument("--commit", default=None, help="stage: the checkout's commit (the .git does not travel)")
    p.add_argument("parts", nargs="*", help="unpack: the folder (or files) brought back")


def _run(cmd, log, timeout, env=None, cwd=None) -> int:
    """Run ``cmd`` with its output appended to ``log``; never raises (a step's failure is logged)."""
    t0 = time.perf_counter()
    with open(log, "a") as f:
        f.write(f"$ {' '.join(map(str, cmd))}\n")
        f.flush()
        try:
            rc = subprocess.run(list(map(str, cmd)), stdout=f, stderr=subprocess.STDOUT, timeout=max(1, timeout),
                                env=env, cwd=cwd).returncode
        except subprocess.TimeoutExpired:
            rc = 124
        f.write(f"[exit {rc} after {time.perf_counter() - t0:.0f} s]\n")
    print(f"  {Path(log).name}: exit {rc} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return rc


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


def _gpu_slug() -> str:
    import re

    import torch
    return re.sub(r"[^A-Za-z0-9]+", "-", torch.cuda.get_device_name(0)).strip("-")


def fastest_impl(bench_json: Path, arch: str = "resnet18") -> "str | None":
    """The fastest train_impl that ran without error for ``arch`` (else the first row's), from a
    bench_agreement JSON; None if there is none."""
    try:
        rows = json.loads(Path(bench_json).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return None
    rows = [r for r in rows if r.get("arch") == arch] or rows[:1]
    return rows[0].get("best_impl") if rows else None


CALL_MIB = 64                                  # what one device call carries, the checkout included


def _tree_mib(root: Path) -> float:
    """Size of what travels besides carried paths: tracked + untracked-not-ignored files."""
    try:
        out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             capture_output=True, timeout=60, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.SubprocessError):
        return 8.0
    return sum((root / f).stat().st_size for f in out if f and (root / f).is_file()) / 2 ** 20


def travelling_state(root: Path, profile: str = "gpu") -> list:
    """Checkpoint folders (relative) that a window needs: long runs not finished, or finished but their
    tasks not yet sampled (``tasks.npz`` missing or older than the run)."""
    import numpy as np
    need = []
    for ck in sorted((root / "results" / profile).rglob("encoder.pt")) if (root / "results" / profile).is_dir() else []:
        tasks = ck.parent / "tasks.npz"
        try:
            import torch
            step = int(torch.load(ck, map_location="cpu", weights_only=True).get("step", 0))
            with np.load(tasks) as z:
                sampled = int(z["step"])
        except Exception:
            sampled, step = -1, 0
        if sampled < step or not tasks.is_file():
            need.append(ck.parent.relative_to(root))
    return need


def prepare(args) -> int:
    root, data = Path(args.root), Path(args.data)
    src = args.source or os.environ.get("TDLIB_DATA")
    have = sorted(data.glob("part*.npzpart"))
    if len(have) < 2:
        if not src or not Path(src).is_file():
            raise FileNotFoundError("prepare needs the full CIFAR-10 .npz. Fix: --source ../shared/data/cifar10.npz "
                                    "(or set TDLIB_DATA)")
        subprocess.run([sys.executable, str(root / "scripts" / "npz_parts.py"), "split", src, str(data),
                        "--arrays", "x_train,y_train"], check=True)
        have = sorted(data.glob("part*.npzpart"))
    rel = [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in have]
    # the checkpoints that must travel, copied into .gpu/state/ (one carried path), as many as fit call 1
    state_dir = root / ".gpu" / "state"
    shutil.rmtree(state_dir, ignore_errors=True)
    room = CALL_MIB - 1 - _tree_mib(root) - have[0].stat().st_size / 2 ** 20
    taken, left_out = [], []
    for folder in travelling_state(root):
        files = [f for f in (root / folder).glob("*.pt")]
        mib = sum(f.stat().st_size for f in files) / 2 ** 20
        if mib > room:
            left_out.append(str(folder))
            continue
        for f in files:
            dst = state_dir / f.relative_to(root)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, dst)
        room -= mib
        taken.append(str(folder))
    print(json.dumps({"parts": rel, "state": taken, "state_left_out (no room in call 1)": left_out,
                      "room_left_MiB": round(room, 1)}, indent=1))
    carry1 = [rel[0]] + ([".gpu/state"] if taken else [])
    print("device calls (run tool), the second within the machine's warm time after the first:")
    from tdlib.lab.results import git_commit
    print(f"  1: carry={json.dumps(carry1)}  timeout_s=120  command: bash scripts/gpu_window.sh stage {rel[0]} "
          f"--commit {git_commit()}")
    print(f"  2: carry={json.dumps([rel[1]])}  timeout_s=600  command: bash scripts/gpu_window.sh run {rel[1]} 9")
    print("then here: bash scripts/gpu_window.sh unpack <files_at>")
    return 0


def stage(args) -> int:
    root = Path(args.root)
    STAGE.mkdir(parents=True, exist_ok=True)
    if args.part:
        shutil.copy2(args.part, STAGE / Path(args.part).name)
    if args.commit:
        (STAGE / "commit").write_text(args.commit)
    carried = root / ".gpu" / "state"                  # what prepare put there (carried as one path)
    for src in sorted(carried.rglob("*.pt")) if carried.is_dir() else []:
        dst = STAGE / "state" / src.relative_to(carried)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    print(json.dumps({"staged": sorted(str(p.relative_to(STAGE)) for p in STAGE.rglob("*") if p.is_file())}))
    return 0


def _join(root: Path, log: Path) -> "Path | None":
    parts = sorted(STAGE.glob("*.npzpart"))
    if not parts:
        return None
    out = STAGE / "cifar10.npz"
    if not out.is_file():
        rc = _run([sys.executable, root / "scripts" / "npz_parts.py", "join", *parts, "-o", out], log, 600)
        if rc != 0:
            return None
    return out


def run(args) -> int:
    root = Path(args.root)
    t_end = time.perf_counter() + args.minutes * 60
    out = Path(args.out or (STAGE / "out"))
    out.mkdir(parents=True, exist_ok=True)
    work = STAGE / "logs"
    work.mkdir(parents=True, exist_ok=True)
    if args.part:
        STAGE.mkdir(parents=True, exist_ok=True)
        shutil.copy2(args.part, STAGE / Path(args.part).name)
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PYTHONUNBUFFERED": "1"}
    if (STAGE / "commit").is_file():                   # provenance: the commit the window ran
        env["TDLIB_COMMIT"] = (STAGE / "commit").read_text().strip()
    data = _join(root, work / "data.log")
    if data is not None:
        env["TDLIB_DATA"] = str(data)
    elif args.part:
        print(f"error: the CIFAR-10 parts in {STAGE} did not join (see {work / 'data.log'}); the queue is skipped. "
              "Fix: run call 1 (stage) with part 0 first, within the machine's warm time", flush=True)
    for src in (STAGE / "state").rglob("*.pt") if (STAGE / "state").is_dir() else []:
        dst = root / src.relative_to(STAGE / "state")
        if not dst.is_file() or dst.stat().st_mtime < src.stat().st_mtime:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    py = sys.executable
    left = lambda: t_end - time.perf_counter()          # noqa: E731
    info = {"profile": args.profile, "minutes": args.minutes, "data": str(data) if data else None, "steps": {}}
    print(f"window: {args.minutes} min, data {data}", flush=True)
    _run(["nvidia-smi"], work / "nvidia-smi.log", 30) if shutil.which("nvidia-smi") else None
    if args.skip_checks:                               # the fastest impl of the newest stored benchmark
        stored = sorted((root / "benchmarks" / "results").glob("agreement_*.json"), key=lambda f: f.stat().st_mtime)
        best = fastest_impl(stored[-1]) if stored else None
        if best and not any(s.startswith("train_impl=") for s in args.set):
            args.set.append(f"train_impl={best}")
            info["train_impl"] = best
        return _queue_and_pack(args, root, env, work, out, info, left)
    # 1. the CUDA-only checks (skipped with a reason without a GPU)
    tests = ["tests/test_gpu.py"]          # the CUDA-only checks (other test files need notebook packages)
    info["steps"]["pytest_cuda"] = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", "-rs",
                                         *tests], work / "pytest_cuda.log", min(150, max(40, left() * 0.2)), env, root)
    # 2. benchmarks (each stores its JSON under benchmarks/results/ on CUDA)
    bench = (["--n", "512", "--archs", "mlp", "--width", "4", "--batch-size", "128"] if args.quick else
             ["--n", "45000", "--epochs", "1", "--archs", "resnet18", "mlp", "vit", "--width", "64"])
    # on CUDA stored as benchmarks/results/agreement_<date>_<gpu>.json (committed); else beside the logs
    bench_json = (root / "benchmarks" / "results" / f"agreement_{time.strftime('%Y%m%dT%H%M')}_{_gpu_slug()}.json"
                  if _cuda() else work / "bench_agreement.json")
    info["steps"]["bench_agreement"] = _run([py, root / "benchmarks" / "bench_agreement.py", *bench,
                                             "--out", bench_json], work / "bench_agreement.log",
                                            min(180, max(40, left() * 0.25)), env, root)
    best = fastest_impl(bench_json)
    if best and not any(s.startswith("train_impl=") for s in args.set):
        args.set.append(f"train_impl={best}")       # how, not what: not part of any recipe
        info["train_impl"] = best
    disc = (["--profile", "smoke", "--steps", "1", "--variants", "ours"] if args.quick
            else ["--profile", "gpu", "--steps", "3", "--variants", "ours,ours+checkpoint", "--store"])
    info["steps"]["bench_discovery"] = _run([py, root / "benchmarks" / "bench_discovery.py", *disc],
                                            work / "bench_discovery.log", min(120, max(20, left() * 0.2)), env, root)
    return _queue_and_pack(args, root, env, work, out, info, left)


def _queue_and_pack(args, root, env, work, out, info, left) -> int:
    """3. the queue with the time left (minus the packing), then the archive."""
    py, data = sys.executable, info["data"]
    q_minutes = max(0.0, (left() - 30) / 60)
    q = [py, "-m", "tdlib", "queue", "--profile", args.profile, "--minutes", f"{q_minutes:.2f}",
         "--worker", "window", "--json", work / "queue_summary.json", "--replace-stale"]   # git keeps the old
    q += (["--only", args.only] if args.only else []) + [x for s in args.set for x in ("--set", s)]
    q += ["--allow-cpu"] if args.allow_cpu else []
    if q_minutes > 0.2 and (data is not None or not args.part):
        info["steps"]["queue"] = _run(q, work / "queue.log", q_minutes * 60 + 20, env, root)
    (work / "window.json").write_text(json.dumps(info, indent=1))
    files = pack(root, args.profile, work, out)
    print(json.dumps({**info, "packed": [f.name for f in files]}), flush=True)
    return 0


def pack(root: Path, profile: str, logs: Path, out: Path) -> list:
    """Results, benchmark JSON, logs and state as ``window.tar.xz``, split into <= 15 MiB parts."""
    tmp = out / "window.tar.xz"
    skip = (".claims", ".lock", ".tmp", ".stale")
    stamp = time.strftime("%Y%m%dT%H%M%S")
    with tarfile.open(tmp, "w:xz", preset=6) as tar:
        for sub in (f"results/{profile}", "results/paper", "benchmarks/results"):
            base = root / sub
            if base.is_dir():
                for p in sorted(base.rglob("*")):
                    if p.is_file() and not any(s in str(p.relative_to(root)) for s in skip):
                        tar.add(p, arcname=str(p.relative_to(root)))
        if logs.is_dir():
            for p in sorted(logs.rglob("*")):
                if p.is_file():
                    tar.add(p, arcname=f".gpu/logs/{stamp}/{p.relative_to(logs)}")
    data = tmp.read_bytes()
    tmp.unlink()
    n = max(1, -(-len(data) // (PART_MB * 2 ** 20)))
    if n > MAX_PARTS:
        raise RuntimeError(f"the window's archive is {len(data) / 2 ** 20:.0f} MiB, more than {MAX_PARTS} parts "
                           f"of {PART_MB} MiB. Fix: leave large checkpoints out (results/{profile}/**/encoder.pt)")
    size = -(-len(data) // n)
    files = []
    for i in range(n):
        f = out / f"window.tar.xz.{i:02d}"
        f.write_bytes(data[i * size:(i + 1) * size])
        files.append(f)
    manifest = out / "window_manifest.json"
    manifest.write_text(json.dumps({"parts": [f.name for f in files], "bytes": len(data)}))
    return files + [manifest]


def unpack(args) -> int:
    root = Path(args.root)
    srcs = [Path(p) for p in args.parts] or [Path(".")]
    files = []
    for s in srcs:
        files += sorted(s.rglob("window.tar.xz.*")) if s.is_dir() else [s]
    if not files:
        raise FileNotFoundError(f"no window.tar.xz.NN parts in {', '.join(map(str, srcs))}. Fix: pass the "
                                "folder the device tool brought back (files_at)")
    data = b"".join(f.read_bytes() for f in sorted(files, key=lambda f: f.name))
    import io
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as tar:
        names = tar.getnames()
        bad = [n for n in names if n.startswith("/") or ".." in Path(n).parts]
        if bad:
            raise ValueError(f"refusing archive members outside the checkout: {bad[:3]}")
        tar.extractall(root, filter="data")
    made = [str(p.relative_to(root)) for p in write_histories(root, [n for n in names if n.endswith("encoder.pt")])]
    print(json.dumps({"restored": names, "history (commit these)": made}, indent=1))
    return 0


def write_histories(root: Path, checkpoints) -> list:
    """``history.json`` beside each discovery checkpoint brought back: its step, total, seconds and the
    per-meta-step history (proxy-AS, uniformity, unroll length, seconds). The ``.pt`` stays out of git
    (``results/gpu/**/*.pt``); this small file puts an unfinished run's progress in git."""
    import torch
    out = []
    for rel in checkpoints:
        try:
            ck = torch.load(root / rel, map_location="cpu", weights_only=True)
        except Exception as e:                               # noqa: BLE001 (reported, the others go on)
            print(f"  {rel}: unreadable ({type(e).__name__}); no history written", flush=True)
            continue
        if "history" not in ck:
            continue
        h = ck["history"]
        secs = [r.get("seconds", 0.0) for r in h]
        summary = {"run": str(Path(rel).parent), "step": ck.get("step"), "total": ck.get("total"),
                   "train_seconds": round(float(ck.get("train_seconds", 0.0)), 1),
                   "seconds_per_step": {"mean": round(sum(secs) / max(len(secs), 1), 2),
                                        "min": min(secs, default=None), "max": max(secs, default=None)},
                   "profile": ck.get("profile"), "data": ck.get("data"), "history": h}
        dst = (root / rel).parent / "history.json"
        dst.write_text(json.dumps(summary, indent=1, default=str))
        out.append(dst)
    return out


def main(args):
    return {"prepare": prepare, "stage": stage, "run": run, "unpack": unpack}[args.action](args)


if __name__ == "__main__":
    import argparse
    sys.path.insert(0, str(ROOT))                 # tdlib from this checkout, installed or not
    parser = argparse.ArgumentParser(prog="gpu_window.py", description=HELP)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
