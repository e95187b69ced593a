"""The paper's claims, experiment by experiment (E1-E22), with verdicts computed from stored results.

Each experiment has one claims function (in ``tdlib/lab/claims/sec3.py`` ... ``app.py``), registered with
:func:`claims`. It reads the stored results of one profile (``results/<profile>/<exp>.json``, never
computing anything) and returns one row per claim:

- ``claim``: the paper's statement (Sec. / Fig. named), ``paper``: the paper's number where the text
  has one (else the figure that shows it is named),
- ``measured``: our value(s), computed from the stored entries,
- ``premises``: the conditions the paper's claim rests on, checked where the stores hold them
  (e.g. "train accuracy reached 1"), else "not recorded",
- ``verdict`` by the rule below, ``why`` (for anything but *agrees*: the failing parts and premises,
  with their numbers), ``stale`` (the stored result's recipe differs from the profile's current one).

Verdict rule (:func:`verdict`), stated once and printed with the report (:data:`RULE`). A claim is
split into *parts*, each a comparison of stored numbers whose state is *holds*, *fails*,
*inconclusive* (the 95% interval of the compared quantity covers the margin) or *missing* (the
entries are not stored). Premises are the conditions the paper's claim rests on that a small scale
can miss (networks trained to zero error, a complete run):

- **not run**: no part can be evaluated;
- **contradicts**: every evaluated part fails;
- **mixed**: some parts fail and others hold or are inconclusive (the row says which);
- **inconclusive**: no part fails, but the interval of at least one covers its margin;
- **incomplete**: every evaluated part holds, but some parts are not stored (named);
- **agrees at this scale**: every part holds and a premise fails (named);
- **agrees**: every part holds and no recorded premise fails ("not recorded" does not count).

Uncertainty (issue 18): a comparison of groups of tasks takes the per-task values, not their means,
and carries ``ci`` (the 95% Student-t interval of the difference, :mod:`tdlib.uncertainty`; paired
where the design is) and ``n``. It holds only when the whole interval clears the margin, fails when
the whole interval misses it, and is inconclusive otherwise. A comparison of single numbers has no
interval (``ci`` None, ``n`` 1) and is judged on the point value.

Comparisons use fixed margins: "a is higher than b" means a - b > :data:`MARGIN`; "separates" /
"clearly higher" / "drops significantly" means a difference above :data:`SEPARATION`; "close to x" /
"on par" means within :data:`CLOSE`; "correlates well" means Pearson r >= :data:`CORR`
(:data:`CORR` <= -r for an anti-correlation). A stale result keeps its computed verdict and is marked
``stale`` (the reason in the row); ``python -m tdlib report`` and the book tables say so.
"""
from __future__ import annotations

import html
import importlib
import pkgutil
from dataclasses import dataclass

MARGIN = 0.02        # "a > b"
SEPARATION = 0.05    # "clearly higher", "separates", "drops significantly"
CLOSE = 0.05         # "close to", "on par"
CORR = 0.5           # "correlates well"
TRAIN_REACHED = 0.99  # "trained to zero training error" (Sec. 3.2)
VERDICTS = ("agrees", "agrees at this scale", "incomplete", "inconclusive", "mixed", "contradicts", "not run")
LEVEL = 0.95          # confidence level of every interval

RULE = (f"Verdict rule: each claim is split into parts, comparisons of stored numbers that hold, fail, are "
        f"inconclusive (the {LEVEL:.0%} interval over tasks covers the margin) or are not stored. "
        f"agrees: every part holds and no premise fails; agrees at this scale: every part holds, a premise "
        f"the paper's scale meets fails (named); incomplete: every evaluated part holds, some are not "
        f"stored; inconclusive: none fails, an interval covers its margin; mixed: some parts fail, others "
        f"hold or are inconclusive; contradicts: every evaluated part fails; not run: nothing stored to "
        f"evaluate. A part holds only when its whole interval clears the margin. Margins: higher = by more "
        f"than {MARGIN}; separates / clearly higher / drops = by more than {SEPARATION}; close to / on par = "
        f"within {CLOSE}; correlates well = |Pearson r| >= {CORR}; train accuracy reached = >= "
        f"{TRAIN_REACHED}. A stale result (recipe differs from the profile's current one) keeps its "
        f"verdict, marked stale.")


