"""Bad data files fail early, naming the file and the fix (issue 10 part 2): empty, truncated, not an
.npz, channels-first, grayscale, 64x64 given as CIFAR-10, float pixels, labels out of range or of the
wrong length; and ``split --by X --target X`` refuses instead of printing nan."""
import numpy as np
import pytest

from tdlib.data import check_arrays, load_cifar10_train, load_dataset, load_tinyimagenet_train
from tdlib.errors import ConfigError, DataError, TdlibError

N = 40


def _good(n=N, size=32):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


def _npz(tmp_path, x, y, name="cifar10.npz"):
    path = tmp_path / name
    np.savez(path, x_train=x, y_train=y)
    return path


def _fails(path, *match):
    with pytest.raises(DataError) as e:
        load_cifar10_train(path)
    msg = str(e.value)
    assert str(path) in msg and "Fix" in msg, msg
    for m in match:
        assert m in msg, msg
    return msg


def test_good_file_loads(tmp_path):
    x, y = load_cifar10_train(_npz(tmp_path, *_good()))
    assert x.shape == (N, 32, 32, 3) and y.dtype == np.int64


def test_keras_style_labels_are_accepted(tmp_path):
    x, y = _good()
    _, y2 = load_cifar10_train(_npz(tmp_path, x, y[:, None]))
    assert y2.shape == (N,) and (y2 == y).all()


def test_empty_file(tmp_path):
    path = tmp_path / "cifar10.npz"
    path.write_bytes(b"")
    _fails(path, "empty (0 bytes)")


def test_truncated_file(tmp_path):
    path = _npz(tmp_path, *_good())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _fails(path, "truncated")


def test_not_an_npz(tmp_path):
    path = tmp_path / "cifar10.npz"
    path.write_text("x,y\n1,2\n")
    _fails(path, "cannot be read as an .npz")


def test_no_images(tmp_path):
    _fails(_npz(tmp_path, np.zeros((0, 32, 32, 3), np.uint8), np.zeros(0, np.int64)), "no images")


def test_channels_first(tmp_path):
    x, y = _good()
    _fails(_npz(tmp_path, np.transpose(x, (0, 3, 1, 2)), y), "channels first", "np.transpose(x, (0, 2, 3, 1))")


@pytest.mark.parametrize("shape", [(N, 32, 32), (N, 32, 32, 1)])
def test_grayscale(tmp_path, shape):
    _, y = _good()
    _fails(_npz(tmp_path, np.zeros(shape, np.uint8), y), "grayscale", "np.repeat")


def test_64x64_given_as_cifar10(tmp_path):
    x, y = _good(size=64)
    _fails(_npz(tmp_path, x, y), "64x64", "32x32", "tinyimagenet")


def test_float_pixels(tmp_path):
    x, y = _good()
    _fails(_npz(tmp_path, x.astype(np.float32) / 255, y), "uint8", "* 255")


@pytest.mark.parametrize("labels,match", [(lambda y: y + 1, "labels range from 1 to 10"),
                                          (lambda y: y - 1, "labels range from -1"),
                                          (lambda y: y[:-1], "one label per image"),
                                          (lambda y: y + 0.5, "non-integer")])
def test_bad_labels(tmp_path, labels, match):
    x, y = _good()
    y = y.copy()
    y[0], y[1] = 0, 9                 # both ends present
    _fails(_npz(tmp_path, x, labels(y)), match)


def test_refused_before_any_compute(tmp_path, monkeypatch):
    """The data error comes from load_dataset, before a single network is built."""
    import tdlib.train
    x, y = _good()
    path = _npz(tmp_path, x, y + 1)
    monkeypatch.setattr(tdlib.train, "train_classifier", lambda *a, **k: pytest.fail("trained on bad data"))
    with pytest.raises(DataError, match="out of range"):
        load_dataset("cifar10", 20, 10, data_path=path)


def test_tinyimagenet_npz_checked(tmp_path):
    x, _ = _good(n=20, size=64)
    path = tmp_path / "tin.npz"
    np.savez(path, x_train=np.transpose(x, (0, 3, 1, 2)), y_train=np.zeros(20, np.int64))
    with pytest.raises(DataError, match="channels first"):
        load_tinyimagenet_train(path, n=10)
    np.savez(path, x_train=x, y_train=np.full(20, 200))
    with pytest.raises(DataError, match="Tiny ImageNet has 200 classes"):
        load_tinyimagenet_train(path, n=10)


def test_check_arrays_returns_int64_labels():
    x, y = _good()
    _, y2 = check_arrays(x, y.astype(np.float64), "mem")
    assert y2.dtype == np.int64


def test_cli_bad_file_is_one_line(tmp_path, capsys):
    from tdlib.lab.cli import main
    x, y = _good()
    path = _npz(tmp_path, np.transpose(x, (0, 3, 1, 2)), y)
    rc = main(["split", "--target", "human:3", "--by", "randnet:0", "--out", str(tmp_path / "o"),
               "--profile", "cpu", "--data-path", str(path)])
    err = capsys.readouterr().err
    assert rc != 0 and "channels first" in err and str(path) in err and "Traceback" not in err


def test_split_by_equal_to_target_refuses(tmp_path, capsys):
    from tdlib.lab.cli import main
    rc = main(["split", "--target", "human:3", "--by", "human:3", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc != 0 and "target task itself" in err and "Fix" in err
    assert not (tmp_path / "o").exists()


def test_split_by_same_labels_refuses(tmp_path, capsys, monkeypatch):
    """Another name, the same labelling (a flipped cue) is refused too, after the labels are known."""
    import tdlib.tasks
    from tdlib.lab.cli import main
    monkeypatch.setitem(tdlib.tasks._KINDS, "flipped", lambda ds, arg: 1 - ds.attrs[arg])
    rc = main(["split", "--target", "cue:warm", "--by", "flipped:warm", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc != 0 and "one part of the adversarial split is empty" in err


def test_errors_are_tdlib_errors():
    assert issubclass(DataError, TdlibError) and issubclass(ConfigError, TdlibError)


def test_too_few_images_for_the_profile(tmp_path):
    path = _npz(tmp_path, *_good())
    with pytest.raises(DataError, match=f"{path}.*holds {N} images.*Fix"):
        load_dataset("cifar10", N, 10, data_path=path)


def test_synthetic_data_refuses_a_data_path_and_a_pool_too_large_to_generate(tmp_path):
    """Issue 17 (minor): --data-path was silently ignored on the smoke profile; a huge sec3_n_train asked
    numpy for 763 GiB."""
    from tdlib.data import load_dataset
    with pytest.raises(DataError, match="reads no file. Fix: leave out --data-path"):
        load_dataset("synthetic", 100, 50, data_path=tmp_path / "cifar10.npz")
    with pytest.raises(DataError, match=r"synthetic images asked for .*Fix: at most 100,000"):
        load_dataset("synthetic", 100_000_000, 50)


def test_string_labels_name_the_fix(tmp_path):
    x = np.zeros((60, 32, 32, 3), np.uint8)
    np.savez(tmp_path / "c.npz", x_train=x, y_train=np.array(["cat", "dog"] * 30))
    from tdlib.data import load_dataset
    with pytest.raises(DataError, match=r"holds <U3 values .*not class ids. Fix: integer class ids"):
        load_dataset("cifar10", 40, 20, data_path=tmp_path / "c.npz")
