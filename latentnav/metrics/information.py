"""Information estimators: total correlation of codes (Gaussian, sampled, minibatch-weighted) and the
information a decoder's output keeps about its code. Used by the trainers and the testbed reports; no I/O.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from latentnav.errors import BadInputError


# ============================================================================================ total correlation
def gaussian_total_correlation(codes) -> float:
    """Total correlation of a Gaussian fitted to ``codes`` [N, D], in nats: 0.5 (sum log diag S - log det S).

    0 for independent coordinates; for two unit Gaussians with correlation rho, -0.5 log(1 - rho^2).
    (disentanglement_lib ``gaussian_total_correlation`` of the mean codes.) Blind to rotations between
    equal-variance factors: see docs/evaluate.md.
    """
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2 or len(x) < x.shape[1] + 1:
        raise BadInputError(f"expected codes of shape [N, D] with N > D, got {list(x.shape)}")
    cov = np.cov(x, rowvar=False)
    keep = np.diag(cov) > 1e-12  # constant coordinates carry no dependence
    cov = cov[np.ix_(keep, keep)]
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("inf")
    return float(0.5 * (np.log(np.diag(cov)).sum() - logdet))


def sampled_total_correlation(mu, logvar, *, seed: int = 0, chunk: int = 512) -> float:
    """Total correlation of a VAE's aggregate posterior q(z) = mean_n q(z | x_n), by sampling, in nats.

    For one sample z_i ~ q(z | x_i) per data point: ``log q(z_i) - sum_j log q(z_ij)``, averaged, where
    ``q(z) = 1/N sum_n N(z; mu_n, diag exp(logvar_n))`` and its marginals are estimated over all N points
    (the dataset estimator behind beta-TCVAE's minibatch one, without the minibatch weighting). q is a
    mixture of N narrow Gaussians, so where posteriors are much narrower than the spacing of the data
    (a well-trained VAE's active latents) the joint density is overestimated and the figure reads high;
    compare models at the same N.

    Args:
        mu, logvar: [N, D] posterior means and log-variances of the encoder on N data points.
    """
    mu = torch.as_tensor(np.asarray(mu), dtype=torch.float64)
    logvar = torch.as_tensor(np.asarray(logvar), dtype=torch.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise BadInputError(f"expected mu and logvar of the same shape [N, D], got {list(mu.shape)} and {list(logvar.shape)}")
    n = len(mu)
    gen = torch.Generator().manual_seed(seed)
    z = mu + torch.randn(mu.shape, generator=gen, dtype=torch.float64) * (0.5 * logvar).exp()
    log_n = np.log(n)
    joint, marginal = [], []
    for i in range(0, n, chunk):
        zi = z[i : i + chunk, None, :]  # [c, 1, D] against every component [1, N, D]
        logq = -0.5 * (((zi - mu[None]) ** 2) / logvar.exp()[None] + logvar[None] + np.log(2 * np.pi))  # [c, N, D]
        joint.append(torch.logsumexp(logq.sum(-1), dim=1) - log_n)
        marginal.append((torch.logsumexp(logq, dim=1) - log_n).sum(-1))
    return float((torch.cat(joint) - torch.cat(marginal)).mean())


def log_density_matrix(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log q(z_i,d | x_j)`` for every pair (i, j) and coordinate d of diagonal Gaussian posteriors.

    Args:
        z: [M, D] samples, one per data point.
        mu, logvar: [M, D] posterior means and log-variances of the same M points.

    Returns:
        [M, M, D] log densities (row i: sample i, column j: posterior j).
    """
    if z.ndim != 2 or z.shape != mu.shape or mu.shape != logvar.shape:
        raise BadInputError(f"expected z, mu and logvar of one shape [M, D], got {list(z.shape)}, {list(mu.shape)}, {list(logvar.shape)}")
    diff = z[:, None, :] - mu[None]
    return -0.5 * (diff.pow(2) * torch.exp(-logvar)[None] + logvar[None] + math.log(2 * math.pi))


def minibatch_total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                                dataset_size: int | None = None) -> torch.Tensor:
    """Minibatch-weighted sampling (MWS) estimate of the total correlation of q(z) (Chen et al. 2018), nats.

    ``TC = E[log q(z) - sum_d log q(z_d)]`` with, for sample i of the minibatch,
    ``log q(z_i) ~ logsumexp_j log q(z_i | x_j) - log(N M)`` and the same per coordinate, where M is the
    batch size and N the data set size. The ``log(N M)`` terms add the constant ``(D - 1) log(N M)``,
    which has no gradient; with ``dataset_size=None`` the minibatch itself is taken as the data set
    (``log M`` instead of ``log(N M)``), which makes the figure a consistent TC estimate for the batch's
    aggregate posterior (the value latentnav logs; the planted-answer test checks it on Gaussian codes).
    Differentiable: this is the beta-TCVAE penalty.

    Args:
        z: [M, D] one posterior sample per data point.
        mu, logvar: [M, D] the posteriors they were drawn from.
        dataset_size: N of the MWS weighting, or ``None`` (the batch is the data set).

    Returns:
        A scalar tensor.
    """
    m = len(z)
    log_norm = math.log(m) + (math.log(dataset_size) if dataset_size is not None else 0.0)
    logq = log_density_matrix(z, mu, logvar)
    joint = torch.logsumexp(logq.sum(-1), dim=1) - log_norm
    marginals = (torch.logsumexp(logq, dim=1) - log_norm).sum(-1)
    return (joint - marginals).mean()


def code_information(codes, decoded_codes) -> np.ndarray:
    """Per-code lower bound on the information the generated image carries about each code, I(c_d; G(c)), nats.

    Barber-Agakov bound with a Gaussian decoder q(c_d | x) whose mean is the best affine function of a
    read-out of the image (the encoder mean, or InfoGAN's Q head) and whose variance is the residual
    variance: ``I(c_d; x) >= H(c_d) - H_gauss(residual) >= -0.5 log(1 - R^2_d)`` for Gaussian c_d
    (a Gaussian has the largest entropy for a given variance). 0 when the read-out tells nothing,
    large when it recovers the code exactly. This is InfoGAN's quantity (Paul et al.'s "control").

    Args:
        codes: [N, D] codes fed to the generator (drawn from a standard normal prior).
        decoded_codes: [N, K] a read-out of the generated images (e.g. the encoder mean), K >= 1.

    Returns:
        [D] lower bounds in nats.
    """
    c, r = np.asarray(codes, dtype=np.float64), np.asarray(decoded_codes, dtype=np.float64)
    if c.ndim != 2 or r.ndim != 2 or len(c) != len(r) or len(c) <= r.shape[1] + 1:
        raise BadInputError(f"expected codes [N, D] and read-outs [N, K] with N > K + 1, got {list(c.shape)} and {list(r.shape)}")
    design = np.column_stack([r, np.ones(len(r))])
    coef, *_ = np.linalg.lstsq(design, c, rcond=None)
    resid = (c - design @ coef).var(axis=0)
    r2 = np.clip(1 - resid / np.maximum(c.var(axis=0), 1e-300), 0.0, 1 - 1e-12)
    return -0.5 * np.log1p(-r2)
