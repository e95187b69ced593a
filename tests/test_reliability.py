"""Issue 17's reliability probes: a discovery checkpoint (one file, :mod:`tdlib.checkpoint`) is written as one
unit (a kill or a full disk at any point of a save leaves a run that resumes bit-exactly; a run in the earlier
three-file layout resumes too, and its next save leaves one file), a damaged checkpoint is an error naming the
file and the fix, and the queue reports such a job and carries on."""
import errno
import pathlib
import shutil

import pytest
import torch

from tdlib import discovery
from tdlib.lab import runs
from tdlib.config import get_profile
from tdlib.data import load_dataset
from tdlib.errors import ConfigError


@pytest.fixture(scope="module")
def tiny():
    p = get_profile("smoke", n_train=200, n_test=50, inner_batch=32, inner_steps=3, meta_steps=4, emb_dim=4,
                    n_tasks=4, disc_width=4, tasks_per_step=1)
    return p, load_dataset("synthetic", p.n_train, p.n_test)


def _strip(history):
    return [{k: v for k, v in e.items() if k != "seconds"} for e in history]


@pytest.fixture(scope="module")
def reference(tiny, tmp_path_factory):
    """An uninterrupted 4-step run, checkpointed every step: the encoder and history to reproduce."""
    p, ds = tiny
    st = discovery.train_encoder(ds, p, out_dir=tmp_path_factory.mktemp("ref"), progress=False, checkpoint_every=1)
    return {k: v.clone() for k, v in st["encoder"].state_dict().items()}, _strip(st["history"])


def _assert_resumes_exactly(tiny, reference, folder):
    p, ds = tiny
    st = discovery.train_encoder(ds, p, out_dir=folder, progress=False, checkpoint_every=1)
    enc, hist = reference
    assert st["step"] == 4
    for k, v in enc.items():
        assert torch.equal(v, st["encoder"].state_dict()[k]), k
    assert _strip(st["history"]) == hist
    assert sorted(f.name for f in folder.iterdir()) == ["encoder.pt"]


def test_a_kill_at_any_point_of_a_checkpoint_write_resumes_bit_exactly(tiny, reference, tmp_path, monkeypatch):
    """The folder is copied as a SIGKILL would leave it before and after every write, rename and delete of
    the step-2 save (a temporary file empty, half written, whole); each copy resumes to the same encoder."""
    p, ds = tiny
    run = tmp_path / "run"
    discovery.train_encoder(ds, p, out_dir=run, progress=False, checkpoint_every=1, stop_after=1)
    snaps, busy = [], []

    def snap(half=False):
        if busy:                                             # the copying itself
            return
        busy.append(1)
        dest = tmp_path / f"snap{len(snaps)}"
        shutil.copytree(run, dest)
        for f in dest.glob("*.tmp") if half else ():         # the file being written, cut in the middle
            f.write_bytes(f.read_bytes()[: max(1, f.stat().st_size // 2)])
        snaps.append(dest)
        busy.clear()

    real_save, real_replace, real_unlink = torch.save, discovery.os.replace, pathlib.Path.unlink

    def save(obj, f, *a, **kw):
        snap()
        real_save(obj, f, *a, **kw)
        f.flush()
        snap(half=True)
        snap()

    def replace(src, dst):
        snap()
        real_replace(src, dst)
        snap()

    def unlink(self, *a, **kw):
        snap()
        real_unlink(self, *a, **kw)
        snap()
    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(discovery.os, "replace", replace)
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    discovery.train_encoder(ds, p, out_dir=run, progress=False, checkpoint_every=1, stop_after=1)
    monkeypatch.undo()
    assert len(snaps) >= 5                                   # the file written (3), renamed into place (2)
    for s in snaps:
        _assert_resumes_exactly(tiny, reference, s)


@pytest.mark.parametrize("what", ["save", "replace"])
@pytest.mark.parametrize("at", [0])
def test_a_full_disk_during_a_checkpoint_write_keeps_the_previous_checkpoint(tiny, reference, tmp_path,
                                                                             monkeypatch, what, at):
    """The ``at``-th file write (or rename) of the step-2 save fails as on a full disk: the run stops with
    an error naming the checkpoint, and ``--resume`` continues exactly from step 1."""
    p, ds = tiny
    discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, checkpoint_every=1, stop_after=1)
    calls = {"n": 0}
    real = torch.save if what == "save" else discovery.os.replace

    def failing(*a, **kw):
        calls["n"] += 1
        if calls["n"] == at + 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*a, **kw)
    monkeypatch.setattr(torch, "save", failing) if what == "save" else \
        monkeypatch.setattr(discovery.os, "replace", failing)
    with pytest.raises(OSError, match="encoder.pt.*--resume"):
        discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, checkpoint_every=1, stop_after=1)
    monkeypatch.undo()
    assert torch.load(tmp_path / "encoder.pt", weights_only=True)["step"] == 1
    assert not list(tmp_path.glob("*.tmp"))
    _assert_resumes_exactly(tiny, reference, tmp_path)


