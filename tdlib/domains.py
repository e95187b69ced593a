"""Test images from other domains (Sec. 5.3, Fig. 5): the AS measured off CIFAR-10.

The networks are trained on CIFAR-10 (X_tr) as always; only the test images change. Each dataset is
loaded with torchvision's own class (``download=False``: nothing is fetched here) from a data root,
images are center-cropped to a square and resized to 32x32 (bilinear, antialiased; Sec. 5.3 says
"resized", the crop keeps aspect ratios), and standardized channel-wise *per dataset* to zero mean
and unit variance ("similar to training images", Sec. 5.3). ``noise`` (N(0, 1) images, already on
that scale) is always there, and so is ``shapes`` (ours: the built-in generated images of coloured shapes,
made here). A missing dataset is listed with how to get it, never an error.

Data root: the ``root`` argument, else ``$TDLIB_DOMAINS``, else the folder of the CIFAR-10 file
(``data_path`` / ``$TDLIB_DATA``), else ``~/.cache/tdlib``. Besides torchvision's layouts, a
``cifar100.npz`` (arrays ``x_test``; like the shared CIFAR-10 copy) in the root is used, and the
CIFAR-10 file's own ``x_test`` gives ``cifar10-test`` (the in-domain reference).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

# name -> (torchvision class, constructor kwargs, how to get it)
TORCHVISION_DOMAINS = {
    "cifar100": ("CIFAR100", {"train": False},
                 "torchvision.datasets.CIFAR100(root, train=False, download=True), or cifar100.npz (x_test) in root"),
    "svhn": ("SVHN", {"split": "test"},
             "torchvision.datasets.SVHN(root, split='test', download=True) (needs scipy)"),
    "dtd": ("DTD", {"split": "test"}, "torchvision.datasets.DTD(root, split='test', download=True)"),
    "eurosat": ("EuroSAT", {}, "torchvision.datasets.EuroSAT(root, download=True)"),
    "flowers102": ("Flowers102", {"split": "test"},
                   "torchvision.datasets.Flowers102(root, split='test', download=True) (needs scipy)"),
    "pets": ("OxfordIIITPet", {"split": "test"},
             "torchvision.datasets.OxfordIIITPet(root, split='test', download=True)"),
    "clevr": ("CLEVRClassification", {"split": "val"},
              "torchvision.datasets.CLEVRClassification(root, split='val', download=True) (~18 GB)"),
    "kitti": ("Kitti", {"train": False}, "torchvision.datasets.Kitti(root, train=False, download=True)"),
}
# "shapes" (ours, not in the paper): the built-in generated images (tdlib.data.make_synthetic), a domain far
# from CIFAR-10 that needs no download, so the domain test has a natural-image-free domain everywhere
DOMAINS = ("cifar10-test", *TORCHVISION_DOMAINS, "noise", "shapes")


def domain_root(root=None, data_path=None) -> Path:
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("TDLIB_DOMAINS"):
        return Path(os.environ["TDLIB_DOMAINS"]).expanduser()
    cifar = data_path or os.environ.get("TDLIB_DATA")
    if cifar:
        p = Path(cifar).expanduser()
        return p.parent if p.is_file() else p
    return Path("~/.cache/tdlib").expanduser()


def standardize_per_dataset(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 with zero mean and unit variance per channel over
    this dataset (Sec. 5.3)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (x - mean) / std


def to_32(img) -> np.ndarray:
    """A PIL image (any size, any mode) -> (32, 32, 3) uint8: center square crop, then resize."""
    from PIL import Image
    img = img.convert("RGB")
    w, h = img.size
    s = min(w, h)
    img = img.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    return np.asarray(img.resize((32, 32), Image.BILINEAR, reducing_gap=None), dtype=np.uint8)


def _subset(n_total: int, n: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n_total)[: min(n, n_total)])


def _npz_test_images(path: Path, n: int, seed: int) -> np.ndarray:
    with np.load(path) as z:
        if "x_test" not in z:
            raise FileNotFoundError(f"{path} has no array 'x_test'")
        x = z["x_test"]
        return x[_subset(len(x), n, seed)]


def load_domain_images(name: str, root, n: int, seed: int = 0, data_path=None) -> np.ndarray:
    """(n', 32, 32, 3) uint8 test images of domain ``name`` (n' <= n, a seeded subset).
    Raises ``FileNotFoundError`` (or ``ImportError``) when the data are not under ``root``."""
    root = Path(root)
    if name == "cifar10-test":
        cifar = data_path or os.environ.get("TDLIB_DATA")
        p = Path(cifar).expanduser() if cifar else root / "cifar10.npz"
        if p.is_dir():
            p = p / "cifar10.npz"
        if not p.is_file():
            raise FileNotFoundError(f"no CIFAR-10 file at {p}")
        return _npz_test_images(p, n, seed)
    if name == "shapes":
        from .data import make_synthetic
        return make_synthetic(n, seed=10_000 + seed)[0]
    if name == "cifar100" and (root / "cifar100.npz").is_file():
        return _npz_test_images(root / "cifar100.npz", n, seed)
    if name not in TORCHVISION_DOMAINS:
        raise ValueError(f"unknown domain {name!r}; known: {DOMAINS}")
    import torchvision
    cls, kwargs, _ = TORCHVISION_DOMAINS[name]
    try:
        ds = getattr(torchvision.datasets, cls)(root=str(root), download=False, **kwargs)
    except (RuntimeError, OSError, ValueError) as e:   # torchvision: "Dataset not found ..."
        raise FileNotFoundError(str(e).splitlines()[0] if str(e) else repr(e)) from None
    if hasattr(ds, "data") and isinstance(getattr(ds, "data"), np.ndarray):   # CIFAR100, SVHN
        data = ds.data if ds.data.shape[-1] == 3 else ds.data.transpose(0, 2, 3, 1)
        return np.stack([to_32(_pil(a)) for a in data[_subset(len(data), n, seed)]])
    idx = _subset(len(ds), n, seed)
    return np.stack([to_32(ds[int(i)][0]) for i in idx])


def _pil(a):
    from PIL import Image
    return Image.fromarray(a)


def load_domains(names=DOMAINS, n: int = 2000, root=None, data_path=None, seed: int = 0,
                 noise_seed: int = 0) -> dict:
    """Standardized test sets of every available domain.

    Returns ``{"sets": name -> (N,3,32,32) tensor, "present": {name: count},
    "missing": {name: what to download / why}, "root": str}``. Never raises for missing data."""
    root_p = domain_root(root, data_path)
    sets, present, missing = {}, {}, {}
    for name in names:
        if name == "noise":
            g = torch.Generator().manual_seed(noise_seed)
            sets[name] = torch.randn((n, 3, 32, 32), generator=g)       # N(0, 1), Sec. 5.3
            present[name] = n
            continue
        try:
            imgs = load_domain_images(name, root_p, n, seed, data_path)
        except (FileNotFoundError, ImportError) as e:
            how = (TORCHVISION_DOMAINS[name][2] if name in TORCHVISION_DOMAINS
                   else "set TDLIB_DATA to the CIFAR-10 .npz (with x_test)")
            missing[name] = f"not found under {root_p} ({e}); get it with {how}"
            continue
        sets[name] = standardize_per_dataset(imgs)
        present[name] = int(len(imgs))
    return {"sets": sets, "present": present, "missing": missing, "root": str(root_p)}


def missing_report(result: dict) -> str:
    """A short text listing the missing domains and how to get them."""
    if not result["missing"]:
        return "all domains present"
    lines = [f"missing under {result['root']} (set TDLIB_DOMAINS or pass root=):"]
    lines += [f"  - {k}: {v}" for k, v in result["missing"].items()]
    return "\n".join(lines)
