"""Sec. 4 experiments and figures at the smoke profile (built-in data, seconds)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tdlib.config import get_profile  # noqa: E402
from tdlib.data import dataset_for  # noqa: E402
from tdlib.lab.experiments.sec4 import inner_loop_curve  # noqa: E402
from tdlib.tasks import task_by_name  # noqa: E402


@pytest.fixture()
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    return tmp_path


def test_e7_random_network_tasks_and_figure(results):
    import tdlib.lab.experiments as ex
    from tdlib.lab.viz import sec4
    store = ex.get("e7", profile="smoke")
    sim = store.entries["similarity"]
    assert 0.5 <= sim["mean_similarity"] <= 1.0
    naive = store.entries["naive"]
    assert naive["found"] <= naive["wanted"] and naive["draws"] <= naive["max_draws"]
    assert sec4.plot_random_networks(store) is not None


def test_inner_loop_curve_learns_an_easy_cue():
    """A planted cue is learnt within a few inner steps: the two networks come to agree on X_te."""
    p = get_profile("smoke", inner_steps=20, inner_batch=64)
    ds = dataset_for(p)
    out = inner_loop_curve(ds, task_by_name(ds, "cue:warm"), p, eval_every=5)
    assert out["steps"] == [5, 10, 15, 20] and len(out["batch_agreement"]) == 20
    assert out["test_agreement"][-1] > 0.8
    assert np.isfinite(out["proxy_as"]) and out["proxy_as"] <= 0


def test_e5_holds_every_kind_on_its_own_pool_and_the_figure_uses_only_e5(results):
    """E5 stores discovered, untrained (same hyperplanes, meta-step 0), unseen (new hyperplanes) and
    its own human / random tasks, each trained with the profile's recipe on E5's pool; the
    discovery entry records its meta-steps and training seconds; the summary and the AS figure
    read E5 alone."""
    import tdlib.lab.experiments as ex
    from tdlib.lab.viz import sec4
    p = get_profile("smoke", n_tasks=2, emb_dim=2, meta_steps=2, epochs=2, e5_n_baseline=1, e5_n_unseen=1)
    store = ex.get("e5", profile=p)
    kinds = {}
    for e in store.entries.values():
        if isinstance(e, dict) and "agreement" in e:
            kinds.setdefault(e["kind"], []).append(e)
            assert (e["n_train"], e["arch"]) == (p.n_train, p.arch)
    assert {k: len(v) for k, v in kinds.items()} == {"discovered": 2, "untrained": 2, "unseen": 1,
                                                     "human": 1, "random": 1, "unif_only": 2,
                                                     "naive": 1, "stat": 5}
    comp = store.entries["comparisons"]          # issue 21: each baseline with its interval over tasks
    assert comp["discovered"]["n"] == 2 and comp["unif_only"]["discovered_minus"]["paired"] is True
    assert comp["naive"]["discovered_minus"]["paired"] is False
    assert store.entries["unif_only"]["proxy_weight"] == 0.0
    disc = store.entries["discovery"]
    assert disc["step"] == 2 and disc["train_seconds"] > 0 and len(disc["history"]) == 2
    summ = sec4.summary(store)
    assert {"AS discovered", "AS untrained", "AS unseen", "AS human", "AS random"} <= set(summ)
    assert summ["meta-steps"] == 2 and "discovered minus untrained" in summ
    fig = sec4.plot_as_comparison(store)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert sorted(lab.split(" ")[0] for lab in labels) == ["discovered", "human", "random", "unseen", "untrained"]


def test_diag_compares_the_uniformity_only_baseline_e5_saved(results):
    """The diagnosis's proxy-AS groups read E5's uniformity-only run at E5's own point: at a profile
    with λ = 0 that run trains at λ = 1 (``unif_only_point``), and diag once looked for it at λ = 0,
    found it 'stale' and dropped the group without a word (session 15, at cpu and smoke)."""
    from tdlib.lab.experiments.diag import task_groups
    from tdlib.lab.experiments.sec4 import unif_only_point
    from tdlib.lab.runs import discover_tasks
    p = get_profile("smoke", n_tasks=2, emb_dim=2, meta_steps=2)
    assert p.uniformity_weight == 0
    ds = dataset_for(p)
    q, out = unif_only_point(p)
    saved, _ = discover_tasks(ds, q, out)
    groups = task_groups(ds, p)
    assert set(groups) == {"discovered", "untrained", "unif_only"}
    assert np.array_equal(groups["unif_only"], saved)


def test_diag_measures_the_authors_objective_with_their_head_and_label_temperature():
    """The gradient row named for the authors' objective is theirs whatever the profile runs (the cpu and
    smoke profiles whiten the embedding and label at T = 2; until session 15 that row inherited both)."""
    from tdlib.config import PROFILES
    from tdlib.lab.experiments.diag import gradient_settings
    for name in ("smoke", "cpu"):
        q = gradient_settings(get_profile(name))["authors t=2, λ=5"]
        assert (q.encoder_head, q.temperature, q.uniformity_t, q.uniformity_weight) == (
            PROFILES["paper"].encoder_head, PROFILES["paper"].temperature, 2.0, 5.0)
        assert q.early_stop_agreement == PROFILES["paper"].early_stop_agreement


def test_the_paper_scale_run_reports_its_progress_from_the_window_history(tmp_path):
    """The Sec. 4 page says how far the gpu run is, from the history.json a window leaves, and calls an
    unfinished run progress, not a result; without one it says so."""
    import json

    from tdlib.lab.viz.diag import long_run_facts
    assert long_run_facts(root=tmp_path)["paper_scale_run"] == "no stored run at `gpu` or `paper` yet"
    d = tmp_path / "gpu" / "discovery"
    d.mkdir(parents=True)
    hist = [{"step": i + 1, "proxy_as": -0.70 + 0.01 * (i >= 10), "inner_steps": 5 + i} for i in range(20)]
    d.joinpath("history.json").write_text(json.dumps({"step": 20, "total": 3200, "history": hist,
                                                      "seconds_per_step": {"mean": 4.33}}))
    s = long_run_facts(root=tmp_path)["paper_scale_run"]
    assert s.startswith("`gpu`: 20 of 3,200 meta-steps (not finished, so not a result), 4.3 s")
    assert "unrolls of 5-24 inner steps" in s and "-0.700 over its first 10" in s and "-0.690 over its last 10" in s
