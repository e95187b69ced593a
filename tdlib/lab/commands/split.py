"""``python -m tdlib split --target human:3 --by randnet:0 --out DIR``: write an adversarial split.

Writes ``DIR/split.json`` and ``DIR/split.npz`` (train/test indices into the pool, for CIFAR-10
also into CIFAR-10's official training set, the task names and labels; load them with
``tdlib.splits.load_split``), and ``DIR/random_split.{json,npz}``, a random split of the same sizes
and class counts; prints sizes and class balance of both.
"""
HELP = ("adversarial train/test split (Eq. 6, or Eq. 7 with --multiclass) of a target task by a "
        "high-AS task; writes index files and prints sizes and class balance")


def add_arguments(p):
    from ..cli import add_profile_arguments
    p.add_argument("--target", required=True,
                   help="target task τ: human:I, cue:NAME, ... (with --multiclass: classes:all)")
    p.add_argument("--by", required=True, help="binary high-AS task τ': randnet:S, cue:warm, discovered:K, ...")
    p.add_argument("--multiclass", action="store_true",
                   help="Eq. 7: the target is K-way (default classes:all); x in train iff τ'(x) == [τ(x) in C1]")
    p.add_argument("--c1", default=None,
                   help="with --multiclass: the classes of C1, comma-separated (default: the half whose "
                        "indicator is least similar to τ', so both parts hold about half the pool)")
    p.add_argument("--orient", default="larger-train", choices=["larger-train", "as-is"],
                   help="flipping τ' swaps train and test; default: the orientation with the larger train part")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split of equal size and balance")
    p.add_argument("--out", required=True, help="output folder")
    add_profile_arguments(p)


def main(args):
    from pathlib import Path

    import numpy as np

    from ..cli import profile_from_args
    from ...data import dataset_for
    from ...errors import ConfigError
    if args.by == args.target:
        raise ConfigError(f"--by {args.by} is the target task itself: on every image τ' = τ, so the adversarial "
                          "split puts every image in train and none in test (accuracy undefined). Fix: give --by "
                          "another high-AS task (randnet:S, discovered:K, ...).")
    from ...splits import (adversarial_split, format_summary, multiclass_adversarial_split,
                          random_split_like, save_split, summarize)
    from ...tasks import task_by_name
    prof = profile_from_args(args)
    ds = dataset_for(prof, args.data_path, args.download)
    target, by = task_by_name(ds, args.target), task_by_name(ds, args.by)
    if by.max() > 1:
        raise ConfigError(f"--by {args.by} must be a binary task, it has {by.max() + 1} classes")
    if not args.multiclass and target.max() <= 1 and (np.array_equal(target, by) or np.array_equal(target, 1 - by)):
        raise ConfigError(f"--by {args.by} labels every image as --target {args.target} does (or its flip), so one "
                          "part of the adversarial split is empty (accuracy undefined). Fix: give --by a task that "
                          "differs from the target.")
    if args.multiclass:
        c1 = [int(c) for c in args.c1.split(",")] if args.c1 else None
        split = multiclass_adversarial_split(target, by, c1, num_classes=max(int(target.max()) + 1, 2),
                                             orient=args.orient, target_name=args.target, by_name=args.by)
    else:
        if target.max() > 1:
            raise ConfigError(f"--target {args.target} has {target.max() + 1} classes; "
                             "use --multiclass for Eq. 7")
        split = adversarial_split(target, by, orient=args.orient, target_name=args.target, by_name=args.by)
    rnd = random_split_like(split, target, seed=args.seed)
    out = Path(args.out)
    names = ds.class_names if args.multiclass else [f"{args.target}=0", f"{args.target}=1"]
    for stem, sp in (("split", split), ("random_split", rnd)):
        for ext in (".json", ".npz"):
            save_split(sp, out / f"{stem}{ext}", ds=ds, target=target, by=by)
        print(format_summary(summarize(sp, target, by), names))
        print(f"  -> {out / stem}.json, {out / stem}.npz")
    print(f"profile {prof.name}, dataset {ds.describe()}")
    return 0
