"""A work queue with a time budget (issue 11): every short GPU window turns into stored results.

``python -m tdlib queue --profile gpu --minutes 9`` runs the next pending work of every experiment in a
fixed priority order and stops before the budget ends; ``--list`` shows what is pending with an estimate
of the minutes. The order comes from the experiment records (``priority``; today: E1, ``gpucheck``, E5
with its discovery run, E6, E13, E14), then every other experiment in numeric order; then what a
record queues at another profile (``then``: after the gpu profile, the ``paper`` profile's E1). The
long runs an experiment waits for are those its record names (``runs``, :data:`RUN_KINDS`).

Two kinds of jobs:

- *long runs* (a discovery encoder, Sec. 4.3 / App. I.2; a SimCLR model, Sec. 5.1) advance in chunks
  that fit the time left (``train_encoder(..., stop_after=n)``, ``train_ssl(..., stop_after=n)``), sized
  by their own measured seconds per step; their checkpoint is the state that travels between windows.
  One worker at a time holds a run (a non-blocking ``flock`` on ``<run folder>/.queue.lock``): others
  skip it and take the next job.
- *experiments*: ``experiments.get(id, profile)`` under ``results.time_budget(seconds)``; entries are
  stored one by one and claimed while computed (:mod:`tdlib.lab.results`), so several workers (processes,
  GPUs, machines sharing the results folder) drain the same queue without computing an entry twice.
  An experiment waits (is skipped) until the long runs it reads are complete.

Nothing here changes what an experiment computes: the queue only decides what runs next and for how long.
"""
from __future__ import annotations

import contextlib
import math
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Profile, get_profile

# Which experiment comes first, which long runs it reads, how many entries it stores, whether it is
# left out and what follows it at another profile: each experiment's record says so
# (tdlib.lab.experiments.Experiment: priority, runs, expected, skip, then); this module knows no experiment id.
MIN_START_SECONDS = 20                         # start nothing with less time left than this
# rough seconds per network-epoch on 45K images (one H200, bf16, issue 11's measurement for ResNet-18;
# the others scaled by the measured speedups), used only until a job has stored its own timings
S_PER_EPOCH_45K = {"resnet18": 0.97, "vit": 0.95, "mlp": 0.25, "cnn": 0.2}
# rough, until a discovery run has measured its own: the first GPU window (2026-12-04, H200, gpu profile,
# ResNet-18 w16) measured 4.3 s a meta-step over its first 75 (1-12 s: 5-50 inner steps each)
S_PER_META_STEP = 4.3
SAVE_SECONDS = 10.0                            # a discovery chunk ends this long before the time left


