"""Issue 10's discovery guards: a blown-up inner loop stops with ``Diverged`` and saves no tasks;
settings that cannot work are refused before any compute; a trained encoder is never overwritten
without ``--fresh``."""
import numpy as np
import pytest

from tdlib import discovery
from tdlib.lab import cli, runs
from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib.errors import ConfigError, Diverged

TINY = ["--set", "n_train=200", "--set", "n_test=50", "--set", "inner_batch=32", "--set", "inner_steps=3",
        "--set", "disc_width=4", "--set", "emb_dim=4", "--set", "n_tasks=4"]


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    return tmp_path / "smoke" / "discovery"


def test_huge_inner_lr_stops_with_diverged_and_saves_no_tasks(results):
    p = get_profile("smoke", n_train=200, n_test=50, inner_batch=32, inner_steps=5, disc_width=4,
                    inner_lr=100.0, meta_steps=6)
    ds = load_dataset("synthetic", p.n_train, p.n_test)
    with pytest.raises(Diverged, match="inner_lr=100"):
        discovery.discover(ds, p, out_dir=runs.discovery_dir(runs.run_name(p)), progress=False)
    assert not (results / "tasks.npz").exists()


def test_cli_exits_3_on_divergence(results, capsys):
    rc = cli.main(["discover", "--profile", "smoke", *TINY, "--set", "inner_lr=100", "--steps", "3"])
    assert rc == 3 and "proxy-AS" in capsys.readouterr().err
    assert not (results / "tasks.npz").exists()


@pytest.mark.parametrize("argv, words", [
    (["--steps", "0"], "--steps 0"),
    (["--chunk", "0"], "--chunk 0"),
    (["--n-sample", "-2"], "--n-sample -2"),
    (["--set", "inner_steps=0"], "inner_steps=0"),
    (["--set", "inner_batch=0"], "inner_batch=0"),
    (["--resume", "--fresh"], "contradict"),
])
def test_cli_refuses_bad_settings_before_any_compute(results, capsys, monkeypatch, argv, words):
    def no_data(*a, **k):
        raise AssertionError("data loaded before the refusal")
    monkeypatch.setattr("tdlib.data.dataset_for", no_data)
    rc = cli.main(["discover", "--profile", "smoke", *argv])
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "Fix:" in err, err
    assert not results.exists()


def test_check_settings_raises_config_error():
    with pytest.raises(ConfigError, match="--steps 0"):
        discovery.check_settings(get_profile("smoke"), steps=0)


def test_second_discover_without_resume_leaves_the_trained_encoder_untouched(results, capsys):
    # a constant meta-lr: a run may then be continued past its first length (see the test below)
    tiny = [*TINY, "--set", "meta_lr_schedule=constant"]
    assert cli.main(["discover", "--profile", "smoke", *tiny, "--steps", "2"]) == 0
    files = {f: f.read_bytes() for f in (results / "encoder.pt", results / "tasks.npz")}
    capsys.readouterr()
    rc = cli.main(["discover", "--profile", "smoke", *tiny, "--steps", "3"])
    err = capsys.readouterr().err
    assert rc == 2 and "--fresh" in err and "--resume" in err, err
    assert all(f.read_bytes() == b for f, b in files.items())
    assert cli.main(["discover", "--profile", "smoke", *tiny, "--steps", "3", "--resume"]) == 0
    assert cli.main(["discover", "--profile", "smoke", *tiny, "--steps", "1", "--fresh"]) == 0
    with np.load(results / "tasks.npz") as z:
        assert int(z["step"]) == 1


