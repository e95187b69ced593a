"""Profiles: the one home for every default (paper Sec. 3.2, 4.4, App. I).

Three profiles share one code path and differ only in these numbers:

- ``smoke``: CI on 2 CPU cores, the built-in generated data (``synthetic``), seconds per notebook.
- ``cpu``: a real CIFAR-10 subset and a small CNN, minutes on 2 cores.
- ``paper``: one GPU, the paper's settings (the protocol exactly).
- ``gpu``: one modern GPU in short windows: the paper's data, architectures and optimizer, with cost
  savers (each a field below): networks stop once they fit their labels (``fit_stop``, ``epochs`` as the
  cap), fewer tasks per experiment, a discovery width whose state fits one transfer (``disc_width``).

Every field says where its value comes from. Functions take a :class:`Profile` (or a profile
name) and read their defaults from it; papermill parameters and CLI flags override fields with
:func:`get_profile` (``get_profile("cpu", epochs=5)``, or by section: ``get_profile("cpu", train={"epochs": 5})``,
``--set train.epochs=5``). The built-in profiles are written the same way, as nested overrides of the
paper's settings, section by section (:func:`_built_in`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import numbers
import re
from dataclasses import dataclass, fields

from .errors import ConfigError


@dataclass(frozen=True)
class Profile:
    name: str
    # ---- data (Sec. 3.2) ----------------------------------------------------------------
    dataset: str = "cifar10"        # Sec. 3.2: CIFAR-10 images; "synthetic" = built-in planted-cue data
    n_train: int = 45_000           # Sec. 3.2: X_tr = 45K images of CIFAR-10's train set
    n_test: int = 5_000             # Sec. 3.2: X_te = the other 5K (held out, seeded)
    sec3_n_train: int = 45_000      # Sec. 3.2: |X_tr| of the AS experiments E1-E4 (the paper: the same 45K);
    #                                 cpu: 2K, so that its networks fit random labels in minutes
    split_seed: int = 0             # our choice: seed of the 45K/5K split
    # ---- agreement score training (Sec. 3.2; numbers.md: reference config) ----------------
    arch: str = "resnet18"          # Sec. 3.2: ResNet-18 (CIFAR variant, App. I.3)
    width: int = 64                 # ResNet-18's base width (standard); smaller for cheap profiles
    epochs: int = 100               # Sec. 3.2: 100 epochs, enough for zero train error
    batch_size: int = 512           # numbers.md: batch 512
    lr: float = 1e-3                # numbers.md: Adam, lr 1e-3
    optimizer: str = "adam"         # Sec. 3.2: Adam
    lr_schedule: str = "constant"   # Sec. 3.2 names no schedule: constant lr; "linear" decays to 0 (cpu)
    amp: bool = True                # ours: bf16 autocast on CUDA (ignored on CPU)
    fit_stop: float = 0.0           # cost saver (gpu): stop a network once its running train accuracy over
    #                                 an epoch reaches this (the premise of Sec. 3.2: the networks fit their
    #                                 labels; numbers.md: the authors' code stops at 0.98 when scoring tasks,
    #                                 capped at 30 epochs); 0 = train all `epochs` (the paper's protocol)
    # Sec. 3's own networks (E1-E4, `python -m tdlib agreement`): the paper trains them to zero train error
    # (Sec. 3.2); a profile whose shared recipe above does not fit its labels (cpu: 15 epochs, ~0.77 train
    # accuracy) gives Sec. 3 a recipe that does (issue 18), while Sec. 4-6 keep theirs
    sec3_width: int = 64            # Sec. 3.2: ResNet-18 width 64, as `width`
    sec3_epochs: int = 100          # Sec. 3.2: 100 epochs, as `epochs`
    sec3_fit_stop: float = 0.0      # as `fit_stop`
    sec3_lr_schedule: str = "constant"   # as `lr_schedule`
    train_impl: str = "plain"       # ours: how a pair is trained (tdlib.train.TRAIN_IMPLS): "plain",
    #                                 "streams" (the pair interleaved on 2 CUDA streams), "graph" (CUDA graph
    #                                 of the train step), "streams+graph"; the same networks on CPU
    # ---- experiments (Sec. 3.2) ----------------------------------------------------------
    n_human: int = 20               # Sec. 3.2: 20 of the 126 human 5-vs-5 tasks
    n_random: int = 20              # Sec. 3.2: 20 random-labelled tasks
    task_seed: int = 0              # our choice: which 20 human tasks, which random labels
    train_sizes: tuple = (1_000, 5_000, 15_000, 45_000)   # Fig. 2-center: AS vs |X_tr|
    archs: tuple = ("resnet18", "mlp", "vit")             # Fig. 2-left, App. I.3
    n_ablation: int = 20            # tasks of each kind in Fig. 2 center/right (paper: all 20)
    noise_tasks: int = 2            # ours (issue 18): human and random tasks of E1 whose AS is repeated ...
    noise_seeds: int = 2            # ... with this many more seed pairs: the seed noise of one AS
    # ---- discovery (Sec. 4, App. I.1-I.2) ------------------------------------------------
    emb_dim: int = 32               # Sec. 4.4: d = 32 in the main setting
    n_tasks: int = 32               # Sec. 4.4: 32 tasks from 32 orthogonal hyperplanes
    inner_steps: int = 50           # App. I.1: at most 50 inner SGD steps
    inner_lr: float = 1e-2          # App. I.2: inner SGD lr 1e-2
    inner_batch: int = 512          # numbers.md: inner batch 512
    meta_lr: float = 1e-3           # App. I.2: Adam lr 1e-3 for the encoder
    meta_lr_schedule: str = "constant"  # App. I.2: Adam at a constant lr; "linear" decays it to 0 over meta_steps (ours:
    #                                 short runs end on a settled encoder instead of wherever the last steps left it)
    meta_steps: int = 100_000       # numbers.md: 1e5 meta-steps (~24 h in the paper)
    uniformity_weight: float = 5.0  # App. I.2: λ (value lost in extraction); numbers.md: 5 in the authors' config
    uniformity_weight_end: float = -1.0   # ours (issue 21): >= 0 moves λ linearly from uniformity_weight to this
    #                                 over meta_steps (spread the tasks first, then let the proxy-AS sharpen
    #                                 them); -1 = constant λ (the paper)
    temperature: float = 5.0        # numbers.md: task-network softmax temperature 5
    proxy_weight: float = 1.0       # ours: weight of the proxy-AS term in the meta-loss (Eq. 5 has 1); 0 trains the
    #                                 encoder on the uniformity term alone (E5's uniformity-only baseline)
    uniformity_t: float = 2.0       # Eq. 5 (Wang & Isola 2020): exp(-t ||z - z'||^2) with t = 2; a small t makes
    #                                 L_unif ~ t^2 ||E zz^T||_F^2 (a decorrelation), see tdlib.discovery
    early_stop_agreement: float = 0.6    # numbers.md (authors' xas config): stop when the 0-1 agreement ...
    early_stop_patience: int = 3         # ... of the last 3 inner steps is above 0.6 ...
    early_stop_min_steps: int = 5        # ... after at least 5 steps (App. I.2: "more than three steps")
    inner_fresh_images: bool = True      # App. I.2 / numbers.md: every inner batch is novel (a permutation of
    #                                      X_tr cut into batches); False = each batch drawn anew (images repeat)
    inner_fixed_init: bool = True        # numbers.md: the two inner networks start from the same two fixed
    #                                      initializations at every meta-step; False = new seeds each step
    encoder_head: str = "linear_bn_scale"   # numbers.md: Linear (no bias) + BatchNorm, learnable scale, bias
    #                                      frozen at 0; "bn_plain" = BatchNorm without affine (our earlier head);
    #                                      "whiten" = the embedding whitened over the batch (ours, issue 21:
    #                                      orthogonal hyperplanes read uncorrelated projections)
    hyperplane_order: str = "cycle"      # numbers.md: each hyperplane once per n_tasks meta-steps, shuffled;
    #                                      "random" = drawn with replacement
    tasks_per_step: int = 1              # ours: hyperplanes per meta-step (their losses averaged); authors: 1
    sandbox_meta_steps: int = 50         # ours (issue 21): meta-steps of each diagnosis run on the built-in data
    sandbox_every: int = 10              # ours: its cue recovery measured every this many meta-steps
    e5_n_baseline: int = 20              # Sec. 3.2: E5's own human and random tasks (20 of each), on E5's pool
    e5_n_unseen: int = 8                 # ours: tasks from new random hyperplanes (App. I.2: "any hyperplane")
    # ---- adversarial splits (Sec. 6, App. D, F) -----------------------------------------
    adv_targets: int = 4            # Sec. 6.1, Fig. 7-right: 4 human-labelled targets (first of the E1 sample)
    adv_by: tuple = tuple(f"randnet:{i}" for i in range(10))   # Fig. 7-right: 10 high-AS tasks τ'; the paper
    #                                 used discovered tasks; random-network tasks (Sec. 6.3) stand in until
    #                                 `discovered:K` tasks exist (any task names work here)
    adv_multiclass_by: int = 3      # Tab. 1 (CIFAR-10 10-way, Eq. 7): how many of adv_by to average (ours)
    adv_seeds: int = 3              # ours: network pairs per split, 2 networks each (the paper does not say)
    # ---- empirical study of tasks (Sec. 5, App. B, G) -------------------------------------
    green_pixel: tuple = (0, 0)     # Sec. 5.4: "a fixed position" (not given); ours: the top-left corner
    green_arch: str = "resnet18"    # Sec. 5.4 with the Sec. 3.2 recipe; e11 adds this arch ...
    green_n_train: int = 45_000     # ... trained on this many images (Sec. 3.2's X_tr) ...
    green_epochs: int = 100         # ... for this many epochs (Sec. 3.2: 100, "enough for zero train error")
    study_group_size: int = 20      # Sec. 5.2-5.3: tasks per group (20 human, 20 random; paper's discovered: 32)
    study_n_train: int = 45_000     # Sec. 5.2-5.3: the Sec. 3.2 setting (X_tr = 45K); smaller on CPU
    domain_archs: tuple = ("resnet18", "mlp", "vit")   # Sec. 5.3, Fig. 5: every architecture
    domain_n_images: int = 2_000    # ours: test images per other domain (paper: not stated)
    prop1_arch: str = "resnet18"    # App. G: any learning algorithm; the Sec. 3.2 one by default
    prop1_models: int = 4           # App. G: networks per task to estimate the distribution over w
    grid_k: int = 8                 # Sec. 5.1, App. B: images shown per class (most discriminative)
    grid_n_discovered: int = 10     # App. B, Fig. 10: 10 discovered tasks shown (Fig. 4: 3); ours: the first ones
    study_disc_archs: tuple = ("resnet18", "mlp", "vit")   # Sec. 5.2: tasks discovered with each architecture
    study_disc_meta_steps: int = 100_000   # Sec. 5.2: discovery with another arch as in Sec. 4 (numbers.md: 1e5
    #                                 meta-steps); the profile's own arch uses its default run (`meta_steps`)
    disc_width: int = 64                 # App. I.2: encoder and inner nets = the AS backbone (ResNet-18, w 64)
    inner_checkpoint: bool = True        # numbers.md: every inner step checkpointed (memory); off on CPU
    sweep_weights: tuple = (0.0, 1.0, 5.0, 20.0)   # App. E, Fig. 13: λ values of the trade-off sweep
    sweep_dims: tuple = (8, 32, 128)               # App. E, Fig. 13: embedding sizes d of the sweep
    sweep_meta_steps: int = 20_000                 # ours: shorter discovery runs for each sweep point
    sweep_n_tasks: int = 8                         # ours: tasks per sweep point whose AS is measured
    longer_meta_steps: int = 0           # ours (issue 21's diagnosis, record ``longer``): the main run again with
    #                                      this many meta-steps, its tasks' AS beside E5's; 0 = not run
    asfit_n: int = 0                     # ours (issue 21's diagnosis, record ``asfit``): E5's groups on this many
    #                                      hyperplanes, AS again with Sec. 3's networks (fit their labels); 0 = not run
    naive_threshold: float = 0.6         # App. H.2: keep a random-network task if max sim below this
    naive_max_draws: int = 1000          # App. H.2: give up after this many random networks
    # ---- multi-class discovery (App. C) and Tiny ImageNet (App. A) ------------------------
    n_classes: int = 2              # App. C: K classes of the discovered tasks (2 = the binary tasks of Sec. 4)
    kway_classes: tuple = (3, 5)    # ours: E17's K values (App. C shows the method, no K or numbers)
    kway_meta_steps: int = 100_000  # ours: each E17 discovery run as long as the binary one (numbers.md: 1e5)
    kway_n_tasks: int = 20          # ours: E17's discovered / random / human tasks per K (Sec. 3.2: 20 of each)
    tin_image_size: int = 64        # App. A: Tiny ImageNet's native 64x64 (ResNet-18 pools globally);
    #                                 32 = resized like CIFAR-10, needed by the MLP and ViT (fixed input size)
    tin_n_train: int = 90_000       # ours: X_tr out of Tiny ImageNet's 100K training images (App. A: no split given)
    tin_n_test: int = 10_000        # ours: X_te = the other 10K
    # ---- self-supervised regulated discovery and App. J (Sec. 5.1, 5.4) --------------------
    ssl_weights: str = ""           # Sec. 5.1: SimCLR ResNet-50 weights (a path; set ssl_arch="resnet50");
    #                                 "" = ours: train a SimCLR model on X_tr (no pretrained weights here)
    ssl_arch: str = "resnet18"      # ours: backbone of our own SimCLR (the paper's is a ResNet-50)
    ssl_width: int = 64             # ours: its width (the AS backbone's)
    ssl_epochs: int = 200           # ours: SimCLR epochs (SimCLR's CIFAR runs: 100-1000)
    ssl_batch: int = 512            # SimCLR (Chen et al. 2020), CIFAR-10: batch 512
    ssl_lr: float = 1e-3            # ours: Adam lr (SimCLR uses LARS)
    ssl_temperature: float = 0.5    # SimCLR, CIFAR-10: NT-Xent temperature 0.5
    ssl_proj_dim: int = 128         # SimCLR: 128-dim projection head output
    ssl_hidden: int = 512           # Sec. 5.1: 2-layer MLP encoder on the features; hidden width ours
    ssl_meta_steps: int = 20_000    # ours: discovery steps of the regulated run (as sweep_meta_steps)
    ssl_n_as: int = 8               # ours: regulated tasks whose AS is measured and images shown (as sweep_n_tasks)
    appj_dims: tuple = (8, 32, 128)      # Fig. 6-left: embedding sizes d (those of App. E's sweep)
    appj_head_steps: int = 300           # ours: LBFGS iterations of the linear head (App. J: a linear classifier)
    sis_n_images: int = 100         # App. B, Fig. 9: test images whose SIS masks form a heatmap (not stated)
    sis_patch: int = 1              # App. B: SIS ranks pixels (1); larger: square blocks of pixels (cost saver)
    sis_remove: int = 1             # Carter et al. 2019: exact backward selection removes 1 feature a round;
    #                                 more: the batched approximation (Carter et al. 2021; cost saver, tdlib.sis)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(f"profile name {self.name!r}: use lower-case letters, digits, '_' or '-' "
                              "(it names the folder results/<name>/)")
        with untracked():                      # checking the fields is not reading them for a result
            validate(self)

    def replace(self, **overrides) -> "Profile":
        """A copy with some fields changed; unknown names raise a clear error. The name cannot be
        overridden: results of a changed profile are stored under the profile they came from, with
        their recipe (see ``tdlib.lab.results``), never under another profile's name."""
        known = {f.name for f in fields(self)}
        bad = sorted(set(overrides) - known)
        if bad:
            raise ConfigError(f"unknown profile field(s) {bad}; known fields: {sorted(known)}")
        if "name" in overrides and overrides["name"] != self.name:
            raise ConfigError(f"the profile name cannot be overridden ({self.name!r} -> {overrides['name']!r}): "
                              f"choose the profile itself (--profile NAME), one of {sorted(PROFILES)}")
        with untracked():
            return dataclasses.replace(self, **overrides)

    def as_dict(self) -> dict:
        with untracked():
            return dataclasses.asdict(self)

    def by_section(self) -> dict:
        """``{section: {field: value}}``: the profile as nested settings (:data:`SECTIONS`)."""
        return {s: self.values(names) for s, names in SECTIONS.items()}

    def values(self, names) -> dict:
        """``{field: value}`` for the fields ``names`` (tuples as lists, as JSON stores them)."""
        with untracked():
            return json_values(self, names)