# ---------------------------------------------------------------------------------------------- long runs
@dataclass
class LongRun:
    """One resumable long computation: ``kind`` "discovery" (an encoder) or "ssl" (a SimCLR model)."""
    name: str
    kind: str
    profile: Profile
    out_dir: Path
    total: int                       # meta-steps or epochs
    features: str | None = None      # "ssl": the encoder reads frozen SimCLR features (Sec. 5.1)
    requires: "LongRun | None" = None   # a run that must be complete first (the SimCLR model of "ssl")

    @property
    def checkpoint(self) -> Path:
        return self.out_dir / "encoder.pt"

    def progress(self) -> tuple[int, float | None]:
        """(steps done, measured seconds per step or None), from the checkpoint; without one, from the
        sampled tasks (``tasks.npz`` records the step they were sampled at: a finished run whose
        checkpoint stayed behind, see ``python scripts/gpu_window.py prepare``)."""
        if not self.checkpoint.is_file():
            tasks = self.out_dir / "tasks.npz"
            if self.kind == "discovery" and tasks.is_file():
                import numpy as np
                try:
                    with np.load(tasks) as z:
                        return int(z["step"]), None
                except (OSError, KeyError, ValueError):
                    pass
            return 0, None
        try:
            ck = self._read()
        except Exception:                                      # unreadable: not started (damaged() says why)
            return 0, None
        done = int(ck.get("step", ck.get("epoch", 0)))
        secs = [h.get("seconds") for h in ck.get("history", [])[-20:] if isinstance(h, dict) and h.get("seconds")]
        return done, (sum(secs) / len(secs) if secs else None)

    def _read(self) -> dict:
        from ..ssl import _safe_load                            # weights only (the SSL one holds a TorchVersion)
        ck = _safe_load(self.checkpoint, "cpu")
        if not isinstance(ck, dict):
            raise ValueError(f"holds a {type(ck).__name__}, not a checkpoint")
        return ck

    def damaged(self) -> str | None:
        """Why its checkpoint cannot be read (truncated, corrupt, not a checkpoint), with the fix; None
        if it reads (or there is none)."""
        if not self.checkpoint.is_file():
            return None
        try:
            self._read()
        except Exception as e:
            why = str(e).splitlines()[0][:80] if str(e) else "unreadable"
            return (f"checkpoint {self.checkpoint} is damaged ({type(e).__name__}: {why}). Fix: restore it, "
                    f"or set the folder aside and start over (`discover --fresh`, or --replace-stale)")
        return None

    def stale(self) -> list:
        """How its checkpoint differs from what the profile would train now (empty: current or none); a
        damaged checkpoint is stale too (``--replace-stale`` sets it aside and starts over)."""
        damage = self.damaged()
        if damage:
            return [damage]
        if self.kind == "ssl":
            from ..ssl import checkpoint_stale
        else:
            from ..discovery import checkpoint_stale
        try:
            return checkpoint_stale(self.profile, self.out_dir)
        except Exception:                                      # unreadable: progress() reads it as not started
            return []

    def done(self) -> bool:
        """Complete at the current settings (a stale checkpoint is not done, whatever its step)."""
        return self.progress()[0] >= self.total and not self.stale()


def _record(exp: str):
    from . import experiments
    return experiments.records().get(exp)


def _main_run(p: Profile) -> list:
    from .runs import discovery_dir, run_name
    return [LongRun("discovery", "discovery", p, discovery_dir(run_name(p)), p.meta_steps)]


def _arch_runs(p: Profile) -> list:
    from .runs import arch_run, discovery_dir
    runs = []
    for a in p.study_disc_archs:
        if a != p.arch:
            q, where = arch_run(p, a)
            runs.append(LongRun(f"discovery/arch_{a}", "discovery", q, discovery_dir(where), q.meta_steps))
    return runs


def _kway_runs(p: Profile) -> list:
    from .runs import discovery_dir, run_name
    runs = []
    for k in p.kway_classes:
        q = p.replace(n_classes=k, meta_steps=p.kway_meta_steps)
        runs.append(LongRun(f"discovery/k{k}", "discovery", q, discovery_dir(run_name(q)), q.meta_steps))
    return runs


def _point_runs(p: Profile, points) -> list:
    from .experiments.sec4 import sweep_point
    runs = []
    for lam, d in points:
        q, out = sweep_point(p, lam, d)
        runs.append(LongRun(f"discovery/{out.name}", "discovery", q, out, q.meta_steps))
    return runs


def _longer_runs(p: Profile) -> list:
    if not p.longer_meta_steps:
        return []
    from .experiments.longer import longer_point
    q, out = longer_point(p)
    return [LongRun(f"discovery/{out.name}", "discovery", q, out, q.meta_steps)]


def _bnhead_runs(p: Profile) -> list:
    from .experiments.bnhead import bnhead_point
    return [LongRun(f"discovery/{out.name}", "discovery", q, out, q.meta_steps)
            for q, out in (bnhead_point(p, g) for g in ("discovered", "unif_only"))]


def _appj_runs(p: Profile) -> list:
    runs = _point_runs(p, [(p.uniformity_weight, d) for d in p.appj_dims])
    if not p.ssl_weights:
        from .runs import discovery_dir
        from .experiments.appj import SSL_FOLDER
        from .runs import ssl_dir
        simclr = LongRun("ssl", "ssl", p, Path(ssl_dir(p.name)), p.ssl_epochs)
        q = p.replace(meta_steps=p.ssl_meta_steps)
        runs += [simclr, LongRun(f"discovery/{SSL_FOLDER}", "discovery", q, discovery_dir(p.name) / SSL_FOLDER,
                                 q.meta_steps, features="ssl", requires=simclr)]
    return runs


