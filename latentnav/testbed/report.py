"""Quality figures of a trained beta-VAE on the dSprites testbed (the model table of docs/models.md).

- reconstruction and KL in nats per image on fresh independent renders;
- the fraction of blank images (no foreground) among samples from the prior, and the Pearson correlation
  of the sprites' x and y centroids in those samples (does a training-set correlation live in the model?);
- for pos_x, pos_y and scale, the best single-latent |Spearman r| between the encoder mean and the
  true factor (how well one latent axis alone carries the factor);
- information figures (:func:`information_report`): total correlation of the codes, the code
  information (a lower bound on sum_d I(z_d; G(z)), Paul et al.'s control) and, per factor, the mutual
  information of its best code with it, as a fraction of the factor's entropy;
- for the two-code VAE, :func:`swap_report`: which image each factor follows when z2 (or z1) is swapped.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import spearmanr

from latentnav import measure
from latentnav.generators.base import SupportsCodeReadout, SupportsEncode
from latentnav.generators.betavae import BetaVAEGenerator
from latentnav.metrics.information import code_information, gaussian_total_correlation, sampled_total_correlation
from latentnav.testbed import dsprites
from latentnav.train.bvae import vae_terms

EVAL_SEED = 2_000_000_011  # far from any training stream
REPORTED_FACTORS = ("pos_x", "pos_y", "scale")


def renders_for(G, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Fresh testbed renders at ``G``'s resolution: colour dSprites for RGB models, dSprites otherwise.

    Returns:
        ``(images, factors)``; the first five factor columns are :data:`dsprites.FACTORS` either way.
    """
    gen = torch.Generator().manual_seed(seed)
    res = G.img_resolution
    return dsprites.sample_coloured(n, gen, res) if G.img_channels == 3 else dsprites.sample(n, gen, resolution=res)


def codes_of(G, images: torch.Tensor, chunk: int = 500) -> np.ndarray:
    """What a model reads as its codes from images: a VAE's posterior means, an InfoGAN's Q (one-hot
    classes, then continuous means), as [N, z_dim] (an InfoGAN's noise coordinates read as 0)."""
    with torch.no_grad():
        if isinstance(G, SupportsCodeReadout):
            out = np.zeros((len(images), G.z_dim), dtype=np.float32)
            for i in range(0, len(images), chunk):
                cats, cont = G.read_codes(images[i : i + chunk])
                sl = G.code_slice("cont0") if G.spec.continuous else None
                start = G.noise_dim
                for c, k in zip(cats, G.spec.categorical):
                    out[i : i + chunk, start : start + k] = np.eye(k, dtype=np.float32)[c.cpu().numpy()]
                    start += k
                if sl is not None:
                    out[i : i + chunk, sl.start : sl.start + G.spec.continuous] = cont.cpu().numpy()
            return out
        return torch.cat([G.encode(images[i : i + chunk]) for i in range(0, len(images), chunk)]).cpu().numpy()


def factor_axes(G: BetaVAEGenerator, n: int = 5000, seed: int = EVAL_SEED) -> dict[str, dict[str, float]]:
    """For each factor, the latent axis whose encoder mean best rank-correlates with it.

    Returns:
        ``{factor: {"axis": k, "r": signed Spearman r, "abs_r": |r|}}`` for :data:`REPORTED_FACTORS`.
    """
    images, factors = renders_for(G, n, seed)
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
    images, _ = renders_for(G, n_eval, seed)
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


def _posterior(G, images: torch.Tensor, chunk: int = 500) -> tuple[np.ndarray, np.ndarray]:
    with torch.no_grad():
        parts = [G.net.encode((images[i : i + chunk].to(G.device) + 1) / 2) for i in range(0, len(images), chunk)]
    return torch.cat([p[0] for p in parts]).cpu().numpy(), torch.cat([p[1] for p in parts]).cpu().numpy()


def factor_classes(factors: torch.Tensor, names: tuple[str, ...], bins: int = 20) -> np.ndarray:
    """Factor values as classes: categorical factors as they are, continuous ones in ``bins`` equal bins."""
    f = factors.numpy()
    return np.column_stack([f[:, k].round().astype(np.int64) if name in dsprites.CATEGORICAL else
                            np.clip((f[:, k] - dsprites.FACTOR_RANGES[name][0]) / np.ptp(dsprites.FACTOR_RANGES[name])
                                    * bins, 0, bins - 1).astype(np.int64)
                            for k, name in enumerate(names)])  # fmt: skip


