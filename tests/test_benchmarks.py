"""The benchmark scripts run at tiny sizes on CPU and report what they promise."""
from benchmarks import bench_agreement


def test_bench_agreement_reports_ratio():
    rows = bench_agreement.main(["--n", "256", "--archs", "mlp", "--width", "4", "--batch-size", "64"])
    (row,) = rows
    assert row["arch"] == "mlp" and row["baseline_s_per_epoch"] > 0 and row["tdlib_s_per_epoch"] > 0
    assert abs(row["speedup"] - row["baseline_s_per_epoch"] / row["tdlib_s_per_epoch"]) < 0.05 * row["speedup"] + 0.01