# the long runs a record can name in its ``runs`` (kind -> fn(profile) -> [LongRun, ...])
RUN_KINDS = {
    "main": _main_run,                                                   # the profile's discovery run
    "archs": _arch_runs,                                                 # discovery with each other arch
    "kway": _kway_runs,                                                  # K-way discovery runs (App. C)
    "sweep": lambda p: _point_runs(p, [(lam, d) for d in p.sweep_dims for lam in p.sweep_weights]),
    "appj": _appj_runs,                                                  # App. J's d points, SimCLR, regulated
    "longer": _longer_runs,                                              # the main run, longer (issue 21)
    "bnhead": _bnhead_runs,                                              # the main run, earlier objective
    # Sec. 6's tau': the main discovery run only where the profile names discovered tasks (gpu)
    "adv_by": lambda p: _main_run(p) if any(str(n).startswith("discovered") for n in p.adv_by) else [],
}


def long_runs(exp: str, p: Profile) -> list[LongRun]:
    """The long runs experiment ``exp`` reads at profile ``p``: those its record names (``runs``)."""
    rec = _record(exp)
    if rec is None or rec.skip_reason(p):
        return []
    runs, seen = [], set()
    for kind in rec.runs:
        for r in RUN_KINDS[kind](p):
            if r.name not in seen:
                seen.add(r.name)
                runs.append(r)
    return runs


@contextlib.contextmanager
def try_lock(path: Path):
    """A non-blocking exclusive lock on ``path`` (``filelock``): yields True if this worker holds it, else
    False. The lock goes with the process, so a killed worker never leaves a run locked."""
    from filelock import FileLock, Timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _log(*args):
    """Progress lines reach a log file at once (a worker under nohup or SLURM writes to a file)."""
    print(*args, flush=True)


def advance(run: LongRun, ds, seconds: float, data_path=None, log=_log) -> dict:
    """Advance ``run`` by as many steps as fit in ``seconds`` (at least one); returns what was done."""
    done, s_step = run.progress()
    if done >= run.total:
        return {"job": run.name, "status": "complete", "step": done}
    if run.requires is not None and not run.requires.done():
        return {"job": run.name, "status": f"waits for {run.requires.name}", "step": done}
    with try_lock(run.out_dir / ".queue.lock") as mine:
        if not mine:
            return {"job": run.name, "status": "busy (another worker holds it)", "step": done}
        done, s_step = run.progress()                       # re-read under the lock
        t0, left, step = time.perf_counter(), seconds, done
        # a discovery run: one call bounded by the time left (its meta-steps lengthen as the unrolls do);
        # a SimCLR run: chunks of epochs that fill the time left, the epoch time measured again after each
        # (the first includes the start: a worker once stopped 2 steps short of 100 with 36 min left, its
        # estimate from that first step); not yet measured: 1 epoch first
        while True:
            if run.kind == "discovery":
                n, limit = run.total - step, max(1.0, left - SAVE_SECONDS)
            else:
                n, limit = (max(1, min(run.total - step, int(left * 0.9 / s_step))) if s_step else 1), None
            _train(run, ds, n, data_path, seconds=limit)
            step, s_step = run.progress()
            left = seconds - (time.perf_counter() - t0)
            if step >= run.total or not s_step or left <= 3 * s_step:
                break
        status = "complete" if step >= run.total else "chunk"
        log(f"  {run.name}: step {done} -> {step} of {run.total} ({time.perf_counter() - t0:.0f} s)")
        return {"job": run.name, "status": status, "step": step, "from": done,
                "seconds": round(time.perf_counter() - t0, 1)}


