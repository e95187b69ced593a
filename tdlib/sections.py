"""The profile's fields grouped by concern, and the small typed configs the method takes.

A :class:`~tdlib.config.Profile` is one flat record of every number (87 fields); most of the method
needs only a few of them. Here the fields are partitioned into ``SECTIONS`` (data, train, sec3, tasks,
discovery, the per-section experiment knobs, ssl), which give every field a dotted name
(``--set discovery.meta_steps=40`` is ``--set meta_steps=40``, checked against its section), and the
method's entry points get typed configs of just what they read:

- :class:`TrainConfig`: the networks of Eq. 1 (Sec. 3.2) for :func:`tdlib.agreement.agreement_score`
  and :func:`tdlib.agreement.train_pair`;
- :class:`DiscoveryConfig`: Algorithm 1 (Sec. 4, Eq. 3-5, App. I.1) for
  :func:`tdlib.discovery.train_encoder`, :func:`tdlib.discovery.discover` and the diagnosis
  (:mod:`tdlib.diagnosis`): the discovery section, the architecture and the hyperplanes' seed;
- :class:`SSLConfig`: SimCLR (Sec. 5.1) for :func:`tdlib.ssl.train_ssl` and
  :func:`tdlib.ssl.frozen_features`.

``section(profile, "train")`` (or ``TrainConfig.from_profile(profile)``) makes one; the method accepts a
Profile, a profile name or its config (:func:`resolve`), so a user who never heard of profiles can
write ``agreement_score(ds, y, TrainConfig(arch="cnn", width=16, epochs=20))``. The lab (records,
results, queue) keeps passing whole profiles, whose recorded field reads stay exact.
"""
from __future__ import annotations

import dataclasses

from .config import (FIELD_NAMES, SECTION_OF, SECTIONS, Profile, field_of, get_profile,  # noqa: F401 (re-exported)
                     json_values)
from .errors import ConfigError


class _Section:
    """What every typed config offers beside its fields (a frozen dataclass of some Profile fields)."""

    @classmethod
    def from_profile(cls, profile):
        p = get_profile(profile)
        return cls(**{f.name: getattr(p, f.name) for f in dataclasses.fields(cls)})

    def values(self, names) -> dict:
        """As :meth:`Profile.values`."""
        return json_values(self, names)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def name(self) -> str:                     # where a profile's name is shown (progress bars)
        return type(self).__name__

    def replace(self, **kw):
        return dataclasses.replace(self, **kw)


def _typed(cls_name: str, names: tuple, doc: str):
    """A frozen dataclass with the Profile's fields ``names`` (types and the paper profile's defaults)."""
    spec = {f.name: f for f in dataclasses.fields(Profile)}
    cls = dataclasses.make_dataclass(cls_name, [(n, spec[n].type, dataclasses.field(default=spec[n].default))
                                                for n in names], bases=(_Section,), frozen=True,
                                     namespace={"__doc__": doc, "__module__": __name__})
    return cls


TrainConfig = _typed("TrainConfig", SECTIONS["train"],
                     "How the networks of Eq. 1 are trained (Sec. 3.2): architecture, width, epochs, batch, "
                     "Adam's lr and schedule, bf16 autocast, the fit stop, the training implementation.")
DiscoveryConfig = _typed("DiscoveryConfig", ("arch", "task_seed") + SECTIONS["discovery"],
                         "Algorithm 1 (Sec. 4, Eq. 3-5, App. I.1): encoder and inner networks (``arch``, "
                         "``disc_width``), embedding size, hyperplanes (``n_tasks``, seeded by ``task_seed``), "
                         "inner loop, meta-optimizer, uniformity term and early stop.")
SSLConfig = _typed("SSLConfig", ("task_seed", "ssl_weights", "ssl_arch", "ssl_width", "ssl_epochs", "ssl_batch",
                                  "ssl_lr", "ssl_temperature", "ssl_proj_dim", "ssl_hidden"),
                   "SimCLR pre-training and its frozen features (Sec. 5.1, E12): backbone, epochs, batch, lr, "
                   "NT-Xent temperature, projection head; ``task_seed`` seeds its initialization.")
CONFIGS = {"train": TrainConfig, "discovery": DiscoveryConfig, "ssl": SSLConfig}


def section(profile, name: str):
    """The typed config ``name`` ("train", "discovery" or "ssl") of ``profile`` (a Profile or its name)."""
    if name not in CONFIGS:
        raise ConfigError(f"no typed config {name!r}; the method takes {sorted(CONFIGS)}")
    return CONFIGS[name].from_profile(profile)


def resolve(cfg):
    """What a method entry point reads its settings from: a typed config as it is, else the profile
    (a :class:`~tdlib.config.Profile` or a profile name, :func:`~tdlib.config.get_profile`)."""
    if isinstance(cfg, tuple(CONFIGS.values())):
        return cfg
    return get_profile(cfg)
