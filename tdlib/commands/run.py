"""``python -m tdlib run e1 --profile cpu``: compute an experiment and store it with provenance."""
HELP = "run experiments (e1, e2, ...) at a profile; stores results/<profile>/<exp>.json, resumes"


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("experiments", nargs="+", help="experiment ids (see --list), or 'all'")
    add_profile_arguments(p)


def main(args):
    from .. import experiments
    from ..cli import profile_from_args
    from ..errors import ConfigError
    prof = profile_from_args(args)
    todo = experiments.names() if args.experiments == ["all"] else args.experiments
    bad = sorted(set(todo) - set(experiments.names()))
    if bad:
        raise ConfigError(f"unknown experiment(s) {bad}; known: {', '.join(experiments.names())} (or 'all')")
    for name in todo:
        store = experiments.get(name, profile=prof, data_path=args.data_path)
        note = ""
        if getattr(store, "skipped_claimed", None):
            note += f"; {len(store.skipped_claimed)} entries being computed by other workers"
        if getattr(store, "budget_stopped", False):
            note += "; stopped for the time budget"
        print(f"{name}: {len(store.entries)} entries, complete={store.data['complete']}{note} -> {store.path}")
    return 0
