"""The style-based InfoGAN: code specs, the MI lower bound's planted values, resume, Generator contract."""

import math

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from latentnav.cli import main
from latentnav.generators.infogan import CodeSpec, codes_to_z, sample_codes
from latentnav.train.infogan import InfoGANConfig, info_nll, train


def test_code_spec_parses_and_counts():
    spec = CodeSpec.parse("cat:3,cont:4")
    assert (spec.categorical, spec.continuous, spec.dim, str(spec)) == ((3,), 4, 7, "cat:3,cont:4")
    assert CodeSpec.parse("cat:10, cat:2, cont:1").names() == ["cat0", "cat1", "cont0"]


@pytest.mark.parametrize("spec, message", [
    ("cat:0", "error: bad code spec 'cat:0': a categorical code needs at least 2 values"),
    ("cont:-1", "error: bad code spec 'cont:-1': the number of continuous codes must be at least 1"),
    ("cat:3,hue:2", "error: bad code spec 'hue:2': unknown kind 'hue'; expected cat:K or cont:N"),
    ("cat", "error: bad code spec 'cat' in 'cat': expected cat:K (K >= 2 values) or cont:N (N >= 1 codes)"),
])  # fmt: skip
def test_bad_code_spec_is_one_line_exit_2_and_writes_nothing(tmp_path, spec, message):
    res = CliRunner().invoke(main, ["train", "infogan", "--codes", spec, "-o", str(tmp_path / "g.safetensors")])
    assert res.exit_code == 2 and res.output.strip() == message
    assert not any(tmp_path.iterdir())


def test_mi_bound_is_the_code_entropy_for_a_perfect_q_and_zero_for_a_blind_one():
    """Toy model where the true MI is known: the image shows the code exactly, so I(c; x) = H(c).

    For a perfect Q the bound is log K per categorical code (log 3 + log 5 here) plus 0.5 per continuous
    one; a Q that guesses uniformly and answers 0 gets 0 (up to sampling noise of the continuous codes).
    """
    spec = CodeSpec.parse("cat:3,cat:5,cont:2")
    cat, cont = sample_codes(spec, 20000, torch.Generator().manual_seed(0))
    perfect = [torch.nn.functional.one_hot(cat[:, i], k).float() * 1e4 for i, k in enumerate(spec.categorical)]
    _, bound = info_nll(spec, perfect, cont, cat, cont)
    assert bound.item() == pytest.approx(math.log(3) + math.log(5) + 1.0, abs=1e-4)
    blind = [torch.zeros(20000, k) for k in spec.categorical]
    _, bound = info_nll(spec, blind, torch.zeros_like(cont), cat, cont)
    assert bound.item() == pytest.approx(0.0, abs=0.03)


def test_sampled_latents_hold_one_hot_codes_and_gaussian_continuous_ones():
    spec = CodeSpec.parse("cat:3,cont:2")
    cat, cont = sample_codes(spec, 9000, torch.Generator().manual_seed(1))
    z = codes_to_z(spec, torch.zeros(9000, 4), cat, cont)
    hot = z[:, 4:7]
    assert torch.equal(hot.sum(1), torch.ones(9000)) and torch.equal(hot.argmax(1), cat[:, 0])
    assert torch.bincount(cat[:, 0]).min() > 2800 and abs(z[:, 7:].std().item() - 1) < 0.03


def test_training_resumes_and_loads_with_codes_as_directions(tmp_path):
    import latentnav as ln

    small = dict(batch_size=4, checkpoint_every=1, codes="cat:2,cont:2", noise_dim=3)
    train(InfoGANConfig(steps=1, **small), tmp_path / "a.safetensors", progress=False)
    train(InfoGANConfig(steps=2, **small), tmp_path / "a.safetensors", progress=False)
    train(InfoGANConfig(steps=2, **small), tmp_path / "b.safetensors", progress=False)
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    G = ln.load_generator(tmp_path / "a.safetensors", device="cpu")
    assert (G.z_dim, G.img_resolution, G.img_channels) == (7, 32, 1)
    z = G.sample_z(3, seed=0)
    assert torch.equal(G.sample_z(seeds=[2])[0], z[2])  # one seed per sample
    x = G(z)
    assert x.shape == (3, 1, 32, 32) and x.abs().max() <= 1
    d = G.code_direction("cont1")
    assert d.u[G.code_slice("cont1")].item() == 1.0 and d.u.sum() == 1.0 and G.code_slice("cat0") == slice(3, 5)
    cats, cont = G.read_codes(x)
    assert cats[0].shape == (3,) and cont.shape == (3, 2)


