"""The claims report (issue 10 part 3): the verdict rule on synthetic stores, the JSON keys, staleness,
and the book's tables."""
import json

import numpy as np

import pytest

from tdlib.lab import claims as C
from tdlib.lab.claims import Check, gt, verdict
from tdlib.lab.results import atomic_write_json

KEYS = {"experiment", "claim", "paper", "measured", "verdict", "profile"}


def _store(root, exp, entries, profile="cpu", complete=True, params=None):
    """A results file as run_items writes it, with the recipe of ``profile`` (+ ``params``)."""
    from tdlib.config import get_profile
    from tdlib.lab.experiments import records
    from tdlib.lab.results import make_recipe
    records()
    prof = get_profile(profile).replace(**(params or {}))
    atomic_write_json(root / profile / f"{exp}.json",
                      {"experiment": exp, "profile": profile, "params": prof.as_dict(), "complete": complete,
                       "recipe": make_recipe(exp, prof, data=None, root=root),
                       "wall_seconds": 1.0, "provenance": {"device": "cpu (test)"}, "entries": entries})


def _e1(human_as, random_as, train=1.0, n=3):
    ent = {}
    for i in range(n):
        ent[f"human:{i}"] = {"task": f"human:{i}", "kind": "human", "agreement": human_as, "train_acc": train}
        ent[f"random:{i}"] = {"task": f"random:{i}", "kind": "random", "agreement": random_as, "train_acc": train}
    return ent


def _rows(root, exp, profile="cpu"):
    return C.report(profile, root=root, experiments=[exp])


def test_rule_reaches_every_verdict():
    ok, bad, unk = Check("a", True), Check("b", False), Check("c", None)
    inc = Check("d", None, (-0.01, 0.05), 4, inconclusive=True)
    assert verdict([ok]) == "agrees"
    assert verdict([ok], [Check("premise not recorded", None)]) == "agrees"
    assert verdict([ok], [Check("premise", False)]) == "agrees at this scale"
    assert verdict([ok, bad]) == "mixed"
    assert verdict([inc, bad]) == "mixed"
    assert verdict([ok, unk]) == "incomplete"
    assert verdict([ok, inc]) == "inconclusive"
    assert verdict([inc, unk]) == "inconclusive"
    assert verdict([bad], [Check("premise", True)]) == "contradicts"
    assert verdict([bad, unk]) == "contradicts"
    assert verdict([unk]) == "not run"
    assert verdict([]) == "not run"
    assert {verdict(x) for x in ([ok], [ok, bad], [ok, unk], [ok, inc], [bad], [unk])} | {"agrees at this scale"} \
        == set(C.VERDICTS)
    # numpy comparisons give numpy bools: a failed one still fails the premise and is named in the why
    assert Check("np", np.float64(0.1) > 0.5).ok is False
    assert verdict([ok], [Check("premise", np.float64(0.1) > 0.5)]) == "agrees at this scale"


def test_group_comparisons_carry_an_interval_that_can_fail():
    """Per-task values: the check holds only when the whole 95% interval clears the margin, fails when
    the whole interval misses it, and is inconclusive when it covers it (issue 18)."""
    rng = np.random.default_rng(0)
    a, b = list(0.8 + 0.01 * rng.standard_normal(10)), list(0.5 + 0.01 * rng.standard_normal(10))
    c = gt("a", a, "b", b, 0.05)
    assert c.state == "holds" and c.n == [10, 10] and c.ci[0] > 0.05
    assert gt("b", b, "a", a, 0.05).state == "fails"
    noisy = [0.9, 0.5, 0.95, 0.45]                 # mean 0.70 against 0.65: the interval covers the margin
    c = gt("noisy", noisy, "b", [0.65, 0.65, 0.66, 0.64], 0.02)
    assert c.state == "inconclusive" and c.ci[0] < 0.02 < c.ci[1] and "inconclusive" in c.text
    # a point comparison that barely clears the margin in floating point is inconclusive with its spread
    assert gt("x", [0.52, 0.50, 0.54], "y", [0.50, 0.50, 0.50], 0.02).state == "inconclusive"
    # paired: the same tasks under two conditions, a small consistent gain holds
    base = list(rng.uniform(0.6, 0.9, 8))
    assert gt("after", [x + 0.05 for x in base], "before", base, 0.02, paired=True).state == "holds"
    assert gt("after", [x + 0.05 for x in base], "before", base, 0.02).state == "inconclusive"
    # close to a constant: within the tolerance only when the whole interval is
    assert C.close("r", [0.5, 0.51, 0.49, 0.5], 0.5).state == "holds"
    assert C.close("r", [0.3, 0.7, 0.2, 0.8], 0.5).state == "inconclusive"
    assert C.close("r", [0.8, 0.81, 0.79], 0.5).state == "fails"
    # a correlation on its bootstrap interval
    x = np.arange(12.0)
    assert C.correlates("lin", x, 2 * x + rng.standard_normal(12)).state == "holds"
    assert C.correlates("none", x, rng.standard_normal(12)).state in ("fails", "inconclusive")
    assert C.correlates("anti", x, -x + 0.1 * rng.standard_normal(12), negative=True).state == "holds"


