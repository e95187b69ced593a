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