@dataclass
class Check:
    """One part of a claim, or one premise: ``text`` states the measured comparison, ``ok`` is
    True / False, or None when it cannot be decided: the stores do not hold what it needs, or
    (``inconclusive``) the interval ``ci`` of the compared quantity covers the margin. ``n``: the
    tasks (or values) behind each side."""
    text: str
    ok: "bool | None"
    ci: "tuple | None" = None
    n: "int | list | None" = None
    inconclusive: bool = False

    def __post_init__(self):
        if self.ok is not None:            # numpy's bools: `ok is False` must hold for a failed check
            self.ok = bool(self.ok)

    @property
    def state(self) -> str:
        if self.ok is True:
            return "holds"
        if self.ok is False:
            return "fails"
        return "inconclusive" if self.inconclusive else "missing"

    def as_dict(self) -> dict:
        return {"text": self.text, "state": self.state, "ci": list(self.ci) if self.ci else None, "n": self.n}


def verdict(parts, premises=()) -> str:
    """The verdict of a claim from its parts and premises (the rule of the module docstring)."""
    states = [p.state for p in parts]
    n_hold, n_fail, n_inc = states.count("holds"), states.count("fails"), states.count("inconclusive")
    if n_hold + n_fail + n_inc == 0:
        return "not run"
    if n_fail:
        return "contradicts" if n_hold + n_inc == 0 else "mixed"
    if n_inc:
        return "inconclusive"
    if n_hold < len(parts):
        return "incomplete"
    if any(p.ok is False for p in premises):
        return "agrees at this scale"
    return "agrees"


