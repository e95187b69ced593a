"""Result files with provenance and a recipe, written as work finishes, so long runs resume (all sections).

One experiment at one profile is one small JSON file ``results/<profile>/<experiment>.json``:

    {"experiment": "e1", "profile": "cpu", "recipe": {"hash", "fields", "data", "needs"},
     "params": {...}, "complete": true, "wall_seconds": 512.3, "provenance": {device, torch, commit, ...},
     "entries": {key: {...}}, "entry_seconds": {key: s}, "entry_device": {key: name}}

**Recipe.** A result is valid for the values of the profile fields its experiment reads (declared in
its record, ``tdlib.lab.experiments``), the data it ran on (:meth:`tdlib.data.Dataset.fingerprint`) and
the recipes of the experiments whose stored results it read (``needs``). Their hash is the recipe;
a run resumes a file only with the same recipe (else :class:`~tdlib.errors.RecipeMismatch`, before
any compute), and :meth:`ResultStore.stale` says how a stored result differs from a profile now.

**Several writers.** Every write re-reads the file under a ``filelock`` lock and merges its entry in,
so two processes never drop each other's entries; an entry being computed is *claimed* (a non-blocking
``filelock`` on a file under ``results/<profile>/.claims/``, dropped by the OS when its process ends), so
workers sharing a folder split the work.
:func:`time_budget` makes :func:`run_items` start no entry it expects to overrun the budget.
"""
from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import platform
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from ..errors import RecipeMismatch, ResultsFileError

REPO_ROOT = Path(__file__).resolve().parents[2]
STORED_PROFILES = ("paper", "gpu", "cpu")          # best first: what the book shows
RECIPE_FIELDS: dict = {}     # experiment -> the Profile fields its result depends on (filled by tdlib.lab.experiments)
RECIPE_NEEDS: dict = {}      # experiment -> the experiments whose stored results it reads
RECIPE_EXTENDS: dict = {}    # experiment -> count fields: raising one adds entries, the rest stays current
RECIPE_FIELDS_AT: dict = {}  # experiment -> fn(profile) -> fields it depends on at that profile only (a long
#                              run it reads there, e.g. Sec. 6's tau' = discovered tasks at cpu and gpu)


def results_root() -> Path:
    """``$TDLIB_RESULTS``, else ``results/`` at the repository root (or the working directory)."""
    if os.environ.get("TDLIB_RESULTS"):
        return Path(os.environ["TDLIB_RESULTS"]).expanduser()
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT / "results"
    return Path.cwd() / "results"


