import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from latentnav.train.bvae import BVAEConfig, batch_for_step, train


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    small = dict(beta=4.0, batch_size=8, seed=3, checkpoint_every=2)
    train(BVAEConfig(steps=2, **small), tmp_path / "a.safetensors", progress=False)
    train(BVAEConfig(steps=4, **small), tmp_path / "a.safetensors", progress=False)  # resumes at step 2
    train(BVAEConfig(steps=4, **small), tmp_path / "b.safetensors", progress=False)
    a, b = load_file(tmp_path / "a.safetensors"), load_file(tmp_path / "b.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with safe_open(str(tmp_path / "a.safetensors"), "pt") as f:
        meta = f.metadata()
    assert meta["steps_done"] == "4" and json.loads(meta["config"])["beta"] == 4.0


def test_resume_with_other_settings_is_refused(tmp_path):
    train(BVAEConfig(steps=1, batch_size=4), tmp_path / "m.safetensors", progress=False)
    with pytest.raises(ValueError, match=r"other settings \(beta=4.0 there, 1.0 now\)"):
        train(BVAEConfig(steps=2, batch_size=4, beta=1.0), tmp_path / "m.safetensors", progress=False)


def test_a_few_hundred_steps_learn_to_reconstruct(tmp_path):
    """Loss must fall: 100 steps take the reconstruction from ~3200 nats (fresh init) to under 600."""
    from latentnav.generators.betavae import load
    from latentnav.train.bvae import vae_terms

    cfg = BVAEConfig(steps=100, batch_size=16, checkpoint_every=1000)
    G = load(train(cfg, tmp_path / "m.safetensors", progress=False), device="cpu")
    with torch.no_grad():
        recon, kl = vae_terms(G.net, batch_for_step(cfg, 10_000), torch.Generator().manual_seed(0))
    assert recon.item() < 600


def test_correlated_training_data_has_the_requested_rho():
    from latentnav import measure

    cfg = BVAEConfig(batch_size=512, correlate="pos_x:pos_y:0.8")
    images = torch.cat([batch_for_step(cfg, s) for s in range(20)])
    cx, cy = measure.centroid(images)
    rho = torch.corrcoef(torch.stack([cx, cy]))[0, 1].item()
    assert rho == pytest.approx(0.8, abs=0.02)


@pytest.mark.parametrize("corr", ["pos_x:nose:0.5", "pos_x:pos_y:1.0"])
def test_bad_correlate_is_refused(corr):
    with pytest.raises(ValueError):
        BVAEConfig(correlate=corr)


def test_tc_penalty_lowers_the_total_correlation_of_the_batch(tmp_path):
    """beta-TCVAE objective: the TC term is part of the loss, with weight tc_weight (minus beta)."""
    from latentnav.train.bvae import loss_of, vae_pass

    torch.manual_seed(0)
    from latentnav.generators.betavae import BurgessVAE

    net = BurgessVAE()
    cfg_plain, cfg_tc = BVAEConfig(beta=1.0, batch_size=32), BVAEConfig(beta=1.0, tc_weight=6.0, batch_size=32)
    terms = vae_pass(net, batch_for_step(cfg_plain, 0), torch.Generator().manual_seed(1))
    plain, tc = loss_of(cfg_plain, terms, 0)
    with_tc, tc2 = loss_of(cfg_tc, terms, 0)
    assert with_tc.item() == pytest.approx(plain.item() + 5.0 * tc.item(), rel=1e-5)
    assert tc2.requires_grad and not tc.requires_grad


def test_tc_weight_with_capacity_is_refused():
    with pytest.raises(ValueError, match="capacity"):
        BVAEConfig(tc_weight=6.0, capacity=20.0)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    """A loss that turns NaN at step 5 stops the run there, naming the step; the step-4 checkpoint stays."""
    import latentnav.train.bvae as tb
    from latentnav.errors import TrainingDivergedError

    real = tb.vae_pass
    calls = {"n": 0}

    def poisoned(net, images, gen=None):
        out = real(net, images, gen)
        calls["n"] += 1
        if calls["n"] == 5:
            out["recon"] = out["recon"] * float("nan")
        return out

    monkeypatch.setattr(tb, "vae_pass", poisoned)
    out = tmp_path / "m.safetensors"
    with pytest.raises(TrainingDivergedError, match=r"at step 5 .*step 4\) is kept"):
        train(BVAEConfig(steps=8, batch_size=4, checkpoint_every=2), out, progress=False)
    state = torch.load(str(out) + ".ckpt.pt", weights_only=True)
    assert state["step"] == 4 and all(torch.isfinite(v).all() for v in state["model"].values())
    with safe_open(str(out), "pt") as f:
        assert f.metadata()["steps_done"] == "4"


def test_nan_loss_on_the_cli_is_one_line_and_non_zero(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import latentnav.train.bvae as tb
    from latentnav.cli import main

    real = tb.vae_pass

    def poisoned(net, images, gen=None):
        out = real(net, images, gen)
        out["kl"] = out["kl"] + float("inf")
        return out

    monkeypatch.setattr(tb, "vae_pass", poisoned)
    res = CliRunner().invoke(main, ["train", "bvae", "--steps", "3", "--batch-size", "4", "-o", str(tmp_path / "m.safetensors")])
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith("error: loss became non-finite at step 1")
    assert "no checkpoint had been written yet" in res.output
    assert not (tmp_path / "m.safetensors").exists()