# ---- numbers -> checks ------------------------------------------------------------------------
def fmt(x, nd: int = 3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def _values(x):
    """``x`` as a list of finite floats when it is a sequence of per-task values, else None."""
    if x is None or isinstance(x, (int, float)) or getattr(x, "ndim", 1) == 0:
        return None
    v = [float(a) for a in x if a is not None and a == a]
    return v


def _point(x):
    """The value compared: the mean of per-task values, or the number itself."""
    v = _values(x)
    if v is None:
        return None if x is None else float(x)
    return sum(v) / len(v) if v else None


def _diff(a, b, paired: bool):
    """``(point, (low, high) or None, n)`` of ``a - b`` (``b`` may be a constant) over tasks."""
    from ...uncertainty import paired_difference, unpaired_difference
    va, vb = _values(a), _values(b)
    pa, pb = _point(a), _point(b)
    if va is None and vb is None:
        return pa - pb, None, 1
    if vb is None:                                   # a group against a constant: one-sample interval
        d = paired_difference(va, [pb] * len(va), level=LEVEL)
        return pa - pb, (d["low"], d["high"]) if len(va) > 1 else None, len(va)
    if va is None:
        d = paired_difference([pa] * len(vb), vb, level=LEVEL)
        return pa - pb, (d["low"], d["high"]) if len(vb) > 1 else None, len(vb)
    if paired and len(va) == len(vb):
        d = paired_difference(va, vb, level=LEVEL)
        return d["mean"], (d["low"], d["high"]) if len(va) > 1 else None, len(va)
    d = unpaired_difference(va, vb, level=LEVEL)
    ok = len(va) > 1 and len(vb) > 1
    return pa - pb, (d["low"], d["high"]) if ok else None, [len(va), len(vb)]


def _n_text(n) -> str:
    return "/".join(map(str, n)) if isinstance(n, list) else str(n)


def _judge(text: str, lo_ok, hi_ok, ci, n, point_ok) -> Check:
    """A check from an interval: holds when the whole interval passes (``lo_ok``: the test applied to
    the worst end), fails when the whole interval fails (``hi_ok`` False: the best end fails),
    inconclusive otherwise; without an interval, the point value decides."""
    if ci is None:
        return Check(text + (f" [n={_n_text(n)}, no interval]" if n != 1 else " [one value, no interval]"),
                     point_ok, None, n)
    tail = f" [{LEVEL:.0%} interval {ci[0]:+.3f} to {ci[1]:+.3f}, n={_n_text(n)}]"
    if lo_ok:
        return Check(text + tail, True, ci, n)
    if not hi_ok:
        return Check(text + tail, False, ci, n)
    return Check(text + tail + ": inconclusive, the interval covers the margin", None, ci, n, inconclusive=True)


def gt(name_a, a, name_b, b, margin=MARGIN, paired: bool = False) -> Check:
    """``a`` higher than ``b`` by more than ``margin``. ``a``/``b``: numbers, or per-task values
    (judged on the interval of the difference, :func:`_judge`); ``paired``: the i-th values of the
    two belong together (the same task under two conditions)."""
    pa, pb = _point(a), _point(b)
    if pa is None or pb is None:
        return Check(f"{name_a} or {name_b}: not stored", None)
    d, ci, n = _diff(a, b, paired)
    ok = d > margin
    text = (f"{name_a} {fmt(pa)} {'>' if ok else 'is not above'} {name_b} {fmt(pb)}"
            f"{'' if margin == 0 else f' + {margin:g}'}")
    return _judge(text, ci is not None and ci[0] > margin, ci is not None and ci[1] > margin, ci, n, ok)


def ci_above(name_a, name_b, diff: "dict | None", margin=MARGIN) -> Check:
    """``a`` higher than ``b`` by more than ``margin``, judged on a stored 95% interval of the
    difference over tasks (:mod:`tdlib.uncertainty`): it holds when the whole interval lies above the
    margin, fails when the whole interval lies below it, and is *inconclusive* otherwise."""
    if not diff or diff.get("low") is None or diff.get("low") != diff.get("low"):
        return Check(f"{name_a} - {name_b}: not stored (or fewer than 2 tasks)", None)
    n = diff["n"] if isinstance(diff["n"], int) else list(diff["n"])
    ci = (diff["low"], diff["high"])
    text = (f"{name_a} - {name_b} = {diff['mean']:+.3f} (95% interval {diff['low']:+.3f} to {diff['high']:+.3f}, "
            f"{'paired' if diff.get('paired') else 'unpaired'}, n={_n_text(n)}, p={diff['p']:.3g}; margin {margin:g})")
    if diff["low"] > margin:
        return Check(text + ": holds", True, ci, n)
    if diff["high"] <= margin:
        return Check(text + ": fails", False, ci, n)
    return Check(text + ": inconclusive, the interval covers the margin", None, ci, n, inconclusive=True)


def at_least(name_a, a, name_b, b, tol=CLOSE, paired: bool = False) -> Check:
    """``a`` on par with or above ``b``: a >= b - ``tol`` (numbers or per-task values)."""
    pa, pb = _point(a), _point(b)
    if pa is None or pb is None:
        return Check(f"{name_a} or {name_b}: not stored", None)
    d, ci, n = _diff(a, b, paired)
    ok = d >= -tol
    text = (f"{name_a} {fmt(pa)} {'on par with or above' if ok else 'below'} {name_b} {fmt(pb)}"
            f" (tolerance {tol:g})")
    return _judge(text, ci is not None and ci[0] >= -tol, ci is not None and ci[1] >= -tol, ci, n, ok)


def close(name, a, target, tol=CLOSE) -> Check:
    """``a`` (a number, or per-task values: their mean) within ``tol`` of ``target``."""
    pa = _point(a)
    if pa is None:
        return Check(f"{name}: not stored", None)
    d, ci, n = _diff(a, target, False)
    ok = abs(d) <= tol
    text = f"{name} {fmt(pa)} {'within' if ok else 'not within'} {tol:g} of {target:g}"
    inside = ci is not None and -tol <= ci[0] and ci[1] <= tol
    touches = ci is not None and ci[0] <= tol and ci[1] >= -tol
    return _judge(text, inside, touches, ci, n, ok)


def train_premise(name, accs, target=TRAIN_REACHED) -> Check:
    """The Sec. 3.2 premise: networks trained to (nearly) zero training error."""
    accs = [a for a in accs if a is not None]
    if not accs:
        return Check(f"{name}: train accuracy not recorded", None)
    lo = min(accs)
    ok = lo >= target
    return Check(f"{name}: train accuracy min {fmt(lo, 2)} {'>=' if ok else '<'} {target:g} "
                 f"(paper: zero train error)", ok)


def correlates(name, xs, ys, threshold=CORR, negative: bool = False, n_boot: int = 5_000) -> Check:
    """Pearson r of paired values at or beyond ``threshold`` (``negative``: r <= -threshold), judged on
    the bootstrap interval of r over the pairs (resampled together)."""
    import numpy as np
    r = pearson(xs, ys)
    if r is None:
        return Check(f"{name}: fewer than 3 pairs or no spread", None)
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(x), (n_boot, len(x)))
    xb, yb = x[idx], y[idx]
    xb, yb = xb - xb.mean(1, keepdims=True), yb - yb.mean(1, keepdims=True)
    den = np.sqrt((xb ** 2).sum(1) * (yb ** 2).sum(1))
    rb = np.where(den > 0, (xb * yb).sum(1) / np.where(den > 0, den, 1), np.nan)
    rb = rb[np.isfinite(rb)]
    q = (1 - LEVEL) / 2
    ci = (float(np.quantile(rb, q)), float(np.quantile(rb, 1 - q)))
    sgn = -1 if negative else 1
    ok = sgn * r >= threshold
    text = f"{name}: Pearson r = {fmt(r)} over {len(x)} pairs ({'<=' if negative else '>='} {sgn * threshold:g}: {'yes' if ok else 'no'})"
    worst, best = (ci[1], ci[0]) if negative else (ci[0], ci[1])
    return _judge(text, sgn * worst >= threshold, sgn * best >= threshold, ci, len(x), ok)