def information_report(G: BetaVAEGenerator, n: int = 5000, seed: int = EVAL_SEED) -> dict:
    """Information figures of a VAE on fresh testbed renders (nats).

    Returns:
        ``code_info`` (per-latent lower bound on I(z_d; G(z)) for prior latents, read back by the encoder
        or Q; 0 for an InfoGAN's noise) and its sum ``code_info_total``; ``factor_mi``: per factor, the
        best code, its MI with the factor and that MI over the factor's entropy (codes read from renders,
        codes and factors in 20 bins, as MIG); for VAEs ``tc_gaussian`` and ``tc_sampled`` (total
        correlation of the posterior, see :mod:`latentnav.metrics`).
    """
    from sklearn.metrics import mutual_info_score

    from latentnav.metrics.disentanglement import histogram_discretize, mutual_info_matrix

    images, factors = renders_for(G, n, seed)
    names = dsprites.COLOUR_FACTORS if factors.shape[1] == 6 else dsprites.FACTORS
    z = G.sample_z(n, seed=seed % 1_000_000)
    with torch.no_grad():
        read = np.concatenate([codes_of(G, G(z[i : i + 500].to(G.device))) for i in range(0, n, 500)])
    codes = codes_of(G, images)
    keep = codes.std(0) > 0  # an InfoGAN's noise is not read back
    gaussian = keep.copy()
    if isinstance(G, SupportsCodeReadout):  # the Gaussian bound holds for Gaussian codes only, not for one-hot coordinates
        gaussian[G.noise_dim : G.noise_dim + sum(G.spec.categorical)] = False
    info = np.zeros(G.z_dim)
    info[gaussian] = code_information(z.numpy()[:, gaussian], read[:, keep])[: int(gaussian.sum())] if gaussian.any() else 0.0
    classes = factor_classes(factors, names)
    mi = mutual_info_matrix(histogram_discretize(codes), classes)  # [D, K]
    mi[~keep] = 0.0
    factor_mi = {}
    for k, name in enumerate(names):
        h = mutual_info_score(classes[:, k], classes[:, k])
        best = int(mi[:, k].argmax())
        factor_mi[name] = {"code": best, "mi_nats": float(mi[best, k]), "normalized": float(mi[best, k] / h)}
    out = {"code_info": info.tolist(), "code_info_total": float(info.sum()), "factor_mi": factor_mi,
           "mi_matrix": {name: mi[:, k].tolist() for k, name in enumerate(names)},
           "factor_entropy": {name: float(mutual_info_score(classes[:, k], classes[:, k])) for k, name in enumerate(names)}}
    if isinstance(G, SupportsEncode):  # a VAE: total correlation of its posterior
        mu, logvar = _posterior(G, images)
        out.update(tc_gaussian=gaussian_total_correlation(mu), tc_sampled=sampled_total_correlation(mu, logvar))
    return out


