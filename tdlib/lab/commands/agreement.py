"""``python -m tdlib agreement human:3 random:0 --profile cpu``: AS of named tasks, as JSON lines."""
import json
import time

HELP = "agreement score (Eq. 1) of named tasks (human:I, random:S, cue:NAME, ...), JSON per task"


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("tasks", nargs="+", help="task names, e.g. human:3 random:0")
    p.add_argument("--arch", default=None, help="architecture (default: the profile's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the pair of networks")
    add_profile_arguments(p)


def main(args):
    from ...agreement import agreement_score
    from ..cli import profile_from_args
    from ..experiments.sec3 import sec3_dataset, sec3_profile
    from ...tasks import task_by_name
    prof = profile_from_args(args)
    ds = sec3_dataset(prof, args.data_path, args.download)       # the pool and networks of E1-E4
    labels = {name: task_by_name(ds, name) for name in args.tasks}      # fail early on bad names
    for name, lab in labels.items():
        t0 = time.perf_counter()
        r = agreement_score(ds, lab, sec3_profile(prof), arch=args.arch, seed=args.seed)
        print(json.dumps({"task": name, "AS": round(r["agreement"], 4), "test_acc": round(r["test_acc"], 4),
                          "arch": r["arch"], "profile": prof.name, "dataset": ds.name,
                          "seconds": round(time.perf_counter() - t0, 2)}), flush=True)
    return 0
