"""The paper's claims, experiment by experiment (E1-E22), with verdicts computed from stored results.

Each experiment has one claims function (in ``tdlib/claims/sec3.py`` ... ``app.py``), registered with
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
split into *parts*, each a comparison of stored numbers that holds, fails, or cannot be evaluated
(the entries are missing):

- **not run**: no part can be evaluated (no stored result, or not the entries it needs);
- **contradicts**: every part that can be evaluated fails;
- **partly**: some parts hold and some fail, or some cannot be evaluated, or all hold while a
  recorded premise fails (the paper's effect, but not under the paper's conditions);
- **agrees**: every part holds and no recorded premise fails ("not recorded" does not count).

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
VERDICTS = ("agrees", "partly", "contradicts", "not run")

RULE = (f"Verdict rule: each claim is split into parts (comparisons of stored numbers). not run: no part "
        f"can be evaluated; contradicts: every evaluated part fails; partly: some hold and some fail, or "
        f"some cannot be evaluated, or all hold while a recorded premise fails; agrees: every part holds "
        f"and no recorded premise fails. Margins: higher = by more than {MARGIN}; separates / clearly "
        f"higher / drops = by more than {SEPARATION}; close to / on par = within {CLOSE}; correlates "
        f"well = |Pearson r| >= {CORR}; train accuracy reached = >= {TRAIN_REACHED}. A stale result "
        f"(recipe differs from the profile's current one) keeps its verdict, marked stale.")


@dataclass
class Check:
    """One part of a claim, or one premise: ``text`` states the measured comparison, ``ok`` is
    True / False, or None when the stores do not hold what it needs."""
    text: str
    ok: "bool | None"

    def __post_init__(self):
        if self.ok is not None:            # numpy's bools: `ok is False` must hold for a failed check
            self.ok = bool(self.ok)


def verdict(parts, premises=()) -> str:
    """The verdict of a claim from its parts and premises (the rule of the module docstring)."""
    known = [p.ok for p in parts if p.ok is not None]
    if not known:
        return "not run"
    if not any(known):
        return "contradicts"
    if not all(known) or len(known) < len(parts):
        return "partly"
    if any(p.ok is False for p in premises):
        return "partly"
    return "agrees"


# ---- numbers -> checks ------------------------------------------------------------------------
def fmt(x, nd: int = 3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def mean(xs):
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else None


def gt(name_a, a, name_b, b, margin=MARGIN) -> Check:
    """``a`` higher than ``b`` by more than ``margin``."""
    if a is None or b is None:
        return Check(f"{name_a} or {name_b}: not stored", None)
    ok = a - b > margin
    return Check(f"{name_a} {fmt(a)} {'>' if ok else 'is not above'} {name_b} {fmt(b)}"
                 f"{'' if margin == 0 else f' + {margin:g}'}", ok)


def ci_above(name_a, name_b, diff: "dict | None", margin=MARGIN) -> Check:
    """``a`` higher than ``b`` by more than ``margin``, judged on the 95% interval of the difference over
    tasks (:mod:`tdlib.uncertainty`): it holds when the whole interval lies above the margin, fails when
    the mean does not clear it, and is *inconclusive* (``ok`` None) when the interval covers the margin."""
    if not diff or diff.get("low") is None or diff.get("low") != diff.get("low"):
        return Check(f"{name_a} - {name_b}: not stored (or fewer than 2 tasks)", None)
    n = diff["n"] if isinstance(diff["n"], int) else "/".join(map(str, diff["n"]))
    text = (f"{name_a} - {name_b} = {diff['mean']:+.3f} (95% interval {diff['low']:+.3f} to {diff['high']:+.3f}, "
            f"{'paired' if diff.get('paired') else 'unpaired'}, n={n}, p={diff['p']:.3g}; margin {margin:g})")
    if diff["low"] > margin:
        return Check(text + ": holds", True)
    if diff["mean"] <= margin:
        return Check(text + ": fails", False)
    return Check(text + ": inconclusive, the interval covers the margin", None)


def at_least(name_a, a, name_b, b, tol=CLOSE) -> Check:
    """``a`` on par with or above ``b``: a >= b - ``tol``."""
    if a is None or b is None:
        return Check(f"{name_a} or {name_b}: not stored", None)
    ok = a >= b - tol
    return Check(f"{name_a} {fmt(a)} {'on par with or above' if ok else 'below'} {name_b} {fmt(b)}"
                 f" (tolerance {tol:g})", ok)


def close(name, a, target, tol=CLOSE) -> Check:
    if a is None:
        return Check(f"{name}: not stored", None)
    ok = abs(a - target) <= tol
    return Check(f"{name} {fmt(a)} {'within' if ok else 'not within'} {tol:g} of {target:g}", ok)


def train_premise(name, accs, target=TRAIN_REACHED) -> Check:
    """The Sec. 3.2 premise: networks trained to (nearly) zero training error."""
    accs = [a for a in accs if a is not None]
    if not accs:
        return Check(f"{name}: train accuracy not recorded", None)
    lo = min(accs)
    ok = lo >= target
    return Check(f"{name}: train accuracy min {fmt(lo, 2)} {'>=' if ok else '<'} {target:g} "
                 f"(paper: zero train error)", ok)


def pearson(xs, ys):
    import numpy as np
    x, y = np.asarray(xs, float), np.asarray(ys, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


# ---- stored results of one profile ------------------------------------------------------------
_SEC3 = ("e1", "e2", "e3", "e4")


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
        now: :meth:`~tdlib.results.ResultStore.stale`), or None."""
        s = self.get(exp)
        if s is None:
            return None
        from ..config import get_profile
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
        n = p.get("sec3_n_train") if exp in _SEC3 else p.get("n_train")
        return f"{n} images, {p.get('epochs')} ep, lr {p.get('lr_schedule')}"


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
        bad = [p.text for p in parts if p.ok is False] + [p.text for p in parts if p.ok is None]
        badp = [p.text for p in premises if p.ok is False]
        if v == "not run":
            err = stores._cache.get(f"{exp}!error")
            why = err or ((f"no stored result results/{stores.profile}/{exp}.json: " if stores.get(exp) is None
                           else "cannot be evaluated from the stored result: ") + "; ".join(bad))
        else:
            why = "; ".join(bad + [f"premise fails: {b}" for b in badp])
    stale = stores.stale(exp)
    return {"experiment": exp, "claim": claim, "paper": paper, "measured": measured, "verdict": v,
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


def best_profile(root=None) -> str:
    """The best profile with stored results (``results.STORED_PROFILES`` order), else ``cpu``."""
    from ..results import STORED_PROFILES, results_root
    from pathlib import Path
    base = Path(root or results_root())
    for prof in STORED_PROFILES:
        if any((base / prof).glob("e*.json")):
            return prof
    return "cpu"


_COLOURS = {"agrees": "#d8f0d8", "partly": "#fff2c4", "contradicts": "#f8d0d0", "not run": "#e4e4e4"}


def page_table(page: str, profile: str = "auto", root=None):
    """An HTML table (IPython ``HTML`` object when IPython is there, else the string) of the claims
    of page ``page``: experiment, claim, paper, measured, premises, verdict (with why and staleness)."""
    prof = best_profile(root) if profile == "auto" else profile
    rows = page_rows(page, prof, root)
    e = html.escape
    bad = [r for r in rows if r["verdict"] == "contradicts"]
    out = [f"<p><b>Profile <code>{e(prof)}</code>.</b> {e(RULE)}</p>"]
    if bad:
        out.append(f"<p><b>Where the <code>{e(prof)}</code> results contradict the paper, and why (as measured):</b></p><ul>"
                   + "".join(f"<li><b>{e(r['experiment'].upper())}</b>: {e(r['claim'])}. <i>Why:</i> {e(r['why'])}"
                             + (f" <i>(stale result: {e(r['stale'])})</i>" if r["stale"] else "") + "</li>"
                             for r in bad) + "</ul>")
    out += [
           "<table><thead><tr><th>exp.</th><th>paper's claim</th><th>paper</th><th>measured</th>"
           "<th>premises</th><th>verdict</th></tr></thead><tbody>"]
    for r in rows:
        verdict_cell = f"<b>{e(r['verdict'])}</b>"
        if r["stale"]:
            verdict_cell += f"<br><i>stale result: {e(r['stale'])}</i>"
        if r["why"]:
            verdict_cell += f"<br>why: {e(r['why'])}"
        prem = "<br>".join(e(p) for p in r["premises"]) or "-"
        out.append(f"<tr style='background:{_COLOURS[r['verdict']]}'><td>{e(r['experiment'].upper())}</td>"
                   f"<td>{e(r['claim'])}</td><td>{e(r['paper'])}</td><td>{e(r['measured'])}</td>"
                   f"<td>{prem}</td><td>{verdict_cell}</td></tr>")
    out.append("</tbody></table>")
    text = "\n".join(out)
    try:
        from IPython.display import HTML
        return HTML(text)
    except ImportError:
        return text


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