def _train(run: LongRun, ds, n: int, data_path=None, seconds=None) -> None:
    """At most ``n`` steps of ``run``; a discovery run also stops before a meta-step that would not end
    within ``seconds`` (:func:`tdlib.discovery.train_encoder`'s ``time_limit``)."""
    from ..train import default_device
    if run.kind == "ssl":
        from ..ssl import train_ssl
        train_ssl(ds, run.profile, out_dir=run.out_dir, resume=True, stop_after=n, progress=False,
                  device=default_device())
        return
    from ..discovery import train_encoder
    features = None
    if run.features == "ssl":
        from .runs import ssl_dir
        from ..ssl import frozen_features
        features = frozen_features(ds, run.profile, out_dir=ssl_dir(run.profile.name))
    train_encoder(ds, run.profile, out_dir=run.out_dir, resume=True, stop_after=n, progress=False,
                  features=features, time_limit=seconds)


# ---------------------------------------------------------------------------------------------- the plan
@dataclass
class Job:
    kind: str                          # "run" (a long run's chunk) or "experiment"
    exp: str
    profile: Profile
    run: LongRun | None = None
    waits_for: list = field(default_factory=list)     # long runs that must be complete first

    @property
    def name(self) -> str:
        where = "" if self.kind == "experiment" else f" {self.run.name}"
        return f"{self.profile.name}:{self.exp}{where}"


def experiment_order() -> list[str]:
    """The records with a ``priority`` first (lowest first), then the rest in numeric order."""
    from . import experiments
    recs = experiments.records()
    names = sorted(recs, key=lambda e: (len(e), e))                      # e2 before e10
    first = sorted((e for e in names if recs[e].priority is not None), key=lambda e: recs[e].priority)
    return first + [e for e in names if recs[e].priority is None]


def plan(p: Profile, only=None, tail: bool = True) -> list[Job]:
    """The queue at profile ``p``, in priority order (each long run once, before its first reader)."""
    jobs, seen = [], set()
    order = [e for e in experiment_order() if only is None or e in only]
    for exp in order:
        if _record(exp).skip_reason(p):
            continue
        runs = long_runs(exp, p)
        for r in runs:
            if r.name not in seen:
                seen.add(r.name)
                jobs.append(Job("run", exp, p, run=r))
        jobs.append(Job("experiment", exp, p, waits_for=runs))
    if tail:                          # what a record queues at another profile after this one's queue
        jobs += [Job("experiment", e, get_profile(other)) for e in order
                 for after, other in _record(e).then if after == p.name]
    return jobs


# ---------------------------------------------------------------------------------------------- status
def expected_entries(exp: str, p: Profile) -> int | None:
    """How many entries ``exp`` stores at ``p``, where its record says (``expected``), else None."""
    rec = _record(exp)
    return rec.expected(p) if rec is not None and rec.expected is not None else None


def _store(exp: str, p: Profile):
    from .results import results_root
    path = results_root() / p.name / f"{exp}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _store_damage(exp: str, p: Profile) -> "str | None":
    """Why the stored result file of ``exp`` cannot be read as a result (None: absent or sound)."""
    from .results import check_stored, read_json, results_root
    path = results_root() / p.name / f"{exp}.json"
    if not path.is_file():
        return None
    try:
        check_stored(read_json(path), path)
    except Exception as e:
        return str(e).splitlines()[0]
    return None


def as_task_seconds(p: Profile, arch: str | None = None, n_train: int | None = None) -> float:
    """Rough GPU seconds of one AS task (two networks, ``epochs`` at most) at ``p``."""
    arch = arch or p.arch
    n = n_train or p.sec3_n_train
    s_epoch = S_PER_EPOCH_45K.get(arch, 1.0) * (p.width / 64) ** 2 * n / 45_000
    return 2 * p.epochs * s_epoch


def _main_step_seconds(run) -> float | None:
    """Measured seconds per meta-step of the profile's main discovery run (the folder above this one's),
    for a run that has measured none at its current settings: this machine's measure, not a GPU guess."""
    main = run.out_dir.parent
    if main == run.out_dir or not (main / "encoder.pt").is_file():
        return None
    return LongRun("main", "discovery", run.profile, main, run.total).progress()[1]


