import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n 2: one thread per worker, so the workers do not share cores
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # also for the CLI runs the tests start as subprocesses
import torch  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)


@pytest.fixture
def images():
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
