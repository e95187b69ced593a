"""Discovered tasks in the Sec. 5 study: the ``discovered`` scorer of the task grids (Sec. 5.1), discovery
with another architecture into its own folder and its task names (Sec. 5.2), and the meta-gradient
through a ViT's attention."""
import numpy as np
import pytest
import torch

from tdlib import discovery
from tdlib.lab.runs import arch_run, discovery_dir
from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib.lab.experiments.sec5 import arch_matrix, discovered_groups
from tdlib.lab.results import ResultStore
from tdlib.lab.taskviz import task_scores, top_images
from tdlib.tasks import task_by_name


@pytest.fixture(scope="module")
def tiny():
    p = get_profile("smoke", n_train=300, n_test=100, inner_batch=32, inner_steps=3, meta_steps=1,
                    study_disc_meta_steps=1, emb_dim=4, n_tasks=4, disc_width=4)
    return p, load_dataset("synthetic", p.n_train, p.n_test)


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):
    """The default (cnn) run and an MLP run of the tiny profile, in a temporary results root."""
    p, ds = tiny
    root = tmp_path_factory.mktemp("results")
    mp = pytest.MonkeyPatch()
    mp.setenv("TDLIB_RESULTS", str(root))
    for arch in (p.arch, "mlp"):
        q, where = arch_run(p, arch)
        discovery.discover(ds, q, out_dir=discovery_dir(where), progress=False)
    yield root
    mp.undo()


def test_arch_run_writes_its_own_folder_and_names_resolve(tiny, runs, monkeypatch):
    p, ds = tiny
    monkeypatch.setenv("TDLIB_RESULTS", str(runs))
    q, where = arch_run(p, "mlp")
    assert (q.arch, q.meta_steps, where) == ("mlp", p.study_disc_meta_steps, "smoke/arch_mlp")
    assert arch_run(p, p.arch) == (p, "smoke")            # the profile's own arch: default run
    assert (runs / "smoke" / "discovery" / "arch_mlp" / "tasks.npz").is_file()
    assert (runs / "smoke" / "discovery" / "tasks.npz").is_file()
    ck = torch.load(runs / "smoke" / "discovery" / "arch_mlp" / "encoder.pt", weights_only=False)
    assert ck["profile"]["arch"] == "mlp" and ck["step"] == p.study_disc_meta_steps
    mlp = np.stack([task_by_name(ds, f"discovered:{i}:smoke/arch_mlp") for i in range(p.n_tasks)])
    assert mlp.shape == (p.n_tasks, len(ds)) and set(np.unique(mlp)) == {0, 1}
    assert (mlp.mean(1) == 0.5).all()                                 # median split: exactly balanced
    # old names unchanged: the default run, also when the MLP run is the most recent file
    cnn = np.stack([task_by_name(ds, f"discovered:{i}") for i in range(p.n_tasks)])
    assert np.array_equal(cnn, np.stack([task_by_name(ds, f"discovered:{i}:smoke") for i in range(p.n_tasks)]))
    assert not np.array_equal(cnn, mlp)
    with pytest.raises(ValueError, match="--arch"):
        task_by_name(ds, "discovered:0:smoke/arch_vit")
    with pytest.raises(ValueError, match="out of range"):
        task_by_name(ds, f"discovered:{p.n_tasks}:smoke/arch_mlp")


def test_discovered_scorer_top_images(tiny, runs, monkeypatch):
    """The grid of a discovered task: class 1 = highest projections, all labelled 1, all above class 0's."""
    p, ds = tiny
    monkeypatch.setenv("TDLIB_RESULTS", str(runs))
    for name in ("discovered:2", "discovered:1:smoke/arch_mlp"):
        labels, scores = task_by_name(ds, name), task_scores(ds, name)
        assert scores.shape == (len(ds),)
        # the saved labels are the median split of the saved projections (up to float16 ties)
        assert scores[labels == 1].min() >= scores[labels == 0].max()
        r = top_images(ds, name, k=5)
        i0, i1 = np.array(r["index"]["0"]), np.array(r["index"]["1"])
        assert len(i0) == len(i1) == 5 and (labels[i1] == 1).all() and (labels[i0] == 0).all()
        assert min(r["score"]["1"]) >= max(r["score"]["0"])
        assert min(r["score"]["1"]) >= np.sort(scores[labels == 1])[-5]      # the 5 highest of class 1
        assert max(r["score"]["0"]) <= np.sort(scores[labels == 0])[4]       # the 5 lowest of class 0


def test_vit_meta_gradient_through_attention():
    """The meta-gradient needs a double backward through attention (the fused kernels have none);
    checkpointed inner steps (recomputed in backward) give the same gradient."""
    p = get_profile("smoke", arch="vit", disc_width=2, emb_dim=4, n_tasks=4, inner_steps=2)
    torch.manual_seed(0)
    enc = discovery.build_encoder("vit", p.emb_dim, p.disc_width)
    u = discovery.orthogonal_hyperplanes(p.emb_dim, 1)[0]
    batches = [torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(s)) for s in range(2)]
    grads = []
    for ck in (False, True):
        enc.zero_grad()
        loss, _ = discovery.meta_step_loss(enc, u, batches, p, [1, 2], checkpoint=ck)
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
            loss.backward()
        grads.append(torch.cat([q.grad.flatten() for q in enc.parameters() if q.grad is not None]))
    assert torch.isfinite(grads[0]).all() and grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_e9_groups_and_matrix_skip_discovery_entries(tiny, tmp_path):
    p, _ = tiny
    groups = discovered_groups(p.replace(study_disc_archs=("cnn", "vit"), study_group_size=2))
    assert groups == {"discovered-cnn": ["discovered:0:smoke", "discovered:1:smoke"],
                      "discovered-vit": ["discovered:0:smoke/arch_vit", "discovered:1:smoke/arch_vit"]}
    store = ResultStore("e9", "smoke", root=tmp_path)
    store.put("discovery/cnn", {"arch": "cnn", "where": "smoke"})
    for a, v in (("cnn", 0.9), ("mlp", 0.7)):
        store.put(f"{a}/discovered:0:smoke", {"task": "discovered:0:smoke", "group": "discovered-cnn",
                                              "arch": a, "agreement": v})
    m = arch_matrix(store)
    assert m["archs"] == ["cnn", "mlp"] and m["tasks"] == ["discovered:0:smoke"]
    assert np.allclose(m["as"], [[0.9, 0.7]])