def job_status(job: Job) -> dict:
    """What is stored and what is pending for one job, with an estimate of GPU-minutes left."""
    if job.kind == "run":
        done, s_step = job.run.progress()
        stale = job.run.stale()
        if stale:                        # starts over, at other settings than its old steps were timed
            done, s_step = 0, None
        left = max(0, job.run.total - done)
        if s_step is None and job.run.kind == "discovery":
            s_step = _main_step_seconds(job.run)
        per = s_step or (S_PER_META_STEP if job.run.kind == "discovery" else
                         as_task_seconds(job.profile, job.profile.ssl_arch) / (2 * job.profile.epochs) * 3)
        return {"job": job.name, "done": done, "total": job.run.total, "pending": left > 0,
                "minutes": round(left * per / 60, 1), "measured": s_step is not None, "stale": stale,
                "damaged": job.run.damaged()}
    damage = _store_damage(job.exp, job.profile)
    if damage:
        return {"job": job.name, "done": 0, "total": expected_entries(job.exp, job.profile), "pending": True,
                "minutes": None, "measured": False, "damaged": damage, "waits_for": []}
    stale = _store_stale(job)
    if stale:
        return {"job": job.name, "done": 0, "total": expected_entries(job.exp, job.profile), "pending": True,
                "minutes": round((expected_entries(job.exp, job.profile) or 1) * as_task_seconds(job.profile) / 60, 1),
                "measured": False, "stale": stale,
                "waits_for": [r.name for r in job.waits_for if not r.done()] + _needs_pending(job)}
    d = _store(job.exp, job.profile)
    n = len(d["entries"]) if d else 0
    total = expected_entries(job.exp, job.profile)
    complete = bool(d) and _complete(job)
    secs = None
    if d and n:
        es = d.get("entry_seconds")
        if isinstance(es, dict) and es:
            secs = sum(es.values()) / len(es)
        elif d.get("wall_seconds"):
            secs = d["wall_seconds"] / n
    measured = secs is not None
    if not measured:
        rec = _record(job.exp)
        secs = (rec.rough_seconds(job.profile, as_task_seconds) if rec is not None and rec.rough_seconds
                else as_task_seconds(job.profile))
    left = None if total is None else max(0, total - n)
    minutes = None if complete else round((left if left is not None else 1) * secs / 60, 1)
    return {"job": job.name, "done": n, "total": total, "pending": not complete,
            "minutes": 0.0 if complete else minutes, "measured": measured,
            "waits_for": [r.name for r in job.waits_for if not r.done()] + _needs_pending(job)}


def _complete(job: Job) -> bool:
    """Every entry the job's profile asks for is stored (:meth:`ResultStore.complete`)."""
    from .results import load_store
    store = load_store(job.exp, job.profile.name)
    return store is not None and store.complete(job.profile)


def _store_stale(job: Job) -> list:
    """How the stored result of an experiment job differs from what its profile would compute now."""
    from .results import load_store
    try:
        store = load_store(job.exp, job.profile.name)
        return store.stale(job.profile) if store is not None and store.entries else []
    except Exception:                                          # unreadable: the run itself names the file
        return []


def stale_path(job: Job) -> Path:
    """What ``--replace-stale`` sets aside for ``job``: its run folder or its result file."""
    from .results import results_root
    return job.run.out_dir if job.kind == "run" else results_root() / job.profile.name / f"{job.exp}.json"


def _needs_pending(job: Job) -> list:
    """The experiments ``job`` reads (its record's ``needs``) that are not complete at its profile."""
    from . import experiments
    rec = experiments.records().get(job.exp)
    out = []
    for need in (rec.needs if rec else ()):
        d = _store(need, job.profile)
        if not (d and d.get("complete")):
            out.append(need)
    return out


