"""Adversarial train/test splits (Sec. 6, Eq. 6 and 7, App. D, F) and random splits to compare.

A split partitions a *pool* of images (all images of a :class:`~tdlib.data.Dataset`, or the indices
``pool`` into it) into a train part and a test part. Tasks are label vectors over the pool
(``tdlib.tasks``), so any task can make a split: human (``human:3``), random-network
(``randnet:0``, Sec. 6.3), planted cues of the synthetic data (``cue:warm``), and discovered tasks
(``discovered:K``) once that kind is registered.

- :func:`adversarial_split` (Eq. 6): for a binary target τ and a high-AS task τ',
  train = {x : τ(x) == τ'(x)}, test = {x : τ(x) != τ'(x)}.
- :func:`multiclass_adversarial_split` (Eq. 7): for a K-way target τ, classes split into C0 / C1;
  x is in train iff τ'(x) == [τ(x) ∈ C1].
- :func:`random_split_like`: a random split with the same train/test sizes and the same number of
  images of each target class in each part (Sec. 6.1: "we keep the class balance and sizes of the
  random and adversarial splits approximately the same"; here they are exactly the same).
- :func:`summarize`, :func:`save_split` / :func:`load_split` (index files for other codebases).

Orientation. Flipping τ' gives the same task (Eq. 2) but swaps train and test. By default
(``orient="larger-train"``) we use the orientation whose train part is the larger (ties: τ' as
given), recorded as ``split.meta["flipped"]``; ``orient="as-is"`` keeps τ' as given. With τ' far
from τ (similarity near 0.5, which the discovery objective's dissimilarity term encourages) both
parts hold about half the pool, as in the paper.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .tasks import human_class_splits

ORIENTATIONS = ("larger-train", "as-is")


@dataclass
class Split:
    """Train and test indices into the dataset's pool, and how they were made."""
    train_idx: np.ndarray             # (n_train,) int64, sorted
    test_idx: np.ndarray              # (n_test,) int64, sorted
    kind: str                         # "adversarial", "adversarial-multiclass" or "random"
    target: str = ""                  # name of the target task τ
    by: str = ""                      # name of the task τ' that made it ("" for random splits)
    meta: dict = field(default_factory=dict)

    @property
    def sizes(self) -> tuple:
        return len(self.train_idx), len(self.test_idx)

    def describe(self) -> str:
        by = f" by {self.by}" if self.by else ""
        return f"{self.kind} split of {self.target}{by}: train {len(self.train_idx)}, test {len(self.test_idx)}"


def _pool(n: int, pool) -> np.ndarray:
    return np.arange(n, dtype=np.int64) if pool is None else np.sort(np.asarray(pool, dtype=np.int64))


def _check(labels, name: str, binary: bool = False) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be a label vector over the pool, got shape {labels.shape}")
    labels = labels.astype(np.int64)
    if labels.min(initial=0) < 0:
        raise ValueError(f"{name} has negative labels")
    if binary and labels.max(initial=0) > 1:
        raise ValueError(f"{name} must be binary (0/1), it has labels up to {labels.max()}")
    return labels


def _oriented(agree: np.ndarray, orient: str):
    """(train mask, flipped) for the Eq. 6/7 agreement mask over the pool."""
    if orient not in ORIENTATIONS:
        raise ValueError(f"orient must be one of {ORIENTATIONS}, got {orient!r}")
    flipped = orient == "larger-train" and agree.sum() < (~agree).sum()
    return (~agree if flipped else agree), bool(flipped)


def adversarial_split(target, by, *, pool=None, orient: str = "larger-train",
                      target_name: str = "", by_name: str = "") -> Split:
    """Eq. 6: train where τ(x) == τ'(x), test where τ(x) != τ'(x), over the pool.

    ``target`` (τ) and ``by`` (τ') are binary label vectors over the whole dataset; ``pool``
    restricts the split to those indices (default: every image)."""
    t, b = _check(target, "target", binary=True), _check(by, "by", binary=True)
    if t.shape != b.shape:
        raise ValueError(f"target and by must label the same images: {t.shape} vs {b.shape}")
    idx = _pool(len(t), pool)
    train, flipped = _oriented(t[idx] == b[idx], orient)
    return Split(idx[train], idx[~train], "adversarial", target_name, by_name,
                 {"equation": 6, "flipped": flipped, "orient": orient})