def test_a_failed_delete_of_old_moments_loses_nothing(tiny, reference, tmp_path, monkeypatch, legacy_layout):
    p, ds = tiny
    discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, checkpoint_every=1, stop_after=1)
    legacy_layout(tmp_path)

    def unlink(self, *a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(pathlib.Path, "unlink", unlink)
    discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, checkpoint_every=1, stop_after=1)
    monkeypatch.undo()
    assert len(list(tmp_path.glob("adam_*.pt"))) == 2         # the old ones stayed; the next save removes them
    _assert_resumes_exactly(tiny, reference, tmp_path)


@pytest.mark.parametrize("untokenized", [False, True])
def test_a_checkpoint_in_an_old_layout_still_resumes(tiny, reference, tmp_path, legacy_layout, untokenized):
    """Runs committed in the three-file layout (moment files named by the save token, or, before issue 17,
    adam_exp_avg.pt / adam_exp_avg_sq.pt) resume bit-exactly; the next save leaves one file."""
    p, ds = tiny
    discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, checkpoint_every=1, stop_after=2)
    legacy_layout(tmp_path, untokenized=untokenized)
    assert len(list(tmp_path.glob("adam_*.pt"))) == 2
    _assert_resumes_exactly(tiny, reference, tmp_path)


# ---------------------------------------------------------------------------------------------- damaged files
def _cut(f):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


@pytest.mark.parametrize("which", ["encoder.pt", "exp_avg_sq"])
def test_a_truncated_checkpoint_is_an_error_naming_the_file_and_the_fix(tiny, tmp_path, which, legacy_layout):
    from tdlib.checkpoint import legacy_moment_path
    p, ds = tiny
    discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, stop_after=1)
    if which == "encoder.pt":
        f = tmp_path / which
    else:                                                     # a moment file of the three-file layout
        f = legacy_moment_path(tmp_path, which, legacy_layout(tmp_path))
    _cut(f)
    with pytest.raises(ConfigError, match=rf"{f.name}.*--fresh"):
        discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False)
    if which == "encoder.pt":
        with pytest.raises(ConfigError, match=r"encoder\.pt is damaged.*--fresh"):
            discovery.checkpoint_stale(p, tmp_path)
    st = discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, resume=False, fresh=True)
    assert st["step"] == p.meta_steps


