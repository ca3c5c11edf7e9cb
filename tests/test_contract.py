"""The Generator contract of latentnav/generators/base.py, checked on every registered architecture.

Each case loads a small model through ``ln.load_generator`` (the public path, so the registry's loaders are
checked too) and plants what its family states: the image size, the latent spaces and their shapes, whether
the output is squashed into [-1, 1], and which optional protocols it implements. The contract:

- ``G(latent, space)`` -> float32 [N, img_channels, img_resolution, img_resolution] on ``G.device``,
  nominal range [-1, 1];
- latents are drawn one seed per sample: sample k depends on seed k alone, and so does image k;
- gradients flow from the images to the latent, in every space;
- ``check_latent`` refuses a wrong shape, an integer dtype and NaN/inf with a BadInputError naming the shape;
- ``G.evaluations`` grows by exactly N for N latents turned into images;
- ``SupportsEncode`` (VAEs) and ``SupportsCodeReadout`` (InfoGAN) where the family claims them.
"""

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from math import prod
from pathlib import Path

import numpy as np
import pytest
import torch

import latentnav as ln
from latentnav.errors import BadInputError, UnknownNameError
from latentnav.generators import betavae, dcgan
from latentnav.generators.architectures import ARCHITECTURES
from latentnav.generators.base import Generator, SupportsCodeReadout, SupportsEncode, all_finite

# the reference fixtures of tests/test_biggan.py and tests/test_stylegan2.py (see tests/fixtures/README.md); the
# few lines that write them as a user has them are repeated here rather than imported from those test modules,
# which pull in the CLI
FIXTURES = Path(__file__).parent / "fixtures"
N = 4  # latents per batch; seeds 0 .. N - 1
SEEDS = list(range(N))
# Float tolerances for "the same up to float rounding", relative to the values' scale (max(1, max |x|)): a
# seed's image alone and inside a batch take different float32 kernels (InfoGAN: 2e-5 in [-1, 1]; StyleGAN2:
# 1.7e-5 on images up to 22), while in float64 they agree to 1e-13; a batch-dependent layer moves them by 1e-1.
IMG_TOL, LATENT_TOL = 1e-4, 1e-5


def diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to the scale of ``b``: max(1, max |b|)."""
    return (a - b).abs().max().item() / max(1.0, b.abs().max().item())


def read_fixture(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, state dict) of a reference fixture (tests/fixtures/README.md)."""
    data = np.load(path)
    config = json.loads(bytes(data["config_json"]).decode())
    return config, {k[len("state.") :]: torch.from_numpy(data[k]) for k in data.files if k.startswith("state.")}


def load_betavae(tmp: Path) -> Generator:
    """A random BurgessVAE (z_dim 5, RGB: not the shipped model's 10 and grey), written by betavae.save.

    The first and last decoder layers are scaled up so that z moves the pixels and the sigmoid nearly
    saturates (images span about [-1, 1], not 0 +- 0.07 as at the default init): the range check bites.
    """
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        net = betavae.BurgessVAE(z_dim=5, img_channels=3)  # (save records z_dim and img_channels only)
        net.decoder_fc[0].weight.mul_(10)
        net.decoder_conv[-1].weight.mul_(100)
    betavae.save(net, tmp / "bvae.safetensors")
    return ln.load_generator(tmp / "bvae.safetensors", device="cpu")  # arch from the safetensors header


def load_dcgan(tmp: Path) -> Generator:
    """A random 16 px DCGAN as a plain torch state dict, with non-trivial batch-norm statistics.

    The last layer is scaled up so that the tanh nearly saturates (images span about [-1, 1], not 0 +- 0.03).
    """
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(0)
        net = dcgan.DCGAN(z_dim=8, ngf=4, img_channels=3, img_resolution=16)
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        net.main[-2].weight.mul_(100)
    torch.save(net.state_dict(), tmp / "dcgan.pt")
    return ln.load_generator(tmp / "dcgan.pt", arch="dcgan", device="cpu")  # dcgan has no sniffer: arch= is needed


