"""The benchmark scripts run at tiny sizes on CPU and report what they promise."""
import json

from benchmarks import bench_agreement
from tdlib.train import TRAIN_IMPLS


def test_bench_agreement_reports_every_impl_and_ratio(tmp_path):
    out = tmp_path / "bench.json"
    rows = bench_agreement.main(["--n", "256", "--archs", "mlp", "--width", "4", "--batch-size", "64",
                                 "--out", str(out)])
    (row,) = rows
    assert row["arch"] == "mlp" and row["baseline_s_per_epoch"] > 0
    assert set(row["impls"]) == set(TRAIN_IMPLS)
    for r in row["impls"].values():
        assert r["s_per_epoch"] > 0
        assert abs(r["speedup"] - row["baseline_s_per_epoch"] / r["s_per_epoch"]) < 0.05 * r["speedup"] + 0.01
    assert row["speedup"] == max(r["speedup"] for r in row["impls"].values())
    saved = json.loads(out.read_text())
    assert saved["rows"] == rows and saved["commit"] and saved["date"] and "gpu" in saved


def test_bench_discovery_one_process_and_store(tmp_path, capsys):
    import json

    from benchmarks import bench_discovery
    rc = bench_discovery.main(["--profile", "smoke", "--steps", "1", "--warmup", "0", "--one-process",
                               "--variants", "ours,higher"])
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 0 and [r["variant"] for r in rows] == ["ours", "higher"]
    assert all(r["s_per_meta_step"] > 0 for r in rows)
    path = bench_discovery.store_rows(rows, "NVIDIA H200", root=tmp_path)
    data = json.loads(path.read_text())
    assert data["gpu"] == "NVIDIA H200" and data["commit"] and data["date"] and data["rows"] == rows
