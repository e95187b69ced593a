"""Foundation (issue 2): tasks, similarity, data, models, the agreement score, stored results."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from tdlib import tasks
from tdlib.agreement import agreement_score, run_seeds
from tdlib.config import PROFILES, get_profile
from tdlib.data import DataNotFoundError, load_cifar10_train, load_dataset, make_synthetic
from tdlib.models import build_model
from tdlib.lab.results import ResultStore, run_items

CIFAR = os.environ.get("TDLIB_DATA")
needs_cifar = pytest.mark.skipif(not (CIFAR and os.path.isfile(CIFAR)),
                                 reason="set TDLIB_DATA to a cifar10.npz (e.g. ../shared/data/cifar10.npz)")


@pytest.fixture(scope="module")
def syn():
    return load_dataset("synthetic", n_train=600, n_test=300, seed=0)


# ---------------------------------------------------------------------------------- similarity
def test_similarity_symmetric_flip_invariant_and_bounded():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = rng.integers(0, 2, 101), rng.integers(0, 2, 101)
        s = tasks.similarity(a, b)
        assert 0.5 <= s <= 1.0
        assert s == tasks.similarity(b, a) == tasks.similarity(1 - a, b) == tasks.similarity(a, 1 - b)
        assert tasks.similarity(a, a) == tasks.similarity(a, 1 - a) == 1.0


def test_similarity_matrix_matches_pairwise():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, (5, 64))
    m = tasks.similarity_matrix(t)
    for i in range(5):
        for j in range(5):
            assert m[i, j] == pytest.approx(tasks.similarity(t[i], t[j]))
    # independent random tasks are nearly orthogonal: similarity near 0.5
    big = rng.integers(0, 2, (6, 20_000))
    assert tasks.mean_pairwise_similarity(big) < 0.52


def test_similarity_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same images"):
        tasks.similarity([0, 1], [0, 1, 1])


# ---------------------------------------------------------------------------------- tasks
def test_human_tasks_are_126_distinct_balanced_5_vs_5():
    splits = tasks.human_class_splits()
    assert len(splits) == tasks.N_HUMAN_TASKS == 126
    classes = np.repeat(np.arange(10), 3)
    labels = np.array([tasks.human_task(classes, i) for i in range(126)])
    assert (labels.sum(1) == 15).all()                       # 5 classes of 10 in each group
    sims = tasks.similarity_matrix(labels)
    np.fill_diagonal(sims, 0)
    assert sims.max() < 1.0                                  # no two equal, even up to flipping
    # each task is constant within a class
    for lab in labels[:10]:
        assert all(len(set(lab[classes == c])) == 1 for c in range(10))


def test_sample_of_human_tasks_is_seeded_and_distinct():
    a, b = tasks.sample_human_indices(20, 0), tasks.sample_human_indices(20, 0)
    assert a == b and len(set(a)) == 20 and all(0 <= i < 126 for i in a)
    assert a != tasks.sample_human_indices(20, 1)


def test_random_task_balanced_and_seeded():
    t = tasks.random_task(1001, 3)
    assert t.sum() == 500 and np.array_equal(t, tasks.random_task(1001, 3))
    assert tasks.similarity(t, tasks.random_task(1001, 4)) < 0.6


def test_task_names_and_errors(syn):
    assert np.array_equal(tasks.task_by_name(syn, "human:3"), tasks.human_task(syn.classes, 3))
    assert tasks.task_by_name(syn, "cue:warm").shape == (len(syn),)
    with pytest.raises(ValueError, match="human:3"):
        tasks.task_by_name(syn, "nonsense")
    with pytest.raises(ValueError, match="0..125"):
        tasks.task_by_name(syn, "human:126")
    with pytest.raises(ValueError, match="planted cue"):
        tasks.task_by_name(syn, "cue:nope")


# ---------------------------------------------------------------------------------- data
def test_synthetic_data_shapes_and_cues():
    images, classes, attrs = make_synthetic(400, seed=1)
    assert images.shape == (400, 32, 32, 3) and images.dtype == np.uint8
    assert set(classes) <= set(range(10)) and len(set(classes)) == 10
    # the 'warm' cue is visible in the red-minus-blue of the image border
    border = np.concatenate([images[:, 0], images[:, -1]], 1).astype(float)   # (n,64,3)
    redness = (border[..., 0] - border[..., 2]).mean(1)
    assert ((redness > 0) == (attrs["warm"] == 1)).mean() > 0.95
    assert np.array_equal(make_synthetic(50, seed=2)[0], make_synthetic(50, seed=2)[0])


def test_dataset_split_and_standardization(syn):
    assert len(syn.train_idx) == 600 and len(syn.test_idx) == 300
    assert not set(syn.train_idx) & set(syn.test_idx)
    x = syn.x[syn.train_idx]
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std((0, 2, 3)), torch.ones(3), atol=1e-3)


def test_missing_dataset_errors_name_the_fix(tmp_path, monkeypatch):
    with pytest.raises(DataNotFoundError, match="Fix:.*TDLIB_DATA"):
        load_cifar10_train(tmp_path / "nope.npz")
    monkeypatch.setenv("TDLIB_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataNotFoundError, match="TDLIB_DATA="):
        load_cifar10_train()
    monkeypatch.setenv("TDLIB_DATA", str(tmp_path))             # an empty folder: torchvision finds nothing
    with pytest.raises(DataNotFoundError, match="download=True"):
        load_cifar10_train()
    bad = tmp_path / "bad.npz"
    np.savez(bad, a=np.zeros(3))
    with pytest.raises(DataNotFoundError, match="x_train"):
        load_cifar10_train(bad)


def test_bad_parameters_give_clear_errors():
    with pytest.raises(ValueError, match="choose one of"):
        get_profile("tpu")
    with pytest.raises(ValueError, match="unknown profile field"):
        get_profile("smoke", epoch=3)
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet50")
    with pytest.raises(ValueError, match="stochasticity"):
        run_seeds(0, vary=("init", "dropout"))


@needs_cifar
def test_cifar10_paper_split():
    ds = load_dataset("cifar10", 45_000, 5_000, seed=0, data_path=CIFAR)
    assert len(ds.train_idx) == 45_000 and len(ds.test_idx) == 5_000
    idx = ds.attrs["cifar_index"]
    assert len(set(idx)) == 50_000                            # every CIFAR-10 train image once
    assert np.bincount(ds.classes[ds.test_idx], minlength=10).min() > 400
    small = load_dataset("cifar10", 400, 100, seed=0, data_path=CIFAR)
    assert np.array_equal(small.attrs["cifar_index"], load_dataset("cifar10", 400, 100, 0, CIFAR).attrs["cifar_index"])


# ---------------------------------------------------------------------------------- models
@pytest.mark.parametrize("arch", ["resnet18", "mlp", "vit", "cnn"])
def test_models_output_shape(arch):
    torch.manual_seed(0)
    m = build_model(arch, num_classes=3, width=8)
    assert m(torch.randn(4, 3, 32, 32)).shape == (4, 3)
    assert isinstance(m.fc, torch.nn.Linear)


def test_resnet18_is_the_cifar_variant():
    m = build_model("resnet18", num_classes=10, width=64)
    n = sum(p.numel() for p in m.parameters())
    assert 11.1e6 < n < 11.2e6                                # the standard CIFAR ResNet-18: 11.17M
    stem = m.stem[0]
    assert stem.kernel_size == (3, 3) and stem.stride == (1, 1)
    assert not any(isinstance(x, torch.nn.MaxPool2d) for x in m.modules())


def test_vit_uses_batchnorm_not_layernorm():
    m = build_model("vit", width=64)
    assert not any(isinstance(x, torch.nn.LayerNorm) for x in m.modules())
    assert len(m.blocks) == 6 and m.fc.in_features == 256 and m.patch.kernel_size == (4, 4)


# ---------------------------------------------------------------------------------- agreement
def test_identical_seeded_runs_agree_fully(syn):
    p = get_profile("smoke", epochs=2)
    lab = tasks.task_by_name(syn, "random:0")
    r = agreement_score(syn, lab, p, vary=())
    assert r["agreement"] == 1.0
    r_cuda = agreement_score(syn, lab, p, vary=("cuda",))          # no CUDA nondeterminism on CPU
    assert r_cuda["agreement"] == 1.0
    r_init = agreement_score(syn, lab, p, vary=("init",))
    assert r_init["agreement"] < 0.95                              # other weights: other predictions


def test_planted_cue_has_higher_as_than_random(syn):
    p = get_profile("smoke", epochs=4)
    cue = agreement_score(syn, tasks.task_by_name(syn, "cue:warm"), p)
    rnd = agreement_score(syn, tasks.task_by_name(syn, "random:0"), p)
    assert cue["agreement"] > 0.9 and cue["test_acc"] > 0.9
    assert cue["agreement"] - rnd["agreement"] > 0.25


def test_agreement_score_takes_progress_false_as_no_bar(syn):
    """A user who turns the bar off with progress=False gets the same AS as with no bar (it crashed)."""
    p = get_profile("smoke", epochs=1)
    labels = tasks.task_by_name(syn, "cue:warm")
    assert agreement_score(syn, labels, p, progress=False)["agreement"] == agreement_score(syn, labels, p)["agreement"]


def test_agreement_score_checks_labels(syn):
    with pytest.raises(ValueError, match="one entry per image"):
        agreement_score(syn, np.zeros(10, dtype=int), "smoke")


# ---------------------------------------------------------------------------------- results
def test_run_items_resumes_and_keeps_finished_entries(tmp_path):
    p = get_profile("smoke")
    calls = []

    def ok(k):
        return lambda: calls.append(k) or {"v": k}

    def boom():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_items("exp", p, {"a": ok("a"), "b": boom, "c": ok("c")}, root=tmp_path)
    saved = json.loads((tmp_path / "smoke" / "exp.json").read_text())
    assert list(saved["entries"]) == ["a"] and saved["complete"] is False
    assert saved["provenance"]["torch"] == torch.__version__ and saved["params"]["name"] == "smoke"
    store = run_items("exp", p, {"a": ok("a"), "b": ok("b"), "c": ok("c")}, root=tmp_path)
    assert calls == ["a", "b", "c"] and store.data["complete"] is True      # 'a' not recomputed
    with pytest.raises(ValueError, match=r"another recipe: epochs=6 \(now 9\)"):
        run_items("exp", get_profile("smoke", epochs=9), {"a": ok("a")}, root=tmp_path)
    assert not list((tmp_path / "smoke").glob("*.tmp"))


def test_stored_cpu_results_have_provenance():
    from tdlib.lab.results import results_root
    for path in (results_root() / "cpu").glob("*.json"):
        d = json.loads(path.read_text())
        assert d["profile"] == "cpu" and d["params"]["name"] == "cpu"
        for key in ("device", "torch", "commit", "date"):
            assert d["provenance"].get(key), (path, key)


# ---------------------------------------------------------------------------------- CLI
def test_cli_agreement_prints_json():
    out = subprocess.run([sys.executable, "-m", "tdlib", "agreement", "cue:position", "--profile", "smoke",
                          "--set", "epochs=1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout.strip().splitlines()[-1])
    assert row["task"] == "cue:position" and 0 <= row["AS"] <= 1 and row["profile"] == "smoke"


def test_cli_bad_input_exits_2_with_message():
    out = subprocess.run([sys.executable, "-m", "tdlib", "agreement", "human:999"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "0..125" in out.stderr
    out = subprocess.run([sys.executable, "-m", "tdlib", "agreement", "human:1", "--set", "epochz=1"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "FIELD=VALUE" in out.stderr


def test_profiles_share_fields():
    assert set(PROFILES) == {"smoke", "cpu", "gpu", "paper"}
    paper = PROFILES["paper"]
    assert (paper.n_train, paper.n_test, paper.epochs, paper.batch_size, paper.lr) == (45_000, 5_000, 100, 512, 1e-3)


# ---------------------------------------------------------------------------------- Sec. 3 recipe
def test_profile_lr_schedule_reaches_training(syn, monkeypatch):
    """train_pair passes the profile's schedule on, and "linear" trains another model than "constant"."""
    import tdlib.agreement as agr
    seen = []
    real = agr.train_classifier
    monkeypatch.setattr(agr, "train_classifier", lambda *a, **kw: seen.append(kw["lr_schedule"]) or real(*a, **kw))
    lab = tasks.task_by_name(syn, "random:0")
    pairs = {s: agr.train_pair(syn, lab, get_profile("smoke", epochs=2, lr_schedule=s), vary=())
             for s in ("constant", "linear")}
    assert seen == ["constant", "constant", "linear", "linear"]
    w = {s: torch.cat([q.flatten() for q in pr["models"][0].parameters()]) for s, pr in pairs.items()}
    assert not torch.allclose(w["constant"], w["linear"])


