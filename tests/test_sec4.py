"""Sec. 4 experiments and figures at the smoke profile (built-in data, seconds)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tdlib.config import get_profile  # noqa: E402
from tdlib.data import dataset_for  # noqa: E402
from tdlib.experiments.sec4 import inner_loop_curve  # noqa: E402
from tdlib.tasks import task_by_name  # noqa: E402


@pytest.fixture()
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    return tmp_path


def test_e7_random_network_tasks_and_figure(results):
    import tdlib.experiments as ex
    from tdlib.viz import sec4
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
