"""Experiment records and result recipes: a stored result is valid for the fields it reads and the data
it ran on; runs refuse to mix recipes; writers on one file keep each other's entries; workers split
entries by claims; a time budget stops before overrunning; errors name the file and the fix."""
from __future__ import annotations

import ast
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tdlib.lab import experiments, results
from tdlib.config import get_profile, tracked, tracking
from tdlib.errors import ConfigError, RecipeMismatch, ResultsFileError
from tdlib.lab.records import same_recipe

ROOT = Path(__file__).resolve().parents[1]
FP = {"dataset": "synthetic", "n_train": 10, "n_test": 5, "hash": "aaaa"}


@pytest.fixture
def fake_exp():
    """A throwaway experiment ``tx`` that depends on ``epochs`` and ``lr`` only."""
    results.RECIPE_FIELDS["tx"], results.RECIPE_NEEDS["tx"] = ("epochs", "lr"), ()
    yield "tx"
    results.RECIPE_FIELDS.pop("tx"), results.RECIPE_NEEDS.pop("tx")


def _interrupt():
    raise KeyboardInterrupt


def _boom():
    raise AssertionError("computed although the run should have been refused first")


def test_resume_refuses_another_recipe_before_compute(tmp_path, fake_exp):
    p = get_profile("smoke")
    results.run_items(fake_exp, p, {"a": lambda: 1}, root=tmp_path, data=FP)
    with pytest.raises(RecipeMismatch, match=r"epochs=6 \(now 7\).*Fix: .*--replace-stale"):
        results.run_items(fake_exp, p.replace(epochs=7), {"a": _boom, "b": _boom}, root=tmp_path, data=FP)
    with pytest.raises(RecipeMismatch, match="data synthetic"):      # same fields, other data
        results.run_items(fake_exp, p, {"b": _boom}, root=tmp_path, data={**FP, "hash": "bbbb"})


def test_a_field_the_experiment_does_not_read_leaves_the_result_valid(tmp_path, fake_exp):
    p = get_profile("smoke")
    store = results.run_items(fake_exp, p, {"a": lambda: 1}, root=tmp_path, data=FP)
    q = p.replace(ssl_epochs=99)
    assert store.stale(q) == []
    assert results.run_items(fake_exp, q, {"a": _boom, "b": lambda: 2}, root=tmp_path, data=FP).entries == {"a": 1, "b": 2}
    assert store.stale(p.replace(lr=0.5)) == ["lr=0.001 (now 0.5)"]
    assert "STALE" in store.caption(p.replace(lr=0.5)) and "STALE" not in store.caption(q)


def test_raising_a_count_field_adds_entries_and_keeps_the_stored_ones(tmp_path, fake_exp):
    """A record's ``extends`` fields (how many entries) do not make a stored result stale: a larger
    count computes only the new entries, on a file that was written before the field was a count; any
    other field still refuses."""
    p = get_profile("smoke", asfit_n=1)
    results.RECIPE_FIELDS[fake_exp] = ("epochs", "lr", "asfit_n")
    results.run_items(fake_exp, p, {"a0": lambda: 0}, root=tmp_path, data=FP)   # asfit_n hashed (old form)
    results.RECIPE_EXTENDS[fake_exp] = ("asfit_n",)
    try:
        q = p.replace(asfit_n=2)
        assert results.load_store(fake_exp, "smoke", tmp_path).stale(q) == []
        with pytest.raises(KeyboardInterrupt):          # stopped before the new entry is stored
            results.run_items(fake_exp, q, {"a0": _boom, "a1": _interrupt, "a9": lambda: 9}, root=tmp_path, data=FP)
        assert results.load_store(fake_exp, "smoke", tmp_path).data["complete"] is False
        store = results.run_items(fake_exp, q, {"a0": _boom, "a1": lambda: 1}, root=tmp_path, data=FP)
        assert store.entries == {"a0": 0, "a1": 1}
        assert results.load_store(fake_exp, "smoke", tmp_path).recipe["extends"] == {"asfit_n": 2}
        assert "asfit_n" not in store.recipe["fields"]
        with pytest.raises(RecipeMismatch, match=r"epochs=6 \(now 7\)"):
            results.run_items(fake_exp, q.replace(epochs=7), {"a2": _boom}, root=tmp_path, data=FP)
    finally:
        results.RECIPE_EXTENDS.pop(fake_exp)


