"""Quality figures of a trained beta-VAE on the dSprites testbed (the README's model table).

- reconstruction and KL in nats per image on fresh independent renders;
- the fraction of blank images (no foreground) among samples from the prior, and the Pearson correlation
  of the sprites' x and y centroids in those samples (does a training-set correlation live in the model?);
- for pos_x, pos_y and scale, the best single-latent |Spearman r| between the encoder mean and the
  true factor (how well one latent axis alone carries the factor).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from latentnav import measure
from latentnav.data import dsprites
from latentnav.generators.betavae import BetaVAEGenerator
from latentnav.train.bvae import vae_terms

EVAL_SEED = 2_000_000_011  # far from any training stream
REPORTED_FACTORS = ("pos_x", "pos_y", "scale")


def factor_axes(G: BetaVAEGenerator, n: int = 5000, seed: int = EVAL_SEED) -> dict[str, dict[str, float]]:
    """For each factor, the latent axis whose encoder mean best rank-correlates with it.

    Returns:
        ``{factor: {"axis": k, "r": signed Spearman r, "abs_r": |r|}}`` for :data:`REPORTED_FACTORS`.
    """
    images, factors = dsprites.sample(n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        mu = G.encode(images).cpu().numpy()
    out = {}
    for name in REPORTED_FACTORS:
        f = factors[:, dsprites.FACTORS.index(name)].numpy()
        r = np.array([spearmanr(mu[:, k], f)[0] if mu[:, k].std() > 0 else 0.0 for k in range(mu.shape[1])])
        r = np.nan_to_num(r)
        k = int(np.abs(r).argmax())
        out[name] = {"axis": k, "r": float(r[k]), "abs_r": float(abs(r[k]))}
    return out


def model_report(G: BetaVAEGenerator, n_eval: int = 5000, n_prior: int = 1000, seed: int = EVAL_SEED) -> dict:
    """Reconstruction, KL, blank fraction and factor correlations of ``G`` (see module docstring)."""
    images, _ = dsprites.sample(n_eval, torch.Generator().manual_seed(seed))
    noise = torch.Generator().manual_seed(seed + 1)
    recon = kl = 0.0
    with torch.no_grad():
        for i in range(0, n_eval, 500):
            chunk = images[i : i + 500].to(G.device)
            r, k = vae_terms(G.net, chunk, noise if G.device.type == "cpu" else None)
            recon, kl = recon + r.item() * len(chunk), kl + k.item() * len(chunk)
        prior = G(G.sample_z(n_prior, seed=seed % 1_000_000))
        blank = measure.is_blank(prior).float().mean().item()
        cx, cy = measure.centroid(prior)
        ok = torch.isfinite(cx) & torch.isfinite(cy)
        prior_xy = torch.corrcoef(torch.stack([cx[ok], cy[ok]]))[0, 1].item()
    axes = factor_axes(G, n_eval, seed)
    return {
        "recon_nats": recon / n_eval,
        "kl_nats": kl / n_eval,
        "blank_fraction": blank,
        "prior_xy_corr": prior_xy,
        **{f"abs_r_{name}": axes[name]["abs_r"] for name in REPORTED_FACTORS},
        "axes": {name: axes[name]["axis"] for name in REPORTED_FACTORS},
        "steps_done": int(G.metadata.get("steps_done", 0)),
    }
