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
    with pytest.raises(ValueError, match=r"other settings \(beta\)"):
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
