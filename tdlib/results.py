"""Result files with provenance, written as work finishes, so long runs resume (all sections).

One experiment at one profile is one small JSON file ``results/<profile>/<experiment>.json``:

    {"experiment": "e1", "profile": "cpu", "params": {...}, "complete": true,
     "wall_seconds": 512.3, "provenance": {device, torch, commit, ...}, "entries": {key: {...}}}

:func:`run_items` computes only the entries that are missing and rewrites the file atomically
after each one, so an interrupted run loses at most the entry in progress. Notebooks call
:func:`best_stored` to show the best stored profile (``paper`` before ``cpu``) and otherwise
compute at ``smoke``; building the book never trains at scale.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
STORED_PROFILES = ("paper", "cpu")          # best first


def results_root() -> Path:
    """``$TDLIB_RESULTS``, else ``results/`` at the repository root (or the working directory)."""
    if os.environ.get("TDLIB_RESULTS"):
        return Path(os.environ["TDLIB_RESULTS"]).expanduser()
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / "results"
    return Path.cwd() / "results"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty", "--abbrev=12"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def provenance() -> dict:
    from . import __version__
    return {"device": device_name(), "torch": torch.__version__, "tdlib": __version__,
            "commit": git_commit(), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def atomic_write_json(path: Path, obj) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


class ResultStore:
    """The entries of one experiment at one profile, kept in one JSON file."""

    def __init__(self, experiment: str, profile: str, params: dict | None = None, root=None):
        self.path = Path(root or results_root()) / profile / f"{experiment}.json"
        self.data = {"experiment": experiment, "profile": profile, "params": _jsonable(params or {}),
                     "complete": False, "wall_seconds": 0.0, "provenance": {}, "entries": {}}
        if self.path.is_file():
            old = json.loads(self.path.read_text())
            # fields added to Profile after a file was made are taken to have had their value
            # (new fields default to the old behaviour); fields present in both must agree
            oldp = old.get("params", {})
            diff = [] if params is None else sorted(
                k for k in set(oldp) & set(self.data["params"]) if oldp[k] != self.data["params"][k])
            if diff:
                raise ValueError(
                    f"{self.path} was made with other parameters (differ in {diff}). Fix: delete it, "
                    f"or set TDLIB_RESULTS to another folder for this run.")
            if params is not None:
                old["params"] = {**self.data["params"], **oldp}
            self.data = old

    @property
    def entries(self) -> dict:
        return self.data["entries"]

    def __contains__(self, key) -> bool:
        return key in self.entries

    def put(self, key: str, value, seconds: float = 0.0) -> None:
        self.entries[key] = _jsonable(value)
        self.data["wall_seconds"] = round(self.data["wall_seconds"] + seconds, 2)
        self.data["provenance"] = provenance()
        atomic_write_json(self.path, self.data)

    def mark_complete(self, complete: bool = True) -> None:
        self.data["complete"] = complete
        atomic_write_json(self.path, self.data)

    def caption(self) -> str:
        pv = self.data.get("provenance", {})
        partial = "" if self.data.get("complete") else f"PARTIAL run ({len(self.entries)} entries), "
        return (f"{partial}profile '{self.data['profile']}' on {pv.get('device', '?')}, torch {pv.get('torch', '?')}, "
                f"commit {pv.get('commit', '?')}, {self.data['wall_seconds'] / 60:.1f} min")


def run_items(experiment: str, profile, items: dict, params: dict | None = None, root=None,
              desc: str | None = None) -> ResultStore:
    """Compute each missing ``items[key]()`` and store it as soon as it finishes.

    ``profile`` is a :class:`~tdlib.config.Profile`; its fields plus ``params`` must match those of an
    existing file (else a clear error). Returns the store (``store.entries``)."""
    from tqdm.auto import tqdm
    allparams = {**profile.as_dict(), **(params or {})}
    store = ResultStore(experiment, profile.name, allparams, root)
    missing = [k for k in items if k not in store]
    for key in tqdm(missing, desc=desc or f"{experiment} [{profile.name}]", disable=not missing):
        t0 = time.perf_counter()
        value = items[key]()
        store.put(key, value, time.perf_counter() - t0)
    if not store.data["complete"] or missing:
        store.mark_complete(all(k in store for k in items))
    return store


def load_store(experiment: str, profile: str, root=None) -> ResultStore | None:
    path = Path(root or results_root()) / profile / f"{experiment}.json"
    return ResultStore(experiment, profile, None, root) if path.is_file() else None


def best_stored(experiment: str, root=None) -> ResultStore | None:
    """The stored result of the best profile (``paper`` before ``cpu``): a complete one if any,
    else the best partial one (an interrupted run; its caption says so), else None."""
    stores = [load_store(experiment, prof, root) for prof in STORED_PROFILES]
    stores = [s for s in stores if s is not None and s.entries]
    for store in stores:
        if store.data.get("complete"):
            return store
    return stores[0] if stores else None
