"""Diagnosis of discovery (issue 21; Sec. 4.3-4.4, Eq. 5, Algorithm 1): what drives the encoder, and
discovery where the answer is known.

Experiment ``diag``, one record with these entries:

- ``tasks_proxy:GROUP:i``: the proxy-AS (Algorithm 1's inner loop, the profile's settings) of group
  GROUP's task on hyperplane i, E5's groups (``discovered``, ``untrained``, ``unif_only``), over the same
  :data:`PROXY_REPS` unrolls for every group (paired): does meta-training raise its own objective?
- ``gradients:NAME``: the meta-gradient norms of the proxy-AS and uniformity terms on the untrained
  encoder (:func:`tdlib.diagnosis.term_gradients`) under the authors' objective (their BatchNorm head,
  T = 5, t = 2, λ = 5, their early stop), with the inner networks at half width, and at the profile's settings;
  ``effective_ratio`` = λ |∇L_unif| / |∇proxyAS| (>> 1: the uniformity term steers alone).
- ``stat_match:GROUP``: each of the group's tasks (as ``tasks_proxy``) with its best-matching simple
  image statistic (and planted cue, on the built-in data) by Eq. 2 similarity: does meta-training move
  the hyperplanes towards what the inner loop learns most easily?
- ``learnability:TASK``: the proxy-AS of fixed labellings under the profile's inner loop with the
  authors' early stop (0-1 agreement above 0.6 for 3 steps, at least 5;
  :func:`tdlib.diagnosis.label_learnability`): the built-in data's planted cues, simple image
  statistics, human and random labels. A labelling at random labels' proxy-AS cannot be discovered.
  ``learnability_full:TASK``: the same with the early stop off (all ``inner_steps`` run), where the
  early stop can cut the unroll, with the 0-1 agreement at every inner step (what the early stop
  reads: above 0.6 from the first steps even on random labels means it cannot tell tasks apart).
- ``sandbox:NAME``: discovery on the built-in data with planted cues (the smoke settings with
  :data:`SANDBOX_BASE`, seed 0, ``sandbox_meta_steps`` meta-steps) at several uniformity weights /
  temperatures: the best-matching cue of each task and the distinct cues matched (>= 0.9) every
  ``sandbox_every`` meta-steps, beside the untrained encoder's (step 0); also λ = 1, linear λ schedules
  (``uniformity_weight_end``), fresh inner initializations, and the whitened embedding at label
  temperature 2 without the uniformity term (the smoke default since session 11), at 1x, 3x and 4x the
  steps (4x: issue 21's smoke bar as ``tests/test_sandbox.py`` runs it, :data:`SANDBOX_BAR`).
  ``sandbox_seed:NAME:SEED``: the same runs at task seeds 1 and 2 (final recovery only), 1-5 for
  :data:`SANDBOX_BAR`: how much of a variant's result is the seed's.
"""
from __future__ import annotations

import tempfile

import numpy as np

from ...config import PROFILES, get_profile
from ...data import dataset_for, load_dataset
from ...diagnosis import cue_recovery, label_learnability, term_gradients
from ...discovery import (_new_state, checkpoint_stale, orthogonal_hyperplanes, sample_tasks, train_encoder,
                          untrained_tasks)
from ..runs import load_task_file, require_tasks
from ..results import run_items
from ...tasks import IMAGE_STATS, default_task_names, task_by_name
from . import DISCOVERY, POOL, register
from .sec4 import unif_only_point

SANDBOX_CUES = ("warm", "light", "position", "round", "bright", "large", "left")
# Every sandbox run is the smoke profile with SANDBOX_BASE and then its own overrides. SANDBOX_BASE pins the
# objective the first variants were measured against (the smoke default of sessions 6-10: the authors'
# BatchNorm head and label temperature T = 5, Eq. 5 at t = 0.5, λ = 5), so a stored entry keeps its meaning
# when the smoke default moves; the table marks the variant the smoke profile runs now.
SANDBOX_BASE = {"encoder_head": "linear_bn_scale", "temperature": 5.0, "uniformity_t": 0.5, "uniformity_weight": 5.0}
LONG = 3            # "(3x meta-steps)" variants run LONG x sandbox_meta_steps
SANDBOX_RUNS = (("authors t=2, λ=5", {"uniformity_t": 2.0, "uniformity_weight": 5.0}),
                ("λ=0", {"uniformity_weight": 0.0}),
                ("t=0.5, λ=5", {}))