def pearson(xs, ys):
    import numpy as np
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


# ---- stored results of one profile ------------------------------------------------------------


class Stores:
    """The stored results of one profile, loaded once (nothing is computed)."""

    def __init__(self, profile: str = "cpu", root=None):
        self.profile, self.root, self._cache = profile, root, {}

    def get(self, exp: str):
        if exp not in self._cache:
            from ..results import load_store
            try:
                self._cache[exp] = load_store(exp, self.profile, self.root)
            except Exception as e:                     # unreadable file: reported, not fatal
                self._cache[exp] = None
                self._cache[f"{exp}!error"] = f"{type(e).__name__}: {e}"
        return self._cache[exp]

    def entries(self, exp: str) -> dict:
        s = self.get(exp)
        return s.entries if s is not None else {}

    def params(self, exp: str) -> dict:
        s = self.get(exp)
        return s.data.get("params", {}) if s is not None else {}

    def complete(self, exp: str) -> Check:
        s = self.get(exp)
        if s is None:
            return Check(f"{exp}: no stored result", None)
        ok = bool(s.data.get("complete"))
        return Check(f"{exp}: {'complete' if ok else 'PARTIAL'} run ({len(s.entries)} entries)", ok)

    def stale(self, exp: str) -> "str | None":
        """Why the stored result of ``exp`` is stale (its recipe differs from what the profile computes
        now: :meth:`~tdlib.lab.results.ResultStore.stale`), or None."""
        s = self.get(exp)
        if s is None:
            return None
        from ...config import get_profile
        from ..experiments import records
        records()                                   # fills the recipe fields of every experiment
        try:
            cur = get_profile(self.profile)
        except ValueError:
            return None
        diff = s.stale(cur)
        if not diff:
            return None
        if diff == ["no recipe recorded"]:
            return "no recipe recorded in the file: made before recipes were stored"
        return "made with " + "; ".join(diff[:4]) + (f" (+{len(diff) - 4} more)" if len(diff) > 4 else "")

    def recipe(self, exp: str) -> str:
        """A short recipe label of a store (images, schedule) to say when two stores differ."""
        p = self.params(exp)
        if not p:
            return "-"
        from ..experiments import training_params
        g = training_params(exp, p).get
        return f"{g('n_train')} images, {g('epochs')} ep, lr {g('lr_schedule')}"


# ---- registry ---------------------------------------------------------------------------------
@dataclass
class Spec:
    exp: str
    page: str
    fn: object


CLAIMS: dict = {}


def claims(exp: str, page: str):
    """Decorator: ``fn(stores) -> list of rows`` (rows from :func:`row`) holds ``exp``'s claims."""
    def deco(fn):
        CLAIMS[exp] = Spec(exp, page, fn)
        return fn
    return deco


def row(stores: Stores, exp: str, claim: str, paper: str, parts, premises=(), note: str = "") -> dict:
    """One claim's row: measured text, premise texts, verdict by :func:`verdict`, why, staleness."""
    parts, premises = list(parts), list(premises)
    v = verdict(parts, premises)
    measured = "; ".join(p.text for p in parts) + (f" ({note})" if note else "")
    prem = [p.text + ("" if p.ok is not False else " [FAILS]") for p in premises]
    why = ""
    if v != "agrees":
        fails = [p.text for p in parts if p.state == "fails"]
        inc = [p.text for p in parts if p.state == "inconclusive"]
        miss = [p.text for p in parts if p.state == "missing"]
        badp = [p.text for p in premises if p.ok is False]
        if v == "not run":
            err = stores._cache.get(f"{exp}!error")
            why = err or ((f"no stored result results/{stores.profile}/{exp}.json: " if stores.get(exp) is None
                           else "cannot be evaluated from the stored result: ") + "; ".join(miss))
        else:
            why = "; ".join([f"fails: {t}" for t in fails] + [f"inconclusive: {t}" for t in inc]
                            + [f"not stored: {t}" for t in miss] + [f"premise fails: {b}" for b in badp])
    stale = stores.stale(exp)
    return {"experiment": exp, "claim": claim, "paper": paper, "measured": measured, "verdict": v,
            "parts": [p.as_dict() for p in parts],
            "profile": stores.profile, "premises": prem, "why": why, "stale": stale,
            "page": CLAIMS[exp].page if exp in CLAIMS else ""}


