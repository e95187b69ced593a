"""Adversarial splits (Sec. 6, Eq. 6 and 7): invariants, random splits of equal size and balance,
index files, and a planted-cue check that an adversarial split makes a small model fail."""
import json

import numpy as np
import pytest

from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib.splits import (adversarial_split, balanced_class_set, evaluate_split, load_split,
                          multiclass_adversarial_split, random_split_like, save_split, summarize)
from tdlib.tasks import task_by_name
from tdlib.train import predict, train_classifier


def _labels(n=1000, seed=0, p_agree=0.4):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, 2, n)
    b = np.where(rng.random(n) < p_agree, t, 1 - t)      # τ' agrees with τ on ~40%
    return t.astype(np.int64), b.astype(np.int64)


def _partition_ok(split, pool):
    tr, te = split.train_idx, split.test_idx
    assert len(np.intersect1d(tr, te)) == 0
    assert np.array_equal(np.sort(np.concatenate([tr, te])), np.sort(pool))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0)


def test_eq6_partition_and_orientation():
    t, b = _labels()
    n = len(t)
    asis = adversarial_split(t, b, orient="as-is")
    _partition_ok(asis, np.arange(n))
    assert np.all(t[asis.train_idx] == b[asis.train_idx])          # Eq. 6: train where τ == τ'
    assert np.all(t[asis.test_idx] != b[asis.test_idx])            # test where τ != τ'
    assert not asis.meta["flipped"] and len(asis.train_idx) < len(asis.test_idx)
    big = adversarial_split(t, b)                                  # default: larger train part
    assert big.meta["flipped"] and len(big.train_idx) >= len(big.test_idx)
    assert np.array_equal(big.train_idx, asis.test_idx)            # flipping τ' swaps the parts
    assert np.all(t[big.train_idx] == 1 - b[big.train_idx])
    s = summarize(big, t, b)
    assert (s["agree_train"], s["agree_test"]) == (0.0, 1.0) and s["flipped"]
    pool = np.arange(0, n, 3)                                      # a sub-pool
    sub = adversarial_split(t, b, pool=pool, orient="as-is")
    _partition_ok(sub, pool)
    with pytest.raises(ValueError, match="binary"):
        adversarial_split(t * 3, b)


def test_eq7_partial_correlation():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 10, 2000).astype(np.int64)
    b = rng.integers(0, 2, 2000).astype(np.int64)
    c1 = (1, 3, 5, 7, 9)
    sp = multiclass_adversarial_split(t, b, c1, orient="as-is")
    _partition_ok(sp, np.arange(len(t)))
    in_c1 = np.isin(t, c1).astype(np.int64)
    assert np.all(b[sp.train_idx] == in_c1[sp.train_idx])           # Eq. 7
    assert np.all(b[sp.test_idx] != in_c1[sp.test_idx])
    assert sp.meta["C1"] == list(c1) and sp.meta["C0"] == [0, 2, 4, 6, 8]
    s = summarize(sp, t, b)
    assert (s["agree_train"], s["agree_test"]) == (1.0, 0.0)
    # default C1: the half whose indicator is least similar to τ' (train and test about half each)
    best = balanced_class_set(t, b, 10)
    sims = [max(m, 1 - m) for m in
            [np.mean(np.isin(t, c) == b) for c in [best, c1, (1, 2, 3, 4, 5)]]]
    assert sims[0] <= min(sims[1:]) + 1e-12
    with pytest.raises(ValueError, match="C1"):
        multiclass_adversarial_split(t, b, tuple(range(10)))


def test_random_split_same_sizes_and_balance_and_summary():
    rng = np.random.default_rng(2)
    t = rng.integers(0, 10, 1500).astype(np.int64)
    b = rng.integers(0, 2, 1500).astype(np.int64)
    adv = multiclass_adversarial_split(t, b)
    rnd = random_split_like(adv, t, seed=3)
    _partition_ok(rnd, np.arange(len(t)))
    assert rnd.sizes == adv.sizes
    sa, sr = summarize(adv, t, b), summarize(rnd, t, b)
    assert sa["train_counts"] == sr["train_counts"] and sa["test_counts"] == sr["test_counts"]
    assert sa["train_counts"] == np.bincount(t[adv.train_idx], minlength=10).tolist()
    assert abs(sum(sa["train_balance"]) - 1) < 1e-9 and abs(sum(sa["test_balance"]) - 1) < 1e-9
    assert sa["n_train"] + sa["n_test"] == len(t)
    assert not np.array_equal(rnd.train_idx, adv.train_idx)
    assert 0.4 < sr["agree_train"] < 0.6                            # no correlation to τ' any more
    assert np.array_equal(random_split_like(adv, t, seed=3).train_idx, rnd.train_idx)   # seeded