def test_linear_schedule_is_seeded_and_checked():
    """Two linear-schedule runs with the same seeds are identical; unknown schedules are refused."""
    from tdlib.train import train_classifier
    x, y = torch.randn(64, 3, 32, 32), torch.randint(0, 2, (64,))
    ref = train_classifier(x, y, arch="mlp", width=2, epochs=3, batch_size=32, lr_schedule="linear")
    more = train_classifier(x, y, arch="mlp", width=2, epochs=3, batch_size=32, lr_schedule="linear",
                            order_seed=0, init_seed=0)
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), more.state_dict().values()))
    with pytest.raises(ValueError, match="lr_schedule"):
        train_classifier(x, y, arch="mlp", width=2, epochs=1, lr_schedule="cosine")


def test_sec3_pool_uses_its_own_train_size():
    from tdlib.lab.experiments.sec3 import sec3_dataset
    p = get_profile("smoke", n_train=200, sec3_n_train=300)
    ds = sec3_dataset(p)
    assert len(ds.train_idx) == 300 and len(ds.test_idx) == p.n_test
    assert get_profile("paper").sec3_n_train == get_profile("paper").n_train      # the paper: one X_tr
    cpu = get_profile("cpu")                   # cpu: a smaller Sec. 3 pool, whose networks fit their labels
    assert cpu.sec3_n_train != cpu.n_train and cpu.sec3_fit_stop >= 0.99


def test_architecture_table_matches_the_known_resnet18_size():
    """Tab. 2 is generated from the models: the CIFAR ResNet-18 at width 64 has the well-known 11.17M
    parameters and ~0.56 GMACs (1.11 GFLOPs, numbers.md) per 32x32 image; halving the width quarters its
    convolutions."""
    from tdlib.models import describe
    r64, r32 = describe("resnet18", 64), describe("resnet18", 32)
    assert abs(r64["parameters"] - 11_169_858) < 1000
    assert 540 < r64["mmacs"] < 570
    assert 3.8 < r64["mmacs"] / r32["mmacs"] < 4.1
