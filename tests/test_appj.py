"""Self-supervised features (Sec. 5.1), regulated discovery on them, and the App. J linear-head probe."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tdlib import discovery, ssl
from tdlib.lab import runs
from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib.linear_probe import closest_task_similarity, fit_linear_heads, predict_heads
from tdlib.models import build_model
from tdlib.tasks import random_task, task_by_name


@pytest.fixture(scope="module")
def ds():
    return load_dataset("synthetic", n_train=160, n_test=60, seed=0)


# ----------------------------------------------------------------------------------------------
# NT-Xent
# ----------------------------------------------------------------------------------------------
def _nt_xent_direct(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]), dim=1).double()
    n, b = len(z), len(z1)
    total = 0.0
    for i in range(n):
        j = (i + b) % n
        num = math.exp(float(z[i] @ z[j]) / t)
        den = sum(math.exp(float(z[i] @ z[k]) / t) for k in range(n) if k != i)
        total += -math.log(num / den)
    return total / n


def test_nt_xent_matches_direct_formula():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    for t in (0.5, 0.1):
        assert float(ssl.nt_xent(z1, z2, t)) == pytest.approx(_nt_xent_direct(z1, z2, t), rel=1e-5)


def test_nt_xent_is_smallest_for_identical_views():
    g = torch.Generator().manual_seed(1)
    z1 = torch.randn(8, 16, generator=g)
    same = float(ssl.nt_xent(z1, z1.clone(), 0.5))
    # any other second view (noisy copies, unrelated ones, a permutation) gives a larger loss
    for other in (z1 + 0.3 * torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g),
                  z1[torch.randperm(8, generator=g)]):
        assert float(ssl.nt_xent(z1, other, 0.5)) > same
    # moving the second view away from the first raises the loss monotonically
    d = torch.randn(8, 16, generator=g)
    losses = [float(ssl.nt_xent(z1, z1 + e * d, 0.5)) for e in (0.0, 0.1, 0.3, 1.0)]
    assert losses == sorted(losses)


# ----------------------------------------------------------------------------------------------
# augmentations
# ----------------------------------------------------------------------------------------------
def test_augment_keeps_shape_range_and_is_seeded():
    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    a1 = ssl.augment(x, torch.Generator().manual_seed(3))
    a2 = ssl.augment(x, torch.Generator().manual_seed(3))
    a3 = ssl.augment(x, torch.Generator().manual_seed(4))
    assert a1.shape == x.shape and a1.dtype == x.dtype
    assert float(a1.min()) >= 0 and float(a1.max()) <= 1
    assert torch.equal(a1, a2)                       # same seed, same views
    assert not torch.allclose(a1, a3)                # another seed, other views
    assert not torch.allclose(a1, x)                 # the views differ from the images


def test_augment_invariants():
    """Crops and flips of a constant image are that image; greyscale (p = 1) gives equal channels;
    with jitter and greyscale off, colours are only resampled (each view's mean stays near its image's)."""
    g = torch.Generator().manual_seed(0)
    const = torch.rand(4, 3, 1, 1, generator=g).expand(4, 3, 32, 32).contiguous()
    a = ssl.augment(const, g, p_jitter=0.0, p_grey=0.0)
    assert torch.allclose(a, const, atol=1e-6)
    x = torch.rand(4, 3, 32, 32, generator=g)
    grey = ssl.augment(x, g, p_grey=1.0)
    assert torch.allclose(grey[:, 0], grey[:, 1]) and torch.allclose(grey[:, 1], grey[:, 2])
    smooth = F.interpolate(F.avg_pool2d(x, 8, 1), size=32, mode="bilinear", align_corners=False)   # smooth images
    v = ssl.augment(smooth, g, p_jitter=0.0, p_grey=0.0)
    assert torch.allclose(v.mean(dim=(2, 3)), smooth.mean(dim=(2, 3)), atol=0.05)


# ----------------------------------------------------------------------------------------------
# features
# ----------------------------------------------------------------------------------------------
def test_frozen_features_deterministic_and_resumed(ds, tmp_path):
    p = get_profile("smoke", ssl_epochs=1, ssl_batch=80)
    out = ssl.train_ssl(ds, p, out_dir=tmp_path, progress=False)
    assert out["epoch"] == 1 and np.isfinite(out["history"][0]["loss"])
    f1 = ssl.frozen_features(ds, p, weights=tmp_path / "encoder.pt")
    f2 = ssl.frozen_features(ds, p, weights=tmp_path / "encoder.pt")
    assert f1.shape == (len(ds), 4 * p.ssl_width) and torch.equal(f1, f2)
    tr = f1[ds.train_idx]
    assert torch.allclose(tr.mean(0), torch.zeros(tr.shape[1]), atol=1e-4)       # standardized on X_tr
    # resuming from the checkpoint continues (epoch 2) instead of starting over
    again = ssl.train_ssl(ds, p.replace(ssl_epochs=2), out_dir=tmp_path, progress=False)
    assert again["epoch"] == 2 and len(again["history"]) == 2
    assert again["history"][0] == out["history"][0]


def test_user_weights_of_our_backbone(ds, tmp_path):
    torch.manual_seed(0)
    net = build_model("cnn", num_classes=10, width=4)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    p = get_profile("smoke", ssl_arch="cnn", ssl_width=4)
    feats = ssl.frozen_features(ds, p, weights=str(tmp_path / "w.pt"), standardize=False)
    net.fc = torch.nn.Identity()
    assert torch.allclose(feats, net.eval()(ds.x).detach(), atol=1e-5)


def test_bad_weights_give_clear_errors(ds, tmp_path):
    p = get_profile("smoke", ssl_arch="cnn", ssl_width=4)
    with pytest.raises(FileNotFoundError, match="ssl_weights"):
        ssl.frozen_features(ds, p, weights=tmp_path / "missing.pt")
    torch.save(build_model("mlp", width=4).state_dict(), tmp_path / "mlp.pt")
    with pytest.raises(ValueError, match="do not match backbone 'cnn'.*Fix: set ssl_arch"):
        ssl.frozen_features(ds, p, weights=tmp_path / "mlp.pt")
    torch.save(build_model("cnn", width=8).state_dict(), tmp_path / "wide.pt")
    with pytest.raises(ValueError, match="do not fit backbone 'cnn'.*Fix: set ssl_arch"):
        ssl.frozen_features(ds, p, weights=tmp_path / "wide.pt")


# ----------------------------------------------------------------------------------------------
# regulated discovery
# ----------------------------------------------------------------------------------------------
def test_regulated_discovery_on_features(ds, tmp_path):
    """The encoder is an MLP on the features; only the features' rows of each batch's images reach it:
    shuffling the features of images outside X_tr changes nothing in training."""
    p = get_profile("smoke", meta_steps=2, inner_steps=2, inner_batch=32)
    feats = torch.randn(len(ds), 12, generator=torch.Generator().manual_seed(0))
    summ = discovery.discover(ds, p, out_dir=tmp_path / "a", features=feats, progress=False)
    assert summ["step"] == 2 and summ["n_tasks"] == p.n_tasks
    enc = torch.load(tmp_path / "a" / "encoder.pt", weights_only=False)
    assert enc["encoder"]["0.weight"].shape == (p.ssl_hidden, 12)
    feats2 = feats.clone()
    te = torch.as_tensor(ds.test_idx)
    feats2[te] = feats2[te[torch.randperm(len(te))]]
    discovery.train_encoder(ds, p, out_dir=tmp_path / "b", features=feats2, progress=False)
    enc2 = torch.load(tmp_path / "b" / "encoder.pt", weights_only=False)
    assert all(torch.equal(enc["encoder"][k], enc2["encoder"][k]) for k in enc["encoder"])
    # other features: resuming refuses with a fix
    with pytest.raises(ValueError, match="other encoder inputs"):
        discovery.train_encoder(ds, p, out_dir=tmp_path / "a", features=feats + 1, steps=3, progress=False)


def test_discovered_task_name_with_folder(ds, tmp_path, monkeypatch):
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    p = get_profile("smoke", meta_steps=1, inner_steps=2, inner_batch=32)
    feats = torch.randn(len(ds), 6, generator=torch.Generator().manual_seed(1))
    discovery.discover(ds, p, out_dir=runs.discovery_dir("smoke") / "ssl", features=feats, progress=False)
    saved = np.load(tmp_path / "smoke" / "discovery" / "ssl" / "tasks.npz")["tasks"]
    assert np.array_equal(task_by_name(ds, "discovered:1:smoke/ssl"), saved[1])
    with pytest.raises(ValueError, match="smoke/nope"):
        task_by_name(ds, "discovered:0:smoke/nope")


# ----------------------------------------------------------------------------------------------
# App. J linear heads
# ----------------------------------------------------------------------------------------------
def test_linear_head_recovers_planted_task_and_not_random_labels():
    g = np.random.default_rng(0)
    n, d = 1500, 8
    emb = g.normal(size=(n, d)) * g.uniform(0.2, 5, d) + g.normal(size=d)   # scaled, shifted dims
    w = g.normal(size=d)
    planted = (emb @ w > np.median(emb @ w)).astype(np.int64)              # a hyperplane with offset
    rand = random_task(n, 0)
    tr, te = np.arange(1000), np.arange(1000, n)
    res = closest_task_similarity(emb, np.stack([planted, rand]), tr, te, steps=200)
    assert res["similarity"][0] > 0.97
    assert res["similarity"][1] < 0.58
    assert res["train_similarity"][1] < 0.6              # d = 8 dims cannot fit random labels


def test_linear_heads_are_independent_fits():
    g = np.random.default_rng(1)
    emb = g.normal(size=(300, 4))
    y = np.stack([(emb[:, 0] > 0), (emb[:, 1] + 0.3 * emb[:, 2] > 0.2)]).astype(np.int64)
    both = predict_heads(emb, fit_linear_heads(emb, y, 100))
    alone = predict_heads(emb, fit_linear_heads(emb, y[1:], 100))
    assert np.array_equal(both[1], alone[0])