def json_values(obj, names) -> dict:
    """``{field: value}`` of ``obj``'s fields ``names``, tuples as lists (as JSON stores them)."""
    return {n: (list(v) if isinstance(v := getattr(obj, n), tuple) else v) for n in names}


OPTIMIZERS = ("adam",)                  # what tdlib.train implements (Sec. 3.2: Adam); any other is refused
# fields that count something: (smallest value, why a smaller one cannot work)
_AT_LEAST = {"meta_steps": (1, "0 meta-steps would store an untrained encoder's tasks as discovered"),
             "kway_meta_steps": (1, "as meta_steps"), "study_disc_meta_steps": (1, "as meta_steps"),
             "sweep_meta_steps": (1, "as meta_steps"), "ssl_meta_steps": (1, "as meta_steps"),
             "width": (1, "a network needs at least one channel"), "epochs": (1, "a network must be trained"),
             "batch_size": (1, "a batch holds at least one image"),
             "n_human": (0, "a count of tasks"), "n_random": (0, "a count of tasks"),
             "n_ablation": (0, "a count of tasks"),
             "sis_n_images": (1, "a heatmap averages at least one image"),
             "sis_patch": (1, "a feature is at least one pixel"),
             "sis_remove": (1, "backward selection removes at least one feature a round")}


