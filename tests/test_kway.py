"""K-way discovery (App. C) and the Tiny ImageNet loader (App. A): balanced K-way sampling, the
simplex heads, the K-way meta-gradient against finite differences and against the binary one
(K = 2), K-way human/random tasks and similarity, and the loader on a generated folder."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from tdlib import discovery, kway
from tdlib.lab import runs
from tdlib.config import get_profile
from tdlib.data import DataNotFoundError, load_dataset, load_tinyimagenet_train
from tdlib.tasks import kway_similarity, similarity, task_by_name
from tdlib.unroll import FunctionalNet, proxy_agreement

LR = 0.1


# ----------------------------------------------------------------------------------------------
# heads and balanced sampling
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3, 5])
def test_simplex_heads_are_regular_and_mutually_orthogonal(k):
    heads = kway.kway_heads(8, k, 6, seed=1).double()              # (6,K,8)
    for h in heads:
        gram = h @ h.T                                             # unit vectors, equal angles -1/(K-1)
        torch.testing.assert_close(gram, (1 + 1 / (k - 1)) * torch.eye(k, dtype=torch.float64) - 1 / (k - 1), atol=1e-6, rtol=0)
        torch.testing.assert_close(h.sum(0), torch.zeros(8, dtype=torch.float64), atol=1e-6, rtol=0)
    per = 8 // (k - 1)                                             # heads of one rotation: orthogonal spans
    for i in range(min(per, 6)):
        for j in range(i + 1, min(per, 6)):
            assert (heads[i] @ heads[j].T).abs().max() < 1e-6


def test_binary_heads_are_the_orthogonal_hyperplanes():
    planes = discovery.orthogonal_hyperplanes(8, 8, seed=3)
    heads = kway.kway_heads(8, 2, 8, seed=3)
    assert torch.equal(heads[:, 1], planes) and torch.equal(heads[:, 0], -planes)


@pytest.mark.parametrize("k", [3, 5])
def test_argmax_of_uniform_embeddings_is_balanced_and_balanced_argmax_is_exact(k):
    emb = torch.randn(20_000, 8, generator=torch.Generator().manual_seed(0))      # rotation invariant
    tasks, logits = kway.sample_kway_tasks(emb, kway.kway_heads(8, k, 3, seed=0), balance="argmax")
    for t in tasks:                                                # App. C: balanced if uniform
        assert np.abs(np.bincount(t, minlength=k) / len(t) - 1 / k).max() < 0.015
    skewed = emb + torch.tensor([2.0] + [0.0] * 7)                 # shifted: plain argmax unbalanced
    heads = kway.kway_heads(8, k, 3, seed=0)
    plain, _ = kway.sample_kway_tasks(skewed, heads, balance="argmax")
    bal, logits = kway.sample_kway_tasks(skewed, heads, balance="equal")
    assert max(np.bincount(t, minlength=k).max() for t in plain) > 1.3 * len(emb) / k
    for t, z in zip(bal, logits):
        counts = np.bincount(t, minlength=k)
        assert np.abs(counts - len(emb) / k).max() <= 2
        assert np.mean(t == z.argmax(1)) > 0.5                     # mostly the argmax, moved at the margins


def test_balanced_argmax_for_two_classes_is_the_median_split():
    from tdlib.randnet import median_split
    s = np.random.default_rng(0).normal(size=1000) + 0.7         # off-centre: argmax alone is unbalanced
    labels = kway.balanced_argmax(np.stack([-s, s], 1))
    assert np.array_equal(labels, median_split(s))


# ----------------------------------------------------------------------------------------------
# K-way meta-gradient
# ----------------------------------------------------------------------------------------------
def _kway_problem(k, steps=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(6, 4, generator=g, dtype=torch.float64, requires_grad=True)
    head = kway.kway_heads(4, k, 1, seed=2)[0].double()           # (K,4)
    batches = [torch.randn(16, 6, generator=g, dtype=torch.float64) for _ in range(steps)]
    nets = []
    for s in range(2):
        torch.manual_seed(100 + s)
        nets.append(nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, k)).double())
    return theta, head, batches, nets


def _objective(theta, head, batches, nets, probs_fn):
    fnets = [FunctionalNet.from_module(n) for n in nets]

    def target_fn(x):
        z = x @ theta
        return probs_fn(z), discovery.uniformity_loss(z)
    res = proxy_agreement(fnets, batches, target_fn, LR)
    return res.proxy_as + 0.5 * res.extra


@pytest.mark.parametrize("k", [3, 4])
def test_kway_meta_gradient_matches_finite_differences(k):
    theta, head, batches, nets = _kway_problem(k)
    probs = lambda z: kway.kway_probs(z, head, 2.0)                            # noqa: E731
    grad = torch.autograd.grad(_objective(theta, head, batches, nets, probs), theta)[0]
    assert grad.abs().max() > 1e-6
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    eps = 1e-5
    with torch.enable_grad():
        jp = float(_objective(theta.detach() + eps * v, head, batches, nets, probs).detach())
        jm = float(_objective(theta.detach() - eps * v, head, batches, nets, probs).detach())
    fd = (jp - jm) / (2 * eps)
    assert abs(float((grad * v).sum()) - fd) < 1e-7 * max(1.0, abs(fd)), (float((grad * v).sum()), fd)


def test_kway_with_two_classes_equals_the_binary_task():
    theta, head, batches, nets = _kway_problem(2)                 # head = (-u, u)
    u = head[1]
    z = torch.randn(32, 4, dtype=torch.float64)
    torch.testing.assert_close(kway.kway_probs(z, head, 5.0), discovery.task_probs(z @ u, 5.0), rtol=1e-14, atol=0)
    g_k = torch.autograd.grad(_objective(theta, head, batches, nets, lambda z: kway.kway_probs(z, head, 5.0)), theta)[0]
    g_b = torch.autograd.grad(_objective(theta, head, batches, nets, lambda z: discovery.task_probs(z @ u, 5.0)),
                              theta)[0]
    torch.testing.assert_close(g_k, g_b, rtol=1e-10, atol=1e-13)


def test_kway_discovery_run_saves_balanced_tasks_with_names(tmp_path, monkeypatch):
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    p = get_profile("smoke", n_train=300, n_test=100, inner_batch=32, inner_steps=3, meta_steps=2,
                    emb_dim=4, n_tasks=4, disc_width=4, n_classes=3)
    ds = load_dataset("synthetic", p.n_train, p.n_test)
    out = discovery.discover(ds, p, out_dir=runs.discovery_dir(runs.run_name(p)), progress=False)
    assert (tmp_path / "smoke" / "discovery" / "k3" / "tasks.npz").is_file()
    assert not (tmp_path / "smoke" / "discovery" / "tasks.npz").exists()   # the binary run is separate
    assert out["n_tasks"] == 4 and all(max(b) - min(b) < 0.01 for b in out["balance"])
    t = task_by_name(ds, "discovered:1:smoke/k3")
    assert t.shape == (len(ds),) and set(np.unique(t)) == {0, 1, 2}
    with pytest.raises(ValueError, match="discovered tasks"):
        task_by_name(ds, "discovered:1")                          # no binary run saved here
    with pytest.raises(ValueError, match="other settings"):      # a K=3 checkpoint is not a K=5 one
        discovery.train_encoder(ds, p.replace(n_classes=5), out_dir=tmp_path / "smoke" / "discovery" / "k3",
                                progress=False)


# ----------------------------------------------------------------------------------------------
# K-way human / random tasks and similarity
# ----------------------------------------------------------------------------------------------
def test_kway_human_and_random_tasks():
    ds = load_dataset("synthetic", 600, 200)
    for k in (3, 5):
        r = task_by_name(ds, f"random:k{k}:0")
        counts = np.bincount(r, minlength=k)
        assert counts.max() - counts.min() <= 1
        assert not np.array_equal(r, task_by_name(ds, f"random:k{k}:1"))
        h = task_by_name(ds, f"human:k{k}:0")
        for c in range(10):                                        # a function of the class ...
            assert len(np.unique(h[ds.classes == c])) == 1
        sizes = np.bincount([h[ds.classes == c][0] for c in range(10) if (ds.classes == c).any()], minlength=k)
        assert sizes.max() - sizes.min() <= 1                      # ... with near-equal class groups
    assert np.array_equal(task_by_name(ds, "human:3"), task_by_name(ds, "human:3"))   # binary names unchanged
    with pytest.raises(ValueError, match="kK:INDEX"):
        task_by_name(ds, "random:kx:1")


def test_kway_similarity_ignores_relabelling_and_extends_eq2():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, 1000)
    assert kway_similarity(t, (t + 1) % 4) == 1.0
    b1, b2 = rng.integers(0, 2, 1000), rng.integers(0, 2, 1000)
    assert kway_similarity(b1, b2) == similarity(b1, b2)
    assert abs(kway_similarity(t, rng.integers(0, 4, 1000)) - 0.25) < 0.06


# ----------------------------------------------------------------------------------------------
# Tiny ImageNet loader (App. A)
# ----------------------------------------------------------------------------------------------
def _write_tiny_imagenet(root, n_classes=3, per_class=4, size=64):
    from PIL import Image
    base = root / "tiny-imagenet-200"
    wnids = [f"n0{i}000" for i in (3, 1, 2)][:n_classes]       # unsorted on purpose
    (base / "wnids.txt").parent.mkdir(parents=True)
    (base / "wnids.txt").write_text("\n".join(wnids))
    (base / "words.txt").write_text("\n".join(f"{w}\tthing {w}, other" for w in wnids))
    for w in wnids:
        d = base / "train" / w / "images"
        d.mkdir(parents=True)
        value = int(w[2]) * 60                                     # class colour: red channel 60*digit
        for j in range(per_class):
            img = np.zeros((size, size, 3), np.uint8)
            img[..., 0] = value
            img[..., 1] = j * 10
            if j == 0:
                Image.fromarray(img[..., 0]).save(d / f"{w}_{j}.JPEG")   # a greyscale one
            else:
                Image.fromarray(img).save(d / f"{w}_{j}.png")
    return base


def test_tinyimagenet_loader_reads_the_standard_layout(tmp_path, monkeypatch):
    base = _write_tiny_imagenet(tmp_path)
    images, labels, names, pick = load_tinyimagenet_train(tmp_path, image_size=64)   # parent folder works
    assert images.shape == (12, 64, 64, 3) and images.dtype == np.uint8
    assert names == ["thing n01000", "thing n02000", "thing n03000"]                  # sorted wnids
    assert sorted(np.bincount(labels).tolist()) == [4, 4, 4]
    for img, y in zip(images, labels):                                                # labels match content
        assert abs(int(img[..., 0].mean()) - 60 * (y + 1)) <= 3
    monkeypatch.setenv("TDLIB_TINYIMAGENET", str(base))
    ds = load_dataset("tinyimagenet", 8, 4, image_size=32)
    assert ds.x.shape == (12, 3, 32, 32) and ds.images.shape == (12, 32, 32, 3)
    assert ds.num_classes == 3 and len(ds.train_idx) == 8 and len(ds.test_idx) == 4
    assert sorted(ds.attrs["tinyimagenet_index"].tolist()) == list(range(12))
    h = task_by_name(ds, "human:k2:0")                            # App. A human tasks: class groups
    assert set(np.unique(h)) == {0, 1}


def test_tinyimagenet_missing_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("TDLIB_TINYIMAGENET", raising=False)
    with pytest.raises(DataNotFoundError, match="TDLIB_TINYIMAGENET.*tiny-imagenet-200.zip"):
        load_dataset("tinyimagenet", 8, 4)
    with pytest.raises(DataNotFoundError, match="does not exist.*Fix: download"):
        load_tinyimagenet_train(tmp_path / "nowhere")


def test_e21_raises_the_clear_error_without_data(monkeypatch):
    import tdlib.lab.experiments as ex
    monkeypatch.delenv("TDLIB_TINYIMAGENET", raising=False)
    with pytest.raises(DataNotFoundError, match="Fix: download"):
        ex.get("e21", profile="smoke")


def test_tinyimagenet_npz_is_resized_and_keeps_labels(tmp_path):
    x = np.zeros((6, 64, 64, 3), np.uint8)
    x[:, :32] = np.arange(6)[:, None, None, None] * 40          # top half: a per-image value
    np.savez(tmp_path / "tin.npz", x_train=x, y_train=np.arange(6) % 2)
    images, labels, names, pick = load_tinyimagenet_train(tmp_path / "tin.npz", n=4, seed=1, image_size=32)
    assert images.shape == (4, 32, 32, 3) and len(names) == 2
    assert np.array_equal(labels, pick % 2)
    assert np.array_equal(images[:, 0, 0, 0], pick * 40) and (images[:, 16:] == 0).all()   # area resize