# λ and its schedule across task seeds (issue 21: "as λ varies"; the bar asks for 3 seeds): each variant's
# final cue recovery at seeds 1 and 2 beside seed 0's ``sandbox:NAME``
SANDBOX_LAMBDA = (("λ=1", {"uniformity_weight": 1.0}),
                  ("λ 1→5", {"uniformity_weight": 1.0, "uniformity_weight_end": 5.0}),
                  ("λ 5→1", {"uniformity_weight": 5.0, "uniformity_weight_end": 1.0}),
                  # not λ: the two inner networks start from fresh random inits every meta-step instead of
                  # the authors' two fixed ones (does the fixed pair make the recovery a coin?)
                  ("fresh inner inits", {"inner_fixed_init": False}),
                  # the uniformity term replaced by a hard constraint: the embedding whitened over the batch
                  # (orthogonal hyperplanes read uncorrelated projections, and a binary cue may sit on an axis
                  # as two clusters, which Eq. 5 penalizes), and softer labels (T = 2: a projection near the
                  # hyperplane gives an unsure label, so the proxy-AS rewards two-cluster projections)
                  ("whitened, T=2, λ=0", {"encoder_head": "whiten", "temperature": 2.0, "uniformity_weight": 0.0}),
                  ("whitened, T=2, λ=0 (3x meta-steps)", {"encoder_head": "whiten", "temperature": 2.0,
                                                          "uniformity_weight": 0.0, "steps_x": LONG}))
SANDBOX_SEEDS = (1, 2)
# issue 21's smoke bar as its test runs it (tests/test_sandbox.py): the smoke objective at 4x
# sandbox_meta_steps (200 at cpu, the bar's most) and at task seeds 1-5 beside seed 0's ``sandbox:NAME``:
# the bar asks for 3 seeds, and the further seeds say how robust a pass at seeds 0-2 is
SANDBOX_BAR = (("whitened, T=2, λ=0 (4x meta-steps)", {"encoder_head": "whiten", "temperature": 2.0,
                                                       "uniformity_weight": 0.0, "steps_x": 4}),)
SANDBOX_BAR_SEEDS = (1, 2, 3, 4, 5)


def smoke_default_run(entries: dict) -> "str | None":
    """The stored ``sandbox:NAME`` whose objective the smoke profile runs now, the longest such run."""
    runs = [(e["final"]["step"], k.split(":", 1)[1]) for k, e in entries.items()
            if k.startswith("sandbox:") and is_smoke_default(e.get("overrides", {}))]
    return max(runs)[1] if runs else None


def sandbox_settings(overrides: dict) -> dict:
    """The smoke-profile overrides of a sandbox run (``steps_x`` aside)."""
    return {**SANDBOX_BASE, **{k: v for k, v in overrides.items() if k != "steps_x"}}


def is_smoke_default(overrides: dict) -> bool:
    """Does the smoke profile now run this variant's objective (at any number of meta-steps)?"""
    smoke = PROFILES["smoke"]
    return all(getattr(smoke, k) == v for k, v in sandbox_settings(overrides).items())


AUTHORS_EARLY_STOP = {"early_stop_agreement": 0.6, "early_stop_patience": 3, "early_stop_min_steps": 5}