def validate(p: "Profile") -> None:
    """Refuse field values that cannot work, before any compute (one :class:`ConfigError`, naming the
    field and the fix): counts out of range, ``amp`` not a bool, an ``optimizer`` the code does not
    implement. Called for every profile made (:func:`get_profile`, :meth:`Profile.replace`)."""
    for name, (low, why) in _AT_LEAST.items():
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            raise ConfigError(f"profile field {name}={v!r} must be an integer >= {low} ({why}). "
                              f"Fix: --set {name}=<n >= {low}> (the {p.name} profile has {getattr(globals().get('PROFILES', {}).get(p.name), name, low)!r})")
    for f in fields(p):
        if f.type in ("bool", bool) and not isinstance(getattr(p, f.name), bool):
            raise ConfigError(f"profile field {f.name}={getattr(p, f.name)!r} must be true or false. "
                              f"Fix: --set {f.name}=true (or false); in a notebook, {f.name}=True")
    if p.optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer={p.optimizer!r} is not implemented (tdlib.train trains with Adam, Sec. 3.2). "
                          f"Fix: --set optimizer=adam, or leave it out")


# Fields added after results were stored, with the value they implicitly had before they existed: a
# stored recipe without such a field is read as having had this value (so adding a field whose default
# keeps the old behaviour does not make every stored result stale). A new field that changes results
# gets an entry here in the same commit.
IMPLICIT_BEFORE: dict = {"fit_stop": 0.0,
                          # discovery options added with the authors' variants (issue 12); the earlier engine:
                          "inner_fresh_images": False, "inner_fixed_init": False, "encoder_head": "bn_plain",
                          "hyperplane_order": "random", "tasks_per_step": 1,
                          "uniformity_t": 2.0, "proxy_weight": 1.0,
                          "meta_lr_schedule": "constant", "uniformity_weight_end": -1.0}      # fit_stop (issue 11): every network trained all epochs

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
FIELD_NAMES = frozenset(f.name for f in fields(Profile)) - {"name"}


