import pytest
import torch


@pytest.fixture(scope="session")
def bvae():
    """The embedded default generator, on the CPU."""
    import latentnav as ln

    return ln.load_generator("bvae-dsprites", device="cpu")


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)
