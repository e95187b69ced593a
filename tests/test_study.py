"""Sec. 5 / App. G study: green pixel task, Proposition 1, other test domains, task grids."""
import numpy as np
import pytest
import torch

from tdlib.bounds import (as_u, as_v, best_case_accuracy, check_proposition1, g, g_inverse,
                          vote_fractions)
from tdlib.data import Dataset, _standardize, load_dataset
from tdlib.domains import load_domains, missing_report, standardize_per_dataset
from tdlib.greenpixel import (green_pixel_task, neighbour_cue, noise_all_but_pixel, noise_pixel, parse_pixel)
from tdlib.tasks import task_by_name


@pytest.fixture(scope="module")
def synth():
    return load_dataset("synthetic", 400, 100, seed=0)


# ---------------------------------------------------------------------------------------------
# green pixel task (Sec. 5.4)
def test_green_pixel_balanced_and_named(synth):
    for pix in [(0, 0), (5, 17), (31, 31)]:
        lab = green_pixel_task(synth.images, pix)
        assert abs(lab.mean() - 0.5) < 0.03
        name = "greenpixel:{},{}".format(*pix)
        assert np.array_equal(task_by_name(synth, name), lab)
    with pytest.raises(ValueError, match="ROW,COL"):
        parse_pixel("3")
    with pytest.raises(ValueError, match="outside"):
        green_pixel_task(synth.images, (32, 0))


def test_green_pixel_determined_by_that_pixel_only(synth):
    pix = (3, 7)
    lab = green_pixel_task(synth.images, pix)
    g_val = synth.images[:, pix[0], pix[1], 1].astype(int)
    # a threshold on the green value: every label-1 image is greener than every label-0 image
    assert g_val[lab == 1].min() > g_val[lab == 0].max()
    # scrambling every other pixel and the other channels of that pixel leaves the labels unchanged
    rng = np.random.default_rng(0)
    other = rng.integers(0, 256, synth.images.shape, dtype=np.uint8)
    other[:, pix[0], pix[1], 1] = synth.images[:, pix[0], pix[1], 1]
    t = green_pixel_task(synth.images, pix, threshold=None)
    assert np.array_equal(green_pixel_task(other, pix), t)


def test_neighbour_cue_measures_what_the_neighbours_carry():
    """Independent noise around the pixel carries nothing (accuracy ~0.5); a neighbour that copies
    the pixel's green, or its inverse, carries the whole label (accuracy 1)."""
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (2000, 8, 8, 3), dtype=np.uint8)
    tr, te = np.arange(1500), np.arange(1500, 2000)
    cue = neighbour_cue(imgs, (2, 3), tr, te)
    assert set(cue["neighbours"]) == {"2,4", "3,3", "3,4"}
    assert all(abs(a - 0.5) < 0.08 for a in cue["neighbours"].values()), cue
    imgs[:, 2, 4, 1] = imgs[:, 2, 3, 1]                    # right neighbour = the pixel
    imgs[:, 3, 3, 1] = 255 - imgs[:, 2, 3, 1]              # the one below = its inverse
    cue = neighbour_cue(imgs, (2, 3), tr, te)
    assert cue["neighbours"]["2,4"] == 1.0 and cue["neighbours"]["3,3"] == 1.0
    assert cue["best_acc"] == 1.0 and abs(cue["neighbours"]["3,4"] - 0.5) < 0.08
    edge = neighbour_cue(imgs, (7, 7), tr, te)             # a corner: the neighbours inside the image
    assert set(edge["neighbours"]) == {"7,6", "6,7", "6,6"}


def test_noise_functions_touch_the_right_pixels():
    x = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4)
    a = noise_all_but_pixel(x, (1, 2))
    assert torch.equal(a[:, :, 1, 2], x[:, :, 1, 2])
    mask = torch.ones(4, 4, dtype=bool)
    mask[1, 2] = False
    assert not torch.isclose(a[:, :, mask], x[:, :, mask]).any()
    for mode in ("marginal", "gaussian"):
        b = noise_pixel(x, (1, 2), mode, pool=torch.zeros(5, 3, 4, 4) - 7)
        assert torch.equal(b[:, :, mask], x[:, :, mask])
        assert not torch.equal(b[:, :, 1, 2], x[:, :, 1, 2])
    assert (noise_pixel(x, (1, 2), "marginal", pool=torch.zeros(5, 3, 4, 4) - 7)[:, :, 1, 2] == -7).all()


def _iid_noise_dataset(pixel, n_train=1000, n_test=400, seed=0, sigma=10.0):
    """Gray images with i.i.d. pixel noise (sd ``sigma``), except the planted pixel, whose colour is
    uniform on 0..255: that pixel carries the label and nothing else correlates with it."""
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    images = np.clip(rng.normal(128, sigma, (n, 32, 32, 3)), 0, 255).astype(np.uint8)
    images[:, pixel[0], pixel[1], :] = rng.integers(0, 256, (n, 3), dtype=np.uint8)
    tr, te = np.arange(n_train), np.arange(n_train, n)
    return Dataset(name="iid-noise", images=images, x=_standardize(images, tr),
                   classes=np.zeros(n, dtype=np.int64), class_names=["-"], train_idx=tr, test_idx=te)