def test_nan_loss_stops_the_gan_naming_the_step(tmp_path, monkeypatch):
    import latentnav.train.infogan as ti
    from latentnav.errors import TrainingDivergedError

    real = ti.info_nll
    monkeypatch.setattr(ti, "info_nll", lambda *a: tuple(v * float("nan") for v in real(*a)))
    with pytest.raises(TrainingDivergedError, match=r"at step 1 \(loss_d=nan\).*no checkpoint"):
        train(InfoGANConfig(steps=3, batch_size=4), tmp_path / "g.safetensors", progress=False)
    assert not (tmp_path / "g.safetensors").exists()


def test_a_models_own_codes_are_directions_and_unknown_codes_exit_2(tmp_path):
    """`evaluate --code` takes z<k> or an InfoGAN code name; unknown ones exit 2 before anything is written."""
    import latentnav as ln
    from latentnav.directions import code_direction

    small = dict(batch_size=4, checkpoint_every=1, codes="cat:2,cont:2", noise_dim=3)
    model = train(InfoGANConfig(steps=1, **small), tmp_path / "g.safetensors", progress=False)
    G = ln.load_generator(model, device="cpu")
    assert code_direction(G, "cont1").u.argmax().item() == 6 and code_direction(G, "z2").u.argmax().item() == 2
    assert not code_direction(G, "z2").calibrated
    args = ["evaluate", "--model", str(model), "--target", "pos_x", "--device", "cpu"]
    res = CliRunner().invoke(main, [*args, "--code", "cont7", "-o", str(tmp_path / "ev2")])
    assert res.exit_code == 2 and "unknown code 'cont7'" in res.output and not (tmp_path / "ev2").exists()
    res = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "ev3")])
    assert res.exit_code == 2 and "--direction FILE or --code NAME" in res.output


def test_colour_run_trains_resumes_and_loads_with_three_channels(tmp_path):
    """--data colour: both networks take RGB, the file says so, and a resumed run equals an unbroken one."""
    import json

    import latentnav as ln

    small = dict(batch_size=4, checkpoint_every=1, codes="cat:6,cont:2", noise_dim=3, data="colour")
    train(InfoGANConfig(steps=2, **small), tmp_path / "a.safetensors", progress=False)
    train(InfoGANConfig(steps=3, **small), tmp_path / "a.safetensors", progress=False)  # resumes at step 2
    train(InfoGANConfig(steps=3, **small), tmp_path / "b.safetensors", progress=False)
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert a["G.to_img.weight"].shape[0] == 3 and a["D.trunk.0.weight"].shape[1] == 3
    G = ln.load_generator(tmp_path / "a.safetensors", device="cpu")
    assert (G.z_dim, G.img_resolution, G.img_channels) == (11, 32, 3)
    assert json.loads(G.metadata["config"])["data"] == "colour" and G.metadata["steps_done"] == "3"
    assert G.metadata["trained_on"].startswith("latentnav colour dSprites")
    x = G(G.sample_z(2, seed=0))
    assert x.shape == (2, 3, 32, 32)
    cats, cont = G.read_codes(x)
    assert cats[0].shape == (2,) and cont.shape == (2, 2)


def test_real_batches_follow_the_data_option():
    from latentnav.train.infogan import step_batch

    real = step_batch(InfoGANConfig(data="colour", batch_size=8), 0)[0]
    assert real.shape == (8, 3, 32, 32) and (real.amax(1) > 0).any()  # coloured sprites on black
    assert (real[:, 0] != real[:, 1]).any()  # not grey
    assert step_batch(InfoGANConfig(batch_size=8), 0)[0].shape == (8, 1, 32, 32)


def test_unknown_data_is_one_line_exit_2_listing_the_known_ones(tmp_path):
    res = CliRunner().invoke(main, ["train", "infogan", "--data", "nonsense", "-o", str(tmp_path / "g.safetensors")])
    assert res.exit_code == 2
    assert res.output.strip() == "error: unknown data set 'nonsense'; known: colour, dsprites (the InfoGAN's training data)"
    assert not any(tmp_path.iterdir())
