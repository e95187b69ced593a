"""``python -m tdlib verify --profile cpu --sample 2``: recompute a few stored AS entries with today's
code and report any that moved (issue 18's drift check).

Samples ``--sample`` agreement-score entries (seeded) from the profile's complete, current stored
results, copies ``results/<profile>/`` into a temporary folder, removes each sampled entry there and
lets its experiment recompute it (the store's own resume path: only the missing entry is computed),
then compares the recomputed AS with the stored one. An entry moved beyond ``--tolerance`` is reported and
the command exits 1. The default tolerance is the measured seed noise of one AS at the profile (the largest
spread of one task's AS over seed pairs, experiment ``asnoise``), or 0.025 where that is not stored (the
spread of one AS between a stored E1 entry and a recomputation of the same task and seeds, issue 18).
The committed results are never touched.
"""
HELP = "recompute a few stored AS entries with today's code; exit 1 if one moved beyond the seed noise"

TOLERANCE = 0.025


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("--sample", type=int, default=2, help="how many stored AS entries to recompute (default 2)")
    p.add_argument("--seed", type=int, default=0, help="which entries (the sample's seed)")
    p.add_argument("--experiments", nargs="*", default=None, metavar="EXP", help="sample only from these")
    p.add_argument("--tolerance", type=float, default=None,
                   help="largest accepted |stored - recomputed| AS (default: the measured seed noise, "
                        f"experiment asnoise, else {TOLERANCE})")
    add_profile_arguments(p)


def candidates(profile: str, experiments=None, root=None) -> list:
    """``[(experiment, key), ...]``: AS entries of complete, current stored results."""
    from .. import experiments as ex
    from ...config import get_profile
    from ..results import load_store
    cur = get_profile(profile)
    out = []
    for name in ex.names():
        if experiments and name not in experiments:
            continue
        store = load_store(name, profile, root)
        if store is None or not store.data.get("complete") or store.stale(cur):
            continue
        out += [(name, k) for k, v in store.entries.items()
                if isinstance(v, dict) and isinstance(v.get("agreement"), (int, float))]
    return out


def default_tolerance(profile: str, root=None) -> tuple:
    """``(tolerance, where it comes from)``: the measured seed noise of one AS at ``profile``
    (:func:`tdlib.lab.experiments.sec3.measured_tolerance`), else :data:`TOLERANCE`."""
    from ..experiments.sec3 import measured_tolerance
    got = measured_tolerance(profile, root)
    return got if got is not None else (TOLERANCE, "the default: no complete asnoise result at this profile")


def main(args):
    import os
    import random
    import shutil
    import tempfile
    from pathlib import Path

    from .. import experiments as ex
    from ..cli import profile_from_args
    from ...errors import ConfigError
    from ..results import atomic_write_json, load_store, read_json, results_root
    if args.sample < 1:
        raise ConfigError(f"--sample {args.sample}: give at least 1")
    prof = profile_from_args(args)
    root = results_root()
    pool = candidates(prof.name, args.experiments, root)
    if not pool:
        raise ConfigError(f"no complete, current stored AS entries under {root / prof.name}. Fix: compute some "
                          f"first: python -m tdlib run e1 --profile {prof.name}")
    picked = random.Random(args.seed).sample(pool, min(args.sample, len(pool)))
    if args.tolerance is None:
        args.tolerance, why = default_tolerance(prof.name, root)
        print(f"verify: tolerance {args.tolerance:.4f} ({why})", flush=True)
    moved = 0
    with tempfile.TemporaryDirectory(prefix="tdlib-verify-") as tmp:
        shutil.copytree(root / prof.name, Path(tmp) / prof.name,
                        ignore=shutil.ignore_patterns(".stale", ".claims", "*.lock"))
        old_env = os.environ.get("TDLIB_RESULTS")
        os.environ["TDLIB_RESULTS"] = tmp
        try:
            for name, key in picked:
                path = Path(tmp) / prof.name / f"{name}.json"
                disk = read_json(path)
                stored = disk["entries"].pop(key)["agreement"]
                disk.get("entry_seconds", {}).pop(key, None)
                disk["complete"] = False
                atomic_write_json(path, disk)
                ex.get(name, profile=prof, data_path=args.data_path)
                new = load_store(name, prof.name).entries[key]["agreement"]
                bad = abs(new - stored) > args.tolerance
                moved += bad
                print(f"{'MOVED' if bad else 'ok   '} {name} {key}: stored AS {stored:.4f}, recomputed {new:.4f} "
                      f"(|diff| {abs(new - stored):.4f}, tolerance {args.tolerance:g})", flush=True)
        finally:
            if old_env is None:
                os.environ.pop("TDLIB_RESULTS", None)
            else:
                os.environ["TDLIB_RESULTS"] = old_env
    print(f"verify: {len(picked)} entries recomputed, {moved} moved beyond the tolerance")
    return 1 if moved else 0