def git_commit() -> str:
    """The checkout's commit; ``$TDLIB_COMMIT`` where the checkout travelled without its .git (a GPU window)."""
    if os.environ.get("TDLIB_COMMIT"):
        return os.environ["TDLIB_COMMIT"]
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
    from .. import __version__
    return {"device": device_name(), "torch": torch.__version__, "tdlib": __version__,
            "commit": git_commit(), "python": platform.python_version(), "host": socket.gethostname(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _writable_error(path: Path, e: OSError) -> ResultsFileError:
    return ResultsFileError(f"cannot write {path} ({e.strerror or e}). Fix: make {path.parent} writable, "
                            "or set TDLIB_RESULTS to a writable folder")


def atomic_write_json(path: Path, obj) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it over ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    except OSError as e:
        raise _writable_error(path, e) from None
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:                                     # a full disk, a quota, a vanished folder
        Path(tmp).unlink(missing_ok=True)
        raise ResultsFileError(f"could not write {path} ({e.strerror or e}); the previous file is kept. Fix: "
                               "free disk space (or make the folder writable), then rerun: finished entries "
                               "are not recomputed") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict:
    """A results JSON, or a :class:`ResultsFileError` naming the file and the fix."""
    try:
        return json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ResultsFileError(
            f"{path} is not valid JSON ({e.msg} at line {e.lineno}; truncated or edited?). Fix: restore it "
            f"(git checkout -- {path}) or delete it to recompute") from None
    except OSError as e:
        raise ResultsFileError(f"cannot read {path} ({e.strerror or e})") from None


def check_stored(data, path) -> None:
    """A stored result's shape and ranges (issue 17): a JSON object whose ``entries`` is an object, every
    agreement score a finite number in [0, 1]; else a :class:`ResultsFileError` naming the file, the
    entry and the fix (damage is reported as damage, never read as "not run" or as a verdict)."""
    fix = f"Fix: restore it (git checkout -- {path}) or delete it to recompute"
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise ResultsFileError(f"{path} is not a stored result (a JSON object with an 'entries' object). {fix}")
    def bad(a) -> bool:
        return isinstance(a, bool) or not isinstance(a, (int, float)) or not math.isfinite(a) or not 0 <= a <= 1
    for key, e in data.get("entries", {}).items():
        if isinstance(e, dict) and "agreement" in e:
            a = e["agreement"]                       # one AS, or one per test domain (E10)
            vals = list(a.values()) if isinstance(a, dict) else [a]
            if not vals or any(bad(v) for v in vals):
                raise ResultsFileError(f"{path}: entry {key!r} has agreement score {a!r}, not a number in [0, 1]. {fix}")


@contextlib.contextmanager
def file_lock(path: Path):
    """An exclusive lock on ``<path>.lock`` (the kept library ``filelock``: processes on one machine, or on
    a shared filesystem that supports POSIX locks; released when its holder dies)."""
    from filelock import FileLock
    lock = Path(str(path) + ".lock")
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        held = FileLock(lock, mode=0o644)
        held.acquire()
    except OSError as e:
        raise _writable_error(Path(path), e) from None
    try:
        yield
    finally:
        held.release()


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _hash(obj) -> str:
    return hashlib.blake2b(json.dumps(_jsonable(obj), sort_keys=True).encode(), digest_size=6).hexdigest()


# ---- recipes ------------------------------------------------------------------------------------
def recipe_fields(experiment: str, profile) -> tuple:
    """The fields a result of ``experiment`` depends on (all of the profile's if it has no record),
    less its count fields (``RECIPE_EXTENDS``: they say how many entries, not how each is made)."""
    from ..config import FIELD_NAMES
    counts = RECIPE_EXTENDS.get(experiment, ())
    at = RECIPE_FIELDS_AT[experiment](profile) if experiment in RECIPE_FIELDS_AT else ()
    return tuple(f for f in dict.fromkeys(tuple(RECIPE_FIELDS.get(experiment) or sorted(FIELD_NAMES)) + tuple(at))
                 if f not in counts)


def make_recipe(experiment: str, profile, data=None, extra: dict | None = None, root=None) -> dict:
    """The recipe of a result of ``experiment`` computed now at ``profile`` on ``data`` (a Dataset or
    its fingerprint dict): field values, data fingerprint, needs (their stored recipes' hashes); the
    count fields under ``extends``, outside the hash."""
    fp = data.fingerprint() if hasattr(data, "fingerprint") else data
    needs = {}
    for need in RECIPE_NEEDS.get(experiment, ()):
        store = load_store(need, profile.name, root)
        needs[need] = store.recipe.get("hash") if store is not None else None
    rec = {"fields": profile.values(recipe_fields(experiment, profile)), "data": fp, "needs": needs}
    if extra:
        rec["extra"] = _jsonable(extra)
    rec["hash"] = _hash({k: v for k, v in rec.items() if k != "hash"})
    if RECIPE_EXTENDS.get(experiment):
        rec["extends"] = profile.values(RECIPE_EXTENDS[experiment])
    return rec


def recipe_diff(old: dict, new: dict) -> list:
    """Human-readable differences between two recipes (empty: the same recipe)."""
    from ..config import IMPLICIT_BEFORE
    out = []
    of, nf = old.get("fields", {}), new.get("fields", {})
    of = {**{k: v for k, v in IMPLICIT_BEFORE.items() if k in nf}, **of}
    counts = set(old.get("extends") or {}) | set(new.get("extends") or {})
    for k in sorted((set(of) | set(nf)) - counts):
        if of.get(k, "(absent)") != nf.get(k, "(absent)"):
            out.append(f"{k}={of.get(k, '(absent)')!r} (now {nf.get(k, '(absent)')!r})")
    od, nd = old.get("data"), new.get("data")
    if od is not None and nd is not None and od != nd:
        out.append(f"data {od.get('dataset')} {od.get('n_train')}/{od.get('n_test')} #{od.get('hash')} "
                   f"(now {nd.get('dataset')} {nd.get('n_train')}/{nd.get('n_test')} #{nd.get('hash')})")
    for k in sorted(set(old.get("needs", {})) | set(new.get("needs", {}))):
        if old.get("needs", {}).get(k) != new.get("needs", {}).get(k):
            out.append(f"needs {k} recipe {old.get('needs', {}).get(k)} (now {new.get('needs', {}).get(k)})")
    if old.get("extra") != new.get("extra"):
        out.append(f"extra {old.get('extra')} (now {new.get('extra')})")
    return out


class ResultStore:
    """The entries of one experiment at one profile, kept in one JSON file."""

    def __init__(self, experiment: str, profile: str, params: dict | None = None, root=None):
        self.experiment, self.profile_name = experiment, profile
        self.path = Path(root or results_root()) / profile / f"{experiment}.json"
        self.root = root
        self.data = {"experiment": experiment, "profile": profile, "params": _jsonable(params or {}),
                     "recipe": {}, "complete": False, "wall_seconds": 0.0, "provenance": {}, "entries": {},
                     "entry_seconds": {}, "entry_device": {}}
        if self.path.is_file():
            old = read_json(self.path)
            check_stored(old, self.path)
            for k, v in self.data.items():
                old.setdefault(k, v)
            self.data = old

    @property
    def entries(self) -> dict:
        return self.data["entries"]

    @property
    def recipe(self) -> dict:
        return self.data.get("recipe") or {}

    def __contains__(self, key) -> bool:
        return key in self.entries

    def _write(self) -> None:
        atomic_write_json(self.path, self.data)

    def put(self, key: str, value, seconds: float = 0.0) -> None:
        """Store one entry: under the file's lock, re-read what other writers stored and merge."""
        with file_lock(self.path):
            if self.path.is_file():
                disk = read_json(self.path)
                if disk.get("recipe", {}).get("hash") not in (None, self.recipe.get("hash")):
                    raise RecipeMismatch(f"{self.path} was rewritten with another recipe by another process "
                                         "while this one ran; nothing stored. Fix: rerun")
                for k in ("entries", "entry_seconds", "entry_device"):
                    self.data[k] = {**disk.get(k, {}), **self.data.get(k, {})}
                self.data["wall_seconds"] = max(self.data["wall_seconds"], disk.get("wall_seconds", 0.0))
            self.entries[key] = _jsonable(value)
            self.data["entry_seconds"][key] = round(seconds, 2)
            self.data["entry_device"][key] = device_name()
            self.data["wall_seconds"] = round(self.data["wall_seconds"] + seconds, 2)
            self.data["provenance"] = provenance()
            self._write()

    def mark_complete(self, complete: bool = True) -> None:
        with file_lock(self.path):
            if self.path.is_file():
                disk = read_json(self.path)
                for k in ("entries", "entry_seconds", "entry_device"):
                    self.data[k] = {**disk.get(k, {}), **self.data.get(k, {})}
            self.data["complete"] = complete
            self._write()

    def stale(self, profile=None) -> list:
        """How this stored result differs from what ``profile`` (default: the profile of the same name)
        would compute now: differing fields, needs recomputed since; empty if it is current."""
        from ..config import PROFILES
        profile = profile if profile is not None else PROFILES.get(self.profile_name)
        if profile is None:
            return []
        if not self.recipe:
            return ["no recipe recorded"]
        now = {"fields": profile.values(recipe_fields(self.experiment, profile)), "data": None,
               "needs": {}, "extends": profile.values(RECIPE_EXTENDS.get(self.experiment, ()))}
        out = recipe_diff({**self.recipe, "needs": {}, "extra": None}, {**now, "extra": None})
        for need, h in self.recipe.get("needs", {}).items():
            other = load_store(need, self.profile_name, self.root)
            cur = other.recipe.get("hash") if other is not None else None
            if h is not None and cur != h:
                out.append(f"{need} was recomputed since (recipe {h} -> {cur})")
        return out

    def counts_raised(self, profile=None) -> bool:
        """``profile`` (default: the profile of the same name) asks for more entries than this result was
        made for (the record's count fields, ``extends``): its new entries are pending although the file
        may still say complete."""
        from ..config import PROFILES
        profile = profile if profile is not None else PROFILES.get(self.profile_name)
        counts = RECIPE_EXTENDS.get(self.experiment, ())
        if profile is None or not counts:
            return False
        made = {**self.recipe.get("fields", {}), **(self.recipe.get("extends") or {})}
        return any(made.get(k) != v for k, v in profile.values(counts).items())

    def complete(self, profile=None) -> bool:
        """Every entry the profile asks for is stored: the file's flag, and no count raised since."""
        return bool(self.data.get("complete")) and not self.counts_raised(profile)

    def caption(self, profile=None) -> str:
        """One provenance line: profile, device, date, commit, compute time, recipe; PARTIAL / STALE."""
        pv = self.data.get("provenance", {})
        parts = [f"profile '{self.data['profile']}'", f"{pv.get('device', '?')}", f"{pv.get('date', '?')[:10]}",
                 f"commit {pv.get('commit', '?')}", f"{self.data['wall_seconds'] / 60:.1f} min",
                 f"recipe {self.recipe.get('hash', '?')}"]
        if not self.data.get("complete"):
            parts.insert(0, f"PARTIAL run ({len(self.entries)} entries)")
        st = self.stale(profile)
        if st:
            parts.insert(0, "STALE (made with " + "; ".join(st[:4]) + (" ..." if len(st) > 4 else "") + ")")
        return " · ".join(parts)


# ---- claims: workers sharing a results folder split the entries -------------------------------------
def _claim_path(store: ResultStore, key: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.=,-]", "_", key)[:120] + "-" + hashlib.md5(key.encode()).hexdigest()[:6]
    return store.path.parent / ".claims" / store.experiment / f"{safe}.lock"


def try_claim(store: ResultStore, key: str):
    """Claim entry ``key`` for this process: a non-blocking ``filelock`` on its lock file, or None if
    another worker holds it. The operating system drops the lock when its process ends, however it ends,
    so there is no heartbeat, no time-to-live and no takeover (issue 19). Release with ``.release()``;
    the lock file stays (removing it could let two workers lock two different files of one name)."""
    from filelock import FileLock, Timeout
    path = _claim_path(store, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


# ---- time budget ---------------------------------------------------------------------------------
_BUDGET = {"deadline": None}


@contextlib.contextmanager
def time_budget(seconds: "float | None"):
    """Within this block :func:`run_items` starts no entry whose expected time (the median of the
    store's earlier entries) would overrun ``seconds`` from now; the store stays partial."""
    old = _BUDGET["deadline"]
    _BUDGET["deadline"] = None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _BUDGET["deadline"] = old


def budget_left() -> "float | None":
    d = _BUDGET["deadline"]
    return None if d is None else d - time.monotonic()


def expected_seconds(store: ResultStore) -> float:
    secs = sorted(v for v in store.data.get("entry_seconds", {}).values() if v)
    return secs[len(secs) // 2] if secs else 0.0


def run_items(experiment: str, profile, items: dict, params: dict | None = None, root=None,
              desc: str | None = None, data=None) -> ResultStore:
    """Compute each missing ``items[key]()`` and store it as soon as it finishes.

    ``profile``: a :class:`~tdlib.config.Profile`; ``data``: the Dataset the entries run on. The
    recipe (fields + data + needs + ``params``) must match that of an existing file, else a
    :class:`RecipeMismatch` naming the differences and the fix, raised before any compute. Entries
    another worker is computing are skipped (the store stays partial). Returns the store."""
    from tqdm.auto import tqdm
    rec = make_recipe(experiment, profile, data, extra=params, root=root)
    store = ResultStore(experiment, profile.name, {**profile.as_dict(), **(params or {})}, root)
    if store.entries and not store.recipe:
        raise RecipeMismatch(f"{store.path} was made before recipes were recorded, so it cannot be resumed safely. "
                             "Fix: delete it to recompute, or set TDLIB_RESULTS to another folder")
    diff = recipe_diff(store.recipe, rec) if store.entries else []
    if diff:
        raise RecipeMismatch(
            f"{store.path} was made with another recipe: {'; '.join(diff) or 'see the file'}. Nothing computed. "
            f"Fix: `python -m tdlib run {experiment} --profile {profile.name} --replace-stale` (keeps the old file "
            f"under {store.path.parent / '.stale'}), or set TDLIB_RESULTS to another folder", stale_file=store.path)
    if store.entries and (store.recipe.get("hash") != rec["hash"]           # same recipe, newer form (new fields)
                          or store.recipe.get("extends") != rec.get("extends")):     # or more entries asked for
        with file_lock(store.path):
            disk = read_json(store.path)
            disk["recipe"] = rec
            atomic_write_json(store.path, disk)
    for need, h in rec["needs"].items():
        other = load_store(need, profile.name, root)
        why = other.stale(profile) if other is not None else []
        if why:
            raise RecipeMismatch(
                f"{experiment} reads the stored {need} ({other.path}), which is stale: "
                f"{'; '.join(why)}. Fix: recompute it first (python -m tdlib run {need} "
                f"--profile {profile.name} --replace-stale)")
    store.data["recipe"] = rec
    with file_lock(store.path):          # refuses a read-only folder before any compute
        pass
    missing = [k for k in items if k not in store]
    if missing and store.data.get("complete"):    # more entries asked for (a count raised): partial until
        store.mark_complete(False)                   # they exist, on the file too
    skipped, stopped = [], False
    bar = tqdm(missing, desc=desc or f"{experiment} [{profile.name}]", disable=not missing)
    for key in bar:
        left = budget_left()
        if left is not None and (left <= 0 or expected_seconds(store) > left):
            stopped = True
            break
        claim = try_claim(store, key)
        if claim is None:
            skipped.append(key)
            continue
        try:
            fresh = ResultStore(experiment, profile.name, None, root)    # another worker may have stored it
            if key in fresh:
                store.data = {**fresh.data, "recipe": rec}
                continue
            t0 = time.perf_counter()
            value = items[key]()
            store.put(key, value, time.perf_counter() - t0)
        finally:
            claim.release()
    bar.close()
    store.budget_stopped, store.skipped_claimed = stopped, skipped
    # judged on the file, not this worker's view: another worker may have stored the last entries since
    # (a stale view here would mark a finished result incomplete)
    store.data = {**ResultStore(experiment, profile.name, None, root).data, "recipe": rec}
    done = all(k in store for k in items)
    if store.data.get("complete") != done or missing:
        store.mark_complete(done)
    return store


def set_aside(path, root=None) -> Path:
    """Move a stale result (a result file or a long run's folder under the results root) into
    ``<root>/<profile>/.stale/``, stamped with the time, so that it can be recomputed at the current
    recipe without losing it (``run --replace-stale``, ``queue --replace-stale``). Returns the new path."""
    path = Path(path)
    base = Path(root or results_root())
    rel = path.resolve().relative_to(base.resolve())
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    dest = base / rel.parts[0] / ".stale" / Path(*rel.parts[1:]).parent / f"{path.name}.{stamp}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():                   # a run's folder: its own files only; subfolders are other runs
        dest.mkdir()                    # (results/cpu/discovery/ holds E18's sweeps, E9's arch runs ...)
        for child in path.iterdir():
            if child.is_file():
                os.replace(child, dest / child.name)
        return dest
    os.replace(path, dest)
    return dest


def replacing_stale(compute, replace: bool, log=print):
    """``compute()``; with ``replace``, a :class:`~tdlib.errors.RecipeMismatch` naming a stale results file
    (one only the data fingerprint tells apart: the fields match) sets that file aside
    (:func:`set_aside`) and computes again, once (issue 17: ``--replace-stale`` looped on the error)."""
    try:
        return compute()
    except RecipeMismatch as e:
        if not (replace and e.stale_file is not None and Path(e.stale_file).is_file()):
            raise
        log(f"{Path(e.stale_file).name}: stale ({str(e).split(': ', 1)[-1].split('. Nothing')[0]}); "
            f"kept as {set_aside(e.stale_file)}")
        return compute()


def load_store(experiment: str, profile: str, root=None) -> ResultStore | None:
    path = Path(root or results_root()) / profile / f"{experiment}.json"
    return ResultStore(experiment, profile, None, root) if path.is_file() else None


def page_profile(experiments, root=None) -> str:
    """``profile="auto"`` resolved once for a book page (issue 19: its figures and its claims table show
    one profile): the best profile (:data:`STORED_PROFILES` order) at which any of ``experiments`` has
    stored entries, else ``cpu``."""
    for prof in STORED_PROFILES:
        for exp in experiments:
            store = load_store(exp, prof, root)
            if store is not None and store.entries:
                return prof
    return "cpu"


def auto_at(profile) -> "str | None":
    """``"auto:cpu"`` (a page's ``auto`` resolved to cpu, :func:`page_profile`) -> ``"cpu"``; else None."""
    return profile[5:] if isinstance(profile, str) and profile.startswith("auto:") else None


def best_stored(experiment: str, root=None) -> ResultStore | None:
    """The stored result of the best profile (``paper``, ``gpu``, then ``cpu``): a complete current one
    if any, else a complete stale one, else the best partial one (captions say PARTIAL / STALE)."""
    stores = [load_store(experiment, prof, root) for prof in STORED_PROFILES]
    stores = [s for s in stores if s is not None and s.entries]
    for ok in (lambda s: s.data.get("complete") and not s.stale(),
               lambda s: s.data.get("complete"), lambda s: True):
        for store in stores:
            if ok(store):
                return store
    return None