# every field of Profile in exactly one section (tests/test_sections.py checks the partition);
# tdlib.sections makes the method's typed configs from them
SECTIONS: dict = {
    "data": ("dataset", "n_train", "n_test", "split_seed"),
    "train": ("arch", "width", "epochs", "batch_size", "lr", "optimizer", "lr_schedule", "amp", "fit_stop",
              "train_impl"),
    "sec3": ("sec3_n_train", "sec3_width", "sec3_epochs", "sec3_fit_stop", "sec3_lr_schedule", "train_sizes",
             "archs", "n_ablation", "noise_tasks", "noise_seeds"),
    "tasks": ("n_human", "n_random", "task_seed"),
    "discovery": ("emb_dim", "n_tasks", "n_classes", "inner_steps", "inner_lr", "inner_batch", "disc_width",
                  "meta_lr", "meta_lr_schedule", "meta_steps", "uniformity_weight", "uniformity_weight_end",
                  "uniformity_t", "temperature", "proxy_weight", "early_stop_agreement", "early_stop_patience",
                  "early_stop_min_steps", "inner_fresh_images", "inner_fixed_init", "inner_checkpoint",
                  "encoder_head", "hyperplane_order", "tasks_per_step"),
    "sec4": ("sandbox_meta_steps", "sandbox_every", "e5_n_baseline", "e5_n_unseen", "sweep_weights",
             "sweep_dims", "sweep_meta_steps", "sweep_n_tasks", "longer_meta_steps", "asfit_n",
             "naive_threshold", "naive_max_draws", "kway_classes", "kway_meta_steps", "kway_n_tasks"),
    "sec5": ("green_pixel", "green_arch", "green_n_train", "green_epochs", "study_group_size", "study_n_train",
             "domain_archs", "domain_n_images", "prop1_arch", "prop1_models", "grid_k", "grid_n_discovered",
             "study_disc_archs", "study_disc_meta_steps", "tin_image_size", "tin_n_train", "tin_n_test",
             "sis_n_images", "sis_patch", "sis_remove"),
    "sec6": ("adv_targets", "adv_by", "adv_multiclass_by", "adv_seeds"),
    "ssl": ("ssl_weights", "ssl_arch", "ssl_width", "ssl_epochs", "ssl_batch", "ssl_lr", "ssl_temperature",
            "ssl_proj_dim", "ssl_hidden", "ssl_meta_steps", "ssl_n_as", "appj_dims", "appj_head_steps"),
}
SECTION_OF = {f: s for s, names in SECTIONS.items() for f in names}


