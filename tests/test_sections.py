"""Issue 19: the profile's fields grouped by concern (tdlib.sections); the method runs from its own small
typed config, with the same results as from the whole profile; dotted --set names a field by section."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tdlib import discovery, ssl
from tdlib.diagnosis import label_learnability
from tdlib.agreement import agreement_score
from tdlib.config import FIELD_NAMES, get_profile
from tdlib.data import load_dataset
from tdlib.errors import ConfigError
from tdlib.lab.experiments import DISCOVERY
from tdlib.sections import SECTIONS, DiscoveryConfig, TrainConfig, field_of, section

ROOT = Path(__file__).resolve().parents[1]


def test_sections_partition_the_profile():
    names = [f for fs in SECTIONS.values() for f in fs]
    assert len(names) == len(set(names)), "a field in two sections"
    assert set(names) == FIELD_NAMES


def test_the_records_discovery_fields_are_the_discovery_config():
    assert set(DISCOVERY) | {"task_seed"} == {f.name for f in dataclasses.fields(DiscoveryConfig)}


def test_dotted_names_are_checked_against_their_section():
    assert field_of("discovery.meta_steps") == "meta_steps" == field_of("meta_steps")
    with pytest.raises(ConfigError, match="in section 'discovery', not 'train'.*Fix: discovery.meta_steps"):
        field_of("train.meta_steps")
    with pytest.raises(ConfigError, match="no profile field 'meta_step'"):
        field_of("discovery.meta_step")


def test_profiles_take_nested_overrides_by_section():
    p = get_profile("cpu", train={"epochs": 3}, discovery={"meta_steps": 7}, **{"tasks.task_seed": 2})
    assert (p.epochs, p.meta_steps, p.task_seed) == (3, 7, 2)
    assert p.by_section()["discovery"]["meta_steps"] == 7 and set(p.by_section()) == set(SECTIONS)
    with pytest.raises(ConfigError, match="Fix: discovery.meta_steps"):
        get_profile("cpu", train={"meta_steps": 7})
    with pytest.raises(ConfigError, match="takes a dict"):
        get_profile("cpu", train=5)


def test_built_in_profiles_are_written_by_section():
    """The built-in profiles are nested overrides of the paper's settings: a field written in the wrong
    section is refused when the profile is made, and only fields that differ from the paper are set."""
    from tdlib.config import Profile, _built_in
    assert _built_in("x", discovery=dict(meta_steps=3), train=dict(epochs=2)) == Profile(name="x", meta_steps=3,
                                                                                         epochs=2)
    with pytest.raises(ConfigError, match="Fix: discovery.meta_steps"):
        _built_in("x", train=dict(meta_steps=3))
    with pytest.raises(ConfigError, match="no section 'training'"):
        _built_in("x", training=dict(epochs=3))
    src = (ROOT / "tdlib" / "config.py").read_text()
    assert src.count("_built_in(") >= 4 and '"smoke": _built_in(' in src and '"cpu": _built_in(' in src


def test_dotted_set_on_the_command_line(tmp_path):
    env = {**os.environ, "TDLIB_RESULTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    run = lambda *a: subprocess.run([sys.executable, "-m", "tdlib", "queue", "--profile", "smoke", "--list", *a],
                                    cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    bad = run("--set", "train.meta_steps=3")
    assert bad.returncode != 0 and "Fix: discovery.meta_steps" in bad.stderr, bad.stderr
    assert run("--set", "discovery.meta_steps=3").returncode == 0


def test_the_method_runs_from_its_typed_config_alone(tmp_path):
    """agreement_score from a TrainConfig, train_encoder and label_learnability from a DiscoveryConfig,
    train_ssl from an SSLConfig (which hold no other field: a read of one would raise AttributeError) give
    what the whole profile gives."""
    torch.set_num_threads(1)
    p = get_profile("smoke", meta_steps=2, epochs=2)
    ds = load_dataset(p.dataset, p.n_train, p.n_test)
    y = ds.attrs["warm"]
    a, b = (agreement_score(ds, y, c, progress=False) for c in (p, section(p, "train")))
    assert (a["agreement"], a["train_acc"], a["test_acc"]) == (b["agreement"], b["train_acc"], b["test_acc"])
    assert not hasattr(section(p, "train"), "meta_steps")
    hist = {}
    for name, cfg in (("profile", p), ("config", section(p, "discovery"))):
        st = discovery.train_encoder(ds, cfg, out_dir=tmp_path / name, progress=False, device="cpu")
        hist[name] = [h["proxy_as"] for h in st["history"]]
    assert hist["profile"] == hist["config"] and len(hist["config"]) == 2
    r = {}
    for name, cfg in (("profile", p), ("config", section(p, "ssl"))):
        r[name] = [h["loss"] for h in ssl.train_ssl(ds, cfg, out_dir=tmp_path / f"ssl_{name}", epochs=1,
                                                    progress=False)["history"]]
    assert r["profile"] == r["config"]
    a, b = (label_learnability(ds, y, c, n_rep=1)["proxy_as"] for c in (p, section(p, "discovery")))
    assert a == b
    # a user's own config, no profile anywhere
    c = TrainConfig(arch="mlp", width=8, epochs=1, batch_size=100)
    assert 0.0 <= agreement_score(ds, y, c, progress=False)["agreement"] <= 1.0