@pytest.mark.parametrize("human,random_,train,first,second", [
    (0.95, 0.50, 1.0, "agrees", "agrees"),          # the paper's result
    (0.95, 0.50, 0.70, "agrees at this scale", "agrees at this scale"),   # training did not reach zero error
    (0.60, 0.70, 1.0, "contradicts", "contradicts"),
])
def test_e1_verdicts_from_synthetic_stores(tmp_path, human, random_, train, first, second):
    _store(tmp_path, "e1", _e1(human, random_, train))
    rows = _rows(tmp_path, "e1")
    assert [r["verdict"] for r in rows] == [first, second]
    if train < 1:
        assert "train accuracy min 0.70 < 0.99" in rows[0]["why"]
    if first == "contradicts":
        assert "human mean AS (3 tasks) 0.600 is not above random mean AS (3 tasks) 0.700" in rows[0]["why"]


def test_not_run_without_a_store(tmp_path):
    rows = _rows(tmp_path, "e1")
    assert {r["verdict"] for r in rows} == {"not run"}
    assert "no stored result" in rows[0]["why"]


def test_partial_store_and_missing_parts(tmp_path):
    ent = {"cnn/human:0": {"kind": "human", "agreement": 0.9, "train_acc": 1.0},
           "cnn/random:0": {"kind": "random", "agreement": 0.5, "train_acc": 1.0},
           "mlp/human:0": {"kind": "human", "agreement": 0.8, "train_acc": 1.0}}
    _store(tmp_path, "e2", ent, complete=False)
    sep, lower = _rows(tmp_path, "e2")
    assert sep["verdict"] == "incomplete" and "mlp: random tasks not stored" in sep["why"]
    assert any("PARTIAL" in p for p in sep["premises"])
    assert lower["verdict"] == "agrees at this scale"   # holds (0.9 > 0.8), but premise "complete run" fails


def test_stale_result_is_marked(tmp_path):
    from tdlib.config import get_profile
    cur = get_profile("cpu").sec3_lr_schedule
    other = "constant" if cur != "constant" else "linear"
    _store(tmp_path, "e1", _e1(0.95, 0.5), params={"sec3_lr_schedule": other})
    rows = _rows(tmp_path, "e1")
    assert all(r["stale"] and "sec3_lr_schedule" in r["stale"] for r in rows)
    assert rows[0]["verdict"] == "agrees"       # the verdict is kept, the row marked
    _store(tmp_path, "e1", _e1(0.95, 0.5))
    assert not any(r["stale"] for r in _rows(tmp_path, "e1"))