def test_profile_name_cannot_be_overridden():
    with pytest.raises(ConfigError, match="cannot be overridden"):
        get_profile("smoke").replace(name="paper")
    with pytest.raises(ConfigError, match="results/<name>"):
        get_profile("smoke").__class__(name="../../x")
    out = subprocess.run([sys.executable, "-m", "tdlib", "run", "e1", "--profile", "smoke", "--set", "name=paper"],
                         cwd=ROOT, capture_output=True, text=True, env={**os.environ, "TDLIB_RESULTS": "/nonexistent"})
    assert out.returncode != 0 and "cannot be overridden" in out.stderr


def _writer(root, prefix, n):
    results.RECIPE_FIELDS["tx"], results.RECIPE_NEEDS["tx"] = ("epochs",), ()
    p = get_profile("smoke")
    for i in range(n):
        results.run_items("tx", p, {f"{prefix}{i}": lambda: i}, root=root, data=FP)


def test_two_writers_keep_each_others_entries(tmp_path, fake_exp):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(tmp_path, pre, 15)) for pre in "ab"]
    for pr in procs:
        pr.start()
    for pr in procs:
        pr.join(60)
    assert all(pr.exitcode == 0 for pr in procs)
    entries = json.loads((tmp_path / "smoke" / "tx.json").read_text())["entries"]
    assert sorted(entries) == sorted(f"{c}{i}" for c in "ab" for i in range(15))


def test_claimed_entries_are_skipped_and_a_dead_workers_claim_is_free(tmp_path, fake_exp):
    """An entry another worker holds is skipped; a worker killed while holding its claim leaves nothing
    that blocks the entry (the OS drops its lock: no heartbeat, no timeout, issue 19)."""
    import multiprocessing as mp
    p = get_profile("smoke")
    store = results.ResultStore(fake_exp, p.name, None, tmp_path)
    held = results.try_claim(store, "a")                       # this process holds "a"
    assert held is not None and results.try_claim(store, "a") is None
    s = results.run_items(fake_exp, p, {"a": _boom, "b": lambda: 2}, root=tmp_path, data=FP)
    assert s.skipped_claimed == ["a"] and not s.data["complete"]
    held.release()
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    worker = ctx.Process(target=_hold_claim_forever, args=(fake_exp, str(tmp_path), ready))
    worker.start()
    assert ready.wait(30)
    assert results.try_claim(store, "a") is None                # the other process holds it ...
    worker.kill()                                               # ... and dies without releasing anything
    worker.join(30)
    s = results.run_items(fake_exp, p, {"a": lambda: 1, "b": _boom}, root=tmp_path, data=FP)
    assert s.entries == {"a": 1, "b": 2} and s.data["complete"]


def _hold_claim_forever(exp, root, ready):
    store = results.ResultStore(exp, "smoke", None, Path(root))
    lock = results.try_claim(store, "a")
    assert lock is not None
    ready.set()
    time.sleep(600)


def test_time_budget_starts_no_entry_it_cannot_finish(tmp_path, fake_exp):
    p = get_profile("smoke")
    results.run_items(fake_exp, p, {"a": lambda: time.sleep(0.3) or 1}, root=tmp_path, data=FP)
    with results.time_budget(0.1):
        s = results.run_items(fake_exp, p, {"a": _boom, "b": _boom}, root=tmp_path, data=FP)
    assert s.budget_stopped and "b" not in s.entries and not s.data["complete"]
    with results.time_budget(30):
        assert "b" in results.run_items(fake_exp, p, {"a": _boom, "b": lambda: 2}, root=tmp_path, data=FP)


def test_truncated_results_file_names_the_file_and_the_fix(tmp_path, fake_exp):
    path = tmp_path / "smoke" / "tx.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"entries": {"a": 1')
    with pytest.raises(ResultsFileError, match=r"tx\.json is not valid JSON.*git checkout"):
        results.run_items(fake_exp, get_profile("smoke"), {"a": _boom}, root=tmp_path, data=FP)


