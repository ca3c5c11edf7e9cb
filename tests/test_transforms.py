import math

import pytest
import torch

from latentnav import measure
from latentnav.errors import UnknownNameError
from latentnav.measure.transforms import TRANSFORMS, get_transform, register_transform
from latentnav.testbed import dsprites


def sprite(shape=1.0, scale=0.8, orient=0.0, x=0.5, y=0.5, antialias=1):
    return dsprites.render(torch.tensor([[shape, scale, orient, x, y]]), antialias=antialias)


def masked(images, mask):
    """Invalid pixels set to background, so meters read only what the transform kept."""
    return images * mask - (1 - mask)


@pytest.mark.parametrize("name,t,axis", [("shift-x", 0.1, 0), ("shift-x", -0.15, 0), ("shift-y", 0.12, 1), ("shift-y", -0.05, 1)])
def test_shifts_move_the_centroid_by_t(name, t, axis):
    img = sprite(x=0.4, y=0.6)
    out, mask = get_transform(name)(img, t)
    before, after = measure.centroid(img), measure.centroid(masked(out, mask))
    assert (after[axis] - before[axis]).item() == pytest.approx(t, abs=1 / 64)
    assert (after[1 - axis] - before[1 - axis]).abs().item() < 0.5 / 64


def test_shift_mask_marks_the_pixels_from_outside():
    _, mask = get_transform("shift-x")(sprite(), 0.25)
    assert mask.shape == (1, 1, 64, 64)
    assert (mask[..., :, :16] == 0).all() and (mask[..., :, 16:] == 1).all()


def test_zoom_scales_the_area_and_keeps_a_centred_sprite_in_place():
    img = sprite(scale=0.6, antialias=4)
    out, mask = get_transform("zoom")(img, math.log(1.5))
    assert (measure.area(masked(out, mask)) / measure.area(img)).item() == pytest.approx(2.25, rel=0.05)
    assert measure.centroid(out)[0].item() == pytest.approx(0.5, abs=0.5 / 64)


def test_rotation_matches_the_renderers_counter_clockwise_orientation():
    heart = sprite(shape=2.0, scale=1.0)
    out, _ = get_transform("rotate")(heart, 30.0)
    ccw = sprite(shape=2.0, scale=1.0, orient=math.pi / 6)
    cw = sprite(shape=2.0, scale=1.0, orient=-math.pi / 6)
    agree = lambda a, b: ((a > 0) == (b > 0)).float().mean().item()  # noqa: E731
    assert agree(out, ccw) > 0.99 and agree(out, ccw) > agree(out, cw)
    dot = -torch.ones(1, 1, 64, 64)
    dot[..., 30:34, 50:54] = 1  # right of the centre
    up, _ = get_transform("rotate")(dot, 90.0)
    assert measure.centroid(up)[1].item() < 0.25  # counter-clockwise on screen: right -> top


def test_brightness_adds_t_and_per_image_t_equals_separate_calls():
    img = torch.rand(3, 3, 8, 8) * 2 - 1
    out, mask = get_transform("brightness")(img, 0.3)
    assert torch.allclose(out, img + 0.3) and (mask == 1).all()
    t = torch.tensor([0.05, -0.1, 0.2])
    for name in ("shift-x", "zoom", "rotate", "hue"):
        tf = get_transform(name)
        batch, _ = tf(img, t * (100 if name in ("rotate", "hue") else 1))
        one, _ = tf(img[1:2], float(t[1]) * (100 if name in ("rotate", "hue") else 1))
        assert torch.allclose(batch[1:2], one, atol=1e-6), name


def test_hue_rotates_colours_about_the_grey_axis():
    red = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    green, _ = get_transform("hue")(red, 120.0)
    assert torch.allclose(green[0, :, 0, 0], torch.tensor([-1.0, 1.0, -1.0]), atol=1e-5)
    same, _ = get_transform("hue")(red, 360.0)
    assert torch.allclose(same, red, atol=1e-5)
    grey = torch.full((1, 3, 4, 4), 0.3)
    assert torch.allclose(get_transform("hue")(grey, 77.0)[0], grey, atol=1e-6)
    brighter, _ = get_transform("contrast")(torch.tensor([-0.5, 0.5, 0.0]).view(1, 3, 1, 1), math.log(2))
    assert torch.allclose(brighter.flatten(), torch.tensor([-1.0, 1.0, 0.0]), atol=1e-6)


def test_rgb_only_transforms_refuse_grey_images():
    with pytest.raises(ValueError, match="hue needs RGB images"):
        get_transform("hue")(sprite(), 10.0)
    with pytest.raises(ValueError, match="contrast needs RGB images"):
        get_transform("contrast")(sprite(), 0.1)


def test_out_of_range_t_and_unknown_names_are_refused():
    with pytest.raises(ValueError, match=r"shift-x: t=1.2 is outside \[-0.999, 0.999\] \(fraction of width\)"):
        get_transform("shift-x")(sprite(), 1.2)
    with pytest.raises(ValueError, match="rotate: t=200 is outside"):
        get_transform("rotate")(sprite(), torch.tensor([10.0, -200.0]).view(2)[1:])
    with pytest.raises(UnknownNameError, match="unknown transform 'blur'; known: brightness, contrast, hue, rotate, shift-x"):
        get_transform("blur")
    with pytest.raises(ValueError, match=r"expected float images of shape \[N, C, H, W\]"):
        get_transform("zoom")(torch.zeros(64, 64), 0.1)


def test_gradients_flow_through_every_transform():
    img = (torch.rand(2, 3, 16, 16) * 2 - 1).requires_grad_(True)
    for name, tf in TRANSFORMS.items():
        out, mask = tf(img, tf.default_max_t / 2)
        (out * mask).sum().backward()
        assert img.grad.abs().sum() > 0, name
        img.grad = None


def test_user_transforms_work_by_callable_and_by_registration():
    def invert(images, t):
        return images * (1 - 2 * t), torch.ones_like(images[:, :1])

    tf = get_transform(invert)
    assert tf.name == "invert" and torch.allclose(tf(torch.ones(1, 1, 2, 2), 1.0)[0], -torch.ones(1, 1, 2, 2))
    try:
        register_transform("invert", invert, default_max_t=0.5, max_t=1.0, unit="fraction")
        assert get_transform("invert").default_max_t == 0.5
        with pytest.raises(ValueError, match="outside"):
            get_transform("invert")(torch.ones(1, 1, 2, 2), 2.0)
    finally:
        TRANSFORMS.pop("invert", None)
