"""pytest picks the device: CUDA when present, else CPU; ``pytest --device cpu`` forces one.

The choice reaches tdlib through ``$TDLIB_DEVICE`` (read by ``tdlib.train.default_device``). Tests
marked ``@pytest.mark.cuda`` are the CUDA-only checks (bf16 + channels-last vs fp32, the fast
training implementations on the GPU); without a CUDA device they are skipped with the reason.
Run only those: ``pytest -m cuda`` (on a GPU machine).
"""
import os

import pytest
import torch


def pytest_addoption(parser):
    parser.addoption("--device", default=None,
                     help="device for tdlib in tests: cpu, cuda, cuda:1 (default: cuda when present)")


def pytest_configure(config):
    dev = config.getoption("--device")
    if dev:
        os.environ["TDLIB_DEVICE"] = dev


def _cuda_in_use() -> bool:
    dev = os.environ.get("TDLIB_DEVICE")
    return torch.cuda.is_available() and (not dev or dev.startswith("cuda"))


def pytest_collection_modifyitems(config, items):
    if _cuda_in_use():
        return
    skip = pytest.mark.skip(reason="CUDA-only check: no CUDA device here (run `pytest -m cuda` on a GPU)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device the tests run tdlib on."""
    from tdlib.train import default_device
    return default_device()


def _to_legacy_layout(folder, token=0x1234ABCD, untokenized=False):
    """Rewrite the one-file discovery checkpoint in ``folder`` into the three-file layout of earlier
    checkpoints (Adam's two moments in files of their own, named by the save token, or by the older
    untokenized names), as runs committed before the one-file format hold them."""
    import torch
    from tdlib import checkpoint
    ck = torch.load(folder / "encoder.pt", map_location="cpu", weights_only=True)
    opt = ck["opt"]
    for k, name in checkpoint.LEGACY_MOMENTS.items():
        moments = {i: st[k] for i, st in opt["state"].items() if k in st}
        f = folder / name if untokenized else checkpoint.legacy_moment_path(folder, k, token)
        torch.save({"token": token, "moments": moments}, f)
    ck["opt"] = {"param_groups": opt["param_groups"],
                 "state": {i: {k: v for k, v in st.items() if k not in checkpoint.LEGACY_MOMENTS}
                           for i, st in opt["state"].items()}}
    ck["token"] = token
    torch.save(ck, folder / "encoder.pt")
    return token


@pytest.fixture
def legacy_layout():
    return _to_legacy_layout
