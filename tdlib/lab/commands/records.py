"""``python -m tdlib records [--profile P] [--json] [--migrate]``: the experiment records and the state
of their stored results (current, stale with the reason, partial, missing)."""
import json

HELP = ("list the experiment records (page, fields, needs) and whether each stored result is current, "
        "stale (and why) or partial; --migrate adds recipes to result files made before recipes existed")


def add_arguments(p):
    p.add_argument("--profile", default=None, help="only this profile's stored results (default: paper, gpu, cpu)")
    p.add_argument("--json", action="store_true", help="one JSON object per experiment and profile")
    p.add_argument("--fields", action="store_true", help="also print each record's fields")
    p.add_argument("--migrate", action="store_true",
                   help="add a recipe (from the stored params and the data they name) to stored files "
                        "that have none; needs the data (TDLIB_DATA / --data-path)")
    p.add_argument("--data-path", default=None, help="data for --migrate (else $TDLIB_DATA)")


def main(args):
    from .. import experiments
    from ..records import migrate_recipes, status
    from ..results import STORED_PROFILES
    profiles = [args.profile] if args.profile else list(STORED_PROFILES)
    if args.migrate:
        for prof in profiles:
            for line in migrate_recipes(prof, args.data_path):
                print(line)
        return 0
    from ...config import get_profile
    for rec in experiments.records().values():
        shown = 0
        for prof in profiles:
            st = status(rec, prof)
            if args.json:
                print(json.dumps({"experiment": rec.id, "page": rec.page, "profile": prof, **st,
                                  "skip": rec.skip_reason(get_profile(prof)),
                                  **({"fields": list(rec.fields), "needs": list(rec.needs)} if args.fields else {})}))
                continue
            if st["state"] == "missing":
                continue
            shown += 1
            why = f" ({'; '.join(st['stale'])})" if st["stale"] else ""
            print(f"{rec.id:>4} {prof:>5} {st['state']:<8} {st['entries']:>3} entries  {rec.title}{why}")
        if not args.json and not shown:                # every record listed, with why it has no result
            skips = {rec.skip_reason(get_profile(q)) for q in profiles} - {""}
            why = f"; the queue leaves it out: {'; '.join(sorted(skips))}" if skips else ""
            print(f"{rec.id:>4} {'-':>5} {'missing':<8} {0:>3} entries  {rec.title} (no stored result at "
                  f"{', '.join(profiles)}{why})")
        if args.fields and not args.json:
            print(f"      fields: {', '.join(rec.fields)}; needs: {', '.join(rec.needs) or '-'}")
    return 0