def test_cli_discover_resume_on_a_truncated_checkpoint_exits_2_naming_it(tmp_path, monkeypatch, capsys):
    from tdlib.lab import cli
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    run = tmp_path / "smoke" / "discovery"
    run.mkdir(parents=True)
    torch.save({"step": 1, "history": [{"x": 1}] * 100, "w": torch.randn(1000)}, run / "encoder.pt")
    _cut(run / "encoder.pt")
    rc = cli.main(["discover", "--profile", "smoke", "--set", "n_train=200", "--set", "n_test=50", "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and str(run / "encoder.pt") in err and "--fresh" in err, err
    assert "Traceback" not in err


@pytest.fixture
def two_runs(tiny, tmp_path, monkeypatch):
    """A queue of two discovery runs at the tiny profile: the first one's checkpoint cut in half."""
    from tdlib.lab import queue as Q
    p, ds = tiny
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    bad = Q.LongRun("discovery/bad", "discovery", p, tmp_path / p.name / "discovery" / "bad", 2)
    good = Q.LongRun("discovery/good", "discovery", p, tmp_path / p.name / "discovery" / "good", 2)
    discovery.train_encoder(ds, p, out_dir=bad.out_dir, progress=False, stop_after=1)
    _cut(bad.checkpoint)
    monkeypatch.setattr(Q, "plan", lambda *a, **k: [Q.Job("run", "e5", p, run=bad), Q.Job("run", "e5", p, run=good)])
    return Q, p, bad, good


def test_queue_list_reports_a_damaged_checkpoint_as_damage(two_runs):
    Q, p, bad, good = two_runs
    rows = [Q.job_status(j) for j in Q.plan(p)]
    assert rows[0]["damaged"] and "encoder.pt" in rows[0]["damaged"] and not rows[1]["damaged"]
    text = Q.format_status(rows)
    assert "DAMAGED" in text and str(bad.checkpoint) in text and "--fresh" in text, text


@pytest.mark.parametrize("detected", [True, False])
def test_queue_reports_a_damaged_run_and_carries_on(two_runs, monkeypatch, detected):
    """Whether the damage is seen before the job starts (reported as stale) or only when the run loads its
    checkpoint (``detected=False``: the job fails), the worker goes on to the next job."""
    Q, p, bad, good = two_runs
    if not detected:
        monkeypatch.setattr(Q.LongRun, "damaged", lambda self: None)
    summary = Q.run_queue(p, minutes=2, log=lambda *a: None)
    first, second = summary["jobs"]
    assert "encoder.pt" in first["status"] and "--fresh" in first["status"], first
    assert ("stale, skipped" if detected else "failed: ConfigError") in first["status"]
    assert second["status"] == "complete" and good.progress()[0] == 2


def test_queue_replace_stale_sets_a_damaged_run_aside_and_starts_over(two_runs):
    Q, p, bad, good = two_runs
    summary = Q.run_queue(p, minutes=2, log=lambda *a: None, replace_stale=True)
    assert [j["status"] for j in summary["jobs"]] == ["complete", "complete"], summary
    assert bad.progress()[0] == 2 and not bad.damaged()
    assert list((bad.out_dir.parents[1] / ".stale").rglob("encoder.pt"))       # the damaged file is kept


# ---------------------------------------------------------------------------------------------- settings
@pytest.mark.parametrize("field, value, words", [
    ("meta_steps", 0, "untrained encoder"), ("meta_steps", -5, "meta_steps=-5"),
    ("width", 0, "width=0"), ("n_random", -3, "n_random=-3"), ("n_human", -1, "n_human=-1"),
    ("amp", "maybe", "amp='maybe'"), ("amp", "False", "true or false"),
    ("optimizer", "sgd", "not implemented"),
])
def test_degenerate_settings_are_refused_naming_the_fix(field, value, words):
    with pytest.raises(ConfigError, match="Fix:") as e:
        get_profile("smoke", **{field: value})
    assert words in str(e.value)
    with pytest.raises(ConfigError, match=field):
        get_profile("smoke").replace(**{field: value})


def test_every_profile_passes_its_own_checks():
    from tdlib.config import PROFILES, validate
    for p in PROFILES.values():
        validate(p)
    assert get_profile("smoke", n_random=0, amp=False).n_random == 0          # zero tasks of a kind is allowed


@pytest.mark.parametrize("argv, words", [
    (["discover", "--set", "meta_steps=0"], "meta_steps=0"),
    (["discover", "--set", "meta_steps=-5"], "meta_steps=-5"),
    (["run", "e1", "--set", "n_random=-3"], "n_random=-3"),
    (["run", "e1", "--set", "width=0"], "width=0"),
    (["run", "e1", "--set", "optimizer=sgd"], "optimizer='sgd'"),
    (["run", "e1", "--set", "amp=maybe"], "true or false"),
])
def test_cli_refuses_degenerate_settings_before_any_compute(tmp_path, monkeypatch, capsys, argv, words):
    from tdlib.lab import cli
    def no_data(*a, **k):
        raise AssertionError("data loaded before the refusal")
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    monkeypatch.setattr("tdlib.data.dataset_for", no_data)
    try:
        rc = cli.main([*argv, "--profile", "smoke"])
    except SystemExit as e:                                  # argument errors: argparse's exit
        rc, err = 2, str(e.code)
    else:
        err = capsys.readouterr().err
    assert rc == 2 and words in err, err
    assert not list(tmp_path.rglob("*.*"))                    # nothing stored


# ---------------------------------------------------------------------------------------------- collapse
@pytest.fixture(scope="module")
def smoke_ds():
    from tdlib.data import dataset_for
    return dataset_for(get_profile("smoke"))


def test_a_pair_collapsed_at_a_huge_lr_is_refused_not_stored(smoke_ds):
    from tdlib.agreement import agreement_score
    from tdlib.errors import Diverged
    from tdlib.tasks import task_by_name
    with pytest.raises(Diverged, match=r"same output for every one.*collapsed \(lr=10000.0\).*Fix: .*lr=1e-3"):
        agreement_score(smoke_ds, task_by_name(smoke_ds, "human:80"), get_profile("smoke", lr=1e4))


def test_a_network_that_only_leans_to_one_class_is_kept(smoke_ds):
    """One epoch at smoke: the networks predict mostly one class but still depend on their input (a hard
    task at small scale, not a collapse); and a lopsided task may be predicted as its majority class."""
    import numpy as np

    from tdlib.agreement import agreement_score, check_not_collapsed
    from tdlib.tasks import task_by_name
    r = agreement_score(smoke_ds, task_by_name(smoke_ds, "random:0"), get_profile("smoke", epochs=1))
    assert 0 <= r["agreement"] <= 1
    labels = np.r_[np.zeros(97), np.ones(3)].astype(np.int64)
    check_not_collapsed([torch.tensor([[1.0, 0.0]] * 100)], labels)


def test_cli_run_e1_at_a_huge_lr_exits_3_and_stores_no_entry(tmp_path, monkeypatch, capsys):
    import json

    from tdlib.lab import cli
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    rc = cli.main(["run", "e1", "--profile", "smoke", "--set", "lr=1e4"])
    assert rc == 3 and "collapsed" in capsys.readouterr().err
    f = tmp_path / "smoke" / "e1.json"
    assert not f.exists() or not json.loads(f.read_text()).get("entries")


# ---- a long run is bound to its data (issue 17) ----------------------------------------------------
def _mirrored(ds):
    import dataclasses
    return dataclasses.replace(ds, images=ds.images[:, :, ::-1].copy(), x=ds.x.flip(-1).contiguous())


def test_resume_on_other_images_with_the_same_labels_is_refused(tiny, tmp_path):
    p, ds = tiny
    discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False, stop_after=2, checkpoint_every=1)
    with pytest.raises(ConfigError, match="trained on other data.*--fresh"):
        discovery.train_encoder(_mirrored(ds), p, out_dir=tmp_path, progress=False)
    st = discovery.train_encoder(ds, p, out_dir=tmp_path, progress=False)      # its own data resumes
    assert st["step"] == p.meta_steps


def test_tasks_of_one_pool_are_not_read_for_mirrored_images(tiny, tmp_path):
    p, ds = tiny
    discovery.discover(ds, p, out_dir=tmp_path / "smoke" / "discovery", progress=False)
    assert runs.load_tasks(ds, "smoke", root=tmp_path).shape == (p.n_tasks, len(ds))
    with pytest.raises(ValueError, match="no saved discovered tasks for this dataset"):
        runs.load_tasks(_mirrored(ds), "smoke", root=tmp_path)


def test_a_folder_holding_only_a_finished_runs_tasks_is_not_retrained_over(tiny, tmp_path):
    p, ds = tiny
    folder = tmp_path / "run"
    discovery.discover(ds, p, out_dir=folder, progress=False)
    for f in folder.iterdir():                     # what git (or a GPU window) leaves: tasks.npz alone
        if f.name != "tasks.npz":
            f.unlink()
    before = (folder / "tasks.npz").read_bytes()
    for kw in ({}, {"resume": True}):
        with pytest.raises(ConfigError, match="finished run's tasks without its encoder.pt.*--fresh"):
            discovery.discover(ds, p, out_dir=folder, progress=False, **kw)
    assert (folder / "tasks.npz").read_bytes() == before
    discovery.discover(ds, p, out_dir=folder, progress=False, fresh=True)        # asked for: retrains
    assert (folder / "encoder.pt").is_file()


# ---- stored results validated on load (issue 17) -------------------------------------------------------
@pytest.mark.parametrize("content,words", [
    ('{"entries": {"human:0": {"agreement": 7.5}}}', "agreement score 7.5"),
    ('{"entries": {"human:0": {"agreement": NaN}}}', "agreement score nan"),
    ('{"entries": {"human:0": {"agreement": "0.9"}}}', "agreement score '0.9'"),
    ('[1, 2, 3]', "not a stored result"),
    ('{"entries": [1, 2]}', "not a stored result"),
    ('{"entries": {', "not valid JSON"),
])
def test_a_damaged_result_file_is_reported_as_damage(tmp_path, monkeypatch, capsys, content, words):
    from tdlib.lab import claims as C
    from tdlib.lab import queue as Q
    from tdlib.errors import ResultsFileError
    from tdlib.lab.results import load_store
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "e1.json").write_text(content)
    with pytest.raises(ResultsFileError, match=words.replace("(", r"\(")):
        load_store("e1", "cpu", tmp_path)
    rows = C.report("cpu", root=tmp_path, experiments=["e1"])           # no verdict from damaged numbers
    assert all(r["verdict"] == "not run" and "ResultsFileError" in r["why"] for r in rows)
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    job = [j for j in Q.plan(get_profile("cpu"), only=["e1"], tail=False) if j.kind == "experiment"][0]
    row = Q.job_status(job)
    assert row["damaged"] and "DAMAGED" in Q.format_status([row])