def _load_all() -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")


def _key(exp: str) -> int:
    return int(exp[1:]) if exp[1:].isdigit() else 999


def report(profile: str = "cpu", root=None, experiments=None) -> list:
    """Every claim row of every experiment (E1-E22) for the stored results of ``profile``."""
    _load_all()
    stores = Stores(profile, root)
    rows = []
    for exp in sorted(CLAIMS, key=_key):
        if experiments is None or exp in experiments:
            rows += CLAIMS[exp].fn(stores)
    return rows


def page_rows(page: str, profile: str = "cpu", root=None) -> list:
    """The rows of the experiments shown on book page ``page`` (``"sec3"`` or ``"sec3_agreement"``)."""
    _load_all()
    exps = [e for e, s in CLAIMS.items() if s.page == page or s.page.split("_")[0] == page]
    return report(profile, root, exps)


def page_profile_of(page: str, profile: str = "auto", root=None) -> str:
    """The profile whose stored results page ``page`` shows: ``auto`` resolved once for the page
    (:func:`tdlib.lab.results.page_profile` over the page's experiments; ``"auto:P"``: already resolved to
    P), or the named profile."""
    from ..results import auto_at, page_profile
    if profile == "auto":
        from ..experiments import page_experiments
        return page_profile(page_experiments(page), root)
    return auto_at(profile) or profile


def best_profile(root=None) -> str:
    """The best profile with stored results (``results.STORED_PROFILES`` order), else ``cpu``."""
    from ..results import STORED_PROFILES, results_root
    from pathlib import Path
    base = Path(root or results_root())
    for prof in STORED_PROFILES:
        if any((base / prof).glob("e*.json")):
            return prof
    return "cpu"


_COLOURS = {"agrees": "#c9ecc9", "agrees at this scale": "#e3f4d7", "incomplete": "#eef3dd",
            "inconclusive": "#dde7f4", "mixed": "#fff2c4", "contradicts": "#f8d0d0", "not run": "#e4e4e4"}


PAPER_SCALE = ("the paper: CIFAR-10 45K / 5K images, ResNet-18 (width 64), MLP and ViT trained 100 epochs to zero "
               "training error, 20 tasks of each kind; discovery with d = 32, 50 inner steps, ~1e5 meta-steps")


def _scale(prof: str) -> str:
    """One line on what a profile computes with, from its fields (nothing typed by hand)."""
    from ...config import get_profile
    try:
        p = get_profile(prof)
    except Exception:                       # a results folder without a profile of that name
        return f"profile {prof}"
    data = {"synthetic": "the built-in generated images", "cifar10": "CIFAR-10"}.get(p.dataset, p.dataset)
    return (f"{data} {p.n_train:,} / {p.n_test:,} images ({p.sec3_n_train:,} for Sec. 3), {p.arch} (width {p.width}) "
            f"trained {p.epochs} epochs, {p.n_human} human and {p.n_random} random tasks; discovery with d = {p.emb_dim}, "
            f"{p.inner_steps} inner steps, {p.meta_steps:,} meta-steps")


def page_header(page: str, profile: str = "auto", root=None):
    """The box that opens a page: which profile made its stored numbers and with what, the paper's
    scale beside it, and the page's verdicts at a glance (the table at the end holds the details)."""
    prof = page_profile_of(page, profile, root)
    rows = page_rows(page, prof, root)
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    e = html.escape
    text = (f"<div class='tdlib-scale'><b>Scale.</b> The numbers on this page come from the <code>{e(prof)}</code> "
            f"profile: {e(_scale(prof))}; {e(PAPER_SCALE)}. A verdict holds at this scale only; where a premise "
            f"of the paper's scale fails, it says so.<br><b>Verdicts of this page's {len(rows)} claims:</b> "
            + " ".join(f"{_badge(v)}&nbsp;{n}" for v, n in counts.items() if n) + " (details at the end of the page)</div>")
    try:
        from IPython.display import HTML
        return HTML(text)
    except ImportError:
        return text


