"""The book's shared figure and table style (tdlib/lab/viz/common.py) and the page fixes that rest on it:
one colour per task kind, a readable provenance caption under each figure, HTML tables, no machine
paths, no undefined correlations, and the Sec. 6 orientation sentence."""
from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tdlib.lab.viz import common  # noqa: E402

BOOK = Path(__file__).resolve().parents[1] / "book"


class FakeStore:
    """What the viz functions read of a ResultStore."""

    def __init__(self, experiment="e1", entries=None, params=None):
        self.data = {"experiment": experiment, "profile": "cpu", "entries": entries or {},
                     "params": params or {"arch": "cnn", "width": 16, "n_train": 4000, "epochs": 15,
                                          "batch_size": 128, "lr": 0.001, "lr_schedule": "linear"}}

    @property
    def entries(self):
        return self.data["entries"]

    def caption(self):
        return "profile 'cpu' on cpu (x86_64, 2 threads), torch 2.x, commit abc123, 2026-11-30"


def test_one_colour_per_task_kind_whatever_the_name():
    assert common.kind_color("human:3") == common.kind_color("human") == common.KIND_COLORS["human"]
    assert common.kind_color("discovered-mlp") == common.kind_color("discovered:0:cpu") \
        == common.KIND_COLORS["discovered"]
    assert common.kind_color("discovered:0:cpu/ssl") == common.KIND_COLORS["ssl"]
    assert common.kind_color("randnet:4") == common.KIND_COLORS["randnet"]
    kinds = ("human", "random", "discovered", "untrained", "unseen", "randnet", "greenpixel", "ssl")
    assert len({common.KIND_COLORS[k] for k in kinds}) == len(kinds)       # distinct kinds, distinct colours


def test_viz_modules_take_kind_colours_from_common_only():
    """No figure module keeps its own kind-colour table."""
    for path in (Path(common.__file__).parent).glob("*.py"):
        if path.name == "common.py":
            continue
        text = path.read_text()
        assert not re.search(r"^[A-Z_]*COLORS\s*=", text, re.M), f"{path.name} defines its own colours"
        assert '"tab:' not in text, f"{path.name} picks a tab: colour instead of common.kind_color"


def test_caption_is_readable_below_the_axes_and_names_profile_and_recipe():
    import matplotlib.pyplot as plt
    fig, (ax,) = common.new_fig()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("x")
    common.caption(fig, FakeStore(), "human/random from E1")
    texts = [t for t in fig.texts if t.get_text().startswith("Results:")]
    assert len(texts) == 1
    t = texts[0]
    assert t.get_fontsize() >= 9
    body = t.get_text().replace("\n", " ")
    for part in ("profile 'cpu'", "commit abc123", "recipe: cnn (width 16)", "linear schedule", "from E1"):
        assert part in body
    r = fig.canvas.get_renderer()
    assert t.get_window_extent(r).y1 <= ax.get_tightbbox(r).y0 + 1        # under the x label, not over it
    assert fig.get_size_inches()[0] >= common.FULL_WIDTH                    # full width
    plt.close(fig)


def test_html_table_formats_cells_and_prints_as_text():
    t = common.html_table({"human": {"AS": 0.86149, "n": 10}, "random": {"AS": float("nan"), "n": 10}},
                          index_name="tasks", caption="E1")
    html = t._repr_html_()
    assert html.startswith('<table class="tdlib-table">') and "<caption>E1</caption>" in html
    assert "<th>tasks</th><th>AS</th><th>n</th>" in html
    assert ">0.861<" in html and ">n/a<" in html and "nan" not in html
    lines = str(t).splitlines()
    assert lines[0] == "E1" and lines[1].split() == ["tasks", "AS", "n"]
    assert lines[3].split() == ["human", "0.861", "10"]
    two = common.html_table({"AS human": 0.9, "profiles": "cpu"})
    assert len(two) == 2 and "<td" in two._repr_html_()


def test_text_wraps_as_paragraphs_and_escapes():
    t = common.Text("Paper: a < b.\nThis run: 0.5")
    assert t == "Paper: a < b.\nThis run: 0.5"                  # still the plain string
    assert t._repr_html_() == '<p class="tdlib-text">Paper: a &lt; b.</p><p class="tdlib-text">This run: 0.5</p>'


@pytest.mark.parametrize("text,expect", [
    ("cifar100: not found under /work/shared/data (x)", "cifar100: not found under DATA (x)"),
    ("files are not under /root/.cache/tdlib. To run it", "files are not under DATA. To run it"),
    ("chance 1/K and results/cpu/e1.json stay", "chance 1/K and results/cpu/e1.json stay"),
])
def test_no_paths(text, expect):
    assert common.no_paths(text, "DATA") == expect


