"""Command line: ``python -m tdlib <command> ...`` (``python -m tdlib -h`` lists them).

Each command is a module of :mod:`tdlib.lab.commands` with ``HELP``, ``add_arguments(parser)`` and
``main(args) -> int``; a new command is a new file there. Shared flags (profile, data) come from
:func:`add_profile_arguments`, so every command overrides the profile the same way.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import commands
from ..config import PROFILES, Profile, get_profile
from ..errors import ConfigError, Diverged, TdlibError
from ..sections import SECTIONS, field_of


def add_profile_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="smoke", choices=sorted(PROFILES),
                   help="smoke: built-in data, seconds; cpu: CIFAR-10 subset, minutes; gpu: one GPU with "
                        "cost savers; paper: GPU, the paper's protocol")
    p.add_argument("--data-path", default=None,
                   help="a cifar10.npz or a folder with it / torchvision's files (else $TDLIB_DATA)")
    p.add_argument("--download", action="store_true", help="let torchvision download CIFAR-10")
    p.add_argument("--set", action="append", default=[], metavar="[SECTION.]FIELD=VALUE",
                   help="override a profile field, e.g. --set epochs=5 or --set train.epochs=5 (repeatable; "
                        "sections: " + ", ".join(SECTIONS) + ")")
    p.add_argument("--allow-cpu", action="store_true",
                   help="run a GPU profile (gpu, paper) on a machine without a CUDA GPU anyway (slow)")


GPU_PROFILES = ("gpu", "paper")      # profiles refused without a CUDA GPU unless --allow-cpu


def check_gpu(prof: Profile, allow_cpu: bool = False) -> None:
    """A GPU profile on a machine without a CUDA GPU: a clear error naming the fix."""
    import torch

    from ..errors import ConfigError
    if prof.name in GPU_PROFILES and not allow_cpu and not torch.cuda.is_available():
        raise ConfigError(
            f"profile {prof.name!r} is made for a CUDA GPU and none is visible here "
            "(torch.cuda.is_available() is False). Fix: use --profile cpu (or smoke) on this machine, "
            "or add --allow-cpu (a page: -p allow_cpu True) to run it on the CPU anyway (hours per experiment).")


def profile_from_args(args, check_device: bool = True) -> Profile:
    overrides = {}
    base = get_profile(args.profile)
    for item in args.set:
        key, sep, value = item.partition("=")
        if sep and "." in key:                 # section.field: the field, checked against its section
            try:
                key = field_of(key)
            except ConfigError as e:
                raise SystemExit(f"error: --set {item!r}: {e}")
        if key == "name":
            raise SystemExit(f"error: --set {item!r}: the profile name cannot be overridden (results are stored "
                             f"under results/<profile>/); choose the profile with --profile, one of {sorted(PROFILES)}")
        if not sep or not hasattr(base, key):
            raise SystemExit(f"error: --set {item!r}: use FIELD=VALUE with a field of Profile "
                             f"({', '.join(sorted(base.as_dict()))})")
        cur = getattr(base, key)
        try:
            if isinstance(cur, bool):
                if value.lower() not in ("1", "true", "yes", "0", "false", "no"):
                    raise ValueError(value)
                overrides[key] = value.lower() in ("1", "true", "yes")
            elif isinstance(cur, tuple):
                overrides[key] = tuple(type(cur[0])(v) for v in value.split(",")) if cur else tuple(value.split(","))
            else:
                overrides[key] = type(cur)(value)
        except ValueError:
            raise SystemExit(f"error: --set {item!r}: {value!r} is not a valid {type(cur).__name__}"
                             + (" (use true or false)" if isinstance(cur, bool) else ""))
    prof = get_profile(base, **overrides)
    if check_device:
        check_gpu(prof, getattr(args, "allow_cpu", False))
    return prof


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tdlib", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mains = {}
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{commands.__name__}.{info.name}")
        name = info.name.replace("_", "-")
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        mains[name] = mod.main
    args = parser.parse_args(argv)
    try:
        return mains[args.command](args) or 0
    except Diverged as e:
        print(f"error: diverged: {e}", file=sys.stderr)
        return 3
    except (TdlibError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
