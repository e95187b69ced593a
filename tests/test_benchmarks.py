"""The benchmark scripts run at tiny sizes on CPU and report what they promise."""
from benchmarks import bench_agreement


def test_bench_agreement_reports_ratio():
    rows = bench_agreement.main(["--n", "256", "--archs", "mlp", "--width", "4", "--batch-size", "64"])
    (row,) = rows
    assert row["arch"] == "mlp" and row["baseline_s_per_epoch"] > 0 and row["tdlib_s_per_epoch"] > 0
    assert abs(row["speedup"] - row["baseline_s_per_epoch"] / row["tdlib_s_per_epoch"]) < 0.05 * row["speedup"] + 0.01


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
