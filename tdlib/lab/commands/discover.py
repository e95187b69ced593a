"""``python -m tdlib discover --profile cpu [--steps N] [--resume]``: meta-train the shared encoder
(Sec. 4.3, App. I.2) and save it with the sampled tasks under ``results/<profile>/discovery/``."""
import json
import sys

HELP = ("task discovery with a shared encoder (Sec. 4): trains in chunks, resumes with --resume; "
        "saves results/<profile>/discovery/{encoder.pt,tasks.npz} (task names discovered:K); "
        "--arch A: with another architecture, into discovery/arch_A (Sec. 5.2); "
        "K-way tasks (App. C) with --set n_classes=K, into discovery/kK (names discovered:I:<profile>/kK)")


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("--steps", type=int, default=None,
                   help="train up to this many meta-steps in total (default: the profile's meta_steps)")
    p.add_argument("--chunk", type=int, default=None,
                   help="stop after this many meta-steps in this call (resume later with --resume)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the checkpoint in the output folder")
    p.add_argument("--fresh", action="store_true",
                   help="start over even if the output folder holds a trained encoder (replaces it); "
                        "without --resume or --fresh such a folder is refused and left untouched")
    p.add_argument("--n-sample", type=int, default=None,
                   help="how many tasks to sample from orthogonal hyperplanes (default: n_tasks)")
    p.add_argument("--balance", choices=("median", "origin"), default="median",
                   help="split each projection at its median (balanced, default) or at the origin")
    p.add_argument("--arch", default=None,
                   help="discover with this architecture (Sec. 5.2): another than the profile's trains "
                        "study_disc_meta_steps meta-steps into results/<profile>/discovery/arch_<arch> "
                        "(task names discovered:K:<profile>/arch_<arch>)")
    p.add_argument("--out", default=None, help="output folder (default results/<profile>/discovery)")
    add_profile_arguments(p)


def main(args):
    from ..cli import profile_from_args
    from ...data import dataset_for
    from ...discovery import DiscoveryDiverged, check_settings, discover
    from ...errors import ConfigError
    from ..runs import arch_run, discovery_dir, run_name
    prof = profile_from_args(args)
    if args.resume and args.fresh:
        raise ConfigError("--resume and --fresh contradict each other. Fix: pass one of them")
    check_settings(prof, args.steps, args.chunk, args.n_sample)       # refuse before loading data
    ds = dataset_for(prof, args.data_path, args.download)
    where = run_name(prof)
    if args.arch:
        prof, where = arch_run(prof, args.arch)
    out_dir = args.out or discovery_dir(where)
    try:
        out = discover(ds, prof, steps=args.steps, out_dir=out_dir, resume=args.resume, fresh=args.fresh,
                       n_sample=args.n_sample, balance=args.balance, stop_after=args.chunk)
    except DiscoveryDiverged as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    hist = out["history"]
    last = hist[-10:]
    print(json.dumps({"profile": prof.name, "dataset": ds.name, "meta_steps": out["step"],
                      "proxy_as_first10": round(sum(h["proxy_as"] for h in hist[:10]) / max(len(hist[:10]), 1), 4),
                      "proxy_as_last10": round(sum(h["proxy_as"] for h in last) / max(len(last), 1), 4),
                      "n_tasks": out["n_tasks"], "mean_similarity": round(out["mean_similarity"], 4),
                      "tasks": out["tasks_path"]}))
    return 0
