"""The drift check (issue 18): `verify` recomputes sampled stored AS entries with today's code in a
copy of the results, passes when they reproduce and fails when a stored number was not what the code
gives."""
import json

from tdlib.lab.cli import main


def test_verify_passes_on_fresh_results_and_fails_on_a_tampered_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    assert main(["run", "e1", "--profile", "smoke"]) == 0
    path = tmp_path / "smoke" / "e1.json"
    before = path.read_text()
    assert main(["verify", "--profile", "smoke", "--sample", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok    e1 ") == 2 and "2 entries recomputed, 0 moved" in out
    assert path.read_text() == before                       # the stored results are never touched
    disk = json.loads(before)
    key = next(k for k, v in disk["entries"].items() if "agreement" in v)
    a = disk["entries"][key]["agreement"]
    disk["entries"][key]["agreement"] = a - 0.3 if a >= 0.3 else a + 0.3   # a number the code does not give
    path.write_text(json.dumps(disk))
    assert main(["verify", "--profile", "smoke", "--sample", "4", "--experiments", "e1"]) == 1
    assert f"MOVED e1 {key}" in capsys.readouterr().out


def test_the_default_tolerance_is_the_measured_seed_noise(tmp_path, monkeypatch, capsys):
    """With a stored asnoise (E1's tasks with other seed pairs), verify's tolerance is the largest spread
    of one task's AS over its seeds; without it, the fixed default."""
    from tdlib.lab.commands.verify import TOLERANCE, default_tolerance
    from tdlib.lab.experiments.sec3 import seed_noise
    from tdlib.lab.results import load_store
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    assert main(["run", "e1", "--profile", "smoke"]) == 0
    assert default_tolerance("smoke", tmp_path)[0] == TOLERANCE
    assert main(["run", "asnoise", "--profile", "smoke"]) == 0
    n = seed_noise(load_store("asnoise", "smoke", tmp_path), load_store("e1", "smoke", tmp_path))
    assert n["n_tasks"] == 2 and n["n_seeds"] == 2          # smoke: 1 human + 1 random task, seeds 0 and 1
    tol, why = default_tolerance("smoke", tmp_path)
    assert tol == n["spread"] and "asnoise" in why
    assert main(["verify", "--profile", "smoke", "--sample", "1", "--experiments", "e1"]) == 0
    assert f"tolerance {tol:.4f}" in capsys.readouterr().out