def test_every_committed_result_passes_the_load_check():
    import glob
    from tdlib.lab.results import check_stored, read_json
    root = pathlib.Path(__file__).resolve().parents[1] / "results"
    files = glob.glob(str(root / "*" / "*.json"))
    for f in files:
        check_stored(read_json(f), f)


def test_a_forged_tasks_file_is_refused(tiny, tmp_path):
    import numpy as np
    p, ds = tiny
    folder = tmp_path / "smoke" / "discovery"
    discovery.discover(ds, p, out_dir=folder, progress=False)
    with np.load(folder / "tasks.npz") as z:
        files = {k: z[k] for k in z.files}
    for forged in (7, 0):                                   # a label 7; a constant task
        t = files["tasks"].copy()
        t[1] = forged
        np.savez(folder / "tasks.npz", **{**files, "tasks": t})
        with pytest.raises(ValueError, match=r"rows \[1\].*--fresh"):
            runs.load_tasks(ds, "smoke", root=tmp_path)


def test_a_bad_budget_is_named(tmp_path, monkeypatch, capsys):
    from tdlib.lab.cli import main
    assert main(["queue", "--profile", "smoke", "--minutes", "nan"]) == 2
    assert "finite --minutes" in capsys.readouterr().err


def test_an_unwritable_run_folder_is_refused_before_any_meta_step(tiny, tmp_path, monkeypatch):
    """Issue 17 (minor): a read-only results folder used to train every step, then crash at the first save."""
    from tdlib.errors import ResultsFileError
    p, ds = tiny
    calls = []
    monkeypatch.setattr(discovery, "meta_step_loss", lambda *a, **k: calls.append(1))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ResultsFileError, match="cannot write the discovery run's folder .*Fix: make it writable"):
        discovery.train_encoder(ds, p, out_dir=blocker / "run", progress=False)
    assert calls == []