def swap_report(G, n: int = 500, seed: int = EVAL_SEED) -> dict:
    """Controllable synthesis of a two-code VAE: swap one code between two images and see what follows.

    For ``n`` pairs of colour-dSprites renders (a, b), decode ``[z1(a), z2(b)]`` (z2 swapped) and
    ``[z1(b), z2(a)]`` (z1 swapped) from the encoder means, then read each factor with the meters:
    colour (nearest palette hue of :func:`latentnav.measure.hue`), x and y (centroid) and size (half log
    area), the last three on the brightest channel (a red sprite's mean intensity is lower than a
    yellow one's, which would otherwise read as a smaller area). A factor "follows" the image it reads closest to: colour should follow z2's image and the
    rest z1's when the specified factor is colour.

    Returns:
        ``{"z2": {...}, "z1": {...}}`` keyed by the swapped code; each maps a factor to the fraction of
        pairs where it follows the z2 donor (``follows_z2``) and, for continuous factors, the mean
        absolute error to the z1 and z2 sources (``err_z1``, ``err_z2``).
    """
    images, _ = dsprites.sample_coloured(2 * n, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        z = G.encode(images)
        a, b = z[:n], z[n:]
        out = {}
        for code, (z1_src, z2_src) in {"z2": (a, b), "z1": (b, a)}.items():
            made = G(G.swap(z1_src, z2_src, "z2"))
            src1 = images[:n] if code == "z2" else images[n:]
            src2 = images[n:] if code == "z2" else images[:n]
            out[code] = {name: _follows(meter, made, src1, src2) for name, meter in SWAP_METERS.items()}
    return out


def palette_index(images: torch.Tensor) -> torch.Tensor:
    """Nearest colour-dSprites palette entry by hue ([N] indices; -1 for grey or blank images)."""
    h = measure.hue(images)
    palette = torch.arange(len(dsprites.COLOURS)) * 60.0  # red 0, yellow 60, ... magenta 300
    d = measure.wrap_degrees(h[:, None] - palette[None]).abs()
    return torch.where(torch.isfinite(h), d.argmin(1), torch.full_like(h, -1, dtype=torch.long))


def _shape_only(meter):
    """``meter`` read on the brightest channel, so a sprite's colour does not change its position or area."""
    return lambda images: meter(images.amax(1, keepdim=True))


SWAP_METERS = {"colour": palette_index, "pos_x": _shape_only(measure.centroid_x), "pos_y": _shape_only(measure.centroid_y),
               "scale": _shape_only(measure.scale)}  # fmt: skip


def _follows(meter, made: torch.Tensor, src1: torch.Tensor, src2: torch.Tensor) -> dict[str, float]:
    m, r1, r2 = meter(made), meter(src1), meter(src2)
    if meter is palette_index:
        differ = r1 != r2
        return {"follows_z2": float((m[differ] == r2[differ]).float().mean()),
                "follows_z1": float((m[differ] == r1[differ]).float().mean())}  # fmt: skip
    e1, e2 = (m - r1).abs(), (m - r2).abs()
    ok = torch.isfinite(e1) & torch.isfinite(e2)
    return {"follows_z2": float((e2[ok] < e1[ok]).float().mean()), "err_z1": float(e1[ok].mean()),
            "err_z2": float(e2[ok].mean())}  # fmt: skip


def _pixels(images: torch.Tensor, side: int = 16) -> np.ndarray:
    """Images in [-1, 1] as [N, side*side] vectors in [0, 1] (channels averaged, area-downsampled)."""
    x = ((images.float().cpu() + 1) / 2).mean(1, keepdim=True)
    return torch.nn.functional.adaptive_avg_pool2d(x, side).flatten(1).numpy()


def knn_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` against ``real`` feature vectors.

    Precision: the fraction of fakes inside the k-NN ball of at least one real sample (are the samples
    realistic?); recall: the fraction of reals inside the k-NN ball of at least one fake (is the data
    covered?). Balls' radii are each point's distance to its k-th nearest neighbour in its own set.
    """
    from sklearn.neighbors import NearestNeighbors

    def covered(ref: np.ndarray, query: np.ndarray) -> float:
        radius = NearestNeighbors(n_neighbors=k + 1).fit(ref).kneighbors(ref)[0][:, -1]  # itself is the 0th
        dist, idx = NearestNeighbors(n_neighbors=min(50, len(ref))).fit(ref).kneighbors(query)
        return float((dist <= radius[idx]).any(1).mean())

    return covered(real, fake), covered(fake, real)


def sample_realism(G, n: int = 2000, seed: int = EVAL_SEED, k: int = 3) -> dict[str, float]:
    """Realism of ``G``'s prior samples on the dSprites testbed, needing no download.

    Compares ``n`` samples with ``n`` fresh renders at ``G``'s resolution (colour dSprites for RGB
    models) in a 16x16 grey pixel space: k-NN precision and recall (:func:`knn_precision_recall`), and
    the same figures for a second set of ``n`` renders against the first (what a perfect generator scores
    at this ``n``); and ``grey_pixels``, the fraction of lit pixels (brightest channel > 0.1) that are
    neither dark nor full (0.1-0.9): renders are binary (0), blurry samples score high. FID is not used: it needs Inception-v3 weights (a download) trained on ImageNet photos,
    whose features say little about binary sprites; the renderer gives us the true distribution instead.
    """
    real, _ = renders_for(G, n, seed)
    again, _ = renders_for(G, n, seed + 7)
    if G.img_resolution != real.shape[-1]:
        real = torch.nn.functional.interpolate(real, size=G.img_resolution, mode="area")
        again = torch.nn.functional.interpolate(again, size=G.img_resolution, mode="area")
    with torch.no_grad():
        fake = torch.cat([G(G.sample_z(min(500, n - i), seed=seed % 1_000_000 + i).to(G.device)).cpu() for i in range(0, n, 500)])
    p, r = knn_precision_recall(_pixels(real), _pixels(fake), k)
    p0, r0 = knn_precision_recall(_pixels(real), _pixels(again), k)
    lit = ((fake + 1) / 2).amax(1)  # brightest channel, [0, 1]
    lit = lit[lit > 0.1]
    return {"precision": p, "recall": r, "precision_renders": p0, "recall_renders": r0,
            "blank_fraction": float(measure.is_blank(fake).float().mean()),
            "grey_pixels": float(((lit > 0.1) & (lit < 0.9)).float().mean()) if lit.numel() else 0.0}  # fmt: skip