def test_a_scheduled_run_is_not_continued_toward_another_length(results, capsys):
    """A linear meta-lr decays over the run's length: a 2-step run resumed toward 3 steps would not be the
    3-step run (the ViT run of E8/E9 went from 4 to 40 meta-steps in session 13). The resume is refused with
    the fix named, the queue sees the checkpoint as stale, and its own length still resumes."""
    assert get_profile("smoke").meta_lr_schedule == "linear"
    assert cli.main(["discover", "--profile", "smoke", *TINY, "--steps", "2", "--chunk", "1"]) == 0
    capsys.readouterr()
    assert cli.main(["discover", "--profile", "smoke", *TINY, "--steps", "3", "--resume"]) == 2
    err = capsys.readouterr().err
    assert "--steps 2" in err and "--fresh" in err, err
    p = get_profile("smoke", n_train=200, n_test=50, inner_batch=32, inner_steps=3, disc_width=4, emb_dim=4,
                    n_tasks=4)
    assert discovery.checkpoint_stale(p.replace(meta_steps=3), results) == ["meta_steps: 2 -> 3"]
    assert discovery.checkpoint_stale(p.replace(meta_steps=2), results) == []
    assert cli.main(["discover", "--profile", "smoke", *TINY, "--steps", "2", "--resume"]) == 0
    with np.load(results / "tasks.npz") as z:
        assert int(z["step"]) == 2


class _Payload:
    """A pickle that writes a file when loaded with weights_only=False."""
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_hostile_checkpoint_runs_no_code(results, tmp_path):
    """Issue 17: every checkpoint load is weights_only=True, so a forged encoder.pt cannot run its payload."""
    import pickle
    import torch
    marker = tmp_path / "payload_ran"
    results.mkdir(parents=True)
    with open(results / "encoder.pt", "wb") as f:
        pickle.dump({"profile": _Payload(marker)}, f)
    p = get_profile("smoke")
    with pytest.raises(Exception):
        discovery.checkpoint_stale(p, results)
    with pytest.raises(Exception):
        discovery._load(p, results / "encoder.pt", torch.device("cpu"))
    assert not marker.exists()


def test_uniformity_weight_schedule_moves_lambda_from_start_to_end():
    """λ schedule (issue 21's diagnosis): -1 keeps λ constant (the paper); >= 0 moves it linearly from
    uniformity_weight at the first meta-step to uniformity_weight_end at the last."""
    from tdlib.config import get_profile
    from tdlib.discovery import uniformity_weight_at
    p = get_profile("smoke", uniformity_weight=5.0)
    assert [uniformity_weight_at(p, s, 11) for s in (0, 5, 10)] == [5.0, 5.0, 5.0]
    q = p.replace(uniformity_weight=1.0, uniformity_weight_end=5.0)
    assert [uniformity_weight_at(q, s, 11) for s in (0, 5, 10)] == pytest.approx([1.0, 3.0, 5.0])


def test_reading_a_finished_run_leaves_its_tasks_file_untouched(tmp_path):
    """A reader of a finished run (E5's uniformity-only run read again by asfit) got its tasks re-sampled
    and ``tasks.npz`` rewritten: the same tasks up to float rounding, but a changed file under git. Now a
    second ``discover`` of a finished run returns the saved tasks and writes nothing; a different
    request (another balance) still re-samples and saves."""
    p = get_profile("smoke", n_train=200, n_test=50, inner_batch=32, inner_steps=3, disc_width=4,
                    emb_dim=4, n_tasks=4, meta_steps=2)
    ds = load_dataset("synthetic", p.n_train, p.n_test)
    first = discovery.discover(ds, p, out_dir=tmp_path, progress=False)
    path = tmp_path / "tasks.npz"
    saved_bytes, saved_mtime = path.read_bytes(), path.stat().st_mtime_ns
    with np.load(path) as z:
        saved = z["tasks"].astype(np.int64)
    again = discovery.discover(ds, p, out_dir=tmp_path, progress=False)
    assert path.read_bytes() == saved_bytes and path.stat().st_mtime_ns == saved_mtime
    assert again["step"] == first["step"] == 2 and again["mean_similarity"] == first["mean_similarity"]
    other = discovery.discover(ds, p, out_dir=tmp_path, progress=False, balance="origin")
    with np.load(path) as z:
        assert str(z["balance"]) == "origin"
    assert other["step"] == 2 and saved.shape == (4, len(ds))