def field_of(key: str) -> str:
    """``"section.field"`` or ``"field"`` -> the field's name; a :class:`ConfigError` naming the section
    when a dotted name puts a field in the wrong one, or when there is no such field."""
    section, dot, name = key.rpartition(".")
    if name not in FIELD_NAMES:
        raise ConfigError(f"no profile field {name!r}. Fix: one of the sections' fields: "
                          + "; ".join(f"{s}: {', '.join(n)}" for s, n in SECTIONS.items()))
    if dot and section != SECTION_OF[name]:
        raise ConfigError(f"{key!r}: {name} is in section {SECTION_OF[name]!r}, not {section!r}. "
                          f"Fix: {SECTION_OF[name]}.{name}")
    return name


# ---- which fields a computation reads (experiment records are checked against this) ----------------
_TRACK = {"on": False, "reads": set()}


class TrackedProfile(Profile):
    """A :class:`Profile` that notes every field read while :func:`tracking` is active; copies made
    with :meth:`Profile.replace` stay tracked. Used to check that each experiment record declares
    every field its result depends on (``tests/test_records.py``)."""

    def __getattribute__(self, name):
        if _TRACK["on"] and name in FIELD_NAMES and name not in object.__getattribute__(self, "__dict__").get(
                "_overridden", ()):
            _TRACK["reads"].add(name)
        return object.__getattribute__(self, name)

    def replace(self, **overrides) -> "TrackedProfile":
        """As :meth:`Profile.replace`; a field set here came from the code, not from the profile, so
        reading it on the copy is not a read of the profile (what the override was computed from is)."""
        new = Profile.replace(self, **overrides)
        done = object.__getattribute__(self, "__dict__").get("_overridden", frozenset())
        object.__setattr__(new, "_overridden", frozenset(done) | frozenset(overrides))
        return new


@contextlib.contextmanager
def tracking():
    """Collect the names of the fields read from :class:`TrackedProfile` objects: ``with tracking() as
    reads: ...``."""
    old = (_TRACK["on"], _TRACK["reads"])
    _TRACK["on"], _TRACK["reads"] = True, set()
    try:
        yield _TRACK["reads"]
    finally:
        _TRACK["on"], _TRACK["reads"] = old