def write_with_config(folder: Path, weights: str, config: dict, state: dict[str, torch.Tensor]) -> Path:
    """``folder``/``weights`` (a plain torch state dict) next to ``folder``/config.json; returns the weights' path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    torch.save(state, folder / weights)
    return folder / weights


def load_biggan(tmp: Path) -> Generator:
    """tests/fixtures/biggan_deep_ref_tiny.npz in the released layout (config.json + pytorch_model.bin)."""
    config, state = read_fixture(FIXTURES / "biggan_deep_ref_tiny.npz")
    config.pop("truncations")
    folder = write_with_config(tmp / "biggan", "pytorch_model.bin", config, state).parent
    return ln.load_generator(folder, device="cpu")  # the folder, sniffed


def load_stylegan2(tmp: Path) -> Generator:
    """tests/fixtures/stylegan2_ref_tiny.npz as an NVlabs-named state dict model.pt + config.json."""
    config, state = read_fixture(FIXTURES / "stylegan2_ref_tiny.npz")
    return ln.load_generator(write_with_config(tmp / "sg2", "model.pt", config, state), device="cpu")  # sniffed


@dataclass(frozen=True)
class Case:
    """What a family states about the model ``load`` makes.

    Attributes:
        load: tmp folder -> Generator, through ``ln.load_generator``.
        spaces: latent space -> shape of one latent, in the order of ``G.latent_spaces``.
        img: (img_channels, img_resolution).
        squashed: the last layer is a sigmoid/tanh, so images lie in [-1, 1]; False for StyleGAN2, whose
            synthesis output is unclamped by design (tests/fixtures/README.md): only finite is checked.
        encode: implements SupportsEncode.
        readout: implements SupportsCodeReadout.
    """

    load: Callable[[Path], Generator]
    spaces: dict[str, tuple[int, ...]]
    img: tuple[int, int]
    squashed: bool = True
    encode: bool = False
    readout: bool = False


CASES = {
    "betavae": Case(load_betavae, {"z": (5,)}, (3, 64), encode=True),  # sigmoid * 2 - 1
    "dcgan": Case(load_dcgan, {"z": (8,)}, (3, 16)),  # tanh
    "biggan-deep": Case(load_biggan, {"z": (16,)}, (3, 32)),  # tanh
    "stylegan2": Case(load_stylegan2, {"z": (32,), "w": (32,), "w+": (8, 32)}, (3, 32), squashed=False),
    # shipped models, through the checkpoints.yaml names: z = [noise 8, cat:3 one-hot, cont:4]; tanh
    "infogan": Case(
        lambda tmp: ln.load_generator("infogan-dsprites", device="cpu"), {"z": (15,)}, (1, 32), readout=True
    ),
    # z = [z1 8, z2 3]; sigmoid * 2 - 1
    "cmivae": Case(lambda tmp: ln.load_generator("cmivae-colour", device="cpu"), {"z": (11,)}, (3, 64), encode=True),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def case(arch) -> Case:
    return CASES[arch]


@pytest.fixture(scope="module")
def G(arch, case, tmp_path_factory) -> Generator:
    return case.load(tmp_path_factory.mktemp(arch))


def latents(G: Generator, seeds: list[int], space: str) -> torch.Tensor:
    """``sample_latent`` shaped as ``G`` takes it: [n, *latent_shape(space)]."""
    return G.sample_latent(seeds, space).view(len(seeds), *G.latent_shape(space))


def shape_text(shape: tuple[int, ...]) -> str:
    return "[N, " + ", ".join(map(str, shape)) + "]"


# ----------------------------------------------------------------------------------------------- tests
def test_every_registered_architecture_has_a_contract_case():
    assert set(ARCHITECTURES) == set(CASES), "a family without a contract case (or a case without a family)"


def test_the_family_is_what_the_case_plants(G, arch, case):
    assert isinstance(G, Generator)
    assert ARCHITECTURES[arch].loader().__module__ == type(G).__module__  # loaded by its family's loader
    assert (G.img_channels, G.img_resolution) == case.img
    assert G.latent_spaces == tuple(case.spaces)
    assert {s: G.latent_shape(s) for s in G.latent_spaces} == case.spaces
    assert G.device == torch.device("cpu")


def test_images_are_float32_nchw_on_the_device_in_the_family_range(G, case):
    z = G.sample_z(N, seed=0)
    with torch.no_grad():
        img = G(z)
        img64 = G(z.double())  # a float64 latent is accepted; the images are float32 all the same
    c, r = case.img
    assert img.shape == (N, c, r, r) and img.dtype == torch.float32 and img.device == G.device
    assert img64.dtype == torch.float32 and diff(img64, img) <= IMG_TOL
    assert torch.isfinite(img).all()
    if case.squashed:  # sigmoid / tanh output: inside [-1, 1]
        assert -1.0 <= img.min().item() and img.max().item() <= 1.0, (img.min().item(), img.max().item())
        assert img.abs().max().item() > 0.5  # (the case's images reach towards the bounds, so this check bites)
    # else StyleGAN2: unclamped by design (tests/fixtures/README.md); finite is all the contract promises
    assert (img[0] - img[1]).abs().max().item() > 0.1  # the latent reaches the pixels


def test_sample_z_is_one_seed_per_sample(G):
    z5 = G.sample_z(5, seed=0)
    assert z5.shape == (5, G.z_dim) and z5.dtype == torch.float32 and z5.device == torch.device("cpu")
    assert torch.equal(z5, G.sample_z(5, seed=0))  # deterministic
    assert torch.equal(G.sample_z(seeds=[3]), z5[3:4])  # seed 3 alone is row 3 of seeds 0..4
    assert torch.equal(G.sample_z(2, seed=3), z5[3:5])
    assert torch.equal(G.sample_z(seeds=[4, 1]), z5[[4, 1]])
    assert (z5[0] - z5[1]).abs().max().item() > 1e-3  # different seeds, different latents


def test_sample_latent_is_one_seed_per_sample_in_every_space(G):
    assert torch.equal(G.sample_latent(SEEDS, "z"), G.sample_z(seeds=SEEDS))
    for space in G.latent_spaces:
        lat = G.sample_latent(SEEDS, space)
        assert lat.shape == (N, prod(G.latent_shape(space))) and lat.dtype == torch.float32, space
        assert torch.equal(lat, G.sample_latent(SEEDS, space)), space
        assert diff(G.sample_latent([3], space), lat[3:4]) <= LATENT_TOL, space


def test_images_of_a_seed_are_the_same_alone_and_in_a_batch_in_every_space(G):
    for space in G.latent_spaces:
        with torch.no_grad():
            batch = G(latents(G, SEEDS, space), space=space)
            alone = G(latents(G, [3], space), space=space)
            chunked = G(latents(G, SEEDS, space), space=space, batch_size=3)
        c, r = G.img_channels, G.img_resolution
        assert batch.shape == (N, c, r, r) and batch.dtype == torch.float32 and torch.isfinite(batch).all(), space
        assert diff(alone, batch[3:4]) <= IMG_TOL, (space, diff(alone, batch[3:4]))
        assert diff(chunked, batch) <= IMG_TOL, (space, diff(chunked, batch))


def test_gradients_flow_from_images_to_the_latent_in_every_space(G):
    for space in G.latent_spaces:
        lat = latents(G, SEEDS, space).requires_grad_()
        img = G(lat, space=space)
        weight = torch.randn(img.shape, generator=torch.Generator().manual_seed(0))
        (img * weight).sum().backward()
        grad = lat.grad.flatten(1)
        assert torch.isfinite(grad).all(), space
        assert (grad.norm(dim=1) > 0).all(), (space, grad.norm(dim=1).tolist())  # every sample gets a gradient
        lat.grad = None
        (G(lat, space=space)[0] * weight[0]).sum().backward()  # image 0 depends on latent 0 alone
        assert lat.grad[0].abs().max() > 0 and lat.grad[1:].abs().max().item() == 0.0, space


def test_check_latent_refuses_bad_input_naming_the_expected_shape(G):
    for space in G.latent_spaces:
        shape = G.latent_shape(space)
        want = shape_text(shape)
        wide = (N, *shape[:-1], shape[-1] + 1)
        nan, inf = torch.zeros(N, *shape), torch.zeros(N, *shape)
        nan.view(-1)[1], inf.view(-1)[-1] = float("nan"), float("inf")
        bad = {
            "wrong shape": torch.zeros(wide),
            "no batch dimension": torch.zeros(shape),
            "extra dimension": torch.zeros(N, *shape, 1),
            "integer dtype": torch.zeros(N, *shape, dtype=torch.int64),
            "NaN": nan,
            "inf": inf,
        }
        if len(shape) > 1:
            bad["flattened (as sample_latent returns it)"] = torch.zeros(N, prod(shape))
        for what, latent in bad.items():
            with pytest.raises(BadInputError, match=re.escape(want)) as err:
                G.check_latent(latent, space)
            if what == "wrong shape":
                assert str(list(wide)) in str(err.value), str(err.value)  # it says what it got, too
            before = G.evaluations
            with pytest.raises(BadInputError, match=re.escape(want)):
                G(latent, space=space)
            assert G.evaluations == before, (space, what)  # a refused latent is no evaluation
    with pytest.raises(UnknownNameError):
        G(G.sample_z(1), space="no-such-space")


def test_evaluations_grow_by_exactly_the_latents_turned_into_images(G):
    assert isinstance(G.evaluations, int)
    for space in G.latent_spaces:
        lat = latents(G, SEEDS, space)
        before = G.evaluations
        with torch.no_grad():
            G(lat, space=space)
        assert G.evaluations - before == N, space
        G(lat[:3], space=space, batch_size=2)  # two chunks, with gradients: still one per latent
        assert G.evaluations - before == N + 3, space
        empty = G(lat[:0], space=space)
        assert empty.shape == (0, G.img_channels, G.img_resolution, G.img_resolution)
        assert G.evaluations - before == N + 3, space


def test_all_finite_is_the_elementwise_test_even_where_the_sum_overflows():
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    assert all_finite(x)
    assert all_finite(torch.full((4,), 3e38))  # finite values whose sum is infinite: the full test answers
    for bad in (float("nan"), float("inf"), -float("inf")):
        spoiled = x.clone()
        spoiled[5, 1, 7, 2] = bad
        assert not all_finite(spoiled)
    mixed = torch.tensor([float("inf"), -float("inf")])  # a NaN sum as well
    assert not all_finite(mixed)


def test_optional_protocols_where_the_family_claims_them(G, case):
    assert isinstance(G, SupportsEncode) is case.encode
    assert isinstance(G, SupportsCodeReadout) is case.readout
    with torch.no_grad():
        img = G(G.sample_z(N, seed=0))
        if case.encode:
            codes = G.encode(img)
            assert codes.shape == (N, G.z_dim) and codes.dtype == torch.float32 and codes.device == G.device
            assert torch.isfinite(codes).all()
            assert diff(G.encode(img[2:3]), codes[2:3]) <= LATENT_TOL  # one image, one code
            for bad in (float("nan"), float("inf"), -float("inf")):
                spoiled = img.clone()
                spoiled[1, 0, 3, 4] = bad
                with pytest.raises(BadInputError, match="NaN or infinite"):
                    G.encode(spoiled)
        if case.readout:
            names = G.spec.names()
            read = G.code_readout(img)
            assert read.shape == (N, len(names)) and read.dtype == torch.float32 and torch.isfinite(read).all()
            for i, k in enumerate(G.spec.categorical):  # categorical columns are class indices 0 .. k - 1
                col = read[:, i]
                assert torch.equal(col, col.round()) and col.min() >= 0 and col.max() <= k - 1, (names[i], col)
