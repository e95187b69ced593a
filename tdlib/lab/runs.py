"""Where the lab keeps discovery runs, and the ``discovered:K`` task kind that reads their tasks (Sec. 4;
Sec. 5.2's per-architecture runs, App. C's K-way runs).

The method (:mod:`tdlib.discovery`) trains into a folder it is given; this module names those folders
under the results store (``results/<profile>/discovery[/<sub>]``), returns a run's saved tasks to the
experiments that read them (refusing a run made with other settings), and registers the task kind
``discovered:K[:<profile>[/<sub>]]`` with :mod:`tdlib.tasks`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import get_profile
from ..discovery import _same_data, checkpoint_stale, discover
from ..errors import RecipeMismatch
from .results import results_root
from ..tasks import register_task_kind


def discovery_dir(profile_name: str, root=None) -> Path:
    """``results/<profile>/discovery``; ``"cpu/arch_mlp"`` gives its subfolder ``.../discovery/arch_mlp``."""
    prof, _, sub = profile_name.partition("/")
    base = Path(root or results_root()) / prof / "discovery"
    return base / sub if sub else base


def ssl_dir(profile_name: str, root=None) -> Path:
    """``results/<profile>/ssl``: the project's SimCLR run of a profile (Sec. 5.1, :mod:`tdlib.ssl`)."""
    return Path(root or results_root()) / profile_name / "ssl"


def run_name(p) -> str:
    """Where a profile's discovery run lives: ``"cpu"``, or ``"cpu/k3"`` for K-way tasks (App. C)."""
    return p.name if p.n_classes == 2 else f"{p.name}/k{p.n_classes}"


def discover_tasks(ds, p, out, **kw) -> tuple:
    """:func:`tdlib.discovery.discover` into the folder ``out`` (resuming), then its saved tasks:
    ``(tasks (K,N) int64, the run's summary)``. ``kw``: passed on (``n_sample``, ``features``, ...)."""
    summ = discover(ds, p, out_dir=out, progress=False, **kw)
    with np.load(Path(out) / "tasks.npz") as z:
        return z["tasks"].astype(np.int64), summ


def require_tasks(ds, p, where: str | None = None) -> dict:
    """The saved tasks (:func:`load_task_file`) of the run ``where`` (default: profile ``p``'s own,
    :func:`run_name`) for a computation that reads them as made with ``p``'s settings: trained, or
    resumed, first when missing or unfinished (fewer than ``p.meta_steps``); a run made with other
    settings (:func:`checkpoint_stale`) is refused with a :class:`~tdlib.errors.RecipeMismatch` naming
    the difference and the fix, never read as ``p``'s (issue 17: E6 stored tasks of a λ = 1, 7-step run
    under a λ = 5, 4-step recipe)."""
    where = where or run_name(p)
    out = discovery_dir(where)
    diff = checkpoint_stale(p, out)
    if diff:
        raise RecipeMismatch(f"the discovery run in {out} was made with other settings than the ones read now "
                             f"({'; '.join(diff)}); its tasks are not used. Fix: redo it with today's settings "
                             f"(`python -m tdlib discover --profile {p.name} --fresh`, or `queue --replace-stale`), "
                             "or set the fields back (--set ...)")
    try:
        saved = load_task_file(ds, where)
        with np.load(saved["path"]) as z:
            done = int(z["step"]) >= p.meta_steps
    except ValueError:
        done = False
    if not done:
        discover(ds, p, out_dir=out, progress=False)
        saved = load_task_file(ds, where)
    return saved


def arch_run(profile, arch: str):
    """Discovery with architecture ``arch`` (encoder and inner networks, Sec. 5.2): ``(profile, where)``.
    The profile's own arch is its default run (``where = "cpu"``); another arch trains
    ``study_disc_meta_steps`` meta-steps into the subfolder ``arch_<arch>`` (``where = "cpu/arch_vit"``,
    task names ``discovered:K:cpu/arch_vit``), every inner step checkpointed (the same gradient; without
    it a ViT's unrolled graph at the cpu settings outgrows 14 GB)."""
    p = get_profile(profile)
    if arch == p.arch:
        return p, p.name
    return (p.replace(arch=arch, meta_steps=p.study_disc_meta_steps, inner_checkpoint=True),
            f"{p.name}/arch_{arch}")


# ----------------------------------------------------------------------------------------------
# the ``discovered:K`` task kind
# ----------------------------------------------------------------------------------------------
def load_tasks(ds=None, profile: str | None = None, root=None) -> np.ndarray:
    """Saved discovered tasks (K,N): of ``profile`` (``"cpu"``, or a run in its subfolder,
    ``"cpu/arch_mlp"``, ``"cpu/k3"``), else of the most recent run whose dataset matches ``ds``."""
    return load_task_file(ds, profile, root)["tasks"]


def load_task_file(ds=None, profile: str | None = None, root=None) -> dict:
    """As :func:`load_tasks`, with the projections: ``{"tasks": (K,N) int64, "scores": (K,N) float32,
    "path": ...}`` (K-way runs: scores (K,N,classes))."""
    base = Path(root or results_root())
    cands = [discovery_dir(profile, base) / "tasks.npz"] if profile else \
        sorted(base.glob("*/discovery/tasks.npz"), key=lambda q: q.stat().st_mtime, reverse=True)
    seen = []
    for path in cands:
        if not path.is_file():
            continue
        with np.load(path) as z:
            sig = json.loads(str(z["signature"]))
            if ds is None or _same_data(sig, ds):
                tasks = z["tasks"].astype(np.int64)
                k = z["scores"].shape[-1] if z["scores"].ndim == 3 else 2       # K-way runs: scores (K,N,classes)
                bad = [i for i, t in enumerate(tasks) if t.min() < 0 or t.max() >= k or len(np.unique(t)) < 2]
                if tasks.ndim != 2 or bad:
                    raise ValueError(f"{path} holds tasks that are not {k}-class labellings with at least two "
                                     f"labels (rows {bad[:5]}); damaged or edited. Fix: restore it, or run "
                                     "`discover --fresh` to redo the run")
                return {"tasks": tasks, "scores": z["scores"].astype(np.float32), "path": str(path)}
            seen.append(f"{path} ({sig['name']}, {sig['n']} images)")
    where = f"profile {profile!r}" if profile else f"any profile under {base}"
    raise ValueError(f"no saved discovered tasks for this dataset in {where}"
                     + (f"; found only {seen}" if seen else "")
                     + ". Fix: run `python -m tdlib discover --profile <p>` (`--arch A` for `<p>/arch_A`, "
                     + "`--set n_classes=K` for `<p>/kK`) first.")


def _discovered_kind(ds, arg: str):
    idx, _, prof = arg.partition(":")
    tasks = load_tasks(ds, prof or None)
    i = int(idx)
    if not 0 <= i < len(tasks):
        raise ValueError(f"only {len(tasks)} discovered tasks are saved; index {i} is out of range")
    return tasks[i]


register_task_kind("discovered", _discovered_kind)
