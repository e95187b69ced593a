"""Experiments E1-E22 of the paper, one record each (see each submodule), stored with provenance.

A record (:class:`Experiment`) names the experiment (``id``, its book ``page`` and ``title``), the
profile ``fields`` its result depends on, the experiments whose stored results it reads (``needs``),
its data pool (``pool``: ``"main"`` = ``n_train`` images, ``"sec3"`` = ``sec3_n_train``), its
``compute(profile, data_path=None) -> ResultStore``, the long runs it reads and what the queue needs
to schedule it (the numbers the book and ``python -m tdlib report`` take from a store are computed by
``tdlib.lab.viz`` and ``tdlib.lab.claims`` from the stored entries). Section modules add records with
:func:`register`; submodules are found automatically, so a new section adds a file and nothing else.

The ``fields`` and ``needs`` make a result's *recipe* (``tdlib.lab.results``): changing a field an
experiment does not read (``ssl_epochs`` for E1) leaves its stored result valid; changing one it reads
makes the stored result stale, which the book says, and a rerun refuses to mix the two.
``tests/test_records.py`` checks each record's ``fields`` against the fields its compute reads.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

from ...config import FIELD_NAMES, get_profile
from ...errors import ConfigError
from ..results import (RECIPE_EXTENDS, RECIPE_FIELDS, RECIPE_FIELDS_AT, RECIPE_NEEDS, ResultStore, auto_at, best_stored,
                       load_store)

RECORDS: dict = {}              # id -> Experiment

# fields by concern (airbench-style groups), combined in the records below
POOL = ("dataset", "n_train", "n_test", "split_seed", "tin_image_size")
SEC3_POOL = ("dataset", "sec3_n_train", "n_test", "split_seed", "tin_image_size")
TRAIN = ("arch", "width", "epochs", "batch_size", "lr", "lr_schedule", "amp", "fit_stop")
SEC3_TRAIN = ("arch", "sec3_width", "sec3_epochs", "batch_size", "lr", "sec3_lr_schedule", "amp", "sec3_fit_stop")
TASKS = ("n_human", "n_random", "task_seed")
DISCOVERY = ("arch", "emb_dim", "n_tasks", "inner_steps", "inner_lr", "inner_batch", "meta_lr", "meta_steps",
             "uniformity_weight", "temperature", "early_stop_agreement", "early_stop_patience", "disc_width",
             "n_classes", "early_stop_min_steps", "inner_fresh_images", "inner_fixed_init", "encoder_head",
             "hyperplane_order", "tasks_per_step", "inner_checkpoint", "uniformity_t", "proxy_weight", "meta_lr_schedule",
             "uniformity_weight_end")


@dataclass(frozen=True)
class Experiment:
    id: str
    page: str                      # book page (file stem under book/)
    title: str
    fields: tuple                  # Profile fields the result depends on
    needs: tuple = ()              # experiments whose stored results it reads
    pool: str = "main"             # "main" (n_train images) or "sec3" (sec3_n_train)
    compute: Callable = None
    # what the queue needs to know (tdlib.lab.queue knows no experiment id):
    runs: tuple = ()               # the long runs it reads, by kind (tdlib.lab.queue.RUN_KINDS): "main" (the
    #                                profile's discovery run), "archs", "kway", "sweep", "appj", "adv_by"
    priority: "int | None" = None  # queued before the others, lowest first (None: registry order after them)
    expected: "Callable | None" = None   # fn(profile) -> how many entries it stores (None: unknown)
    skip: "str | Callable" = ""    # why the queue leaves it out ("" = it does not), or fn(profile) -> that reason
    then: tuple = ()               # ((after_profile, also_at_profile), ...): e.g. E1 at paper after the gpu queue
    rough_seconds: "Callable | None" = None   # fn(profile, as_task_seconds) -> seconds of one entry before any
    #                                is measured (default: the queue's as_task_seconds(profile))

    def skip_reason(self, profile) -> str:
        """Why the queue (and a page run) leaves this experiment out at ``profile``; "" if it does not."""
        return self.skip(profile) if callable(self.skip) else self.skip

    def stored(self, profile: str, root=None) -> "ResultStore | None":
        return load_store(self.id, profile, root)


def register(name: str, *, page: str, title: str, fields, needs=(), pool: str = "main", runs=(),
             priority=None, expected=None, skip: str = "", then=(), rough_seconds=None, extends=()):
    """Decorator: ``fn(profile, data_path=None) -> ResultStore`` computes experiment ``name``; the
    keywords fill the record (:class:`Experiment`). ``extends``: fields among ``fields`` that only say how
    many entries to compute (entry i is the same for any count above i): raising one adds entries to the
    stored result instead of making it stale."""
    fields = tuple(dict.fromkeys(fields))
    bad = sorted(set(fields) - FIELD_NAMES) + sorted(set(extends) - set(fields))
    if bad:
        raise ConfigError(f"record {name}: unknown profile fields {bad}")

    def deco(fn):
        RECORDS[name] = Experiment(name, page, title, fields, tuple(needs), pool, fn, runs=tuple(runs),
                                   priority=priority, expected=expected, skip=skip, then=tuple(then),
                                   rough_seconds=rough_seconds)
        RECIPE_FIELDS[name], RECIPE_NEEDS[name] = fields, tuple(needs)
        RECIPE_EXTENDS[name] = tuple(extends)
        if "adv_by" in runs:
            RECIPE_FIELDS_AT[name] = _adv_by_fields
        return fn
    return deco


def _adv_by_fields(p) -> tuple:
    """Sec. 6's tau' reads the main discovery run where the profile names discovered tasks (cpu, gpu): a
    result made from them depends on that run's settings too, so it goes stale when the run changes."""
    return DISCOVERY + ("task_seed",) if any(str(n).startswith("discovered") for n in p.adv_by) else ()


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def get(name: str, profile="auto", data_path=None, **overrides) -> ResultStore:
    """Result of experiment ``name``: with ``profile="auto"``, the best stored one (paper, gpu, then
    cpu; a stale one says so in its caption), else computed at ``smoke``; with ``"auto:P"`` (a book
    page's ``auto``, resolved once for the page by :func:`tdlib.lab.results.page_profile`), the one stored
    at P, else computed at ``smoke``; with a named profile (or a Profile), computed (only missing
    entries)."""
    _load_all()
    if name not in RECORDS:
        raise ConfigError(f"unknown experiment {name!r}; known: {names()}")
    at = auto_at(profile)
    if at is not None:
        store = load_store(name, at)
        if store is not None and store.entries and not overrides:
            return store
        profile = "smoke"
    if profile == "auto":
        store = best_stored(name)
        if store is not None and not overrides:
            return store
        profile = "smoke"
    return RECORDS[name].compute(get_profile(profile, **overrides), data_path=data_path)


SEC3_OWN = ("n_train", "width", "epochs", "fit_stop", "lr_schedule")   # Sec. 3's sec3_* counterparts


def training_params(experiment: str, params: dict) -> dict:
    """The training settings behind a stored result of ``experiment`` (its ``params``): for a record on
    Sec. 3's pool the ``sec3_*`` fields stand in for ``n_train``, ``width``, ``epochs``, ``fit_stop`` and
    ``lr_schedule`` where stored, so captions, claims and the prose name the networks that were trained."""
    rec = records().get(experiment)
    if rec is None or rec.pool != "sec3":
        return dict(params)
    return {**params, **{k: params[f"sec3_{k}"] for k in SEC3_OWN if f"sec3_{k}" in params}}


def page_experiments(page: str) -> list:
    """The experiments shown on book page ``page`` (``"sec3_agreement"``, or its short name ``"sec3"``)."""
    _load_all()
    return [n for n, r in RECORDS.items() if r.page == page or r.page.split("_")[0] == page]


def names() -> list:
    _load_all()
    return sorted(RECORDS, key=lambda n: (len(n), n))


def records() -> dict:
    _load_all()
    return {n: RECORDS[n] for n in names()}
