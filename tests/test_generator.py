import pytest
import torch

import latentnav as ln
from latentnav.testbed import dsprites


def test_default_model_gives_images_in_range_and_is_repeatable(bvae):
    x = bvae(bvae.sample_z(4, seed=0))
    assert x.shape == (4, 1, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    again = ln.load_generator("bvae-dsprites", device="cpu")
    assert torch.equal(again(again.sample_z(4, seed=0)), x)


def test_one_seed_per_sample(bvae):
    z16 = bvae.sample_z(16, seed=0)
    assert z16.shape == (16, 10) and z16.dtype == torch.float32
    assert torch.equal(bvae.sample_z(4, seed=0), z16[:4])
    assert torch.equal(bvae.sample_z(seeds=[5, 12]), z16[[5, 12]])
    assert torch.equal(bvae.sample_z(3, seed=7), z16[7:10])
    assert not torch.equal(z16[0], z16[1])


def test_chunking_does_not_change_images(bvae):
    z = bvae.sample_z(50, seed=3)
    assert torch.allclose(bvae(z, batch_size=7), bvae(z, batch_size=1000), atol=1e-5)


def test_gradients_flow_through_G(bvae):
    z = bvae.sample_z(2).requires_grad_(True)
    bvae(z).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


@pytest.mark.parametrize("bad,match", [
    (torch.zeros(4, 12), r"expected z of shape \[N, 10\], got \[4, 12\]"),
    (torch.zeros(10), r"expected z of shape \[N, 10\], got \[10\]"),
    (torch.full((2, 10), float("nan")), r"z of shape \[N, 10\] contains NaN"),
    (torch.zeros(2, 10, dtype=torch.long), "floating-point"),
    ([[0.0] * 10], "torch.Tensor"),
])  # fmt: skip
def test_bad_latents_are_refused_naming_the_expected_shape(bvae, bad, match):
    with pytest.raises(ValueError, match=match):
        bvae(bad)


def test_unknown_space_lists_known_ones(bvae):
    with pytest.raises(ValueError, match="unknown latent space 'w'; known: z"):
        bvae(bvae.sample_z(1), space="w")


def test_encoder_recovers_position_on_one_axis(bvae):
    """The shipped default carries pos_x on a single latent: decode(encode(x)) keeps the sprite's position."""
    assert isinstance(bvae, ln.SupportsEncode)
    images, factors = dsprites.sample(256, torch.Generator().manual_seed(11))
    with torch.no_grad():
        mu = bvae.encode(images)
        recon = bvae(mu)
    assert mu.shape == (256, 10)
    from latentnav import measure

    cx, _ = measure.centroid(recon)
    err = (cx - dsprites.pos_to_frac(factors[:, 3])).abs()
    assert err.median() * 64 < 1.5  # within 1.5 px for the typical sprite
    with pytest.raises(ValueError, match=r"expected images of shape \[N, 1, 64, 64\]"):
        bvae.encode(torch.zeros(2, 3, 64, 64))


def test_default_model_meets_position_targets(bvae):
    from latentnav.testbed.report import factor_axes

    axes = factor_axes(bvae, n=2000)
    assert axes["pos_x"]["abs_r"] >= 0.95 and axes["pos_y"]["abs_r"] >= 0.95
    assert axes["pos_x"]["axis"] != axes["pos_y"]["axis"]


def test_the_correlated_model_carries_its_training_correlation():
    """bvae-dsprites-corr / -corr06 were trained with pos_x ~ pos_y (rho 0.8 / 0.6); their prior samples show it
    (0.79 / 0.61 on 5,000 in the README), b4's do not."""
    from latentnav import measure

    def xy_corr(name):
        G = ln.load_generator(name, device="cpu")
        with torch.no_grad():
            cx, cy = measure.centroid(G(G.sample_z(600, seed=7)))
        ok = torch.isfinite(cx) & torch.isfinite(cy)
        return torch.corrcoef(torch.stack([cx[ok], cy[ok]]))[0, 1].item()

    corr, corr06 = xy_corr("bvae-dsprites-corr"), xy_corr("bvae-dsprites-corr06")
    assert 0.7 < corr < 0.88 and 0.5 < corr06 < 0.7
    assert abs(xy_corr("bvae-dsprites-b4")) < 0.15