@contextlib.contextmanager
def untracked():
    old = _TRACK["on"]
    _TRACK["on"] = False
    try:
        yield
    finally:
        _TRACK["on"] = old


def tracked(p: Profile) -> TrackedProfile:
    """The same profile, its field reads noted while :func:`tracking` is active."""
    return TrackedProfile(**p.as_dict())


def _built_in(name: str, **sections) -> Profile:
    """A built-in profile as nested overrides of the paper's settings, ``section=dict(field=value, ...)``
    for the sections of :data:`SECTIONS` (a field written in the wrong section is refused, as
    ``--set section.field=value`` is)."""
    bad = sorted(set(sections) - set(SECTIONS))
    if bad:
        raise ConfigError(f"profile {name!r}: no section {bad[0]!r}; one of {sorted(SECTIONS)}")
    return Profile(name=name, **_flat_overrides(sections))


def _flat_overrides(overrides: dict) -> dict:
    """``{field: value}`` from overrides given as fields (dotted or not) or as a section's dict of fields."""
    flat = {}
    for k, v in overrides.items():       # a section's dict (nested overrides) or a field, dotted or not
        if k in SECTIONS and isinstance(v, dict):
            flat.update({field_of(f"{k}.{f}"): x for f, x in v.items()})
        elif k in SECTIONS:
            raise ConfigError(f"{k}= takes a dict of its fields ({', '.join(SECTIONS[k])}), got {v!r}")
        else:
            flat[field_of(k) if "." in k else k] = v
    return flat


