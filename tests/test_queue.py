"""The budgeted work queue (issue 11): priority order, --list, budget, and several workers draining one
queue: every entry computed once, none lost (3 concurrent worker processes at smoke)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tdlib.config import get_profile
from tdlib.queue import PRIORITY, expected_entries, plan

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = textwrap.dedent('''
    """A throwaway experiment 'tq' for queue tests: 12 entries of 0.3 s; each computation is logged."""
    import os, time
    from tdlib.experiments import register
    from tdlib.results import run_items

    @register("tq", page="index", title="queue test", fields=("epochs",))
    def tq(p, data_path=None):
        def item(k):
            def run():
                time.sleep(float(os.environ.get("TQ_SLEEP", "0.3")))
                with open(os.environ["TQ_LOG"], "a") as f:
                    f.write(f"{k} {os.getpid()}\\n")
                return {"k": k}
            return run
        return run_items("tq", p, {f"k{i:02d}": item(i) for i in range(int(os.environ.get("TQ_N", "12")))},
                         data={"dataset": "none", "n_train": 0, "n_test": 0, "hash": "tq"})
''')


def _worker_cmd(*args):
    code = ("import sys, tq_plugin; from tdlib.cli import main; "
            f"sys.exit(main({['queue', '--profile', 'smoke', '--only', 'tq', *args]!r}))")
    return [sys.executable, "-c", code]


@pytest.fixture
def qenv(tmp_path):
    (tmp_path / "tq_plugin.py").write_text(PLUGIN)
    return {**os.environ, "TDLIB_RESULTS": str(tmp_path / "results"), "TQ_LOG": str(tmp_path / "log.txt"),
            "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}", "OMP_NUM_THREADS": "1"}


def test_three_workers_drain_one_queue_each_entry_once(tmp_path, qenv):
    procs = [subprocess.Popen(_worker_cmd("--minutes", "2", "--worker", f"w{i}"), env=qenv, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(3)]
    outs = [p.communicate(timeout=240) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    lines = (tmp_path / "log.txt").read_text().split()
    keys, pids = lines[0::2], lines[1::2]
    assert sorted(keys) == [str(i) for i in sorted(range(12), key=str)] or sorted(map(int, keys)) == list(range(12))
    assert len(keys) == len(set(keys)) == 12                  # every entry computed exactly once
    assert len(set(pids)) >= 2                                # the work was shared
    stored = json.loads((tmp_path / "results" / "smoke" / "tq.json").read_text())
    assert len(stored["entries"]) == 12 and stored["complete"] is True   # none lost
    assert "queue [smoke] worker w0" in outs[0][0]


def test_budget_stops_before_the_end_and_the_next_worker_resumes(tmp_path, qenv):
    env = {**qenv, "TQ_SLEEP": "1.0"}
    out = subprocess.run(_worker_cmd("--minutes", "0.1"), env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    n = len((tmp_path / "log.txt").read_text().split()) // 2
    assert 1 <= n < 12                                        # stopped by the 6 s budget, not after all 12
    assert "time budget" in out.stdout or "partial" in out.stdout
    out = subprocess.run(_worker_cmd("--minutes", "1"), env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    stored = json.loads((tmp_path / "results" / "smoke" / "tq.json").read_text())
    assert stored["complete"] and len((tmp_path / "log.txt").read_text().split()) // 2 == 12


def test_list_shows_pending_jobs_with_gpu_minutes(tmp_path):
    env = {**os.environ, "TDLIB_RESULTS": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "tdlib", "queue", "--profile", "gpu", "--list", "--json",
                          str(tmp_path / "l.json")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr                   # --list needs no GPU
    rows = json.loads((tmp_path / "l.json").read_text())
    names = [r["job"] for r in rows]
    assert names[:4] == ["gpu:e1", "gpu:e5 discovery", "gpu:e5", "gpu:e6"]
    assert names[-1] == "paper:e1" and "GPU-min" in out.stdout
    e1 = rows[0]
    assert e1["total"] == 20 and e1["pending"] and e1["minutes"] > 0
    assert rows[2]["waits_for"] == ["discovery"]            # E5 waits for its discovery run
    out = subprocess.run([sys.executable, "-m", "tdlib", "queue", "--profile", "gpu", "--minutes", "1"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    import torch
    if not torch.cuda.is_available():
        assert out.returncode == 2 and "--allow-cpu" in out.stderr


def test_priority_order_and_expected_entries():
    p = get_profile("gpu")
    jobs = plan(p)
    exps = [j.exp for j in jobs if j.kind == "experiment" and j.profile.name == "gpu"]
    assert exps[: len(PRIORITY)] == list(PRIORITY)
    assert exps.index("e2") < exps.index("e10")                # the rest in numeric order
    assert [(j.profile.name, j.exp) for j in jobs][-1] == ("paper", "e1")
    assert all(j.exp != "e21" for j in jobs)                   # no Tiny ImageNet here
    assert expected_entries("e1", p) == 20 and expected_entries("e1", get_profile("paper")) == 40


def test_queue_at_smoke_runs_e1_then_discovery_in_chunks(tmp_path):
    """A real smoke queue: E1 stored, the discovery run advanced and resumable (its checkpoint)."""
    env = {**os.environ, "TDLIB_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "tdlib", "queue", "--profile", "smoke", "--only", "e1,e5",
                          "--set", "epochs=1", "--set", "meta_steps=2", "--set", "n_ablation=1",
                          "--minutes", "3", "--json", str(tmp_path / "s.json")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-3000:]
    s = json.loads((tmp_path / "s.json").read_text())
    jobs = {j["job"]: j for j in s["jobs"]}
    assert jobs["smoke:e1"]["status"].startswith("complete")
    assert jobs["smoke:e5 discovery"]["status"] == "complete" and jobs["smoke:e5 discovery"]["step"] == 2
    assert jobs["smoke:e5"]["status"].startswith("complete")
    assert json.loads((tmp_path / "smoke" / "e1.json").read_text())["complete"]
    assert (tmp_path / "smoke" / "discovery" / "encoder.pt").is_file()