def test_report_json_lines(tmp_path, monkeypatch, capsys):
    from tdlib.lab.cli import main
    _store(tmp_path, "e1", _e1(0.95, 0.5))
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    assert main(["report", "--profile", "cpu", "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    ours = {"gpucheck", "diag", "longer", "asnoise", "asfit", "bnhead"}   # the project's checks and diagnosis
    assert len({r["experiment"] for r in lines} - ours) == 22   # E1-E22, one function each
    assert all(KEYS <= set(r) for r in lines)
    assert all(r["verdict"] in C.VERDICTS and r["profile"] == "cpu" for r in lines)
    assert [r["verdict"] for r in lines if r["experiment"] == "e1"] == ["agrees", "agrees"]


def test_stored_cpu_results_cover_the_bar():
    """The committed cpu results: at least 15 experiments have a claim judged from stored numbers."""
    rows = C.report("cpu")
    judged = {r["experiment"] for r in rows if r["verdict"] != "not run"}
    if not rows or not judged:
        pytest.skip("no stored cpu results")
    assert len(judged) >= 15
    assert all(KEYS <= set(r) for r in rows)


def test_claim_pages_match_the_experiment_records():
    from tdlib.lab.experiments import records
    C._load_all()
    for exp, rec in records().items():
        assert C.CLAIMS[exp].page == rec.page, exp


def test_page_table_html(tmp_path):
    _store(tmp_path, "e1", _e1(0.6, 0.7))
    out = C.page_table("sec3", profile="cpu", root=tmp_path)
    text = getattr(out, "data", out)
    assert "<table class='tdlib-claims'>" in text and "contradicts" in text and "E1" in text and "E4" in text
    assert "E5" not in text and "Verdict rule" in text
    assert text.count("<tr>") == 1 + len(C.page_rows("sec3", "cpu", tmp_path))     # one row per claim
    assert "<details><summary>" in text and "interval" in text                      # the numbers in a dropdown


def test_colour_test_separates_colour_from_shape():
    from tdlib.lab.claims.sec5 import colour_test
    rng = np.random.default_rng(0)
    red = np.zeros((6, 8, 8, 3), np.uint8) + rng.integers(0, 30, (6, 8, 8, 3), dtype=np.uint8)
    blue = red.copy()
    red[..., 0] += 200
    blue[..., 2] += 200
    dist, p = colour_test(red, blue)
    assert p < 0.05 and dist > 0.5
    same = rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8)
    _, p = colour_test(same[:6], same[6:])
    assert p > 0.05


def test_report_unknown_profile_refuses(tmp_path, monkeypatch, capsys):
    from tdlib.lab.cli import main
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    (tmp_path / "cpu").mkdir()
    assert main(["report", "--profile", "paper"]) == 2
    err = capsys.readouterr().err
    assert "no stored results" in err and "cpu" in err


def test_e5_reads_its_own_baselines(tmp_path):
    """E5 with its own human / random / untrained / unseen entries: compared within E5, not with E1."""
    ent = {"discovery": {"mean_similarity": 0.52, "n_tasks": 4, "step": 100,
                         "history": [{"proxy_as": -0.7 + 0.002 * i} for i in range(100)]}}
    for i in range(4):
        ent[f"discovered:{i}"] = {"kind": "discovered", "agreement": 0.9, "train_acc": 1.0}
        ent[f"untrained:{i}"] = {"kind": "untrained", "agreement": 0.7, "train_acc": 1.0}
        ent[f"unseen:{i}"] = {"kind": "unseen", "agreement": 0.6, "train_acc": 1.0}
        ent[f"human:{i}"] = {"kind": "human", "agreement": 0.88, "train_acc": 1.0}
        ent[f"random:{i}"] = {"kind": "random", "agreement": 0.5, "train_acc": 1.0}
    _store(tmp_path, "e5", ent, params={"uniformity_weight": 5.0, "encoder_head": "linear_bn_scale"})
    _store(tmp_path, "e1", _e1(0.2, 0.1))          # would contradict if E5 read E1's baselines
    rows = _rows(tmp_path, "e5")
    # + baselines (issue 21); issue 21's bar needs the uniformity-only tasks too, not stored here
    assert [r["verdict"] for r in rows] == ["agrees", "agrees", "agrees", "agrees", "contradicts", "incomplete"]
    assert "human (e5)" in rows[0]["measured"] and "E1" not in rows[0]["measured"]
    assert "0.600 below the trained hyperplanes' 0.900" in rows[4]["why"]


def test_similar_tasks_from_a_run_without_uniformity_name_the_reason(tmp_path):
    """E5's similarity claim rests on the uniformity term: at λ = 0 the premise fails, and the why
    names E18's points at the same d with λ > 0 (the measured reason, not a silent contradiction)."""
    ent = {"discovery": {"mean_similarity": 0.78, "n_tasks": 8, "step": 10,
                         "history": [{"proxy_as": -0.7 + 0.01 * i} for i in range(10)]}}
    bn = {"uniformity_weight": 0.0, "emb_dim": 8, "encoder_head": "linear_bn_scale"}    # the authors' head
    _store(tmp_path, "e5", ent, params=bn)
    _store(tmp_path, "e18", {"lambda=0/d=8": {"lambda": 0.0, "d": 8, "mean_as": 0.98, "mean_similarity": 0.76},
                             "lambda=1/d=8": {"lambda": 1.0, "d": 8, "mean_as": 0.92, "mean_similarity": 0.51}})
    row = [r for r in _rows(tmp_path, "e5") if "dissimilar" in r["claim"]][0]
    assert row["verdict"] == "contradicts"
    assert "uniformity weight λ = 0" in row["why"] and "λ=1: similarity 0.510, AS 0.920" in row["why"]
    _store(tmp_path, "e5", {**ent, "discovery": {**ent["discovery"], "mean_similarity": 0.52}}, params=bn)
    row = [r for r in _rows(tmp_path, "e5") if "dissimilar" in r["claim"]][0]
    assert row["verdict"] == "agrees at this scale"              # the effect, but not under the paper's condition
    # the whitened embedding (ours) keeps the tasks apart at λ = 0 by construction: not the paper's condition either
    _store(tmp_path, "e5", {**ent, "discovery": {**ent["discovery"], "mean_similarity": 0.52}},
           params={**bn, "encoder_head": "whiten"})
    row = [r for r in _rows(tmp_path, "e5") if "dissimilar" in r["claim"]][0]
    assert row["verdict"] == "agrees at this scale"
    assert any("by construction" in p and "[FAILS]" in p for p in row["premises"]), row["premises"]


def test_green_pixel_contradiction_names_the_neighbours(tmp_path):
    """E11: the noised-pixel accuracy above chance comes with its measured reason, the neighbours'
    own prediction of the label (entry ``neighbour cue``)."""
    cond = lambda acc: {"acc": acc, "agreement": 0.95}
    study = {"arch": "mlp", "n_train": 45000, "epochs": 30, "train_acc": 1.0, "pixel": [0, 0],
             "clean": cond(0.97), "others_noised": cond(0.90), "pixel_noised": cond(0.60),
             "pixel_noised_gaussian": cond(0.60)}
    cue = {"kind": "neighbour_cue", "pixel": [0, 0], "neighbours": {"0,1": 0.955, "1,0": 0.948, "1,1": 0.919},
           "best_neighbour": "0,1", "best_acc": 0.955}
    _store(tmp_path, "e11", {"greenpixel:0,0 [mlp]": study, "neighbour cue": cue})
    rows = _rows(tmp_path, "e11")
    assert [r["verdict"] for r in rows] == ["agrees", "contradicts", "contradicts"]
    assert all("neighbour (0,1) predicts it with test accuracy 0.955" in r["why"] for r in rows[1:])
    _store(tmp_path, "e11", {"greenpixel:0,0 [mlp]": study})               # no measurement: no reason given
    assert "neighbour" not in _rows(tmp_path, "e11")[2]["why"]


# ---- issue 18: each formerly vacuous check is fed a result that should fail, and fails ----------------
def test_e4_all_fixed_is_untestable_on_a_cpu_and_fails_on_a_gpu_below_1(tmp_path):
    ent = {f"all fixed/human:{i}": {"kind": "human", "agreement": a, "train_acc": 1.0}
           for i, a in enumerate((1.0, 0.97))}
    _store(tmp_path, "e4", ent)                             # provenance device "cpu (test)"
    first = _rows(tmp_path, "e4")[0]
    assert first["verdict"] == "not run" and "cannot be tested on this device" in first["measured"]
    atomic_write_json(tmp_path / "cpu" / "e4.json", {**json.loads((tmp_path / "cpu" / "e4.json").read_text()),
                                                     "provenance": {"device": "cuda:0 (H200)"}})
    assert _rows(tmp_path, "e4")[0]["verdict"] == "contradicts"       # AS 0.97 with all sources fixed


def test_e7_naive_drawing_fails_when_it_keeps_as_many_dissimilar_tasks_as_discovery(tmp_path):
    sim = [[1.0, 0.55, 0.9], [0.55, 1.0, 0.58], [0.9, 0.58, 1.0]]       # greedy keeps 2 of 3 below 0.6
    _store(tmp_path, "e5", {"discovery": {"similarity_matrix": sim, "mean_similarity": 0.68}})
    from tdlib.lab.claims.sec4 import greedy_dissimilar
    assert greedy_dissimilar(sim, 0.6) == 2
    for found, want in ((1, "agrees"), (2, "contradicts"), (5, "contradicts")):
        _store(tmp_path, "e7", {"naive": {"draws": 300, "found": found, "wanted": 8, "threshold": 0.6}})
        row = [r for r in _rows(tmp_path, "e7") if "inefficient" in r["claim"]][0]
        assert row["verdict"] == want, (found, row)


def test_e5_any_hyperplane_fails_on_a_collapsed_encoder(tmp_path):
    ent = {**{f"discovered:{i}": {"kind": "discovered", "agreement": 0.95, "train_acc": 1.0} for i in range(3)},
           **{f"unseen:{i}": {"kind": "unseen", "agreement": 0.95, "train_acc": 1.0} for i in range(3)}}
    for sim, want in ((0.52, "agrees"), (0.97, "mixed")):          # copies of one task: similarity ~1
        _store(tmp_path, "e5", {**ent, "unseen": {"mean_similarity": sim, "n": 3}})
        row = [r for r in _rows(tmp_path, "e5") if "Any hyperplane" in r["claim"]][0]
        assert row["verdict"] == want, (sim, row)


def test_e17_balance_is_read_before_rebalancing_and_can_fail(tmp_path):
    disc = {"discovery:k3": {"balance": [[0.3334, 0.3333, 0.3333]], "n_classes": 3}}      # after rebalancing
    for fr, want in (([0.34, 0.33, 0.33], "agrees"), ([0.50, 0.29, 0.21], "contradicts")):
        dev = max(abs(f - 1 / 3) for f in fr)
        _store(tmp_path, "e17", {**disc, "balance:k3": {"k": 3, "argmax_fractions": [fr], "max_deviation": dev}})
        row = [r for r in _rows(tmp_path, "e17") if "balanced" in r["claim"]][0]
        assert row["verdict"] == want, (fr, row)
    _store(tmp_path, "e17", disc)                       # only the rebalanced fractions: no verdict from them
    row = [r for r in _rows(tmp_path, "e17") if "balanced" in r["claim"]][0]
    assert row["verdict"] not in ("agrees", "agrees at this scale"), row


def test_e20_includes_the_falsifiable_inequality(tmp_path):
    base = {"task": "human:0", "as_u": 0.86, "best_case_acc": 0.93, "num_classes": 2, "holds": True}
    _store(tmp_path, "e20", {"human:0": {**base, "ii_as_u": True}})
    assert _rows(tmp_path, "e20")[0]["verdict"] == "agrees"
    _store(tmp_path, "e20", {"human:0": {**base, "ii_as_u": False}})
    row = _rows(tmp_path, "e20")[0]
    assert row["verdict"] == "mixed" and "g(Acc*) 0.870 vs AS 0.860" in row["why"]


def test_each_page_opens_with_its_scale_and_verdicts(tmp_path):
    """Issue 20: the profile's scale (from its fields) beside the paper's, and the page's verdict counts."""
    from pathlib import Path
    _store(tmp_path, "e1", _e1(0.6, 0.7))
    text = getattr(C.page_header("sec3", profile="cpu", root=tmp_path), "data", None) or \
        C.page_header("sec3", profile="cpu", root=tmp_path)
    assert "<code>cpu</code>" in text and "CIFAR-10 4,000 / 1,000" in text and "the paper: CIFAR-10 45K" in text
    assert "contradicts</span>&nbsp;" in text
    for page in ("sec3_agreement", "sec4_discovery", "sec5_study", "sec6_adversarial"):
        src = (Path(__file__).parents[1] / "book" / f"{page}.md").read_text()
        assert f'page_header("{page.split("_")[0]}", profile=profile)' in src, page


@pytest.mark.parametrize("centre, state", [((15.5, 15.5), "holds"), ((4.0, 27.0), "fails")])
def test_e22_centred_heatmap_can_fail(tmp_path, centre, state):
    """E22: the classification network's SIS centre near the middle holds; in a corner it fails."""
    rng = np.random.default_rng(0)
    pts = (np.asarray(centre) + rng.normal(0, 0.5, (40, 2))).round(2).tolist()
    ent = {"classes:all": {"task": "classes:all", "kind": "classes", "train_acc": 1.0, "image_centres": pts,
                           "centre": list(centre), "spread": 5.0, "heatmap": [[0.0]]}}
    _store(tmp_path, "e22", ent)
    part = C.report("cpu", root=tmp_path, experiments=["e22"])[0]["parts"][0]
    assert part["state"] == state and part["n"] == 40, part


@pytest.mark.parametrize("spread, state", [(8.0, "holds"), (13.0, "fails")])
def test_e22_an_uninformative_centred_map_fails(tmp_path, spread, state):
    """A map centred only because it is spread evenly (as the random-labelled task's) does not pass."""
    pts = [[15.5, 15.5]] * 10
    ent = {"classes:all": {"task": "classes:all", "train_acc": 1.0, "image_centres": pts, "spread": spread},
           "random:0": {"task": "random:0", "train_acc": 1.0, "image_centres": pts, "spread": 12.5}}
    _store(tmp_path, "e22", ent)
    part = C.report("cpu", root=tmp_path, experiments=["e22"])[0]["parts"][1]
    assert part["state"] == state, part


HAND_VERDICTS = ("as in the paper", "unlike the paper", "agrees with the paper", "the paper's claim holds")


def test_page_prose_takes_its_verdicts_from_the_claims_table():
    """Issues 18, 20: a sentence that states how a result compares with the paper comes from the verdict
    (glued ``verdict_<exp>``), never typed by hand; every glued verdict a page names exists and says the
    report's verdict (the stored cpu results)."""
    import re
    from pathlib import Path
    root = Path(__file__).resolve().parents[1] / "book"
    for page in sorted(root.glob("sec*.md")):
        text = page.read_text()
        prose = re.sub(r"```.*?```", "", text, flags=re.S).lower()
        for phrase in HAND_VERDICTS:
            assert phrase not in prose, f"{page.name}: hand-written verdict {phrase!r}; glue verdict_<exp> instead"
        used = set(re.findall(r"\{glue:md\}`(verdict_\w+)`", text))
        short = page.stem.split("_")[0]
        facts = C.verdict_facts(short, "cpu")
        assert used <= set(facts), (page.name, sorted(used - set(facts)))
        rows = C.page_rows(short, "cpu")
        for key in used:
            exp, _, i = key.removeprefix("verdict_").removesuffix("_short").partition("_")
            row = [r for r in rows if r["experiment"] == exp][int(i or 0)]
            assert facts[key].startswith(f"**{row['verdict']}**"), (key, facts[key], row["verdict"])


def test_auto_resolves_once_per_page(tmp_path, monkeypatch):
    """Issue 19: with one Sec. 3 result at gpu and another at cpu, the page's ``auto`` is gpu for its
    figures and its claims table alike (plain ``auto`` in ``experiments.get`` stays per experiment)."""
    from tdlib.lab import experiments as ex
    from tdlib.lab.claims import page_profile_of
    from tdlib.lab.notebooks import page_parameters
    monkeypatch.setenv("TDLIB_RESULTS", str(tmp_path))
    _store(tmp_path, "e1", _e1(0.9, 0.5), profile="cpu")
    _store(tmp_path, "e2", {"cnn/human:0": {"kind": "human", "agreement": 0.9, "train_acc": 1.0}}, profile="gpu")
    ns = {"profile": "auto", "data_path": None, "download": False, "allow_cpu": False, "write_results": False}
    profile, _ = page_parameters(ns, "sec3_agreement")
    assert profile == "auto:gpu"
    assert page_profile_of("sec3", profile) == page_profile_of("sec3", "auto", root=tmp_path) == "gpu"
    assert ex.get("e2", profile).data["profile"] == "gpu"
    assert ex.get("e1", "auto").data["profile"] == "cpu"          # the command line's per-experiment auto
    head = C.page_header("sec3", profile=profile)
    assert "<code>gpu</code>" in getattr(head, "data", head)


def test_issue_21_bar_row_judges_both_baselines_and_the_similarity(tmp_path):
    """E5's row for issue 21's bar: agrees when the discovered tasks beat both same-hyperplane baselines by
    more than 0.03 on the whole interval at similarity <= 0.6; fails on a close baseline or similar tasks."""
    def rows(unif, sim):
        ent = {"discovery": {"mean_similarity": sim, "n_tasks": 8, "step": 10,
                             "history": [{"proxy_as": -0.7 + 0.01 * i} for i in range(10)]}}
        for i in range(8):
            ent[f"discovered:{i}"] = {"kind": "discovered", "agreement": 0.95 + 0.002 * i, "train_acc": 1.0}
            ent[f"untrained:{i}"] = {"kind": "untrained", "agreement": 0.85 + 0.001 * i, "train_acc": 1.0}
            ent[f"unif_only:{i}"] = {"kind": "unif_only", "agreement": unif + 0.001 * i, "train_acc": 1.0}
        _store(tmp_path, "e5", ent)
        return [r for r in _rows(tmp_path, "e5") if "issue 21's bar" in r["claim"]][0]
    assert rows(0.86, 0.55)["verdict"] == "agrees"
    r = rows(0.94, 0.55)                       # one baseline met, the other not: not agrees
    assert r["verdict"] == "mixed" and "uniformity-only" in r["why"]
    r = rows(0.86, 0.65)
    assert r["verdict"] == "mixed" and "similarity 0.650 (at most 0.6)" in r["why"]


def test_e10_names_test_sets_where_both_networks_predict_one_class(tmp_path):
    """E10 (Sec. 5.3): where both networks of a task predict one class on a test set (the cpu CNNs on noise)
    their agreement is 0 or 1 whatever the task. The values are kept, a premise names the set and the count,
    and the range is also given without them; with varied predictions the premise holds."""
    def rows(noise_majority):
        ent = {"domains": {"present": {"noise": 1}, "missing": {}}}
        for g, base in (("human", 0.9), ("random", 0.7), ("discovered", 0.95)):
            for i in range(2):
                flat = noise_majority[i] >= 0.99
                ent[f"cnn/{g}:{i}"] = {"task": f"{g}:{i}", "group": g, "arch": "cnn",
                                       "agreement": {"cifar10 (X_te)": base, "noise": float(i) if flat else base - 0.01},
                                       "majority": {"cifar10 (X_te)": [0.5, 0.5], "noise": [noise_majority[i]] * 2}}
        _store(tmp_path, "e10", ent)
        return _rows(tmp_path, "e10")
    flat = rows([1.0, 1.0])
    prem = [p for p in flat[1]["premises"] if "predict one class" in p]
    assert prem and "noise: both networks of 6 of 6 tasks" in prem[0] and prem[0].endswith("[FAILS]")
    assert flat[1]["verdict"] == "contradicts" and "range over 2 test sets 0.450" in flat[1]["measured"]
    assert "without the values" not in flat[1]["measured"]          # every noise value is flat: no range
    half = rows([1.0, 0.6])
    assert "without the values where both networks predict one class" in half[1]["measured"]
    varied = rows([0.6, 0.6])
    assert any("predictions vary on every test set" in p and "[FAILS]" not in p for p in varied[1]["premises"])
    assert varied[1]["verdict"] == "agrees"
