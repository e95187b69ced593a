"""Task discovery (Sec. 4): the unrolled meta-gradient against `higher` and finite differences,
the uniformity loss, orthogonal hyperplanes, checkpoint/resume, divergence, and a behavioural check."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from tdlib import discovery
from tdlib.lab import runs
from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib.errors import ConfigError
from tdlib.tasks import mean_pairwise_similarity, task_by_name
from tdlib.unroll import FunctionalNet, agreement_term, proxy_agreement, soft_cross_entropy

LR = 0.1


# ----------------------------------------------------------------------------------------------
# meta-gradient
# ----------------------------------------------------------------------------------------------
def _small_problem(act=nn.ReLU, steps=4, seed=0):
    """A task network (linear encoder θ + fixed hyperplane) and two small inner MLPs with BatchNorm."""
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    u = torch.tensor([0.6, -0.8, 0.0], dtype=torch.float64)
    batches = [torch.randn(16, 6, generator=g, dtype=torch.float64) for _ in range(steps)]
    nets = []
    for s in range(2):
        torch.manual_seed(100 + s)
        nets.append(nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), act(), nn.Linear(8, 2)).double())

    def target_fn(x, th=None):
        z = x @ (theta if th is None else th)
        return discovery.task_probs(z @ u, 2.0), discovery.uniformity_loss(z)
    return theta, batches, nets, target_fn


def _ours(theta, batches, nets, target_fn, checkpoint=False, th=None):
    fnets = [FunctionalNet.from_module(n) for n in nets]
    res = proxy_agreement(fnets, batches, lambda x: target_fn(x, th), LR, checkpoint=checkpoint,
                          meta_params=[theta])
    return res.proxy_as + 0.5 * res.extra


def _higher_oracle(theta, batches, nets, target_fn):
    higher = pytest.importorskip("higher")
    import copy
    nets = [copy.deepcopy(n).train() for n in nets]
    opts = [torch.optim.SGD(n.parameters(), lr=LR) for n in nets]
    total, extra = 0.0, 0.0
    with higher.innerloop_ctx(nets[0], opts[0], copy_initial_weights=True) as (f1, d1), \
            higher.innerloop_ctx(nets[1], opts[1], copy_initial_weights=True) as (f2, d2):
        for x in batches:
            probs, unif = target_fn(x)
            l1, l2 = f1(x), f2(x)
            total = total + agreement_term(l1, l2)
            extra = extra + unif
            d1.step(soft_cross_entropy(l1, probs))
            d2.step(soft_cross_entropy(l2, probs))
    return total / len(batches) + 0.5 * extra / len(batches)


def test_meta_gradient_equals_higher():
    theta, batches, nets, target_fn = _small_problem()
    ours = torch.autograd.grad(_ours(theta, batches, nets, target_fn), theta)[0]
    oracle = torch.autograd.grad(_higher_oracle(theta, batches, nets, target_fn), theta)[0]
    assert ours.abs().max() > 1e-6                         # a real, non-zero meta-gradient
    torch.testing.assert_close(ours, oracle, rtol=1e-12, atol=1e-14)


def test_checkpointed_unroll_gives_the_same_gradient():
    theta, batches, nets, target_fn = _small_problem()
    plain = torch.autograd.grad(_ours(theta, batches, nets, target_fn), theta)[0]
    ck = torch.autograd.grad(_ours(theta, batches, nets, target_fn, checkpoint=True), theta)[0]
    torch.testing.assert_close(plain, ck, rtol=1e-12, atol=1e-14)


def test_meta_gradient_matches_finite_differences():
    theta, batches, nets, target_fn = _small_problem(act=nn.Tanh)        # smooth variant
    grad = torch.autograd.grad(_ours(theta, batches, nets, target_fn), theta)[0]
    v = torch.randn(theta.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    eps = 1e-5
    with torch.enable_grad():
        jp = float(_ours(theta, batches, nets, target_fn, th=theta.detach() + eps * v).detach())
        jm = float(_ours(theta, batches, nets, target_fn, th=theta.detach() - eps * v).detach())
    fd = (jp - jm) / (2 * eps)
    assert abs(float((grad * v).sum()) - fd) < 1e-7 * max(1.0, abs(fd)), (float((grad * v).sum()), fd)


@pytest.mark.parametrize("lam", [0.0, 5.0])
def test_meta_gradient_through_the_real_encoder(lam):
    """The meta-step of :func:`discovery.meta_step_loss` (a CNN encoder with its BatchNorm head and
    learnable scale, CNN inner networks with BatchNorm, uniformity weight λ) = the same meta-step
    written with `higher` (float64, plain and checkpointed), and its directional derivative =
    central finite differences."""
    higher = pytest.importorskip("higher")
    p = get_profile("smoke", emb_dim=4, n_tasks=4, disc_width=2, inner_steps=3, uniformity_weight=lam,
                    early_stop_agreement=2.0)
    torch.manual_seed(0)
    enc = discovery.build_encoder(p.arch, p.emb_dim, p.disc_width).double()
    with torch.no_grad():
        enc[1].weight.uniform_(0.5, 1.5)                     # a non-trivial learnable BN scale
    u = discovery.orthogonal_hyperplanes(p.emb_dim, 1)[0].double()
    g = torch.Generator().manual_seed(1)
    batches = [torch.randn(12, 3, 32, 32, generator=g, dtype=torch.float64) for _ in range(p.inner_steps)]
    params = [q for q in enc.parameters() if q.requires_grad]
    torch.set_default_dtype(torch.float64)
    try:
        def loss(checkpoint=False):
            return discovery.meta_step_loss(enc, u, batches, p, [3, 4], checkpoint=checkpoint)[0]
        seq = torch.autograd.grad(loss(), params)
        ck = torch.autograd.grad(loss(True), params)

        def higher_loss():
            nets = []
            for s in (3, 4):
                torch.manual_seed(s)
                nets.append(discovery.build_model(p.arch, 2, p.disc_width).train())
            opts = [torch.optim.SGD(n.parameters(), lr=p.inner_lr) for n in nets]
            total, extra = 0.0, 0.0
            with higher.innerloop_ctx(nets[0], opts[0], copy_initial_weights=True) as (f1, d1), \
                    higher.innerloop_ctx(nets[1], opts[1], copy_initial_weights=True) as (f2, d2):
                for x in batches:
                    emb = enc.train()(x)
                    probs = discovery.task_probs(emb @ u, p.temperature)
                    l1, l2 = f1(x), f2(x)
                    total = total + agreement_term(l1, l2)
                    extra = extra + discovery.uniformity_loss(emb, p.uniformity_t)
                    d1.step(soft_cross_entropy(l1, probs))
                    d2.step(soft_cross_entropy(l2, probs))
            return -total / len(batches) + lam * extra / len(batches)
        ref = torch.autograd.grad(higher_loss(), params)
        assert max(float(a.abs().max()) for a in seq) > 1e-8
        for a, b, c in zip(seq, ck, ref):
            torch.testing.assert_close(a, c, rtol=1e-9, atol=1e-12)
            torch.testing.assert_close(b, c, rtol=1e-9, atol=1e-12)
        v = [torch.randn(q.shape, generator=g, dtype=torch.float64) for q in params]
        eps = 1e-8                                           # small: ReLU / max-pool kinks stay uncrossed
        vals = []
        for sign in (1, -1):
            with torch.no_grad():
                for q, d in zip(params, v):
                    q.add_(sign * eps * d)
            vals.append(float(loss().detach()))
            with torch.no_grad():
                for q, d in zip(params, v):
                    q.sub_(sign * eps * d)
        fd = (vals[0] - vals[1]) / (2 * eps)
        an = float(sum((a * d).sum() for a, d in zip(seq, v)))
        assert abs(an - fd) < 1e-5 * max(1.0, abs(fd)), (an, fd)       # vs ~0.5% off at eps 1e-6
    finally:
        torch.set_default_dtype(torch.float32)


def test_early_stop_after_min_steps_when_the_last_steps_agree():
    theta, batches, nets, target_fn = _small_problem(steps=10)
    fnets = [FunctionalNet.from_module(n) for n in nets]
    res = proxy_agreement(fnets, batches, target_fn, LR, early_stop_agreement=-1.0, early_stop_patience=3,
                          early_stop_min_steps=5)
    assert res.steps == 5                                  # always above: stops at the first allowed step
    res = proxy_agreement(fnets, batches, target_fn, LR, early_stop_agreement=-1.0, early_stop_patience=3)
    assert res.steps == 3                                  # no minimum: once the last 3 steps agree
    res = proxy_agreement(fnets, batches, target_fn, LR, early_stop_agreement=1.0, early_stop_patience=3,
                          early_stop_min_steps=5)
    assert res.steps == 10 and len(res.agreement01) == 10  # never above: the whole budget


# ----------------------------------------------------------------------------------------------
# uniformity loss and hyperplanes
# ----------------------------------------------------------------------------------------------
def test_uniformity_lower_for_spread_out_embeddings():
    g = torch.Generator().manual_seed(0)
    spread = torch.randn(256, 8, generator=g)
    collapsed = torch.ones(256, 8) + 0.01 * torch.randn(256, 8, generator=g)
    u_spread, u_coll = discovery.uniformity_loss(spread), discovery.uniformity_loss(collapsed)
    assert u_coll > -0.01                                  # all points together: log 1 = 0
    assert u_spread < u_coll - 1.5
    assert u_spread >= -4.0 - 1e-6                         # bound: squared distances <= 4
    torch.testing.assert_close(discovery.uniformity_loss(3 * spread), u_spread)   # scale-free


def test_orthogonal_hyperplanes_give_dissimilar_tasks():
    planes = discovery.orthogonal_hyperplanes(16, 8, seed=3)
    torch.testing.assert_close(planes @ planes.T, torch.eye(8), atol=1e-5, rtol=0)
    emb = torch.randn(20_000, 16, generator=torch.Generator().manual_seed(0))    # uniform directions
    tasks = (emb @ planes.T > 0).T.numpy().astype(np.int64)
    assert abs(mean_pairwise_similarity(tasks) - 0.5) < 0.02
    with pytest.raises(ValueError, match="n_tasks <= emb_dim"):
        discovery.orthogonal_hyperplanes(4, 5)


def test_whitened_embedding_gives_uncorrelated_tasks_on_orthogonal_hyperplanes():
    """encoder_head="whiten": two orthogonal hyperplanes cannot read the same feature. The planted
    features are redundant (two copies of one binary cue plus noise): with a per-dimension BatchNorm,
    the hyperplanes' tasks are near copies; whitened, they are unrelated. Eval mode uses the running
    statistics, which :func:`discovery.embed` re-estimates."""
    g = torch.Generator().manual_seed(0)
    cue = torch.randint(0, 2, (4000, 1), generator=g).float() * 2 - 1
    x = torch.cat([cue, cue, 0.3 * torch.randn(4000, 2, generator=g)], 1) + 0.2 * torch.randn(4000, 4, generator=g)
    planes = discovery.orthogonal_hyperplanes(4, 4, seed=1)
    bn, wh = nn.BatchNorm1d(4, affine=False), discovery.BatchWhiten(4, momentum=None)
    z_bn, z_wh = bn.train()(x), wh.train()(x)
    torch.testing.assert_close(torch.cov(z_wh.T), torch.eye(4), atol=0.02, rtol=0)   # eps: 1e-3 of the scale
    corr = lambda z: torch.corrcoef((z @ planes.T).T).abs().fill_diagonal_(0).max()   # noqa: E731
    assert corr(z_bn) > 0.5 and corr(z_wh) < 0.02
    torch.testing.assert_close(wh.eval()(x), z_wh, atol=1e-4, rtol=0)    # running stats = the one batch's
    wh.reset_running_stats()
    assert torch.equal(wh.running_cov, torch.eye(4))
    enc = discovery.build_encoder("mlp", 4, 8, "whiten")
    ds = load_dataset("synthetic", 300, 100)
    emb = discovery.embed(enc, ds)[np.asarray(ds.train_idx)]
    torch.testing.assert_close(torch.cov(emb.T), torch.eye(4), atol=0.05, rtol=0)
    with pytest.raises(ConfigError, match="encoder_head"):
        discovery.build_encoder("mlp", 4, 8, "whitened")



# ----------------------------------------------------------------------------------------------
# discovery runs on the synthetic data
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny():
    p = get_profile("smoke", n_train=300, n_test=100, inner_batch=32, inner_steps=4, meta_steps=4,
                    emb_dim=4, n_tasks=4, disc_width=4)
    return p, load_dataset("synthetic", p.n_train, p.n_test)


@pytest.mark.parametrize("over", [{}, {"hyperplane_order": "random", "inner_fixed_init": False,
                                        "inner_fresh_images": False, "tasks_per_step": 2}])
def test_resume_gives_the_same_result(tiny, tmp_path, over):
    p, ds = tiny
    p = p.replace(**over)
    full = discovery.train_encoder(ds, p, out_dir=tmp_path / "a", progress=False, checkpoint_every=1)
    discovery.train_encoder(ds, p, out_dir=tmp_path / "b", progress=False, stop_after=2)
    ck = torch.load(tmp_path / "b" / "encoder.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 2 and ck["train_seconds"] > 0
    assert {f.name for f in (tmp_path / "b").iterdir()} == {"encoder.pt"}      # one file per checkpoint
    resumed = discovery.train_encoder(ds, p, out_dir=tmp_path / "b", progress=False)
    assert resumed["train_seconds"] > ck["train_seconds"]
    assert resumed["step"] == full["step"] == 4
    for k, v in full["encoder"].state_dict().items():
        assert torch.equal(v, resumed["encoder"].state_dict()[k]), k
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]   # noqa: E731
    assert strip(full["history"]) == strip(resumed["history"])
    for a, b in zip(full["opt"].state_dict()["state"].values(), resumed["opt"].state_dict()["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_legacy_checkpoint_files_must_belong_together(tiny, tmp_path, legacy_layout):
    """A run committed in the earlier three-file layout: a moment file of another save is refused."""
    from tdlib.checkpoint import legacy_moment_path
    p, ds = tiny
    discovery.train_encoder(ds, p, out_dir=tmp_path / "a", progress=False, stop_after=1)
    discovery.train_encoder(ds, p, out_dir=tmp_path / "b", progress=False, stop_after=2)
    token = {"a": legacy_layout(tmp_path / "a", 1), "b": legacy_layout(tmp_path / "b", 2)}
    legacy_moment_path(tmp_path / "b", "exp_avg", token["b"]).write_bytes(
        legacy_moment_path(tmp_path / "a", "exp_avg", token["a"]).read_bytes())
    with pytest.raises(ConfigError, match="another save"):
        discovery.train_encoder(ds, p, out_dir=tmp_path / "b", progress=False)


def test_nan_stops_cleanly_and_keeps_the_last_good_checkpoint(tiny, tmp_path, monkeypatch):
    p, ds = tiny
    p = p.replace(tasks_per_step=1)                          # one unroll per meta-step: counted below
    calls = {"n": 0}
    real = discovery.uniformity_loss

    def poisoned(emb, *a, **kw):
        calls["n"] += 1
        out = real(emb, *a, **kw)
        return out * float("nan") if calls["n"] > 2 * p.inner_steps else out     # meta-step 3 diverges
    monkeypatch.setattr(discovery, "uniformity_loss", poisoned)
    with pytest.raises(discovery.DiscoveryDiverged, match="meta-step 2.*step 2"):
        discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, checkpoint_every=1)
    ck = torch.load(tmp_path / "encoder.pt", map_location="cpu", weights_only=False)
    assert ck["step"] == 2
    assert all(torch.isfinite(v).all() for v in ck["encoder"].values() if v.is_floating_point())


def test_discover_saves_tasks_and_registers_the_kind(tiny, tmp_path, monkeypatch):
    p, ds = tiny
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    summary = discovery.discover(ds, p.replace(meta_steps=1), out_dir=runs.discovery_dir("smoke"), progress=False)
    assert summary["n_tasks"] == p.n_tasks and all(b == 0.5 for b in summary["balance"])
    t = task_by_name(ds, "discovered:1")
    assert t.shape == (len(ds),) and set(np.unique(t)) <= {0, 1}
    with pytest.raises(ValueError, match="out of range"):
        task_by_name(ds, f"discovered:{p.n_tasks}")


def _cue_alignment(tasks, ds) -> float:
    """Mean over tasks of the best match (Eq. 2 similarity, either sign) to a planted binary cue."""
    from tdlib.tasks import similarity
    cues = [a for k, a in ds.attrs.items() if k != "shape"]            # position, round, warm
    return float(np.mean([max(max(s, 1 - s) for s in (similarity(t, a) for a in cues)) for t in tasks]))


def test_meta_training_raises_the_as_and_finds_the_planted_cues(tmp_path):
    """Sec. 4: meta-training makes the tasks of the same hyperplanes more learnable. On the built-in
    data, 10 meta-steps move the tasks from mixtures of cues (alignment ~0.66, AS ~0.89) onto the
    planted cues (~0.99) and raise their AS (~1.0), and the proxy-AS of the last meta-steps is above
    that of the first. (With no meta-training, e.g. meta_lr ~ 0, every assertion fails.) The authors'
    head and label temperature with no uniformity term: nothing keeps the tasks apart, so all may take
    the easiest cue (the smoke default's whitened embedding would not let them)."""
    from tdlib.agreement import agreement_score
    p = get_profile("smoke", n_train=300, n_test=200, inner_batch=64, inner_steps=5, emb_dim=4, n_tasks=4,
                    disc_width=4, meta_lr=1e-2, uniformity_weight=0.0, meta_steps=10,
                    encoder_head="linear_bn_scale", temperature=5.0)
    ds = load_dataset("synthetic", p.n_train, p.n_test)
    planes = discovery.orthogonal_hyperplanes(p.emb_dim, p.n_tasks, p.task_seed)
    before, _ = discovery.sample_tasks(discovery._new_state(p, "cpu")["encoder"], ds, planes)
    state = discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False)
    after, _ = discovery.sample_tasks(state["encoder"], ds, planes)
    c0, c1 = _cue_alignment(before, ds), _cue_alignment(after, ds)
    assert c1 > c0 + 0.15 and c1 > 0.9, (c0, c1)
    q = p.replace(epochs=3)
    as0 = np.mean([agreement_score(ds, t, q)["agreement"] for t in before])
    as1 = np.mean([agreement_score(ds, t, q)["agreement"] for t in after])
    assert as1 > as0 + 0.05, (as0, as1)
    pa = [h["proxy_as"] for h in state["history"]]
    assert np.mean(pa[-2:]) > np.mean(pa[:2]) + 0.02, pa
