"""The state of the experiments' stored results, and recipes for files made before recipes existed.

:func:`status` says whether a record's stored result at a profile is ``current``, ``stale`` (with
the differing fields), ``partial`` or ``missing``. :func:`same_recipe` is the check a figure or
table runs before it puts results of two experiments side by side (issue: one recipe per
comparison). :func:`migrate_recipes` gives an old file (no ``recipe``) the recipe its stored
``params`` imply, on the data those params name; it marks the file ``recipe_reconstructed``.
"""
from __future__ import annotations

from ..config import get_profile
from ..errors import RecipeMismatch
from .results import (RECIPE_NEEDS, atomic_write_json, file_lock, load_store, make_recipe, read_json,
                      recipe_fields)


def status(record, profile: str, root=None) -> dict:
    store = load_store(record.id, profile, root)
    if store is None:
        return {"state": "missing", "entries": 0, "stale": [], "recipe": None}
    stale = store.stale()
    state = "stale" if stale else ("current" if store.complete() else "partial")
    return {"state": state, "entries": len(store.entries), "stale": stale,
            "recipe": store.recipe.get("hash"), "complete": store.complete()}


SHARED = ("dataset", "n_train", "sec3_n_train", "n_test", "split_seed", "arch", "width", "epochs",
          "batch_size", "lr", "lr_schedule", "amp")


def same_recipe(*stores, fields=SHARED, strict: bool = True) -> list:
    """Check that ``stores`` (shown together) agree on the training recipe ``fields`` they have in common
    and on their data. Returns the differences; with ``strict`` raises :class:`RecipeMismatch`."""
    stores = [s for s in stores if s is not None]
    diffs = []
    for a, b in zip(stores, stores[1:]):
        fa, fb = a.recipe.get("fields", {}), b.recipe.get("fields", {})
        for k in fields:
            if k in fa and k in fb and fa[k] != fb[k]:
                diffs.append(f"{k}: {a.experiment}={fa[k]!r}, {b.experiment}={fb[k]!r}")
        da, db = a.recipe.get("data") or {}, b.recipe.get("data") or {}
        if da and db and da != db:
            diffs.append(f"data: {a.experiment} ran on {da.get('dataset')} {da.get('n_train')}/{da.get('n_test')}, "
                         f"{b.experiment} on {db.get('dataset')} {db.get('n_train')}/{db.get('n_test')}")
        if a.data.get("profile") != b.data.get("profile"):
            diffs.append(f"profile: {a.experiment}={a.data.get('profile')}, {b.experiment}={b.data.get('profile')}")
    if diffs and strict:
        raise RecipeMismatch("these results were made with different recipes and cannot be compared: "
                             + "; ".join(diffs))
    return diffs


def _order(names):
    done, out = set(), []

    def visit(n):
        if n in done:
            return
        done.add(n)
        for m in RECIPE_NEEDS.get(n, ()):
            visit(m)
        out.append(n)
    for n in names:
        visit(n)
    return out


def migrate_recipes(profile: str, data_path=None, root=None) -> list:
    """Add recipes to the stored files of ``profile`` that have none (needs before their users)."""
    from . import experiments
    from ..data import dataset_for
    recs = experiments.records()
    base = get_profile(profile)
    out, cache = [], {}
    for name in _order(list(recs)):
        store = load_store(name, profile, root)
        if store is None or store.recipe:
            continue
        params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in store.data.get("params", {}).items()
                  if k in base.as_dict() and k != "name"}
        p = base.replace(**params)                      # absent (newer) fields: the profile's value now
        pool = recs[name].pool
        key = (p.dataset, p.sec3_n_train if pool == "sec3" else p.n_train, p.n_test, p.split_seed, p.tin_image_size)
        if key not in cache:
            try:
                ds = dataset_for(p, data_path, n_train=key[1])
                cache[key] = ds.fingerprint()
            except Exception as e:          # noqa: BLE001 - report and go on
                out.append(f"{name}: skipped, its data cannot be loaded ({e})")
                continue
        rec = make_recipe(name, p, cache[key], extra=_extra(store, p), root=root)
        with file_lock(store.path):
            data = read_json(store.path)
            data["recipe"], data["recipe_reconstructed"] = rec, True
            atomic_write_json(store.path, data)
        out.append(f"{name}: recipe {rec['hash']} (fields {', '.join(recipe_fields(name, p))[:60]}...)")
    return out


def _extra(store, p):
    """Params stored beside the profile's fields (e.g. E8's task list) are part of the recipe."""
    extra = {k: v for k, v in store.data.get("params", {}).items() if k not in p.as_dict()}
    return extra or None
