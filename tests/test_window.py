"""The GPU window script rehearsed on CPU (issue 11): two-part data transfer, checks, benchmarks, the
queue at smoke, everything packed under $OUT in <= 16 MiB parts, and unpacked here."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_window_rehearsal_at_smoke(tmp_path):
    repo = tmp_path / "repo"                  # a copy of the checkout: the window writes results/ under it
    for sub in ("tdlib", "benchmarks", "scripts", "tests"):
        shutil.copytree(ROOT / sub, repo / sub, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", repo)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "c.npz", x_train=rng.integers(0, 256, (400, 32, 32, 3), dtype=np.uint8),
             y_train=rng.integers(0, 10, 400))
    subprocess.run([sys.executable, repo / "scripts" / "npz_parts.py", "split", tmp_path / "c.npz",
                    repo / ".gpu" / "data", "--max-mb", "0.75", "--arrays", "x_train,y_train"], check=True,
                   capture_output=True)
    parts = sorted((repo / ".gpu" / "data").glob("*.npzpart"))
    assert len(parts) == 2
    out, stage = tmp_path / "OUT", tmp_path / "td"
    out.mkdir()
    env = {**os.environ, "OUT": str(out), "TDLIB_STAGE": str(stage), "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}
    env.pop("TDLIB_RESULTS", None)
    env.pop("TDLIB_DATA", None)
    sh = ["bash", repo / "scripts" / "gpu_window.sh"]
    r = subprocess.run([*sh, "stage", ".gpu/data/part00.npzpart", "--commit", "abc123window"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([*sh, "run", ".gpu/data/part01.npzpart", "2", "--profile", "smoke", "--quick",
                        "--only", "e1", "--set", "epochs=1"], env=env, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads(r.stdout.strip().splitlines()[-1])
    assert info["data"] and info["steps"]["pytest_cuda"] == 0 and info["steps"]["bench_agreement"] == 0
    assert info["steps"]["queue"] == 0
    from tdlib.train import TRAIN_IMPLS
    assert info["train_impl"] in TRAIN_IMPLS                   # the queue trains with the fastest impl measured
    joined = np.load(stage / "cifar10.npz")
    assert np.array_equal(joined["x_train"], np.load(tmp_path / "c.npz")["x_train"])   # the data arrived whole
    back = sorted(out.iterdir())
    assert 2 <= len(back) <= 8 and all(f.stat().st_size <= 16 * 2 ** 20 for f in back)
    here = tmp_path / "here"                    # unpack as the session that called the device tool would
    r = subprocess.run([*sh, "unpack", str(out), "--root", str(here)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    e1 = json.loads((here / "results" / "smoke" / "e1.json").read_text())
    assert e1["entries"] and e1["provenance"]["device"] and e1["provenance"]["commit"] == "abc123window"
    logs = list((here / ".gpu" / "logs").rglob("window.json"))
    assert logs and json.loads(logs[0].read_text())["profile"] == "smoke"


def _window_module():
    """scripts/gpu_window.py (transport tooling outside the package, issue 19) as a module."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("gpu_window", ROOT / "scripts" / "gpu_window.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_prepare_carries_only_the_checkpoints_a_window_needs(tmp_path):
    import torch
    from types import SimpleNamespace
    window = _window_module()
    root = tmp_path
    (root / ".gpu" / "data").mkdir(parents=True)
    for i in range(2):
        (root / ".gpu" / "data" / f"part0{i}.npzpart").write_bytes(b"x" * 1000)
    for name, ck_step, task_step in (("discovery", 10, None), ("discovery/k3", 10, 10), ("discovery/ssl", 10, 4)):
        d = root / "results" / "gpu" / name
        d.mkdir(parents=True, exist_ok=True)
        torch.save({"step": ck_step, "history": []}, d / "encoder.pt")
        (d / "adam_exp_avg.pt").write_bytes(b"m")
        if task_step is not None:
            np.savez(d / "tasks.npz", tasks=np.zeros((1, 3), np.uint8), step=task_step)
    window.prepare(SimpleNamespace(root=str(root), data=str(root / ".gpu" / "data"), source=None))
    carried = sorted(str(p.relative_to(root / ".gpu" / "state")) for p in (root / ".gpu" / "state").rglob("*.pt"))
    assert carried == ["results/gpu/discovery/adam_exp_avg.pt", "results/gpu/discovery/encoder.pt",
                       "results/gpu/discovery/ssl/adam_exp_avg.pt", "results/gpu/discovery/ssl/encoder.pt"]


def test_fastest_impl_reads_the_benchmark(tmp_path):
    fastest_impl = _window_module().fastest_impl
    f = tmp_path / "b.json"
    f.write_text(json.dumps({"rows": [{"arch": "mlp", "best_impl": "graph"},
                                      {"arch": "resnet18", "best_impl": "streams+graph"}]}))
    assert fastest_impl(f) == "streams+graph" and fastest_impl(f, "mlp") == "graph"
    assert fastest_impl(tmp_path / "missing.json") is None


def test_unpack_writes_the_history_of_each_discovery_checkpoint_brought_back(tmp_path):
    """The checkpoint stays out of git (results/gpu/**/*.pt); unpacking writes its progress beside it as
    history.json, so an unfinished run's meta-steps (proxy-AS, unroll lengths, seconds) reach git."""
    import importlib.util
    import io
    import tarfile

    import torch
    spec = importlib.util.spec_from_file_location("gpu_window", ROOT / "scripts" / "gpu_window.py")
    gw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gw)
    src = tmp_path / "src" / "results" / "gpu" / "discovery"
    src.mkdir(parents=True)
    hist = [{"step": i + 1, "proxy_as": -0.7, "inner_steps": 5 + i, "seconds": 1.0 + i} for i in range(3)]
    torch.save({"step": 3, "total": 3200, "history": hist, "train_seconds": 6.0, "profile": {"name": "gpu"}},
               src / "encoder.pt")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        tar.add(src / "encoder.pt", arcname="results/gpu/discovery/encoder.pt")
    back = tmp_path / "back"
    back.mkdir()
    (back / "window.tar.xz.00").write_bytes(buf.getvalue())
    here = tmp_path / "here"
    here.mkdir()
    parser = __import__("argparse").ArgumentParser()
    gw.add_arguments(parser)
    assert gw.main(parser.parse_args(["unpack", str(back), "--root", str(here)])) == 0
    h = json.loads((here / "results" / "gpu" / "discovery" / "history.json").read_text())
    assert h["step"] == 3 and h["total"] == 3200 and h["history"] == hist
    assert h["seconds_per_step"] == {"mean": 2.0, "min": 1.0, "max": 3.0}