def test_a_run_whose_folder_was_set_aside_meanwhile_does_not_recreate_it(tiny, tmp_path, monkeypatch):
    """Issue 17: a discover still running after --replace-stale moved its folder re-created the folder at
    its first save and overwrote the new run there; now the save refuses and writes nothing."""
    from tdlib.errors import ResultsFileError
    p, ds = tiny
    run, aside = tmp_path / "run", tmp_path / "aside"
    real = discovery.meta_step_loss

    def move_then_step(*a, **k):
        if run.exists():
            run.rename(aside)                                # what --replace-stale does to a stale run
        return real(*a, **k)
    monkeypatch.setattr(discovery, "meta_step_loss", move_then_step)
    with pytest.raises(ResultsFileError, match="moved or replaced while this run trained"):
        discovery.train_encoder(ds, p, out_dir=run, progress=False, checkpoint_every=1)
    assert not run.exists() and not list(aside.glob("*.pt"))


def test_a_full_disk_on_a_results_write_keeps_the_previous_file(tmp_path, monkeypatch):
    """Issue 17 (minor): a full disk while a results JSON was written gave a raw OSError."""
    import json
    from tdlib.errors import ResultsFileError
    from tdlib.lab.results import atomic_write_json
    path = tmp_path / "smoke" / "e1.json"
    atomic_write_json(path, {"entries": {"a": 1}})

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(json, "dump", full)
    with pytest.raises(ResultsFileError, match="No space left.*previous file is kept.*Fix: free disk space"):
        atomic_write_json(path, {"entries": {"a": 1, "b": 2}})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"entries": {"a": 1}}
    assert not list(path.parent.glob("*.tmp"))