def balanced_class_set(target, by, num_classes: int | None = None, pool=None) -> tuple:
    """The C1 of Eq. 7 used by default: among the splits of the classes into two halves (all of
    them up to 12 classes, else 200 seeded random halves), the one whose indicator [τ ∈ C1] is
    least similar (Eq. 2) to τ', so train and test each hold about half of the pool (the paper
    trains on "half the CIFAR-10 original training set"). The choice of C1 is ours."""
    t, b = _check(target, "target"), _check(by, "by", binary=True)
    k = num_classes or int(t.max()) + 1
    idx = _pool(len(t), pool)
    if k == 10:
        candidates = human_class_splits(10)
    elif k <= 12:
        import itertools
        candidates = list(itertools.combinations(range(1, k), k // 2))
    else:                    # e.g. ImageNet's 1000 classes: the best of 200 seeded random halves
        rng = np.random.default_rng(0)
        candidates = [tuple(sorted(rng.permutation(k)[: k // 2])) for _ in range(200)]
    best, best_sim = None, 2.0
    for c1 in candidates:
        agree = float(np.mean(np.isin(t[idx], c1) == b[idx]))
        sim = max(agree, 1 - agree)
        if sim < best_sim - 1e-12:
            best, best_sim = tuple(int(c) for c in c1), sim
    return best


def multiclass_adversarial_split(target, by, c1=None, *, num_classes: int | None = None, pool=None,
                                 orient: str = "larger-train", target_name: str = "",
                                 by_name: str = "") -> Split:
    """Eq. 7: x in train iff τ'(x) == [τ(x) ∈ C1]; test otherwise.

    ``target``: K-way labels; ``by``: binary τ'; ``c1``: the classes of C1 (default:
    :func:`balanced_class_set`), C0 the other classes."""
    t, b = _check(target, "target"), _check(by, "by", binary=True)
    if t.shape != b.shape:
        raise ValueError(f"target and by must label the same images: {t.shape} vs {b.shape}")
    k = num_classes or int(t.max()) + 1
    if c1 is None:
        c1 = balanced_class_set(t, b, k, pool)
    c1 = tuple(sorted(int(c) for c in c1))
    if not c1 or len(c1) >= k or min(c1) < 0 or max(c1) >= k:
        raise ValueError(f"C1 must be a non-empty proper subset of the {k} classes, got {c1}")
    idx = _pool(len(t), pool)
    in_c1 = np.isin(t[idx], c1).astype(np.int64)
    train, flipped = _oriented(b[idx] == in_c1, orient)
    c0 = tuple(c for c in range(k) if c not in c1)
    return Split(idx[train], idx[~train], "adversarial-multiclass", target_name, by_name,
                 {"equation": 7, "flipped": flipped, "orient": orient, "C1": list(c1), "C0": list(c0)})


def random_split_like(split: Split, target, seed: int = 0) -> Split:
    """A seeded random split of the same pool with the same sizes and, for each class of the
    target, the same number of images in train (so the same per-class balance in both parts)."""
    t = _check(target, "target")
    pool = np.sort(np.concatenate([split.train_idx, split.test_idx]))
    rng = np.random.default_rng(seed)
    train = []
    for c in np.unique(t[pool]):
        members = pool[t[pool] == c]
        n_tr = int(np.sum(t[split.train_idx] == c))
        train.append(rng.permutation(members)[:n_tr])
    train = np.sort(np.concatenate(train)).astype(np.int64)
    test = np.setdiff1d(pool, train).astype(np.int64)
    meta = {"seed": seed, "like": split.kind, "like_by": split.by}
    meta.update({k: split.meta[k] for k in ("C1", "C0") if k in split.meta})   # to compare with Eq. 7
    return Split(train, test, "random", split.target, "", meta)


def class_counts(labels, idx, num_classes: int) -> list:
    return np.bincount(np.asarray(labels)[idx], minlength=num_classes).astype(int).tolist()


def summarize(split: Split, target, by=None, num_classes: int | None = None) -> dict:
    """Sizes, class counts and fractions of the target in each part, and (given τ') how often τ
    and τ' agree in each part (Eq. 6: 1 on train and 0 on test, or the reverse when flipped)."""
    t = _check(target, "target")
    k = num_classes or max(2, int(t.max()) + 1)
    n_tr, n_te = split.sizes
    out = {"kind": split.kind, "target": split.target, "by": split.by, "n_train": n_tr, "n_test": n_te,
           "train_fraction": n_tr / max(1, n_tr + n_te),
           "train_counts": class_counts(t, split.train_idx, k),
           "test_counts": class_counts(t, split.test_idx, k)}
    out["train_balance"] = [c / max(1, n_tr) for c in out["train_counts"]]
    out["test_balance"] = [c / max(1, n_te) for c in out["test_counts"]]
    if by is not None:
        b = _check(by, "by", binary=True)
        # Eq. 6 compares τ with τ'; Eq. 7 compares the indicator [τ ∈ C1] with τ'
        t_bin = np.isin(t, split.meta["C1"]).astype(np.int64) if "C1" in split.meta else t
        if "C1" in split.meta or k == 2:
            out["agree_train"] = float(np.mean(t_bin[split.train_idx] == b[split.train_idx])) if n_tr else float("nan")
            out["agree_test"] = float(np.mean(t_bin[split.test_idx] == b[split.test_idx])) if n_te else float("nan")
    out.update({k_: v for k_, v in split.meta.items() if k_ in ("flipped", "C1", "C0", "equation", "seed")})
    return out


def format_summary(s: dict, class_names=None) -> str:
    """A few lines of text for a :func:`summarize` dict."""
    names = class_names or [str(i) for i in range(len(s["train_counts"]))]
    if len(names) != len(s["train_counts"]):
        names = [str(i) for i in range(len(s["train_counts"]))]
    by = f" by {s['by']}" if s.get("by") else ""
    lines = [f"{s['kind']} split of {s['target']}{by}: train {s['n_train']} "
             f"({100 * s['train_fraction']:.1f}%), test {s['n_test']}"]
    if "C1" in s:
        lines.append(f"  C1 = {s['C1']}, C0 = {s['C0']}")
    if "agree_train" in s:
        flip = " (τ' flipped)" if s.get("flipped") else ""
        lhs = "[τ ∈ C1]" if "C1" in s else "τ"
        lines.append(f"  {lhs} == τ' on train: {s['agree_train']:.3f}, on test: {s['agree_test']:.3f}{flip}")
    width = max(len(n) for n in names)
    lines.append(f"  {'class':<{width}}  train (frac)      test (frac)")
    for i, n in enumerate(names):
        lines.append(f"  {n:<{width}}  {s['train_counts'][i]:>6} ({s['train_balance'][i]:.3f})"
                     f"  {s['test_counts'][i]:>6} ({s['test_balance'][i]:.3f})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# index files
# ----------------------------------------------------------------------------------------------
FORMAT = "tdlib-split-v1"


def split_record(split: Split, ds=None, target=None, by=None) -> dict:
    """Everything an index file holds, as plain Python (lists and strings)."""
    rec = {"format": FORMAT, "kind": split.kind, "target": split.target, "by": split.by,
           "meta": split.meta, "train_idx": split.train_idx.tolist(), "test_idx": split.test_idx.tolist()}
    if ds is not None:
        rec["dataset"] = ds.name
        rec["pool_size"] = len(ds)
        if "cifar_index" in ds.attrs:      # indices into CIFAR-10's official 50K training set
            ci = np.asarray(ds.attrs["cifar_index"])
            rec["source_train_idx"] = ci[split.train_idx].tolist()
            rec["source_test_idx"] = ci[split.test_idx].tolist()
            rec["source"] = "CIFAR-10 official training set (50,000 images, torchvision order)"
    if target is not None:
        rec["target_labels_train"] = np.asarray(target)[split.train_idx].tolist()
        rec["target_labels_test"] = np.asarray(target)[split.test_idx].tolist()
    if by is not None:
        rec["by_labels_train"] = np.asarray(by)[split.train_idx].tolist()
        rec["by_labels_test"] = np.asarray(by)[split.test_idx].tolist()
    return rec


def save_split(split: Split, path, ds=None, target=None, by=None) -> Path:
    """Write ``split`` as ``.json`` (plain lists, any language) or ``.npz`` (numpy arrays, plus the
    same record as a JSON string under ``record``). With ``ds`` of CIFAR-10 the file also holds
    ``source_train_idx`` / ``source_test_idx``: indices into CIFAR-10's official training set, for
    use in another codebase; ``target``/``by`` labels of each part are stored when given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = split_record(split, ds, target, by)
    if path.suffix == ".json":
        path.write_text(json.dumps(rec))
    elif path.suffix == ".npz":
        arrays = {k: np.asarray(v, dtype=np.int64) for k, v in rec.items()
                  if isinstance(v, list) and k != "meta"}
        header = {k: v for k, v in rec.items() if k not in arrays}
        np.savez_compressed(path, record=np.array(json.dumps(header)), **arrays)
    else:
        raise ValueError(f"split file must end in .json or .npz, got {path.name!r}")
    return path


def load_split(path) -> tuple:
    """Read a file written by :func:`save_split`. Returns ``(split, record)``: the :class:`Split`
    and the whole record (with ``source_train_idx`` etc. as int64 arrays when present)."""
    path = Path(path)
    if path.suffix == ".json":
        rec = json.loads(path.read_text())
    elif path.suffix == ".npz":
        with np.load(path) as z:
            rec = json.loads(str(z["record"]))
            rec.update({k: z[k] for k in z.files if k != "record"})
    else:
        raise ValueError(f"split file must end in .json or .npz, got {path.name!r}")
    if rec.get("format") != FORMAT:
        raise ValueError(f"{path} is not a tdlib split file (format {rec.get('format')!r}, want {FORMAT!r})")
    for k, v in list(rec.items()):
        if k.endswith(("_idx", "_train", "_test")) and isinstance(v, (list, np.ndarray)):
            rec[k] = np.asarray(v, dtype=np.int64)
    split = Split(rec["train_idx"], rec["test_idx"], rec["kind"], rec.get("target", ""),
                  rec.get("by", ""), rec.get("meta", {}))
    return split, rec


# ----------------------------------------------------------------------------------------------
# evaluation (Sec. 6.1: train on the train part with τ, test on the test part; no augmentation)
# ----------------------------------------------------------------------------------------------
def evaluate_split(ds, target, split: Split, profile, seeds: int = 1, arch=None, width=None) -> dict:
    """Train pairs of networks on ``split``'s train part with the target labels (the profile's
    recipe, no augmentation) and measure them on the test part.

    Each seed is one :func:`~tdlib.agreement.agreement_score` call (two networks that differ in
    init and data order), so ``seeds`` gives ``2 * seeds`` networks. Returns ``test_acc`` (mean
    over networks), ``test_accs`` (each network), ``agreement`` (mean AS of the pairs measured on
    this split, App. F), ``train_acc`` and the sizes."""
    from .agreement import agreement_score
    target = np.asarray(target, dtype=np.int64)
    runs = [agreement_score(ds, target, profile, arch=arch, width=width, train_idx=split.train_idx,
                            test_idx=split.test_idx, seed=s, return_predictions=True)
            for s in range(seeds)]
    te_labels = target[split.test_idx]
    accs = [float(np.mean(np.asarray(p_) == te_labels)) for r in runs for p_ in r["predictions"]]
    return {"test_acc": float(np.mean(accs)), "test_accs": accs,
            "agreement": float(np.mean([r["agreement"] for r in runs])),
            "train_acc": float(np.mean([r["train_acc"] for r in runs])),
            "n_train": len(split.train_idx), "n_test": len(split.test_idx),
            "seconds": round(sum(r["seconds"] for r in runs), 2), "arch": runs[0]["arch"]}
