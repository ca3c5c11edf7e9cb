"""The attribute meters added for the evaluation suite (hue, rotation, scale, the registry) on images with known transforms."""

import numpy as np
import pytest
import torch

from latentnav import measure
from latentnav.errors import AttributeNotMeasurableError, ScorerError, UnknownNameError
from latentnav.measure.transforms import get_transform


def _colourful(n=4, seed=0, channels=3):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, channels, 8, 8, generator=gen)
    return torch.nn.functional.interpolate(x, size=64, mode="bicubic", align_corners=False).tanh() * 0.6


@pytest.mark.parametrize("degrees", [-150.0, -40.0, 12.5, 90.0, 175.0])
def test_hue_meter_reads_the_hue_rotation(degrees):
    a = _colourful()
    b, _ = get_transform("hue")(a, degrees)
    change = measure.wrap_degrees(measure.hue(b) - measure.hue(a))
    assert change.tolist() == pytest.approx([degrees] * 4, abs=0.01)


def test_hue_of_pure_colours_and_of_grey():
    red, green, blue = (-torch.ones(1, 3, 4, 4) for _ in range(3))
    red[:, 0], green[:, 1], blue[:, 2] = 1, 1, 1
    assert measure.hue(torch.cat([red, green, blue])).tolist() == pytest.approx([0.0, 120.0, -120.0], abs=1e-4)
    assert torch.isnan(measure.hue(torch.zeros(2, 3, 4, 4))).all()  # grey has no hue
    with pytest.raises(AttributeNotMeasurableError, match="hue needs RGB images"):
        measure.hue(torch.zeros(2, 1, 4, 4))


@pytest.mark.parametrize("degrees", [-30.0, -7.5, 0.0, 4.0, 22.0])
def test_rotation_estimator_recovers_known_rotations(degrees):
    a = _colourful(channels=1)
    b, _ = get_transform("rotate")(a, degrees)
    assert measure.rotation_between(a, b).tolist() == pytest.approx([degrees] * 4, abs=0.3)


def test_scale_meter_reads_zoom_and_refuses_blank_images():
    sprite = -torch.ones(1, 1, 64, 64)
    sprite[..., 24:40, 24:40] = 1
    zoomed, _ = get_transform("zoom")(sprite, 0.3)
    assert (measure.scale(zoomed) - measure.scale(sprite)).item() == pytest.approx(0.3, abs=0.02)
    blank = -torch.ones(2, 1, 64, 64)
    blank[1, 0, 0, 0] = -0.9  # a trace of foreground, far below one pixel
    assert torch.isnan(measure.scale(blank)).all() and torch.isfinite(measure.log_scale(blank[1:])).all()


def test_meter_registry_names_units_and_applicability(bvae):
    assert measure.get_meter("shift-x").name == "pos_x" and measure.get_meter("zoom").name == "scale"
    assert measure.get_meter("pos_y").transform == "shift-y" and measure.get_meter("hue").circular
    assert set(measure.METERS) >= {"pos_x", "pos_y", "area", "log_scale", "scale", "brightness", "hue"}
    assert measure.get_meter("brightness", bvae).unit == "units of the [-1, 1] range"
    with pytest.raises(UnknownNameError, match="unknown attribute 'smile'; known: area, brightness, hue, log_scale, pos_x, pos_y, scale"):
        measure.get_meter("smile")
    with pytest.raises(AttributeNotMeasurableError, match="'hue' cannot be measured on bvae-dsprites"):
        measure.get_meter("hue", bvae)
    assert measure.get_meter("hue").change(np.array([170.0]), np.array([-170.0])).tolist() == [-20.0]


def test_checked_scores_accepts_columns_and_refuses_the_rest():
    assert measure.checked_scores(torch.ones(3, 1), 3).shape == (3,)
    assert measure.checked_scores(np.arange(3), 3).dtype == torch.float32
    assert measure.checked_scores([0.5, float("nan")], 2, allow_nan=True)[1].isnan()
    for bad, message in [(torch.ones(3, 2), r"shape \[3, 2\]; expected \[3\]"), (torch.ones(4), r"shape \[4\]"),
                         ([float("inf")] * 3, "NaN or infinite scores for 3 of 3"), (["a", "b", "c"], "dtype"),
                         (torch.ones(3, dtype=torch.bool), "dtype")]:  # fmt: skip
        with pytest.raises(ScorerError, match=message):
            measure.checked_scores(bad, 3, "clf")