def format_status(rows, unit: str | None = None) -> str:
    """The pending-work table; ``unit``: what the minutes are (default: "GPU" for the jobs of the GPU
    profiles, gpu and paper, whose estimates are GPU times; else "CPU")."""
    if unit is None:
        unit = "GPU" if rows and rows[0]["job"].split(":")[0] in ("gpu", "paper") else "CPU"
    lines = [f"{'job':34s} {'stored':>12s} {unit + '-min':>9s}  note"]
    total = 0.0
    for r in rows:
        stored = f"{r['done']}/{r['total'] if r['total'] is not None else '?'}"
        est = "-" if not r["pending"] or r.get("minutes") is None else (f"{'' if r['measured'] else '~'}{r['minutes']}"
                                            + ("+" if r["total"] is None else ""))
        if r.get("damaged"):
            stored = "?/" + stored.split("/")[1]
        note = "done" if not r["pending"] else ("waits for " + ", ".join(r["waits_for"]) if r.get("waits_for")
                                                else "pending")
        if r.get("stale"):
            note = (f"STALE ({'; '.join(r['stale'][:2])}{' ...' if len(r['stale']) > 2 else ''}): "
                    f"--replace-stale recomputes it" + ("" if note == "pending" else f"; {note}"))
        if r.get("damaged"):
            note = f"DAMAGED: {r['damaged']}"
        total += r["minutes"] or 0.0 if r["pending"] else 0.0
        lines.append(f"{r['job']:34s} {stored:>12s} {est:>9s}  {note}")
    lines.append(f"pending: {sum(r['pending'] for r in rows)} jobs, about {total:.0f} {unit}-minutes "
                 "(~: rough, before a job has measured itself; +: at least)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- running
def run_queue(p: Profile, minutes: float, data_path=None, only=None, tail: bool = True, worker: str = "",
              log=_log, replace_stale: bool = False) -> dict:
    """Run pending jobs in priority order until ``minutes`` are nearly spent; returns a summary.

    A stored result or run checkpoint made with other settings (stale) is skipped and reported, or with
    ``replace_stale`` moved into ``<profile>/.stale/`` (kept) and recomputed."""
    from . import experiments, results
    from ..data import dataset_for
    from ..errors import Diverged
    t_start = time.perf_counter()
    deadline = t_start + minutes * 60
    who = f"[{worker or os.getpid()}] "
    summary = {"profile": p.name, "minutes": minutes, "worker": worker or str(os.getpid()), "jobs": []}
    datasets = {}

    def dataset(q):
        key = (q.name, q.dataset, q.n_train, q.n_test, q.split_seed)
        if key not in datasets:
            datasets[key] = dataset_for(q, data_path)
        return datasets[key]

    min_start = min(MIN_START_SECONDS, 0.1 * minutes * 60)
    for job in plan(p, only, tail):
        left = deadline - time.perf_counter()
        if left < min_start:
            log(f"{who}budget spent ({left:.0f} s left): stopping")
            break
        stale = job.run.stale() if job.kind == "run" else _store_stale(job)
        if stale and not replace_stale:
            res = {"job": job.name, "status": f"stale, skipped ({'; '.join(stale[:3])}); --replace-stale recomputes it"}
            log(f"{who}{job.name}: {res['status']}")
            summary["jobs"].append(res)
            continue
        if stale:
            with try_lock(stale_path(job).parent / f".{stale_path(job).name}.aside.lock") as mine:
                if mine and (job.run.stale() if job.kind == "run" else _store_stale(job)):
                    from .results import set_aside
                    dest = set_aside(stale_path(job))
                    log(f"{who}{job.name}: stale ({'; '.join(stale[:3])}); set aside to {dest}, recomputing")
        if job.kind == "run":
            if job.run.done():
                continue
            log(f"{who}{job.name}: advancing ({left / 60:.1f} min left)")
            try:
                res = advance(job.run, dataset(job.profile), left - min_start / 2, data_path, log=log)
            except Diverged as e:
                res = {"job": job.name, "status": f"diverged: {e}"}
            except Exception as e:                           # reported; the worker goes on with other jobs
                res = {"job": job.name, "status": f"failed: {type(e).__name__}: {e}"}
            res["job"] = job.name
            log(f"{who}{job.name}: {res['status']}")
            summary["jobs"].append(res)
            continue
        st = job_status(job)
        if not st["pending"]:
            continue
        if st.get("waits_for"):
            summary["jobs"].append({"job": job.name, "status": "waits for " + ", ".join(st["waits_for"])})
            continue
        log(f"{who}{job.name}: {st['done']}/{st['total'] or '?'} stored, running ({left / 60:.1f} min left)")
        t0 = time.perf_counter()
        before = st["done"]
        try:
            budget = getattr(results, "time_budget", None)
            ctx = budget(left - min_start / 2) if budget else contextlib.nullcontext()
            with ctx:
                store = results.replacing_stale(
                    lambda: experiments.get(job.exp, profile=job.profile, data_path=data_path),
                    replace_stale, log=lambda m: log(f"{who}{m}"))
            status = "complete" if store.data.get("complete") else "partial"
            if getattr(store, "skipped_claimed", None):
                status += f" ({len(store.skipped_claimed)} entries being computed by other workers)"
            if getattr(store, "budget_stopped", False):
                status += " (stopped by the time budget)"
            after = len(store.entries)
        except Diverged as e:
            status, after = f"diverged: {e}", None
        except Exception as e:                               # reported; the worker goes on with other jobs
            status, after = f"failed: {type(e).__name__}: {e}", None
        res = {"job": job.name, "status": status, "entries_before": before, "entries_after": after,
               "seconds": round(time.perf_counter() - t0, 1)}
        log(f"{who}{job.name}: {status}, {before} -> {after} entries in {res['seconds']:.0f} s")
        summary["jobs"].append(res)
    summary["seconds"] = round(time.perf_counter() - t_start, 1)
    return summary


def _submitit_worker(p: Profile, minutes: float, worker: str, kw: dict, plugins: tuple) -> dict:
    """One queue worker inside a submitit job (a SLURM array task or a local process)."""
    import importlib
    for mod in plugins:                                 # modules that register extra experiments
        importlib.import_module(mod)
    return run_queue(p, minutes, worker=worker, **kw)


def run_workers(p: Profile, minutes: float, n: int, *, executor: str = "auto", folder=None,
                data_path=None, only=None, tail: bool = True, replace_stale: bool = False,
                slurm: "dict | None" = None, plugins: tuple = ()) -> list:
    """``n`` queue workers at once through the kept library ``submitit`` (issue 19): a SLURM job array
    where SLURM is there (``executor="auto"`` picks it; ``"slurm"`` insists), else ``n`` local processes
    (``"local"``). They drain one queue over one results folder: each entry is claimed by one worker
    (:func:`tdlib.lab.results.run_items`), each long-run chunk locked by one. Every worker stops within
    ``minutes``; the SLURM time limit leaves 5 minutes beyond it, and a later call resumes from the
    stored entries and checkpoints. ``slurm``: extra SLURM parameters (e.g. ``{"partition": "gpu"}``);
    a GPU profile asks for one GPU per task. Returns the workers' summaries."""
    import submitit
    from .results import results_root
    folder = Path(folder or results_root() / p.name / ".submitit")
    ex = submitit.AutoExecutor(folder=folder, cluster=None if executor == "auto" else executor)
    ex.update_parameters(timeout_min=int(math.ceil(minutes)) + 5, name=f"tdlib-queue-{p.name}")
    if ex.cluster == "slurm":
        params = {"slurm_array_parallelism": n, **{f"slurm_{k}": v for k, v in (slurm or {}).items()}}
        if p.name in ("gpu", "paper"):
            params.setdefault("slurm_gpus_per_node", 1)
        ex.update_parameters(**params)
    kw = {"data_path": data_path, "only": only, "tail": tail, "replace_stale": replace_stale}
    with ex.batch():
        jobs = [ex.submit(_submitit_worker, p, minutes, f"{ex.cluster}{i}", kw, tuple(plugins)) for i in range(n)]
    return [j.result() for j in jobs]


def format_summary(summary: dict) -> str:
    lines = [f"queue [{summary['profile']}] worker {summary['worker']}: {summary['seconds'] / 60:.1f} of "
             f"{summary['minutes']} min"]
    for j in summary["jobs"]:
        extra = ""
        if j.get("entries_after") is not None:
            extra = f" (+{j['entries_after'] - j['entries_before']} entries)"
        elif "step" in j:
            extra = f" (step {j.get('from', j['step'])} -> {j['step']})"
        lines.append(f"  {j['job']}: {j['status']}{extra}")
    return "\n".join(lines)
