"""``python -m tdlib report --profile cpu [--json]``: the paper's claims with verdicts from stored results.

Reads ``results/<profile>/*.json`` only (computes nothing); the verdict rule is
:data:`tdlib.lab.claims.RULE`. ``--json``: one JSON object per claim per line, keys ``experiment``,
``claim``, ``paper``, ``measured``, ``verdict``, ``parts`` (each: ``text``, ``state``, ``ci`` [low, high] or
null, ``n``), ``profile``, ``premises``, ``why``, ``stale``, ``page``.
"""
HELP = "the paper's claims (E1-E22) with the measured values and a verdict, from stored results"


def add_arguments(p):
    p.add_argument("--profile", default="auto",
                   help="stored profile to judge (results/<profile>/); auto: the best one stored (paper, gpu, cpu)")
    p.add_argument("--json", action="store_true", help="one JSON object per claim per line")
    p.add_argument("--experiments", nargs="*", default=None, metavar="EXP", help="only these (e.g. e1 e5)")


def main(args):
    import json
    from collections import Counter

    from ..claims import RULE, VERDICTS, best_profile, format_row, report
    from ...errors import ConfigError
    from ..results import results_root
    prof = best_profile() if args.profile == "auto" else args.profile
    if not (results_root() / prof).is_dir():
        have = sorted(d.name for d in results_root().iterdir() if d.is_dir()) if results_root().is_dir() else []
        raise ConfigError(f"no stored results under {results_root() / prof}. Fix: --profile one of {have or '(none)'}, "
                          f"or compute them first: python -m tdlib run all --profile {prof}")
    rows = report(prof, experiments=args.experiments)
    if args.json:
        for r in rows:
            print(json.dumps(r, sort_keys=True))
        return 0
    print(f"profile {prof}. {RULE}\n")
    for r in rows:
        print(format_row(r))
    counts = Counter(r["verdict"] for r in rows)
    n_exp = len({r["experiment"] for r in rows})
    print(f"\n{len(rows)} claims of {n_exp} experiments: " + ", ".join(f"{v} {counts[v]}" for v in VERDICTS)
          + f"; stale {sum(1 for r in rows if r['stale'])}")
    return 0