def test_planted_pixel_cue_is_what_the_network_reads():
    """A network trained on the green pixel task of i.i.d.-noise images must read that pixel: accuracy
    collapses to chance when it is noised, and stays when every other pixel is noised."""
    from tdlib.config import get_profile
    from tdlib.greenpixel import green_pixel_study
    pixel = (4, 9)
    ds = _iid_noise_dataset(pixel)
    p = get_profile("smoke", epochs=10, batch_size=100, width=8, green_pixel=pixel)
    r = green_pixel_study(ds, p, arch="mlp")
    assert r["clean"]["acc"] > 0.8, r
    assert r["others_noised"]["acc"] > 0.75, r
    assert r["pixel_noised"]["acc"] < 0.62, r
    assert r["pixel_noised_gaussian"]["acc"] < 0.65, r
    assert r["clean"]["agreement"] > 0.75


# ---------------------------------------------------------------------------------------------
# Proposition 1 (App. G)
def test_prop1_holds_on_random_predictions():
    rng = np.random.default_rng(0)
    violations_reversed = 0
    for trial in range(300):
        m, n, k = rng.integers(2, 7), rng.integers(1, 60), rng.integers(2, 5)
        # networks that agree to a random degree: a shared vote plus per-network flips
        base = rng.integers(0, k, n)
        flip = rng.random((m, n)) < rng.random()
        preds = np.where(flip, rng.integers(0, k, (m, n)), base[None])
        labels = rng.integers(0, k, n)
        r = check_proposition1(preds, labels, num_classes=k)
        assert r["holds"], r
        assert r["acc_below_best"] and r["acc_below_bound"], r
        assert as_u(preds) <= as_v(preds) + 1e-12
        # a deliberately wrong bound: "Acc* <= AS" (the reverse of (i)) must fail somewhere
        violations_reversed += r["best_case_acc"] > r["as_v"] + 1e-9
    assert violations_reversed > 0


def test_prop1_wrong_bound_fails_and_identities():
    # two networks that disagree everywhere: AS = 0 pairs, Acc* = 1/2
    preds = np.array([[0, 1, 0, 1], [1, 0, 1, 0]])
    r = check_proposition1(preds)
    assert r["as_u"] == 0.0 and r["best_case_acc"] == 0.5 and r["as_v"] == 0.5
    # with M = 2, the V-statistic AS equals the best-case accuracy: (1 + agreement) / 2
    rng = np.random.default_rng(1)
    p2 = rng.integers(0, 2, (2, 50))
    assert np.isclose(as_v(p2), best_case_accuracy(p2)[0])
    assert np.isclose(as_v(p2), (1 + as_u(p2)) / 2)
    # a "bound" that is too tight must be caught: Acc* <= AS_pairs fails here
    assert not (r["best_case_acc"] <= r["as_u"])
    # g and its inverse
    for k in (2, 3, 10):
        for a in np.linspace(1 / k, 1, 7):
            assert np.isclose(g(g_inverse(a, k), k), a)
    assert np.isclose(g_inverse(0.5, 2), 0.5) and np.isclose(g_inverse(1.0, 2), 1.0)
    p = vote_fractions(np.array([[0, 2], [2, 2]]), 3)
    assert np.allclose(p, [[0.5, 0, 0.5], [0, 0, 1]])


# ---------------------------------------------------------------------------------------------
# other test domains (Sec. 5.3)
def test_missing_domains_are_listed_not_raised(tmp_path, monkeypatch):
    monkeypatch.delenv("TDLIB_DATA", raising=False)
    r = load_domains(n=20, root=tmp_path)
    assert set(r["present"]) == {"noise", "shapes"} and r["sets"]["noise"].shape == (20, 3, 32, 32)
    assert r["sets"]["shapes"].shape == (20, 3, 32, 32)                     # made here, standardized
    assert abs(float(r["sets"]["shapes"].mean())) < 1e-4
    for name in ("cifar100", "svhn", "dtd", "eurosat", "flowers102", "pets", "clevr", "kitti"):
        assert name in r["missing"] and "download" in r["missing"][name]
    assert "svhn" in missing_report(r)


def test_domain_npz_and_standardization(tmp_path, monkeypatch):
    monkeypatch.delenv("TDLIB_DATA", raising=False)
    rng = np.random.default_rng(0)
    x = (rng.random((30, 32, 32, 3)) * [255, 120, 40] + [0, 50, 200]).clip(0, 255).astype(np.uint8)
    np.savez(tmp_path / "cifar100.npz", x_test=x)
    r = load_domains(names=("cifar100", "noise"), n=25, root=tmp_path)
    z = r["sets"]["cifar100"]
    assert r["present"]["cifar100"] == 25 and not r["missing"]
    assert torch.allclose(z.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)
    s = standardize_per_dataset(x)
    assert s.shape == (30, 3, 32, 32)
    assert torch.allclose(s.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(s.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)


def test_to_32_crops_and_resizes():
    from PIL import Image
    from tdlib.domains import to_32
    img = Image.fromarray(np.zeros((50, 80), dtype=np.uint8))      # grayscale, not square
    a = to_32(img)
    assert a.shape == (32, 32, 3) and a.dtype == np.uint8


# ---------------------------------------------------------------------------------------------
# task grids (Sec. 5.1, App. B)
def test_top_images_are_the_most_discriminative(synth):
    from tdlib.lab.taskviz import decode_images, task_scores, top_images
    r = top_images(synth, "randnet:0", k=3)
    s = task_scores(synth, "randnet:0")
    lab = task_by_name(synth, "randnet:0")
    i0, i1 = r["index"]["0"], r["index"]["1"]
    assert (lab[i0] == 0).all() and (lab[i1] == 1).all()
    assert np.isclose(s[i1].min(), np.sort(s)[-3]) and np.isclose(s[i0].max(), np.sort(s)[2])
    assert np.array_equal(decode_images(r["images"]["1"]), synth.images[i1])
