"""``python -m tdlib queue --profile gpu --minutes 9``: run the next pending work of every experiment in
priority order within a time budget (``--list``: what is pending, with estimated GPU-minutes)."""
import json

HELP = ("work queue: run pending experiment entries and discovery/SSL chunks in priority order "
        "(E1; discovery, E5, E6; E13/E14; the rest; then the paper profile) within --minutes; "
        "several workers may drain one queue; --list shows what is pending")


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("--minutes", type=float, default=None, help="time budget of this worker (required to run)")
    p.add_argument("--list", action="store_true", help="show pending jobs with estimated GPU-minutes, run nothing")
    p.add_argument("--only", default=None, help="comma-separated experiment ids (default: all)")
    p.add_argument("--no-tail", action="store_true", help="skip the paper-profile jobs queued after the gpu ones")
    p.add_argument("--worker", default="", help="a name for this worker in the log (default: the process id)")
    p.add_argument("--replace-stale", action="store_true",
                   help="recompute stored results and runs made with other settings (kept under "
                        "results/<profile>/.stale/); without it they are skipped and reported")
    p.add_argument("--workers", type=int, default=1,
                   help="run this many workers at once through submitit: a SLURM job array where SLURM is "
                        "there, else local processes (see --executor)")
    p.add_argument("--executor", default="auto", choices=("auto", "local", "slurm"),
                   help="with --workers: auto (SLURM if present, else local), local or slurm")
    p.add_argument("--slurm-partition", default=None, help="with --workers on SLURM: the partition")
    p.add_argument("--json", default=None, help="also write the summary (or the --list rows) to this JSON file")
    add_profile_arguments(p)


def main(args):
    from ..cli import profile_from_args
    from ...errors import ConfigError
    from ..queue import format_status, format_summary, job_status, plan, run_queue, run_workers
    only = set(args.only.split(",")) if args.only else None
    prof = profile_from_args(args, check_device=not args.list)
    if args.list:
        rows = [job_status(j) for j in plan(prof, only, not args.no_tail)]
        print(format_status(rows))
        out = rows
    else:
        if args.minutes is None or not args.minutes > 0 or args.minutes == float("inf"):     # NaN fails `> 0`
            raise ConfigError(f"queue needs a positive, finite --minutes budget (or --list), got {args.minutes}. "
                              "Fix: e.g. --minutes 9")
        if args.workers < 1:
            raise ConfigError(f"--workers {args.workers}: at least 1")
        if args.workers > 1 or args.executor != "auto":
            out = run_workers(prof, args.minutes, args.workers, executor=args.executor, data_path=args.data_path,
                              only=only, tail=not args.no_tail, replace_stale=args.replace_stale,
                              slurm={"partition": args.slurm_partition} if args.slurm_partition else None)
            print("\n".join(format_summary(s) for s in out))
        else:
            out = run_queue(prof, args.minutes, data_path=args.data_path, only=only, tail=not args.no_tail,
                            worker=args.worker, replace_stale=args.replace_stale)
            print(format_summary(out))
    if args.json:
        from pathlib import Path
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0