@pytest.mark.parametrize("ext", [".json", ".npz"])
def test_export_load_round_trip(tmp_path, ext):
    ds = load_dataset("synthetic", 80, 20)
    ds.attrs["cifar_index"] = np.arange(len(ds))[::-1] * 7         # stands in for CIFAR indices
    t, b = task_by_name(ds, "human:3"), task_by_name(ds, "cue:warm")
    sp = adversarial_split(t, b, target_name="human:3", by_name="cue:warm")
    path = save_split(sp, tmp_path / f"split{ext}", ds=ds, target=t, by=b)
    back, rec = load_split(path)
    assert np.array_equal(back.train_idx, sp.train_idx) and np.array_equal(back.test_idx, sp.test_idx)
    assert (back.kind, back.target, back.by, back.meta) == (sp.kind, "human:3", "cue:warm", sp.meta)
    assert np.array_equal(rec["source_train_idx"], ds.attrs["cifar_index"][sp.train_idx])
    assert np.array_equal(rec["source_test_idx"], ds.attrs["cifar_index"][sp.test_idx])
    assert np.array_equal(rec["target_labels_train"], t[sp.train_idx])
    assert np.array_equal(rec["by_labels_test"], b[sp.test_idx])
    assert rec["dataset"] == "synthetic" and rec["pool_size"] == 100
    if ext == ".json":                                             # readable without tdlib
        assert json.loads(path.read_text())["train_idx"] == sp.train_idx.tolist()
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a tdlib split"):
        load_split(bad)


def test_cli_writes_index_files(tmp_path, capsys):
    from tdlib.lab.cli import main
    assert main(["split", "--target", "human:3", "--by", "cue:warm", "--out", str(tmp_path),
                 "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "adversarial split of human:3 by cue:warm" in out and "random split" in out
    sp, rec = load_split(tmp_path / "split.npz")
    assert rec["kind"] == "adversarial" and len(sp.train_idx) + len(sp.test_idx) == rec["pool_size"]
    assert (tmp_path / "random_split.json").is_file()


def test_planted_cue_split_fools_a_small_model():
    """An easy planted cue (background colour, ``cue:warm``) as τ' for a shape target
    (``cue:round``): on the adversarial split the network learns the colour and fails on the
    test part, far below a random split of the same sizes and balance (Sec. 6.1)."""
    ds = load_dataset("synthetic", 800, 200)
    t, b = task_by_name(ds, "cue:round"), task_by_name(ds, "cue:warm")
    prof = get_profile("smoke", epochs=8, width=8, batch_size=50, lr=3e-3)
    adv = adversarial_split(t, b, target_name="cue:round", by_name="cue:warm")
    rnd = random_split_like(adv, t)
    r_adv = evaluate_split(ds, t, adv, prof, seeds=1)              # a pair of networks
    assert len(r_adv["test_accs"]) == 2 and r_adv["n_train"] == len(adv.train_idx)
    assert r_adv["agreement"] > 0.8        # App. F: the networks still agree with each other
    net = train_classifier(ds.x[rnd.train_idx], t[rnd.train_idx], arch="cnn", width=8, epochs=prof.epochs,
                           batch_size=prof.batch_size, lr=prof.lr)
    acc_rnd = float(np.mean(predict(net, ds.x[rnd.test_idx]) == t[rnd.test_idx]))
    assert acc_rnd > 0.6, acc_rnd
    assert r_adv["test_acc"] < acc_rnd - 0.3, (r_adv, acc_rnd)


def test_e16_without_data_explains_and_with_data_runs(tmp_path, monkeypatch, capsys):
    """E16 (Sec. 6.3): absent datasets print what to download and where, and store nothing; a
    stand-in for torchvision's CelebA runs the whole pipeline."""
    import torch
    from PIL import Image

    from tdlib.lab.experiments import sec6
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path / "results"))
    prof = get_profile("smoke", n_train=120, n_test=40, epochs=1, adv_seeds=1)
    store = sec6.e16_celeba_imagenet(prof, root=tmp_path)
    out = capsys.readouterr().out
    assert "celeba skipped" in out and "img_align_celeba" in out and "ILSVRC2012_img_train.tar" in out
    assert store.entries == {} and not store.path.exists()

    class FakeCelebA:                      # the parts of torchvision's CelebA that E16 uses
        attr_names = ["Smiling", "Male"]

        def __init__(self):
            self.images = load_dataset("synthetic", 150, 50).images

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            img = Image.fromarray(self.images[i]).resize((40, 48))
            return img, torch.tensor([0, int(self.images[i].mean() > 90)])

    monkeypatch.setattr(sec6, "_open_extra", lambda name, root: FakeCelebA() if name == "celeba" else None)
    store = sec6.e16_celeba_imagenet(prof, root=tmp_path)
    e = store.entries["celeba|randnet:0"]
    assert e["target"] == "celeba:Male" and e["adversarial"]["n_train"] + e["adversarial"]["n_test"] == 160
    assert e["random"]["n_train"] == e["adversarial"]["n_train"] and store.path.exists()


def test_e14_points_mirror_each_pair():
    """Fig. 7-right: one adversarial split per unordered pair gives both orders; on the test part
    τ' = 1 - τ, so the accuracy w.r.t. τ' is 1 - that w.r.t. τ, at the opposite AS difference."""
    from types import SimpleNamespace

    from tdlib.lab.experiments.sec6 import e14_points
    store = SimpleNamespace(entries={
        "as/human:2": {"agreement": 0.6}, "as/randnet:0": {"agreement": 0.95},
        "pair/human:2|randnet:0": {"target": "human:2", "by": "randnet:0", "test_acc": 0.2, "agreement": 0.9}})
    pts = {(q["target"], q["by"]): q for q in e14_points(store)}
    assert pts[("human:2", "randnet:0")]["delta_as"] == pytest.approx(0.35)
    assert pts[("human:2", "randnet:0")]["test_acc"] == pytest.approx(0.2)
    assert pts[("randnet:0", "human:2")]["delta_as"] == pytest.approx(-0.35)
    assert pts[("randnet:0", "human:2")]["test_acc"] == pytest.approx(0.8)
    assert pts[("randnet:0", "human:2")]["as_split"] == 0.9