def _badge(v: str, stale: bool = False) -> str:
    return (f"<span class='tdlib-badge' style='background:{_COLOURS[v]}'>{html.escape(v)}"
            f"{' (stale)' if stale else ''}</span>")


def page_table(page: str, profile: str = "auto", root=None):
    """The claims of page ``page`` as a compact HTML table (IPython ``HTML`` object when IPython is
    there, else the string): a verdict summary, then one row per claim (experiment, the paper's claim,
    the verdict as a coloured badge); the paper's number, what we measured (each part with its interval),
    the premises and why sit in a dropdown under the claim."""
    prof = page_profile_of(page, profile, root)
    rows = page_rows(page, prof, root)
    e = html.escape
    counts = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
    out = [f"<p class='tdlib-verdicts'><b>Profile <code>{e(prof)}</code>, {len(rows)} claims:</b> "
           + " ".join(f"{_badge(v)}&nbsp;{n}" for v, n in counts.items() if n)
           + f" <details style='display:inline'><summary>verdict rule</summary>{e(RULE)}</details></p>"]
    bad = [r for r in rows if r["verdict"] == "contradicts"]
    if bad:
        out.append(f"<p><b>Where the <code>{e(prof)}</code> results contradict the paper:</b> "
                   + "; ".join(f"<b>{e(r['experiment'].upper())}</b> {e(r['claim'])}" for r in bad)
                   + " (why: in each row's details).</p>")
    out.append("<table class='tdlib-claims'><colgroup><col class='c-exp'><col><col class='c-verdict'></colgroup>"
               "<thead><tr><th>exp.</th><th>the paper's claim (click for the numbers)</th><th>verdict</th></tr></thead><tbody>")
    for r in rows:
        parts = "".join(f"<li>[{e(p['state'])}] {e(p['text'])}</li>" for p in r.get("parts", []))
        prem = "".join(f"<li>{e(p)}</li>" for p in r["premises"])
        detail = (f"<div><b>paper:</b> {e(r['paper'])}<br><b>measured:</b><ul>{parts}</ul>"
                  + (f"<b>premises:</b><ul>{prem}</ul>" if prem else "")
                  + (f"<b>why:</b> {e(r['why'])}<br>" if r["why"] else "")
                  + (f"<i>stale result: {e(r['stale'])}</i>" if r["stale"] else "") + "</div>")
        out.append(f"<tr><td>{e(r['experiment'].upper())}</td><td><details><summary>{e(r['claim'])}</summary>"
                   f"{detail}</details></td><td>{_badge(r['verdict'], bool(r['stale']))}</td></tr>")
    out.append("</tbody></table>")
    text = "\n".join(out)
    try:
        from IPython.display import HTML
        return HTML(text)
    except ImportError:
        return text


def verdict_facts(page: str, profile: str = "auto", root=None) -> dict:
    """What the page's prose says about a result, from the verdicts (issues 18, 20: no hand-written
    direction): per claim row, ``verdict_<exp>`` (the experiment's first row; later rows
    ``verdict_<exp>_<i>``) = the verdict in bold, the profile, and the why where it is not ``agrees``
    (``..._short``: without the why, for a sentence that recalls a verdict derived above); glued into the text (``{glue:md}`verdict_e9```) so the text cannot contradict the table."""
    prof = page_profile_of(page, profile, root)
    out, seen = {}, {}
    for r in page_rows(page, prof, root):
        exp = r["experiment"]
        i = seen[exp] = seen.get(exp, -1) + 1
        why = r["why"].replace("`", "'")
        key = f"verdict_{exp}" + (f"_{i}" if i else "")
        out[key + "_short"] = f"**{r['verdict']}** at `{prof}`" + (" (stale result)" if r["stale"] else "")
        out[key] = out[key + "_short"] + (f": {why}" if why and r["verdict"] != "agrees" else "")
    return out


def format_row(r: dict) -> str:
    """One row as plain text lines (the report command without ``--json``)."""
    lines = [f"{r['experiment'].upper()} [{r['verdict']}{', STALE' if r['stale'] else ''}] {r['claim']}",
             f"    paper:    {r['paper']}", f"    measured: {r['measured']}"]
    lines += [f"    premise:  {p}" for p in r["premises"]]
    if r["why"]:
        lines.append(f"    why:      {r['why']}")
    if r["stale"]:
        lines.append(f"    stale:    {r['stale']}")
    return "\n".join(lines)