def test_an_experiment_refuses_a_run_made_with_other_settings(tiny, tmp_path, monkeypatch):
    """Issue 17: experiments that read a run's tasks.npz ignored the settings stored in it (E6 stored a
    λ = 1, 7-step recipe over tasks of a λ = 5, 4-step run). ``require_tasks`` reads a run only when it
    was made with the settings of the profile reading it; a finished matching run is not retrained."""
    from tdlib.errors import RecipeMismatch
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    p, ds = tiny
    other = p.replace(uniformity_weight=1.0)
    discovery.discover(ds, other, out_dir=runs.discovery_dir(p.name), progress=False)
    with pytest.raises(RecipeMismatch, match=rf"other settings .*uniformity_weight: 1.0 -> {p.uniformity_weight}.*Fix: .*--fresh"):
        runs.require_tasks(ds, p)
    tasks = runs.require_tasks(ds, other)["tasks"]         # the run's own settings: read as is
    monkeypatch.setattr(discovery, "discover", lambda *a, **k: pytest.fail("retrained a finished run"))
    assert (runs.require_tasks(ds, other)["tasks"] == tasks).all()


def test_replace_stale_after_a_data_only_change_recomputes_instead_of_looping(tmp_path, monkeypatch, capsys):
    """Issue 17 (minor): a result made on other data (same fields, another data fingerprint) is not seen
    by the field comparison, so `run --replace-stale` repeated the same error forever."""
    import json
    from tdlib.lab.cli import main
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    assert main(["run", "e20", "--profile", "smoke", "--set", "prop1_models=2"]) == 0
    path = tmp_path / "smoke" / "e20.json"
    d = json.loads(path.read_text())
    d["recipe"]["data"]["hash"] = "0" * 16                     # made on other images
    path.write_text(json.dumps(d))
    capsys.readouterr()
    assert main(["run", "e20", "--profile", "smoke", "--set", "prop1_models=2"]) != 0
    assert "another recipe: data" in capsys.readouterr().err
    assert main(["run", "e20", "--profile", "smoke", "--set", "prop1_models=2", "--replace-stale"]) == 0
    assert json.loads(path.read_text())["recipe"]["data"]["hash"] != "0" * 16
    assert len(list((tmp_path / "smoke" / ".stale").glob("e20.json.*"))) == 1
