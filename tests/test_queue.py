"""The budgeted work queue (issue 11): priority order, --list, budget, and several workers draining one
queue: every entry computed once, none lost (3 concurrent worker processes at smoke)."""
import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tdlib.config import get_profile
from tdlib.lab.queue import expected_entries, experiment_order, plan

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = textwrap.dedent('''
    """A throwaway experiment 'tq' for queue tests: 12 entries of 0.3 s; each computation is logged."""
    import os, time
    from tdlib.lab.experiments import register
    from tdlib.lab.results import run_items

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
    code = ("import sys, tq_plugin; from tdlib.lab.cli import main; "
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
    assert names[:5] == ["gpu:e1", "gpu:gpucheck", "gpu:e5 discovery", "gpu:e5", "gpu:e6"]
    assert names[-1] == "paper:e1" and "GPU-min" in out.stdout
    e1 = rows[0]
    assert e1["total"] == 20 and e1["pending"] and e1["minutes"] > 0
    assert rows[3]["waits_for"] == ["discovery"]            # E5 waits for its discovery run
    out = subprocess.run([sys.executable, "-m", "tdlib", "queue", "--profile", "gpu", "--minutes", "1"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    import torch
    if not torch.cuda.is_available():
        assert out.returncode == 2 and "--allow-cpu" in out.stderr


def test_priority_order_and_expected_entries():
    p = get_profile("gpu")
    jobs = plan(p)
    exps = [j.exp for j in jobs if j.kind == "experiment" and j.profile.name == "gpu"]
    assert exps[:6] == experiment_order()[:6] == ["e1", "gpucheck", "e5", "e6", "e13", "e14"]   # the records' priorities
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


def test_a_long_run_waits_for_the_run_it_reads(tmp_path, monkeypatch):
    """The SSL-regulated discovery reads the SimCLR model's features: it never starts before that run
    is complete (else it would train SimCLR inline, unchunked)."""
    from tdlib.lab import queue as Q
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    runs = {r.name: r for r in Q.long_runs("e12", get_profile("smoke"))}
    reg = runs["discovery/ssl"]
    assert reg.requires is runs["ssl"] and not runs["ssl"].done()
    called = []
    monkeypatch.setattr(Q, "_train", lambda *a, **k: called.append(a))
    res = Q.advance(reg, ds=None, seconds=60)
    assert res["status"] == "waits for ssl" and called == []


def test_a_stale_result_is_reported_skipped_and_replaced_only_when_asked(tmp_path, qenv):
    """A result made with other settings is not 'done': --list says STALE, a plain queue skips it (no
    compute), and --replace-stale keeps the old file under .stale/ and recomputes it."""
    env = {**qenv, "TQ_SLEEP": "0.01", "TQ_N": "3"}
    log = tmp_path / "log.txt"
    out = subprocess.run(_worker_cmd("--minutes", "1", "--set", "epochs=2"), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(log.read_text().split()) // 2 == 3
    out = subprocess.run(_worker_cmd("--list", "--json", str(tmp_path / "l.json")), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    row = json.loads((tmp_path / "l.json").read_text())[0]
    assert row["pending"] and row["stale"] and "epochs" in row["stale"][0], row
    assert "STALE" in out.stdout and "--replace-stale" in out.stdout
    out = subprocess.run(_worker_cmd("--minutes", "1"), env=env, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "stale, skipped" in out.stdout, out.stdout + out.stderr[-2000:]
    assert len(log.read_text().split()) // 2 == 3              # nothing recomputed without the flag
    out = subprocess.run(_worker_cmd("--minutes", "1", "--replace-stale"), env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(log.read_text().split()) // 2 == 6              # recomputed at the current recipe
    new = json.loads((tmp_path / "results" / "smoke" / "tq.json").read_text())
    assert new["complete"] and new["recipe"]["fields"]["epochs"] == get_profile("smoke").epochs
    kept = list((tmp_path / "results" / "smoke" / ".stale").glob("tq.json.*"))
    assert len(kept) == 1 and json.loads(kept[0].read_text())["recipe"]["fields"]["epochs"] == 2


def test_a_discovery_run_made_with_other_settings_is_stale_not_done(tmp_path, monkeypatch):
    """The queue reads a run's checkpoint settings: at other settings a finished run is stale, not done,
    and setting it aside leaves the folder free for a run at the current settings."""
    from tdlib.lab import queue as Q
    from tdlib.data import dataset_for
    from tdlib.discovery import discover
    from tdlib.lab.results import set_aside
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    p = get_profile("smoke").replace(meta_steps=1, inner_steps=2)
    run = Q.LongRun("discovery", "discovery", p, tmp_path / "smoke" / "discovery", 1)
    discover(dataset_for(p), p, out_dir=run.out_dir, progress=False)
    assert run.done() and run.stale() == []
    other = Q.LongRun("discovery", "discovery", p.replace(emb_dim=p.emb_dim * 2), run.out_dir, 1)
    assert other.stale() == [f"emb_dim: {p.emb_dim} -> {2 * p.emb_dim}"] and not other.done()
    ck = run.out_dir / "encoder.pt"
    ck.rename(tmp_path / "encoder.pt")                       # a finished run that travelled without it
    assert run.done() and run.stale() == [] and other.stale() == [f"emb_dim: {p.emb_dim} -> {2 * p.emb_dim}"]
    (tmp_path / "encoder.pt").rename(ck)
    dest = set_aside(other.out_dir)
    assert (dest / "encoder.pt").is_file() and dest.parent == tmp_path / "smoke" / ".stale"
    assert not (other.out_dir / "encoder.pt").exists() and other.progress() == (0, None)   # its files moved


def test_run_replace_stale_keeps_the_old_result_and_recomputes(tmp_path, qenv):
    env = {**qenv, "TQ_SLEEP": "0.01", "TQ_N": "2"}

    def run(*args):
        code = ("import sys, tq_plugin; from tdlib.lab.cli import main; "
                f"sys.exit(main({['run', 'tq', '--profile', 'smoke', *args]!r}))")
        return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                              timeout=120)
    assert run("--set", "epochs=2").returncode == 0
    out = run()
    assert out.returncode == 2 and "--replace-stale" in out.stderr        # refused, the fix named
    out = run("--replace-stale")
    assert out.returncode == 0 and "kept as" in out.stdout, out.stderr[-2000:]
    assert len((tmp_path / "log.txt").read_text().split()) // 2 == 4
    assert len(list((tmp_path / "results" / "smoke" / ".stale").glob("tq.json.*"))) == 1


def test_set_aside_of_a_run_folder_keeps_the_other_runs_inside_it(tmp_path):
    """`--replace-stale` of the default discovery run moves its own files, not the subfolders of other
    experiments' runs that live inside it (E18's sweeps, E9's arch runs)."""
    from tdlib.lab.results import set_aside
    run = tmp_path / "cpu" / "discovery"
    (run / "sweep_l1_d8").mkdir(parents=True)
    (run / "encoder.pt").write_text("old")
    (run / "sweep_l1_d8" / "tasks.npz").write_text("other run")
    dest = set_aside(run, root=tmp_path)
    assert (dest / "encoder.pt").read_text() == "old" and not (run / "encoder.pt").exists()
    assert (run / "sweep_l1_d8" / "tasks.npz").read_text() == "other run"


def test_the_queue_knows_no_experiment_id_and_each_reader_declares_its_runs():
    """Issue 19: what the queue knows of an experiment comes from its record; E17 and E18 no longer wait
    for the main discovery run, which they do not read; the diagnosis reads it (its tasks' proxy-AS);
    Sec. 6 waits for it where tau' are discovered tasks (cpu, gpu), not where they are not (smoke)."""
    import re
    from tdlib.lab import queue as Q
    src = (ROOT / "tdlib" / "lab" / "queue.py").read_text()
    assert not re.search(r"[\"']e\d+[\"']|[\"']gpucheck[\"']|[\"']diag[\"']", src)
    p = get_profile("cpu")
    names = lambda e: [r.name for r in Q.long_runs(e, p)]
    assert "discovery" not in names("e17") and names("e17") == ["discovery/k3", "discovery/k5"]
    assert "discovery" not in names("e18") and len(names("e18")) == 9
    assert names("diag") == ["discovery"] and names("e1") == [] and names("e5") == ["discovery"]
    assert names("e13") == ["discovery"] and Q.long_runs("e13", get_profile("gpu"))[0].name == "discovery"
    assert Q.long_runs("e13", get_profile("smoke")) == []                    # smoke: a cue and a random network
    assert expected_entries("e5", p) is not None and expected_entries("e7", p) is None


def test_three_submitit_workers_share_one_results_folder_each_entry_once(tmp_path, qenv, monkeypatch):
    """Issue 19: many workers through a kept library (submitit's local executor here; a SLURM job array on
    a cluster) drain one queue over one results folder: every entry computed exactly once, none lost."""
    pytest.importorskip("submitit")
    for k in ("TDLIB_RESULTS", "TQ_LOG", "PYTHONPATH", "OMP_NUM_THREADS"):
        monkeypatch.setenv(k, qenv[k])
    monkeypatch.syspath_prepend(str(tmp_path))
    from tdlib.lab import experiments, results
    from tdlib.config import get_profile
    from tdlib.lab.queue import run_workers
    importlib.import_module("tq_plugin")                      # registers the test experiment here too
    try:
        summaries = run_workers(get_profile("smoke"), 2, 3, executor="local", folder=tmp_path / "sub",
                                only={"tq"}, tail=False, plugins=("tq_plugin",))
    finally:                                                  # the other tests see only the real records
        experiments.RECORDS.pop("tq", None)
        results.RECIPE_FIELDS.pop("tq", None)
        results.RECIPE_NEEDS.pop("tq", None)
        sys.modules.pop("tq_plugin", None)
    assert len(summaries) == 3 and {s["worker"] for s in summaries} == {"local0", "local1", "local2"}
    lines = (tmp_path / "log.txt").read_text().split()
    keys, pids = lines[0::2], lines[1::2]
    assert len(keys) == len(set(keys)) == 12                  # every entry computed exactly once
    assert len(set(pids)) >= 2                                # by more than one worker
    stored = json.loads((tmp_path / "results" / "smoke" / "tq.json").read_text())
    assert len(stored["entries"]) == 12 and stored["complete"] is True


def test_a_run_not_yet_timed_is_estimated_from_the_main_run_on_this_machine(tmp_path):
    """A discovery run with no checkpoint of its own (or a stale one) is estimated at the main run's
    measured seconds per meta-step, not at the GPU guess ``S_PER_META_STEP``."""
    import torch

    from tdlib.lab import queue as Q
    p = get_profile("smoke")
    main = tmp_path / "discovery"
    main.mkdir()
    torch.save({"step": 3, "history": [{"seconds": 30.0}] * 3}, main / "encoder.pt")
    run = Q.LongRun("discovery/sweep", "discovery", p, main / "sweep_l0_d4", 40)
    st = Q.job_status(Q.Job("run", "e18", p, run))
    assert st["done"] == 0 and st["minutes"] == 20.0, st          # 40 steps x 30 s
    assert Q._main_step_seconds(Q.LongRun("discovery", "discovery", p, main, 40)) is None   # the main run itself


def test_a_chunk_fills_the_time_left_after_a_slow_first_step(tmp_path, monkeypatch):
    """The first step's time includes the start, so an estimate from it undercounts the steps that fit:
    the worker measures again after each chunk and finishes a run that fits its time (it once stopped a
    100-step run at 98 with 36 minutes left)."""
    from types import SimpleNamespace
    from tdlib.lab import queue as Q
    state = {"step": 0}

    def progress():
        s = state["step"]
        return s, (None if s == 0 else 30.0 if s == 1 else 1.0)   # 30 s for the first step, then 1 s

    def train(run, ds, n, data_path=None, seconds=None):
        state["step"] = min(run.total, state["step"] + n)
    # a run chunked by step counts (SimCLR's epochs; a discovery run is bounded by time, test below)
    run = SimpleNamespace(name="fake", kind="ssl", total=100, requires=None, out_dir=tmp_path, progress=progress)
    monkeypatch.setattr(Q, "_train", train)
    res = Q.advance(run, ds=None, seconds=200)
    assert res["status"] == "complete" and res["step"] == 100, res


def test_a_discovery_chunk_ends_within_the_time_left_although_its_steps_slow_down(tmp_path, monkeypatch):
    """The first GPU window's failure: its meta-steps lengthened (1 s to 12 s, the unrolls 5 to 50 inner
    steps), a chunk sized by step count from the mean overran the window and was killed, its steps lost.
    Here each meta-step is slower than the one before; the chunk must still end inside its time, with a
    checkpoint at the step it reached."""
    import time

    import torch

    import tdlib.discovery as D
    from tdlib.data import load_dataset
    from tdlib.lab import queue as Q
    real, calls = D.meta_step_loss, []

    def slower(*a, **k):
        calls.append(1)                               # 4 calls a meta-step (smoke: tasks_per_step=4)
        time.sleep(0.125 * ((len(calls) - 1) // 4))   # meta-step k sleeps 0.5 (k - 1) s in all
        return real(*a, **k)
    monkeypatch.setattr(D, "meta_step_loss", slower)
    ds = load_dataset("synthetic", n_train=200, n_test=50, seed=0)
    run = Q.LongRun("discovery", "discovery", get_profile("smoke", meta_steps=500), tmp_path / "discovery", 500)
    monkeypatch.setattr(Q, "SAVE_SECONDS", 1.0, raising=False)
    t0 = time.perf_counter()
    # a chunk sized by count from the measured mean (the old way) took 9 steps here, ~34 s
    res = Q.advance(run, ds, seconds=20, log=lambda *a: None)
    took = time.perf_counter() - t0
    assert took < 20, (took, res)
    ck = torch.load(run.checkpoint, map_location="cpu", weights_only=True)
    assert 3 <= ck["step"] < 500 and ck["step"] == res["step"], (ck["step"], res)
    assert res["status"] == "chunk"