def gradient_settings(p) -> dict:
    """The meta-loss settings whose term gradients ``diag`` compares (name -> profile)."""
    paper = PROFILES["paper"]                    # the authors' objective: their head and label temperature too
    return {"authors t=2, λ=5": p.replace(uniformity_t=2.0, uniformity_weight=5.0, encoder_head=paper.encoder_head,
                                          temperature=paper.temperature, **AUTHORS_EARLY_STOP),
            f"half-width inner nets ({max(1, p.disc_width // 2)})": p.replace(disc_width=max(1, p.disc_width // 2)),
            "profile": p}


def sandbox_run(overrides: dict, meta_steps: int, every: int, seed: int = 0) -> dict:
    """Discovery on the built-in data at the smoke settings with :data:`SANDBOX_BASE` and ``overrides``
    (``steps_x``: that many times ``meta_steps``): the cue recovery of the tasks of the trained
    hyperplanes at step 0 (untrained) and every ``every`` meta-steps."""
    meta_steps *= overrides.get("steps_x", 1)
    every = min(every * overrides.get("steps_x", 1), meta_steps)
    q = get_profile("smoke", meta_steps=meta_steps, task_seed=seed, **sandbox_settings(overrides))
    ds = load_dataset("synthetic", q.n_train, q.n_test, q.split_seed)
    cues = {c: ds.attrs[c] for c in SANDBOX_CUES}
    planes = orthogonal_hyperplanes(q.emb_dim, q.n_tasks, q.task_seed)
    traj = [{"step": 0, **cue_recovery(untrained_tasks(ds, q), cues)}]
    with tempfile.TemporaryDirectory() as d:
        while traj[-1]["step"] < meta_steps:
            st = train_encoder(ds, q, out_dir=d, progress=False, stop_after=every, device="cpu")
            traj.append({"step": st["step"], **cue_recovery(sample_tasks(st["encoder"], ds, planes)[0], cues)})
    hist = st["history"]
    k = max(1, len(hist) // 5)
    return {"overrides": overrides, "seed": seed, "trajectory": traj, "final": traj[-1],
            "proxy_first": float(np.mean([h["proxy_as"] for h in hist[:k]])),
            "proxy_last": float(np.mean([h["proxy_as"] for h in hist[-k:]])),
            "inner_steps": [h["inner_steps"] for h in hist]}


def easy_cue_mixtures(ds) -> dict:
    """Tasks halfway between the two easy planted cues of the built-in data: ``warm`` moves the
    background's red and blue apart, ``light`` moves them together, so the background's red alone (its
    3x3 corner, split at the median) is warm + light and its blue light - warm: each ~0.75 similar to
    both cues, what a hyperplane at 45 degrees between them would label."""
    corner = ds.x[:, :, :3, :3].float().mean(dim=(2, 3)).numpy()           # (N,3): background colour
    return {f"background {c} ({how})": (corner[:, k] > np.median(corner[:, k])).astype(np.int64)
            for c, k, how in (("red", 0, "warm + light"), ("blue", 2, "light - warm"))}


def sandbox_learnability(n_rep: int = 4) -> dict:
    """Does the objective itself prefer the planted cues to their mixtures? Algorithm 1's inner loop
    (:func:`tdlib.diagnosis.label_learnability`, the smoke settings, the built-in data) on each planted
    cue and on the two 45-degree mixtures of the easy ones: ``{name: {proxy_as, test_accuracy,
    similarity to warm and light}}``."""
    from ...tasks import similarity
    q = get_profile("smoke")
    ds = load_dataset("synthetic", q.n_train, q.n_test, q.split_seed)
    tasks = {**{c: ds.attrs[c] for c in SANDBOX_CUES}, **easy_cue_mixtures(ds)}
    return {name: {"task": name, "warm": similarity(y, ds.attrs["warm"]), "light": similarity(y, ds.attrs["light"]),
                   **label_learnability(ds, y, q, n_rep=n_rep)} for name, y in tasks.items()}


PROXY_REPS = 4          # unrolls per task in the tasks' proxy-AS (the same seeds for every group: paired)


def task_groups(ds, p) -> dict:
    """The tasks whose proxy-AS ``diag`` compares, by hyperplane: ``discovered`` (the main run),
    ``untrained`` (the same hyperplanes on the encoder at its initialization) and, where E5 saved it with
    today's settings, ``unif_only`` (uniformity-only training, E5's baseline)."""
    groups = {"discovered": require_tasks(ds, p)["tasks"], "untrained": untrained_tasks(ds, p)}
    q, out = unif_only_point(p)                      # E5's own baseline point (λ = 1 where the profile has 0)
    try:
        if not checkpoint_stale(q, out):
            groups["unif_only"] = load_task_file(ds, f"{p.name}/{out.name}")["tasks"]
    except ValueError:                                       # not saved: E5 has not run its baseline
        pass
    return groups


@register("diag", page="sec4_discovery", pool="main", needs=(),
          title="What drives the discovery encoder, and discovery where the answer is known (issue 21)",
          fields=POOL + DISCOVERY + ("task_seed", "sandbox_meta_steps", "sandbox_every"),
          runs=("main",))
def diag(p, data_path=None):
    ds = dataset_for(p, data_path)
    items = {}
    # does meta-training raise the objective itself? the proxy-AS (Algorithm 1's inner loop, the profile's
    # settings, hard labels) of each group's task on hyperplane i, over the same unrolls for every group
    groups = task_groups(ds, p)
    for g, tasks in groups.items():
        for i, t in enumerate(tasks):
            items[f"tasks_proxy:{g}:{i}"] = (lambda g=g, i=i, t=t: {
                "group": g, "index": i, **label_learnability(ds, t, p, n_rep=PROXY_REPS, seed=1000 + i)})
    # where does meta-training move the hyperplanes? each group's tasks' best-matching simple image
    # statistic (Eq. 2 similarity; a planted cue too on the built-in data), on the same hyperplanes
    stats = {f"stat:{k}": task_by_name(ds, f"stat:{k}") for k in IMAGE_STATS}
    if ds.name == "synthetic":
        stats.update({f"cue:{c}": ds.attrs[c] for c in SANDBOX_CUES})
    for g, tasks in groups.items():
        items[f"stat_match:{g}"] = (lambda g=g, tasks=tasks: {"group": g, **cue_recovery(tasks, stats)})
    for name, q in gradient_settings(p).items():
        def grads(q=q):
            out = term_gradients(_new_state(q, "cpu")["encoder"], ds, q, n_planes=4)
            return {**out, "uniformity_weight": q.uniformity_weight, "uniformity_t": q.uniformity_t,
                    "disc_width": q.disc_width, "encoder_head": q.encoder_head, "temperature": q.temperature,
                    "effective_ratio": q.uniformity_weight * out["ratio"]}
        items[f"gradients:{name}"] = grads
    names = ([f"cue:{c}" for c in SANDBOX_CUES] if ds.name == "synthetic" else [])
    names += [f"stat:{k}" for k in IMAGE_STATS]
    tn = default_task_names(p.replace(n_human=2, n_random=2))
    names += tn["human"] + tn["random"]
    authors = p.replace(**AUTHORS_EARLY_STOP)              # the authors' early stop (numbers.md)
    full = p.replace(early_stop_agreement=2.0)              # the early stop off: every inner step runs
    for n in names:
        items[f"learnability:{n}"] = (lambda n=n: {"task": n, "early_stop": True,
                                                   **label_learnability(ds, task_by_name(ds, n), authors)})
    if p.inner_steps > AUTHORS_EARLY_STOP["early_stop_min_steps"]:
        for n in names:
            items[f"learnability_full:{n}"] = (lambda n=n: {"task": n, "early_stop": False,
                                                            **label_learnability(ds, task_by_name(ds, n), full)})
    items["sandbox_learnability"] = sandbox_learnability
    for name, over in SANDBOX_BAR:
        items[f"sandbox:{name}"] = (lambda over=over: sandbox_run(over, p.sandbox_meta_steps, p.sandbox_every))
        for seed in SANDBOX_BAR_SEEDS:
            items[f"sandbox_seed:{name}:{seed}"] = (lambda over=over, seed=seed: sandbox_run(
                over, p.sandbox_meta_steps, p.sandbox_meta_steps, seed=seed))
    for name, over in SANDBOX_RUNS + SANDBOX_LAMBDA:
        items[f"sandbox:{name}"] = (lambda over=over: sandbox_run(over, p.sandbox_meta_steps, p.sandbox_every))
    for name, over in SANDBOX_RUNS + SANDBOX_LAMBDA:
        for seed in SANDBOX_SEEDS:
            items[f"sandbox_seed:{name}:{seed}"] = (lambda over=over, seed=seed: sandbox_run(
                over, p.sandbox_meta_steps, p.sandbox_meta_steps, seed=seed))
    return run_items("diag", p, items, data=ds, desc="diagnosis")
