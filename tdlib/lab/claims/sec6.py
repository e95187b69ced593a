"""Claims of Sec. 6 and App. F: adversarial splits, E13 (Fig. 7-left/center), E14 (Fig. 7-right),
E15 (Tab. 1, CIFAR-10), E16 (Tab. 1, CelebA / ImageNet), E19 (App. F, Fig. 14)."""
from __future__ import annotations

from . import CLOSE, CORR, SEPARATION, Check, claims, close, correlates, fmt, gt, mean, row, train_premise

PAGE = "sec6_adversarial"


def _balance(entries) -> Check:
    """Adversarial and random splits of the same sizes and class counts (the paper keeps them ~equal)."""
    dev = []
    for e in entries:
        a, r = e["adversarial"], e["random"]
        dev.append(abs(a["n_train"] - r["n_train"]) / max(a["n_train"], 1))
        dev += [abs(x - y) / max(x, 1) for x, y in zip(a.get("train_counts", []), r.get("train_counts", []))]
    if not dev:
        return Check("split sizes: not recorded", None)
    return Check(f"adversarial and random splits: sizes and class counts differ by at most {fmt(100 * max(dev), 1)}%",
                 max(dev) <= CLOSE)


def _by_kinds(entries) -> str:
    kinds = sorted({e["by"].split(":")[0] for e in entries})
    return "τ' = " + ", ".join(kinds) + (" tasks (the paper: discovered ones)" if "discovered" not in kinds else "")


def _split_parts(ent) -> list:
    """Random-split minus adversarial-split test accuracy, paired over the (target, τ') splits, on the
    interval over splits; each split's own numbers are in the text."""
    if not ent:
        return []
    each = ", ".join(f"{e['target']} by {e['by']}: {fmt(e['random']['test_acc'])} vs {fmt(e['adversarial']['test_acc'])}"
                     for e in ent)
    return [gt(f"random-split accuracy over {len(ent)} splits ({each})", [e["random"]["test_acc"] for e in ent],
               "adversarial", [e["adversarial"]["test_acc"] for e in ent], SEPARATION, paired=True)]


@claims("e13", page=PAGE)
def e13(st):
    ent = list(st.entries("e13").values())
    parts = _split_parts(ent)
    prem = [_balance(ent), train_premise("adversarial train sets", [e["adversarial"].get("train_acc") for e in ent]),
            st.complete("e13")]
    note = (f"mean drop {fmt(mean([e['drop'] for e in ent]))}; {_by_kinds(ent)}") if ent else ""
    return [row(st, "e13", "On adversarial splits (Eq. 6) the test accuracy of human tasks drops far below that "
                "on random splits of equal size and class balance (Sec. 6.1, Fig. 7-left)", "Fig. 7-left: shown in a figure, no number in the text",
                parts or [Check("no pair stored", None)], prem, note)]


@claims("e14", page=PAGE)
def e14(st):
    s = st.get("e14")
    pts = []
    if s is not None and s.entries:
        from ..experiments.sec6 import e14_points
        pts = e14_points(s)
    part = correlates("AS(τ') - AS(τ) against the test accuracy w.r.t. τ, ordered pairs",
                      [p["delta_as"] for p in pts], [p["test_acc"] for p in pts], CORR, negative=True)
    won = [p for p in pts if p["delta_as"] > SEPARATION]
    fool = (Check(f"{sum(p['test_acc'] < 0.5 for p in won)} of {len(won)} splits with AS(τ') > AS(τ) + {SEPARATION:g} "
                  f"have test accuracy w.r.t. τ below 0.5", all(p["test_acc"] < 0.5 for p in won)) if won
            else Check("no pair with AS(τ') clearly above AS(τ)", None))
    ent = st.entries("e14")
    prem = [train_premise("tasks' AS runs", [e.get("train_acc") for k, e in ent.items() if k.startswith("as/")]),
            st.complete("e14")]
    return [
        row(st, "e14", "The test accuracy w.r.t. τ on the adversarial split falls as AS(τ') - AS(τ) grows "
            "(Sec. 6.1, Fig. 7-right)", "'correlates well': shown in a figure, no number in the text", [part], prem),
        row(st, "e14", "An adversarial split succeeds (test accuracy w.r.t. τ below chance) when τ' has the higher "
            "AS (Sec. 6.1)", "Fig. 7-right: shown in a figure, no number in the text", [fool], prem),
    ]


@claims("e15", page=PAGE)
def e15(st):
    ent = list(st.entries("e15").values())
    parts = _split_parts(ent)
    prem = [close("random-split 10-way accuracy", mean([e["random"]["test_acc"] for e in ent]) if ent else None, 0.8),
            _balance(ent), st.complete("e15")]
    return [row(st, "e15", "10-way CIFAR-10 with a partial correlation to a binary high-AS task (Eq. 7): the accuracy "
                "drops noticeably below a random split (Sec. 6.2, Tab. 1)",
                "random split 0.8 (half of CIFAR-10); adversarial: no number in the text",
                parts or [Check("not stored", None)], prem, _by_kinds(ent) if ent else "")]


@claims("e16", page=PAGE)
def e16(st):
    ent = st.entries("e16")
    rows = []
    for name, what in (("celeba", "CelebA (ResNet-18)"), ("imagenet", "ImageNet top-1 (ResNet-50)")):
        es = [e for k, e in ent.items() if k.startswith(name)]
        parts = [gt("random-split accuracy", e["random"]["test_acc"], "adversarial", e["adversarial"]["test_acc"],
                    SEPARATION) for e in es] or [Check(f"{name}: its files are not here (see E16_HOWTO)", None)]
        rows.append(row(st, "e16", f"{what}: an adversarial split by a random-network task drops the accuracy "
                        "significantly below a random half/half split (Sec. 6.3, Tab. 1)", "Tab. 1: shown in a figure, no number in the text",
                        parts, [st.complete("e16")]))
    return rows


@claims("e19", page=PAGE)
def e19(st):
    ent = st.entries("e19")
    pts = [e for k, e in ent.items() if k.startswith("pair/")]
    near = [p for p in pts if abs(p["test_acc"] - 0.5) <= 0.1]
    ref = [e for k, e in ent.items() if k.startswith("reference/")]
    ref_as = [e["agreement"] for e in ref] or None
    part = (gt(f"mean AS on the split of the {len(near)} ordered pairs with test accuracy within 0.1 of 0.5",
               [p["as_split"] for p in near], "a random-labelled task's AS on such a split", ref_as, SEPARATION)
            if near else Check("no pair with test accuracy near chance stored", None))
    return [row(st, "e19", "The AS measured on an adversarial split stays high even where the test accuracy is near "
                "chance: the networks agree on a third labelling (App. F, Fig. 14-right)", "Fig. 14-right: shown in a figure, no number in the text",
                [part], [st.complete("e19")],
                "near-chance pairs: " + ", ".join(f"{p['target']}|{p['by']} acc {fmt(p['test_acc'])} AS "
                                                  f"{fmt(p['as_split'])}" for p in near) if near else "")]