def test_unwritable_results_folder_is_refused_before_compute(tmp_path, fake_exp):
    (tmp_path / "smoke").write_text("a file where the folder should be")
    with pytest.raises(ResultsFileError, match="Fix: make .* writable, or set TDLIB_RESULTS"):
        results.run_items(fake_exp, get_profile("smoke"), {"a": _boom}, root=tmp_path, data=FP)


def test_same_recipe_refuses_a_comparison_of_different_recipes(tmp_path, fake_exp):
    p = get_profile("smoke")
    a = results.run_items(fake_exp, p, {"a": lambda: 1}, root=tmp_path, data=FP)
    b = results.run_items(fake_exp, p.replace(epochs=3), {"a": lambda: 1}, root=tmp_path / "other", data=FP)
    assert same_recipe(a, a) == []
    with pytest.raises(RecipeMismatch, match="epochs"):
        same_recipe(a, b)


@pytest.mark.parametrize("name", ["e15", "e11"])
def test_record_declares_every_field_its_compute_reads(name, tmp_path, monkeypatch):
    """Planted check: run the experiment on a profile that notes its reads; each read is declared."""
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    rec = experiments.records()[name]
    with tracking() as reads:
        rec.compute(tracked(get_profile("smoke")))
    assert reads, "tracking saw no reads: the check would pass vacuously"
    assert sorted(reads - set(rec.fields)) == []


def test_every_record_is_complete():
    recs = experiments.records()
    assert len(recs) >= 20
    for r in recs.values():
        assert r.page and r.title and r.fields and r.pool in ("main", "sec3")
        assert set(r.needs) <= set(recs), r.id
        assert (ROOT / "book" / f"{r.page}.md").is_file(), r.page


def test_stored_results_have_recipes_and_current_needs():
    """Every committed result file has a recipe, and what it read from another experiment is that
    experiment's stored result now, or else it is reported STALE naming the replaced input (a figure
    built on a replaced input is never shown as current)."""
    recs = experiments.records()
    for prof in results.STORED_PROFILES:
        for path in sorted((results.results_root() / prof).glob("*.json")):
            store = results.load_store(path.stem, prof)
            assert store.recipe.get("hash"), f"{path} has no recipe (python -m tdlib records --migrate)"
            for need, h in store.recipe.get("needs", {}).items():
                other = results.load_store(need, prof)
                if other is not None and h is not None and other.recipe.get("hash") != h:
                    assert any(s.startswith(f"{need} was recomputed since") for s in store.stale()), path
                    assert "STALE" in store.caption()
            assert path.stem in recs


# ---- imports run one way -----------------------------------------------------------------------
LAYERS = [                               # the method: knows nothing of where results live
    {"errors", "config", "uncertainty", "checkpoint"},
    {"data", "sections"},
    {"tasks", "models", "kway", "unroll", "bounds", "domains"},
    {"train", "linear_probe", "sis"},
    {"agreement", "randnet", "greenpixel"},
    {"discovery", "splits", "ssl"},
    {"diagnosis"},
    # the lab: the results store, where runs live, experiment records, figures, claims, the queue, the CLI
    {"results"},
    {"runs", "taskviz"},
    {"experiments", "records"},
    {"viz"},
    {"claims", "report", "queue", "notebooks", "sphinx_offline", "cli", "commands", "__init__", "__main__",
     "lab"},                             # tdlib.lab's __init__ registers the discovered: kind (lab.runs)
]


def _layer(mod: str) -> int:
    parts = mod.split(".")
    top = parts[0]
    if top == "lab":                     # tdlib.lab.viz.sec4 -> viz; tdlib.lab (its __init__) -> lab
        top = parts[1] if len(parts) > 1 and parts[1] != "__init__" else "lab"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"module tdlib.{mod} has no layer: add it to LAYERS in tests/test_records.py")


def test_imports_run_one_way():
    """data -> tasks -> train/agreement -> discovery/splits -> experiments -> viz -> book: no module
    imports one of a later layer (function-level imports included)."""
    bad = []
    for f in sorted((ROOT / "tdlib").rglob("*.py")):
        parts = f.relative_to(ROOT / "tdlib").with_suffix("").parts
        mod = ".".join(parts)
        me = _layer(mod if parts[0] != "__init__" else "__init__")
        pkg = list(parts[:-1])
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = pkg[: len(pkg) - (node.level - 1)]
                targets = ([".".join(base + [node.module])] if node.module
                           else [".".join(base + [a.name]) for a in node.names])
                for t in targets:
                    if t and t != "__version__" and _layer(t) > me:
                        bad.append(f"tdlib.{mod} imports tdlib.{t}")
    assert bad == []


