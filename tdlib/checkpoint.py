"""Checkpoints of long runs (the discovery encoder of Sec. 4.3 / Algorithm 1, the SimCLR model of Sec. 5.1):
one ``torch.save`` per checkpoint, as nanoGPT's ``ckpt.pt`` (weights, optimizer state, RNG state, step,
history and the settings that made it), written atomically.

- :func:`atomic_torch_save`: to a temporary name beside the target, fsync, then one ``os.replace``: the
  file holds the old or the new checkpoint whatever happens (a kill, a full disk), never half of one.
- :func:`save_checkpoint`: that, plus the guards a run needs (its folder not moved or replaced while it
  trained; a failed write is an error naming the fix, the previous checkpoint kept).
- :func:`read_checkpoint`: ``torch.load(weights_only=True)`` (no code in a file runs); a damaged file is an
  error naming it and the fix.
- :func:`optimizer_state`: the optimizer's state dict of a checkpoint, also from the three-file layout of
  earlier checkpoints (Adam's two moments in files of their own, named by a save token, split so that each
  file travelled to a GPU window on its own; splitting for transport is now the transport tool's job,
  ``scripts/gpu_window.py``). The next save of such a run writes one file and removes the old ones.

Nothing here knows where results live: callers pass paths.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

from .errors import ConfigError, ResultsFileError

LEGACY_MOMENTS = {"exp_avg": "adam_exp_avg.pt", "exp_avg_sq": "adam_exp_avg_sq.pt"}   # before the save token


def legacy_moment_path(folder: Path, key: str, token: int) -> Path:
    """Where the three-file layout kept Adam's moment ``key`` of the save ``token``."""
    return Path(folder) / f"adam_{key}.{token:016x}.pt"


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_torch_save(obj, path: Path) -> None:
    """``torch.save`` to a temporary name beside ``path``, fsync, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(out: Path, what: str = "the run's folder") -> None:
    """Create ``out`` and write a probe file in it, or a :class:`ResultsFileError` naming the fix."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-probe"):
            pass
    except OSError as e:
        raise ResultsFileError(f"cannot write {what} {out} ({e.strerror or e}); nothing computed. Fix: make it "
                               "writable, or set TDLIB_RESULTS to a writable folder") from None


def folder_id(out: Path):
    """The identity (device, inode) of a folder: a save compares it with the one at the run's start."""
    st = os.stat(out)
    return (st.st_dev, st.st_ino)


def save_checkpoint(obj: dict, path: Path, folder=None, step=None) -> None:
    """Write the checkpoint ``obj`` to ``path`` as one unit. ``folder``: :func:`folder_id` of the run's
    folder at its start; a folder moved or replaced meanwhile (e.g. set aside by ``--replace-stale``) is
    refused, nothing written. A failed write keeps the previous checkpoint (ResultsFileError naming the
    fix). After the write, files of the earlier three-file layout and killed writes are removed."""
    path = Path(path)
    try:
        same = folder is None or folder_id(path.parent) == folder
    except FileNotFoundError:
        same = False
    if not same:
        raise ResultsFileError(f"the run's folder {path.parent} was moved or replaced while this run trained "
                               f"(step {step}); nothing written there, this run stops. Fix: start it again on "
                               "the new folder (--resume, or --fresh)")
    try:
        atomic_torch_save(obj, path)
    except OSError as e:
        raise ResultsFileError(f"could not write the checkpoint {path} at step {step} ({e}); the previous "
                               "checkpoint is kept. Fix: free disk space or make the folder writable, then "
                               "--resume.") from e
    for f in [*path.parent.glob("adam_*.pt"), *path.parent.glob(f"{path.name}*.tmp")]:
        try:                                                 # best effort: the checkpoint is already whole
            f.unlink()
        except OSError:
            pass


def read_checkpoint(path: Path) -> dict:
    """``torch.load`` of one checkpoint file (weights only); a truncated or corrupt file is a
    :class:`~tdlib.errors.ConfigError` naming it and the fix."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as e:                                  # truncated zip, empty file, forged pickle, ...
        raise ConfigError(f"checkpoint {path} is damaged or not a checkpoint ({type(e).__name__}: "
                          f"{str(e).splitlines()[0][:120] if str(e) else 'unreadable'}). Fix: restore it from "
                          "a copy, or run with --fresh (starts the run over).") from e
    if not isinstance(ck, dict):
        raise ConfigError(f"checkpoint {path} holds a {type(ck).__name__}, not a checkpoint. Fix: run with --fresh.")
    return ck


def optimizer_state(ck: dict, path: Path) -> dict:
    """The optimizer state dict of the checkpoint ``ck`` read from ``path``: whole inside it, or (the
    three-file layout, ``"token"`` in ``ck``) with Adam's moments from the files of that token (or their
    untokenized names, before the token)."""
    opt = ck["opt"]
    if "token" not in ck:
        return opt
    path = Path(path)
    state = {i: dict(st) for i, st in opt["state"].items()}
    for k, name in LEGACY_MOMENTS.items():
        f = legacy_moment_path(path.parent, k, ck["token"])
        if not f.is_file():
            f = path.parent / name
        part = read_checkpoint(f) if f.is_file() else None
        if part is None or part["token"] != ck["token"]:
            raise ConfigError(f"{legacy_moment_path(path.parent, k, ck['token'])} is missing or belongs to another "
                              f"save than {path}. Fix: copy the checkpoint files together, or run with --fresh.")
        for i, v in part["moments"].items():
            state[i][k] = v
    return {"state": state, "param_groups": opt["param_groups"]}