PROFILES: dict[str, Profile] = {
    "paper": Profile(name="paper"),
    # the paper's data (CIFAR-10 45K/5K), architectures (ResNet-18 w64, MLP, ViT), Adam lr 1e-3, batch 512
    "gpu": _built_in(
        "gpu",
        train=dict(fit_stop=0.98, epochs=30,     # numbers.md: the authors score tasks up to 30 epochs, stop at 98%
                   train_impl="streams"),        # the pair on 2 CUDA streams (benchmarks/bench_agreement.py)
        sec3=dict(sec3_fit_stop=0.98, sec3_epochs=30,   # the same cost saver for Sec. 3's networks
                  n_ablation=5),                 # E2-E4: 5 tasks of each kind per point (paper: 20)
        tasks=dict(n_human=10, n_random=10),     # issue 11: at least 10 of each kind (paper: 20)
        discovery=dict(
            # cost saver: the encoder + Adam state travels between GPU windows beside a CIFAR-10 part (46 MiB
            # of the 64 MiB a call carries): ResNet-18 at width 16 has 0.70M parameters, 8.4 MB with Adam's
            # two moments (w32: 34 MB, w64: 134 MB do not fit); the inner networks share the width
            disc_width=16,
            meta_steps=3_200),                   # numbers.md: the authors' "xas" config runs 3,200 meta-steps;
        #                                          measured (H200, 2026-12-04): 4.3 s each over the first 75
        #                                          (5-50 inner steps), ~3.8 GPU-hours in all (DEVELOPING.md)
        sec4=dict(kway_meta_steps=3_200,
                  sweep_meta_steps=1_000),       # as the cpu profile: sweep points shorter
        sec5=dict(study_disc_meta_steps=3_200,
                  study_group_size=10,           # Sec. 5.2-5.3 groups: 10 tasks (paper: 20)
                  prop1_models=4, domain_n_images=2_000,
                  sis_remove=32),                # E22: batched backward selection, 32 pixels a round (~16K
        #                                          ResNet-18 forwards per image instead of ~525K for the exact SIS)
        sec6=dict(adv_seeds=2,
                  adv_by=tuple(f"discovered:{i}:gpu" for i in range(10))),   # Sec. 6: tau' = E5's discovered tasks
        ssl=dict(ssl_meta_steps=1_000,
                 ssl_epochs=100, ssl_width=16),  # SimCLR's shortest CIFAR run; width: its state travels (as
        #                                          disc_width)
    ),
    "cpu": _built_in(
        "cpu",
        data=dict(n_train=4_000, n_test=1_000),  # a CIFAR-10 subset small enough for 2 cores
        train=dict(arch="cnn", width=16, epochs=15, batch_size=128,   # ~23 s per task (4K images), 2 free cores
                   # Sec. 3 (E1-E4): 10K training images and a linear lr decay, so that the small CNN's
                   # random-label networks settle (constant lr left them leaning to one class, AS 0.2-0.9)
                   lr_schedule="linear"),
        # Sec. 3 (E1-E4, issue 18): networks that fit their labels, as the paper's premise (zero train error):
        # a width-32 CNN on 2K images until its train accuracy reaches 0.995, over the last epoch and as
        # evaluated (measured: ~43-51 epochs, ~75 s a network on one free core, for human and random labels
        # alike; the 15-epoch recipe above reached 0.77 / 0.65 on 10K images)
        sec3=dict(sec3_n_train=2_000, sec3_width=32, sec3_epochs=60, sec3_fit_stop=0.995,
                  sec3_lr_schedule="constant", n_ablation=3,
                  train_sizes=(250, 500, 1_000, 2_000),   # E3: up to sec3_n_train
                  archs=("cnn", "mlp", "vit")),
        tasks=dict(n_human=10, n_random=10),
        discovery=dict(
            # a narrow CNN encoder / inner nets (~40 s per meta-step of 4 full 20-step unrolls on 1 free
            # core); at most 20 inner steps instead of 50, so a larger inner step (0.1) lets the networks
            # learn something
            emb_dim=8, n_tasks=8, inner_steps=20, inner_batch=128, meta_steps=40,   # 160 unrolls (4 a meta-step)
            inner_lr=0.1, inner_checkpoint=False,
            # issue 21's diagnosis (tdlib.diagnosis, book Sec. 4 "What drives the encoder"): at the
            # authors' t = 2 the uniformity term's meta-gradient is 6.7x the proxy-AS term's at λ = 1 (33x at
            # their λ = 5: the tasks leave every learnable cue), and λ = 0 collapses every hyperplane onto one
            # task. Measured remedies: Eq. 5 at t = 0.5 (~ a decorrelation of the embedding, which does not
            # reward spreading noise); the authors' early stop off: two width-8 networks at inner lr 0.1 agree
            # on > 0.6 of a batch from the first steps even on random labels (both flip to one class together,
            # 0-1 agreement up to 1.0), so every unroll stopped at the minimum of 5 steps, where human labels'
            # proxy-AS is 0.005 above random labels' (0.015-0.044 at the full 20 steps; diag learnability); at
            # 20 steps the proxy-AS meta-gradient is 2.4x larger and the two terms balance at λ = 3.9 (diag
            # gradients), hence λ = 4 (width 16 would triple the proxy-AS gradient but costs ~4x a meta-step;
            # an inner lr of 0.2-0.3 made the unroll chaotic, |grad| up to 250), every meta-step averaged over
            # 4 hyperplanes, Adam 1e-2 decayed to 0. That objective (BatchNorm head, T = 5, λ = 4; record
            # `bnhead`) beat its untrained encoder by less than 0.03 AS and uniformity-only training by less
            # than 0.02, and its logged proxy-AS fell over the run. Ours since session 12, as smoke's: the
            # embedding whitened over the batch, labels at T = 2, no uniformity term (Sec. 4 "Discovery where
            # the answer is known"; at cpu it beats both baselines of its own head by > 0.03, E5). Screened
            # and not better (40 meta-steps, first 3 tasks' AS): BatchNorm at T = 2; whitened at a constant
            # meta-lr 3e-2
            disc_width=8, encoder_head="whiten", temperature=2.0, uniformity_weight=0.0, uniformity_t=0.5,
            meta_lr=1e-2, meta_lr_schedule="linear", tasks_per_step=4, early_stop_agreement=2.0),
        sec4=dict(e5_n_baseline=4, e5_n_unseen=4, naive_max_draws=300,
                  sweep_weights=(0.0, 1.0, 5.0), sweep_dims=(4, 8, 16), sweep_meta_steps=40,   # E18: 3 x 3
                  sweep_n_tasks=4,
                  asfit_n=8,               # issue 21: E5's gap with networks that fit (~7 min an AS on one core)
                  longer_meta_steps=100,   # issue 21: does the AS gap to the baselines grow with meta-steps?
                  kway_meta_steps=30, kway_n_tasks=2),   # e17: K = 3, 5; ~15 min on 1 idle core
        sec5=dict(study_group_size=2, study_n_train=500, domain_archs=("cnn",), domain_n_images=500,
                  prop1_arch="mlp", prop1_models=3, grid_k=6, grid_n_discovered=4,   # e9-e11, e20: ~15 min
                  green_arch="mlp", green_n_train=45_000, green_epochs=30,   # e11: the paper's X_tr size, MLP only
                  # e8, e9: the MLP and ViT discovery runs get the cpu run's 40 meta-steps (issue 21; they had
                  # 4 until session 13). A ViT meta-step takes ~3.5 min on 2 shared cores (MLP ~3 s): the ViT
                  # run takes ~2.3 h, in resumable chunks of the queue (the cnn group is the default run)
                  study_disc_archs=("cnn", "mlp", "vit"), study_disc_meta_steps=40,
                  tin_image_size=32, tin_n_train=4_000, tin_n_test=1_000,
                  sis_n_images=50, sis_patch=2, sis_remove=8),   # E22: 256 2x2 blocks, 8 a round (~4K forwards)
        sec6=dict(adv_targets=2, adv_multiclass_by=1, adv_seeds=1,
                  adv_by=("discovered:0:cpu", "discovered:1:cpu")),   # Sec. 6: tau' = E5's discovered tasks
        ssl=dict(ssl_arch="cnn", ssl_width=16, ssl_epochs=30, ssl_batch=256, ssl_hidden=128,   # ~5 min, 1 core
                 ssl_meta_steps=40, ssl_n_as=4, appj_dims=(4, 8, 16)),   # discovery runs as E18's
    ),
    "smoke": _built_in(
        "smoke",
        data=dict(dataset="synthetic", n_train=500, n_test=200),
        train=dict(arch="cnn", width=8, epochs=6, batch_size=50),
        sec3=dict(sec3_n_train=500, sec3_width=8, sec3_epochs=6, n_ablation=1, noise_tasks=1, noise_seeds=1,
                  train_sizes=(100, 500), archs=("cnn", "mlp", "vit")),
        tasks=dict(n_human=2, n_random=2),
        discovery=dict(
            emb_dim=4, n_tasks=4, inner_steps=5, inner_batch=64, meta_steps=4, inner_checkpoint=False,
            # on the built-in data (issue 21, book Sec. 4 "Discovery where the answer is known"): width-4
            # inner networks learn only the background hue in 5 steps (every other cue's proxy-AS = random
            # labels'); width 8 at inner lr 0.3 learns both background cues. Eq. 5 (t = 0.5, λ = 5; the
            # default of sessions 6-10) recovered the two cues at 2 of 3 task seeds (50 meta-steps), λ = 1 put
            # one cue on two hyperplanes: the term that keeps tasks apart also penalizes a cue's two clusters.
            # Ours instead (diag "whitened, T=2, λ=0"): the embedding whitened over the batch (orthogonal
            # hyperplanes read uncorrelated projections, so nothing collapses without λ) and label temperature
            # 2 (at the authors' T = 5 nearly every label is sure; at 2 an image near the hyperplane gets an
            # unsure label, so the proxy-AS rewards two-cluster projections). Stored (diag at cpu, session 15):
            # both cues at 3 of 6 task seeds in 200 meta-steps (seeds 0-2 do, tests/test_sandbox.py); at 50
            # meta-steps 2 of 3, as Eq. 5 there, so at equal steps it is not better on this data (T = 1: 0 of 1
            # at seed 2); 4 hyperplanes a meta-step, Adam 1e-2 decayed to 0. Screened and not better at the
            # failing seeds 3-5 (200 meta-steps, session 16, not stored): meta-lr 2e-2 1 of 3 (seed 4), 10
            # inner steps 1 of 3 (seed 5); where a seed fails, a background cue is spread over two hyperplanes,
            # neither at 0.9
            disc_width=8, inner_lr=0.3, encoder_head="whiten", temperature=2.0, uniformity_weight=0.0,
            uniformity_t=0.5, meta_lr=1e-2, meta_lr_schedule="linear", tasks_per_step=4),
        sec4=dict(e5_n_baseline=1, e5_n_unseen=1,
                  sweep_weights=(0.0, 5.0), sweep_dims=(4,), sweep_meta_steps=2, sweep_n_tasks=2,
                  sandbox_meta_steps=2, sandbox_every=1,     # the diagnosis's sandbox runs: seconds in CI
                  naive_max_draws=40, longer_meta_steps=6, asfit_n=1,
                  kway_classes=(3,), kway_meta_steps=2, kway_n_tasks=1),
        sec5=dict(study_group_size=1, study_n_train=400, domain_archs=("cnn",), domain_n_images=100,
                  prop1_arch="mlp", prop1_models=3, grid_k=4, grid_n_discovered=2, study_disc_meta_steps=2,
                  study_disc_archs=("mlp",),   # ours: one per-arch discovery (the cheapest) keeps CI in seconds
                  green_arch="mlp", green_n_train=500, green_epochs=4,
                  tin_image_size=32, tin_n_train=500, tin_n_test=200,
                  sis_n_images=4, sis_patch=4, sis_remove=8),
        sec6=dict(adv_targets=1, adv_by=("cue:warm", "randnet:0"), adv_multiclass_by=1, adv_seeds=1),
        ssl=dict(ssl_arch="cnn", ssl_width=4, ssl_epochs=2, ssl_batch=100, ssl_hidden=16,
                 ssl_meta_steps=2, ssl_n_as=1, appj_dims=(2, 4), appj_head_steps=50),
    ),
}


def get_profile(profile: "str | Profile" = "smoke", **overrides) -> Profile:
    """Look up a profile by name and apply overrides (``None`` values are ignored): fields
    (``epochs=5``), or a section's fields as a dict (``train={"epochs": 5}``, :data:`SECTIONS`)."""
    if isinstance(profile, Profile):
        base = profile
    else:
        if profile not in PROFILES:
            raise ConfigError(
                f"unknown profile {profile!r}; choose one of {sorted(PROFILES)} "
                "(smoke: CI seconds, cpu: CIFAR-10 subset on 2 cores, gpu: one GPU with cost savers, "
                "paper: one GPU, the paper's protocol)")
        base = PROFILES[profile]
    overrides = {k: v for k, v in _flat_overrides(overrides).items() if v is not None}
    return base.replace(**overrides) if overrides else base