def test_page_output_hides_machine_paths(capsys):
    with common.page_output("$TDLIB_CACHE"):
        print("E16: celeba skipped, its files are not under /root/.cache/tdlib.")
    assert capsys.readouterr().out == "E16: celeba skipped, its files are not under $TDLIB_CACHE.\n"


def test_pages_have_no_machine_paths_nor_internal_notes():
    from tdlib.lab.viz import sec5
    for page in BOOK.glob("*.md"):
        text = page.read_text()
        assert not re.search(r"(?<![\w.])/(work|root|home|tmp)/", text), page.name
        assert "lost in extraction" not in text, page.name
    assert all("lost in extraction" not in c for c in sec5.CLAIMS.values())


def _e9_store(per_group=2):
    entries = {}
    rng = np.random.default_rng(0)
    for g in ("human", "random", "randnet", "discovered-cnn"):
        for i in range(per_group):
            base = rng.uniform(0.5, 1.0)
            for arch in ("cnn", "mlp", "vit"):
                entries[f"{arch}/{g}:{i}"] = {"arch": arch, "group": g, "task": f"{g}:{i}",
                                              "agreement": float(np.clip(base + rng.normal(0, 0.03), 0, 1)),
                                              "train_acc": 0.9, "n_train": 500}
    return FakeStore("e9", entries)


def test_correlation_table_shows_no_undefined_rows():
    from tdlib.lab.viz import sec5
    t = sec5.correlation_table(_e9_store(per_group=2))
    names = [r[0] for r in t.rows]
    assert names[0] == "all tasks" and "human" not in names       # 2-task groups have no correlation
    assert all(v != "n/a" for r in t.rows for v in r[2:])
    assert "n/a" not in str(t) and "nan" not in str(t)
    t3 = sec5.correlation_table(_e9_store(per_group=3))
    assert "human" in [r[0] for r in t3.rows]                      # 3 tasks: defined, shown


def test_split_note_matches_the_split_shown():
    """The Sec. 6 sentence about the rows must say what the split really does with τ' as given."""
    from tdlib.splits import adversarial_split
    from tdlib.lab.viz import sec6
    rng = np.random.default_rng(0)
    target = rng.integers(0, 2, 1000)
    for p_agree in (0.3, 0.7):                                      # flipped, then as given
        by = np.where(rng.random(1000) < p_agree, target, 1 - target)
        split = adversarial_split(target, by)
        note = sec6.split_note(split)
        agree_train = np.all(target[split.train_idx] == by[split.train_idx])
        disagree_train = np.all(target[split.train_idx] != by[split.train_idx])
        assert agree_train != disagree_train
        if disagree_train:
            assert "disagree on every train image" in note and "agree on every test image" in note
        else:
            assert "**agree** on every image" in note


def test_glue_names_are_valid_keys(monkeypatch):
    seen = {}
    import myst_nb
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: seen.setdefault(name, value))
    common.glue({"e9_as_discovered-cnn_cnn": np.float64(0.9), "e12_mean_ssl features": 0.5, "task": "`x`"})
    assert set(seen) == {"e9_as_discovered_cnn_cnn", "e12_mean_ssl_features", "task"}
    assert isinstance(seen["e9_as_discovered_cnn_cnn"], float)


def test_tables_carry_the_figures_provenance_line():
    t = common.html_table({"human": {"AS": 0.8}}, store=FakeStore())
    assert '<td class="tdlib-source" colspan="2">Results: profile &#x27;cpu&#x27;' in t._repr_html_()
    assert str(t).splitlines()[-1] == "Results: " + common.caption_text(FakeStore())
    assert "recipe: cnn (width 16)" in str(t)


def test_method_diagram_names_every_part_of_a_meta_step():
    """Issue 20: the Sec. 4 method diagram is drawn by the build (no external tool)."""
    import matplotlib
    matplotlib.use("Agg")
    from tdlib.lab.viz.diagram import method_diagram
    fig = method_diagram()
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    for part in ("encoder g_θ", "hyperplane u", "network f_w1", "network f_w2", "proxy-AS", "L_unif", "Adam step on θ"):
        assert part in text, part


def test_sec4_page_states_the_proxy_as_and_algorithm_1():
    from pathlib import Path
    page = (Path(__file__).parents[1] / "book" / "sec4_discovery.md").read_text()
    assert ":label: eq-proxy-as" in page and "Algorithm 1 (App. I.2)" in page
    assert ":pyobject: proxy_agreement" in page and "method_diagram()" in page
