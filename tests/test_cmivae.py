"""The two-code VAE: colour testbed, objective terms, swap, bad input, NaN stop, resume."""

import json
import math

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from latentnav.cli import main
from latentnav.testbed import dsprites
from latentnav.train.cmivae import CMIVAEConfig, label_nll, mi_bounds, train


def test_colour_dsprites_paints_the_sprite_in_its_palette_hue():
    from latentnav import measure
    from latentnav.testbed.report import palette_index

    images, factors = dsprites.sample_coloured(60, torch.Generator().manual_seed(1))
    assert images.shape == (60, 3, 64, 64) and factors.shape == (60, 6)
    assert torch.equal(palette_index(images), factors[:, 5].long())
    assert torch.allclose(measure.hue(images), measure.wrap_degrees(factors[:, 5] * 60.0), atol=1e-3)
    background = images.amax(1) == -1
    assert background.float().mean() > 0.8  # black background, sprite only in its colour


def test_unknown_specified_factor_is_one_line_exit_2(tmp_path):
    res = CliRunner().invoke(main, ["train", "cmivae", "--specified", "hue", "-o", str(tmp_path / "m.safetensors")])
    assert res.exit_code == 2
    assert res.output.strip() == ("error: unknown factor 'hue'; known: colour, orientation, pos_x, pos_y, scale, shape "
                                  "(factors of colour dSprites)")
    assert not any(tmp_path.iterdir())  # nothing written


def test_mi_bound_is_its_planted_value_for_a_perfect_and_a_blind_encoder():
    """B = sum_d 0.5 (1 - E (z_d - m_d)^2): 0.5 nats per code when the encoder reads z back exactly,
    0 when it always answers 0 (the code's variance, 1, is the regression error)."""
    from latentnav.generators.cmivae import CMIVAE

    model = CMIVAE(z1_dim=2, z2_dim=1)

    class Exact(torch.nn.Module):
        def __init__(self, zero):
            super().__init__()
            self.zero, self.z = zero, None

        def decode(self, z):
            self.z = z
            return torch.zeros(len(z), 3, 64, 64)

        def encode(self, x):
            return (torch.zeros_like(self.z) if self.zero else self.z), torch.zeros_like(self.z)

    model.vae = Exact(False)
    b1, b2 = mi_bounds(model, 20000, torch.Generator().manual_seed(0))
    assert b1.item() == pytest.approx(1.0, abs=1e-6) and b2.item() == pytest.approx(0.5, abs=1e-6)
    model.vae = Exact(True)
    b1, b2 = mi_bounds(model, 20000, torch.Generator().manual_seed(0))
    assert b1.item() == pytest.approx(0.0, abs=0.03) and b2.item() == pytest.approx(0.0, abs=0.02)


def test_label_likelihood_categorical_and_continuous():
    from latentnav.generators.cmivae import CMIVAE

    cat = CMIVAE(z1_dim=2, z2_dim=2, label_classes=6)
    nll, acc = label_nll(cat, torch.zeros(10, 2), torch.arange(10) % 6, "colour")
    assert nll.item() == pytest.approx(-math.log(1 / 6), abs=1.0) and 0 <= acc.item() <= 1
    cont = CMIVAE(z1_dim=2, z2_dim=1, label_classes=0)
    with torch.no_grad():
        cont.head.weight.fill_(1.0)
        cont.head.bias.fill_(0.0)
    y = torch.linspace(0.5, 1.0, 11)  # scale; the head reads z2 = (y - 0.5) / 0.5 exactly
    nll, r2 = label_nll(cont, ((y - 0.5) / 0.5)[:, None], y, "scale")
    assert r2.item() == pytest.approx(1.0) and nll.item() == pytest.approx(math.log(0.1 * math.sqrt(2 * math.pi)))


def test_training_resumes_and_loads_as_a_generator_with_swap(tmp_path):
    import latentnav as ln

    small = dict(batch_size=4, checkpoint_every=1, z1_dim=3, z2_dim=2)
    train(CMIVAEConfig(steps=1, **small), tmp_path / "a.safetensors", progress=False)
    train(CMIVAEConfig(steps=2, **small), tmp_path / "a.safetensors", progress=False)
    train(CMIVAEConfig(steps=2, **small), tmp_path / "b.safetensors", progress=False)
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    G = ln.load_generator(tmp_path / "a.safetensors", device="cpu")
    assert (G.z_dim, G.z1_dim, G.z2_dim, G.img_channels, G.specified) == (5, 3, 2, 3, "colour")
    za, zb = G.sample_z(3, seed=0), G.sample_z(3, seed=10)
    s = G.swap(za, zb, "z2")
    assert torch.equal(s[:, :3], za[:, :3]) and torch.equal(s[:, 3:], zb[:, 3:])
    assert G(s).shape == (3, 3, 64, 64)


def test_nan_loss_stops_naming_the_step_and_keeps_the_checkpoint(tmp_path, monkeypatch):
    import latentnav.train.cmivae as tc
    from latentnav.errors import TrainingDivergedError

    real, calls = tc.step_terms, {"n": 0}

    def poisoned(model, config, step):
        out = real(model, config, step)
        calls["n"] += 1
        if calls["n"] == 3:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(tc, "step_terms", poisoned)
    out = tmp_path / "m.safetensors"
    with pytest.raises(TrainingDivergedError, match=r"at step 3 .*step 2\) is kept"):
        train(CMIVAEConfig(steps=5, batch_size=4, checkpoint_every=2), out, progress=False)
    assert torch.load(str(out) + ".ckpt.pt", weights_only=True)["step"] == 2
    from safetensors import safe_open

    with safe_open(str(out), "pt") as f:
        assert json.loads(f.metadata()["steps_done"]) == 2


def test_swap_measurement_on_planted_images():
    """An image that copies b's colour and a's position follows z2 (b) in colour and z1 (a) in x, y and size."""
    from latentnav.testbed.report import SWAP_METERS, _follows

    gen = torch.Generator().manual_seed(5)
    fa, fb = dsprites.sample_factors(200, gen), dsprites.sample_factors(200, gen)
    ca, cb = torch.randint(6, (200,), generator=gen), torch.randint(6, (200,), generator=gen)
    a, b = dsprites.colourize(dsprites.render(fa), ca), dsprites.colourize(dsprites.render(fb), cb)
    made = dsprites.colourize(dsprites.render(fa), cb)
    assert _follows(SWAP_METERS["colour"], made, a, b)["follows_z2"] == 1.0
    for name in ("pos_x", "pos_y", "scale"):
        r = _follows(SWAP_METERS[name], made, a, b)
        assert r["follows_z2"] < 0.02 and r["err_z1"] < 1e-6 < r["err_z2"]
