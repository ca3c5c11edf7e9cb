import pytest
import torch

from latentnav import measure
from latentnav.measure.transforms import get_transform


def _faces_like(n=4, seed=0):
    """Smooth random RGB textures (a stand-in for natural images)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 16, 16, generator=gen)
    return torch.nn.functional.interpolate(x, size=64, mode="bicubic", align_corners=False).tanh()


@pytest.mark.parametrize("tx,ty", [(0.1, 0.0), (-0.07, 0.05), (0.031, -0.12)])
def test_phase_correlation_recovers_known_shifts(tx, ty):
    a = _faces_like()
    b, _ = get_transform("shift-x")(a, tx)
    b, _ = get_transform("shift-y")(b, ty)
    dx, dy = measure.phase_shift(a, b)
    assert dx.tolist() == pytest.approx([tx] * 4, abs=0.5 / 64)
    assert dy.tolist() == pytest.approx([ty] * 4, abs=0.5 / 64)


@pytest.mark.parametrize("s", [-0.3, 0.0, 0.2, 0.45])
def test_scale_search_recovers_known_zooms(s):
    a = _faces_like()
    b, _ = get_transform("zoom")(a, s)
    assert measure.zoom_between(a, b).tolist() == pytest.approx([s] * 4, abs=0.02)


def test_brightness_meter_reads_the_added_offset():
    a = _faces_like()
    b, _ = get_transform("brightness")(a, 0.25)
    assert (measure.brightness(b) - measure.brightness(a)).tolist() == pytest.approx([0.25] * 4, abs=1e-6)


def test_centroid_and_area_of_a_known_square():
    img = -torch.ones(1, 1, 64, 64)
    img[..., 10:20, 30:40] = 1
    cx, cy = measure.centroid(img)
    assert (cx.item() * 64, cy.item() * 64) == pytest.approx((35.0, 15.0))
    assert measure.area(img).item() == pytest.approx(100 / 4096)
    assert measure.is_blank(-torch.ones(2, 1, 64, 64)).all()
    assert torch.isnan(measure.centroid(-torch.ones(1, 1, 8, 8))[0]).all()


def test_centroid_of_a_nearly_blank_image_is_nan_not_noise():
    # a decoder's "blank" output: faint mass in a corner, far below one pixel of foreground
    img = -torch.ones(2, 1, 64, 64)
    img[0, 0, 60:64, 60:64] = -0.9999  # 16 pixels at 5e-5 foreground each: total 8e-4 of a pixel
    img[1, 0, 30:33, 40:43] = 1.0  # a real 3x3 sprite
    cx, cy = measure.centroid(img)
    assert torch.isnan(cx[0]) and torch.isnan(cy[0])
    assert cx[1].item() * 64 == pytest.approx(41.5) and cy[1].item() * 64 == pytest.approx(31.5)
