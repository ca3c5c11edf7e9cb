import math

import pytest
import torch

from latentnav import measure
from latentnav.testbed import dsprites


def _grid_factors(n=600, seed=0):
    return dsprites.sample_factors(n, torch.Generator().manual_seed(seed))


def test_images_are_binary_in_signed_range():
    images = dsprites.render(_grid_factors(64))
    assert images.shape == (64, 1, 64, 64)
    assert set(images.unique().tolist()) == {-1.0, 1.0}


def test_centroid_within_one_pixel_of_rendered_position():
    factors = _grid_factors(900)
    images = dsprites.render(factors)
    cx, cy = measure.centroid(images)
    ex, ey = dsprites.pos_to_frac(factors[:, 3]), dsprites.pos_to_frac(factors[:, 4])
    err_px = torch.maximum((cx - ex).abs(), (cy - ey).abs()) * 64
    for shape in range(3):
        rows = factors[:, 0] == shape
        assert err_px[rows].max() < 1.0, (dsprites.SHAPES[shape], err_px[rows].max())


def test_area_grows_with_scale_as_its_square():
    base = torch.tensor([[1.0, 0.5, 0.3, 0.5, 0.5], [1.0, 1.0, 0.3, 0.5, 0.5]])
    a = measure.area(dsprites.render(base, antialias=4))
    assert a[1] / a[0] == pytest.approx(4.0, rel=0.05)


def test_every_sprite_stays_inside_the_frame():
    extreme = torch.tensor([[s, 1.0, o, x, y] for s in range(3) for o in (0.0, 0.7, 2.3) for x in (0, 1) for y in (0, 1)])
    images = dsprites.render(extreme)
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    assert (border == -1).all()
    assert not measure.is_blank(images).any()


def test_orientation_turns_the_ellipse():
    f = torch.tensor([[1.0, 1.0, 0.0, 0.5, 0.5], [1.0, 1.0, math.pi / 2, 0.5, 0.5]])
    img = (dsprites.render(f)[:, 0] > 0).float()
    width = img.amax(dim=1).sum(dim=1)  # columns touched
    height = img.amax(dim=2).sum(dim=1)
    assert width[0] > 1.6 * height[0] and height[1] > 1.6 * width[1]


@pytest.mark.parametrize("pair,rho", [("pos_x:pos_y", 0.8), ("scale:pos_x", 0.9), ("pos_x:pos_y", -0.5)])
def test_correlated_sampler_reaches_the_requested_rho(pair, rho):
    corr = dsprites.Correlation.parse(f"{pair}:{rho}")
    f = dsprites.sample_factors(50_000, torch.Generator().manual_seed(1), correlate=corr)
    a, b = (dsprites.FACTORS.index(n) for n in pair.split(":"))
    achieved = torch.corrcoef(f[:, [a, b]].T)[0, 1].item()
    assert achieved == pytest.approx(rho, abs=0.01)
    # marginals stay uniform on their ranges
    lo, hi = dsprites.FACTOR_RANGES[pair.split(":")[0]]
    assert f[:, a].mean().item() == pytest.approx((lo + hi) / 2, abs=0.01 * (hi - lo))


def test_independent_sampler_is_uncorrelated_and_discrete_grid_matches_dsprites():
    f = dsprites.sample_factors(20_000, torch.Generator().manual_seed(2), discrete=True)
    assert abs(torch.corrcoef(f[:, 3:5].T)[0, 1].item()) < 0.03
    assert set(f[:, 1].tolist()) <= set(dsprites.DSPRITES_VALUES["scale"].astype("float32").tolist())
    assert len(set(f[:, 3].tolist())) == 32


@pytest.mark.parametrize("text,match", [
    ("pos_x:nose:0.5", "unknown or categorical factor 'nose'"),
    ("pos_x:pos_y:1.0", r"\|rho\| < 1"),
    ("pos_x:pos_y:-1.2", r"\|rho\| < 1"),
    ("pos_x:pos_y", "FACTOR:FACTOR:RHO"),
    ("pos_x:pos_x:0.5", "itself"),
])  # fmt: skip
def test_bad_correlations_are_refused(text, match):
    with pytest.raises(ValueError, match=match):
        dsprites.Correlation.parse(text)


def test_render_checks_its_input():
    with pytest.raises(ValueError, match=r"expected factors of shape \[N, 5\]"):
        dsprites.render(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="scale must lie in"):
        dsprites.render(torch.tensor([[0.0, 2.0, 0.0, 0.5, 0.5]]))
