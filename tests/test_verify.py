"""The drift check (issue 18): `verify` recomputes sampled stored AS entries with today's code in a
copy of the results, passes when they reproduce and fails when a stored number was not what the code
gives."""
import json

from tdlib.cli import main


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
