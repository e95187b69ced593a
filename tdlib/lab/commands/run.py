"""``python -m tdlib run e1 --profile cpu``: compute an experiment and store it with provenance."""
HELP = "run experiments (e1, e2, ...) at a profile; stores results/<profile>/<exp>.json, resumes"


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("experiments", nargs="+", help="experiment ids (see --list), or 'all'")
    p.add_argument("--replace-stale", action="store_true",
                   help="recompute a stored result (and the discovery/SSL runs it reads) made with other "
                        "settings; the old one is kept under results/<profile>/.stale/")
    add_profile_arguments(p)


def main(args):
    from .. import experiments
    from ..cli import profile_from_args
    from ...errors import ConfigError
    from ..results import replacing_stale
    prof = profile_from_args(args)
    todo = experiments.names() if args.experiments == ["all"] else args.experiments
    bad = sorted(set(todo) - set(experiments.names()))
    if bad:
        raise ConfigError(f"unknown experiment(s) {bad}; known: {', '.join(experiments.names())} (or 'all')")
    for name in todo:
        if args.replace_stale:
            set_aside_stale(name, prof)
        store = replacing_stale(lambda: experiments.get(name, profile=prof, data_path=args.data_path),
                                args.replace_stale)          # made on other data: only the fingerprint tells
        note = ""
        if getattr(store, "skipped_claimed", None):
            note += f"; {len(store.skipped_claimed)} entries being computed by other workers"
        if getattr(store, "budget_stopped", False):
            note += "; stopped for the time budget"
        print(f"{name}: {len(store.entries)} entries, complete={store.data['complete']}{note} -> {store.path}")
    return 0


def set_aside_stale(name: str, prof) -> list:
    """Move the stale parts of experiment ``name`` at ``prof`` (its result file, the long runs it reads)
    into ``results/<profile>/.stale/``; returns what was moved."""
    from ..queue import Job, long_runs, stale_path, _store_stale
    from ..results import set_aside
    moved = []
    runs = long_runs(name, prof)
    for job in [Job("run", name, prof, run=r) for r in runs] + [Job("experiment", name, prof, waits_for=runs)]:
        why = job.run.stale() if job.kind == "run" else _store_stale(job)
        if why:
            dest = set_aside(stale_path(job))
            print(f"{job.name}: stale ({'; '.join(why[:3])}{' ...' if len(why) > 3 else ''}); kept as {dest}")
            moved.append(dest)
    return moved
