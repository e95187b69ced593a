"""Sec. 4's λ / d sliders (App. E, Fig. 13) over a stored E18 sweep: precomputed figures and numbers
that change without a kernel; checked as data and in a real headless browser (Debian's chromium)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tdlib.lab.viz import sec4
from tdlib.lab.viz.gridview import GridView

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tests" / "browser" / "check_book.mjs"


class FakeE18:
    """A stored E18 over a λ x d grid (mean AS falls with λ, similarity falls with λ and d)."""

    def __init__(self, lams=(0.0, 1.0, 5.0), dims=(4, 8, 16), drop=()):
        self.entries = {}
        for d in dims:
            for lam in lams:
                if (lam, d) in drop:
                    continue
                ases = [round(0.9 - 0.01 * lam - 0.001 * d + 0.01 * i, 3) for i in range(4)]
                self.entries[f"lambda={lam:g}/d={d}"] = {
                    "lambda": lam, "d": d, "as": ases, "mean_as": sum(ases) / 4,
                    "mean_similarity": 0.8 - 0.02 * lam - 0.003 * d, "final_proxy_as": -0.5}
        self.data = {"profile": "smoke"}

    def caption(self):
        return "profile 'smoke' (test grid)"


def _data(view):
    return view.data()


def test_every_grid_point_has_its_own_figure_and_numbers():
    view = sec4.tradeoff_explorer(FakeE18())
    data = _data(view)
    assert data["labels"] == [["0", "1", "5"], ["4", "8", "16"]]
    assert len(data["cells"]) == 9 and len(data["images"]) == 9
    assert len({c["image"] for c in data["cells"].values()}) == 9
    cell = data["cells"]["2,1"]                                    # λ = 5, d = 8
    rows = dict(cell["numbers"])
    assert rows["λ (uniformity weight)"] == "5" and rows["d (embedding size)"] == "8"
    assert rows["mean AS"] == f"{(0.9 - 0.05 - 0.008) + 0.015:.3f}"
    assert all(src.startswith("data:image/png;base64,") for src in data["images"])


def test_a_missing_point_says_so():
    view = sec4.tradeoff_explorer(FakeE18(drop=[(5.0, 16)]))
    rows = dict(_data(view)["cells"]["2,2"]["numbers"])
    assert rows["stored"].startswith("no")


def test_html_is_self_contained_and_escapes_its_data():
    view = GridView({"a": [1, 2]}, render=lambda q: __import__("matplotlib.pyplot").pyplot.figure(),
                    numbers=lambda q: [("note", "</script><b>x</b>")])
    html = view.html()
    payload = re.search(r'<script type="application/json" class="gv-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(payload)["cells"]["1"]["numbers"] == [["note", "</script><b>x</b>"]]
    assert "http://" not in html and "https://" not in html
    with pytest.raises(ValueError):
        GridView({"a": []}, render=None, numbers=None)


def test_live_kernel_bundle_carries_the_widget_and_the_static_html():
    view = sec4.tradeoff_explorer(FakeE18(), run=lambda lam, d: None)
    bundle = view._repr_mimebundle_()
    assert "text/html" in bundle and 'class="tdlib-gridview"' in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_live_widget_computes_a_point_that_is_not_stored():
    calls = []

    def run(lam, d):
        calls.append((lam, d))
        return {"lambda": lam, "d": d, "as": [0.7, 0.8], "mean_as": 0.75, "mean_similarity": 0.6,
                "final_proxy_as": -0.6}
    view = sec4.tradeoff_explorer(FakeE18(), run=run, lambdas=(2.0,))
    lam_s, d_s, button = view.live.children[0].children
    lam_s.value, d_s.value = 2.0, 8
    button.click()
    assert calls == [(2.0, 8)]


# ---------------------------------------------------------------------------- headless browser
def _browser_or_skip():
    ok = (shutil.which("node") and Path(os.environ.get("CHROMIUM", "/usr/bin/chromium")).exists()
          and (ROOT / "node_modules" / "playwright-core").exists())
    if not ok:
        if os.environ.get("TDLIB_REQUIRE_BROWSER"):
            pytest.fail("browser test needs node, /usr/bin/chromium (apt-get install chromium) and "
                        "node_modules/playwright-core (npm ci)")
        pytest.skip("no chromium / node / playwright-core here (CI installs them)")


def _check(tmp_path, body, *extra):
    (tmp_path / "p.html").write_text(f'<!doctype html><html><head><meta charset="utf-8"></head><body>{body}</body></html>')
    return subprocess.run(["node", str(CHECK), str(tmp_path), "p.html", *extra], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def test_in_a_browser_both_sliders_change_the_figure_and_the_numbers(tmp_path):
    _browser_or_skip()
    r = _check(tmp_path, sec4.tradeoff_explorer(FakeE18()).html(), "--min-axes", "2")
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "λ 0->1: figure changed, numbers changed" in r.stdout
    assert "d 4->8: figure changed, numbers changed" in r.stdout


def test_the_browser_check_fails_on_dead_sliders_outside_requests_and_errors(tmp_path):
    _browser_or_skip()
    html = sec4.tradeoff_explorer(FakeE18()).html()
    dead = re.sub(r"<script>\s*\(function.*?</script>", "", html, flags=re.S)     # no script: sliders do nothing
    r = _check(tmp_path, dead)
    assert r.returncode == 1 and "did not change the figure" in r.stdout, r.stdout
    r = _check(tmp_path, html + '<img src="https://cdn.example.org/x.png"><script>undefinedFn()</script>')
    assert r.returncode == 1, r.stdout
    assert "request leaves the site: https://cdn.example.org/x.png" in r.stdout
    assert "undefinedFn is not defined" in r.stdout


def test_the_phone_check_fails_on_a_cut_off_svg_and_skips_the_closed_drawers(tmp_path):
    """At 390 px an svg that sticks out of the text column is cut off (the column clips it, so the page
    itself does not scroll); the same svg inside the theme's off-canvas sidebar is not content."""
    _browser_or_skip()
    svg = '<svg width="500" height="20" xmlns="http://www.w3.org/2000/svg"><rect width="500" height="20"/></svg>'
    r = _check(tmp_path, f'<main style="overflow:hidden">{svg}</main>')
    assert r.returncode == 1 and 'at 390 px cut off: svg' in r.stdout, r.stdout
    r = _check(tmp_path, f'<main style="overflow:hidden"><div class="bd-sidebar-secondary">{svg}</div></main>')
    assert r.returncode == 0, r.stdout