def test_the_method_loads_without_the_lab():
    """Importing tdlib and every method module loads no module of tdlib.lab (the package's own
    __init__ included): the method knows nothing of the lab, at run time too."""
    import subprocess
    import sys
    method = sorted(f.stem for f in (ROOT / "tdlib").glob("*.py") if f.stem not in ("__init__", "__main__"))
    code = ("import sys, importlib; import tdlib\n"
            f"for m in {method!r}: importlib.import_module('tdlib.' + m)\n"
            "print(sorted(m for m in sys.modules if m.startswith('tdlib.lab')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


def test_no_stored_comparison_mixes_recipes():
    """Each figure that shows several experiments' stored results (best stored profile) shows one recipe."""
    from tdlib.lab.records import same_recipe
    from tdlib.lab.viz.common import COMPARISONS
    for fig, names in COMPARISONS.items():
        stores = [results.best_stored(n) for n in names]
        if any(s is None for s in stores):
            continue
        assert same_recipe(*stores, strict=False) == [], fig


def test_a_new_field_that_keeps_the_old_behaviour_keeps_results_valid(tmp_path, fake_exp, monkeypatch):
    from tdlib import config
    p = get_profile("smoke")
    store = results.run_items(fake_exp, p, {"a": lambda: 1}, root=tmp_path, data=FP)
    results.RECIPE_FIELDS[fake_exp] = ("epochs", "lr", "batch_size")      # the record now reads a new field
    assert store.stale(p) == ["batch_size='(absent)' (now 50)"]
    monkeypatch.setitem(config.IMPLICIT_BEFORE, "batch_size", 50)          # ... which had 50 implicitly
    assert store.stale(p) == [] and store.stale(p.replace(batch_size=7)) != []
    s = results.run_items(fake_exp, p, {"a": _boom, "b": lambda: 2}, root=tmp_path, data=FP)
    assert s.entries == {"a": 1, "b": 2} and "batch_size" in s.recipe["fields"]


def _record_ids():
    return list(experiments.records())


@pytest.mark.bars
@pytest.mark.parametrize("name", _record_ids())
def test_every_record_declares_what_its_compute_reads(name, tmp_path, monkeypatch):
    """Issue 19's bar, every record (not 2): run its compute at smoke on a profile that notes each field
    read; what it reads (itself and every long run it starts) is what its record declares. A record the
    queue leaves out at smoke (its data is not here) is skipped with that reason. Minutes in all: a bar."""
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    rec = experiments.records()[name]
    why = rec.skip_reason(get_profile("smoke"))
    if why:
        pytest.skip(f"{name}: {why}")
    torch.set_num_threads(1)
    with tracking() as reads:
        rec.compute(tracked(get_profile("smoke")))
    assert reads, "tracking saw no reads: the check would pass vacuously"
    assert sorted(reads - set(rec.fields)) == [], f"{name} reads fields its record does not declare"


def test_a_result_made_from_discovered_tasks_depends_on_the_discovery_run():
    """Sec. 6's tau' (adv_by) names discovered tasks at cpu: E13's recipe then holds the main run's
    settings, so a new discovery objective makes it stale; at smoke (cues and random networks) it does not."""
    from tdlib.lab.results import recipe_fields
    experiments.records()
    assert "encoder_head" in recipe_fields("e13", get_profile("cpu"))
    assert "encoder_head" not in recipe_fields("e13", get_profile("smoke"))
    assert "encoder_head" not in recipe_fields("e13", get_profile("cpu", adv_by=("cue:warm",)))


def test_paired_index_skips_summary_entries_named_after_a_group():
    """E5 stores a summary entry ``unif_only`` beside ``unif_only:i``: it is not a hyperplane."""
    from tdlib.lab.experiments.asfit import paired_index
    ent = {"unif_only": {}, "discovered:0": {}, "untrained:0": {}, "unif_only:0": {}, "discovered:1": {}}
    assert paired_index(ent, ("discovered", "untrained", "unif_only")) == [0]
