"""Planted answers for the information-theoretic estimators and the beta-TCVAE objective."""

import math

import numpy as np
import pytest
import torch

from latentnav.metrics.information import code_information, minibatch_total_correlation


def _gaussian_codes(rho: float, n: int, s: float, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    mu = torch.stack([g[:, 0], rho * g[:, 0] + math.sqrt(1 - rho * rho) * g[:, 1]], dim=1)
    logvar = torch.full_like(mu, math.log(s * s))
    z = mu + s * torch.randn(mu.shape, generator=gen, dtype=torch.float64)
    return z, mu, logvar


@pytest.mark.parametrize("rho", [0.0, 0.6, 0.9])
def test_minibatch_tc_of_correlated_gaussian_codes(rho):
    """Aggregate posterior = N(0, C) * N(0, s^2 I): a Gaussian with correlation rho / (1 + s^2).

    Its TC is -0.5 log(1 - rho'^2): 0, 0.136 and 0.465 nats for rho 0, 0.6 and 0.9 at s = 0.5.
    """
    s = 0.5
    z, mu, logvar = _gaussian_codes(rho, 3000, s)
    r = rho / (1 + s * s)
    truth = -0.5 * math.log(1 - r * r)
    est = minibatch_total_correlation(z, mu, logvar).item()
    assert est == pytest.approx(truth, abs=0.04)


def test_mws_weighting_only_adds_a_constant():
    """With a data set size N the MWS estimate is the batch estimate plus (D - 1) log N: same gradient."""
    z, mu, logvar = _gaussian_codes(0.5, 200, 0.3)
    z = z.repeat(1, 2)[:, :3]
    mu, logvar = mu.repeat(1, 2)[:, :3], logvar.repeat(1, 2)[:, :3]
    a = minibatch_total_correlation(z, mu, logvar).item()
    b = minibatch_total_correlation(z, mu, logvar, dataset_size=737_280).item()
    assert b - a == pytest.approx(2 * math.log(737_280), abs=1e-9)


def test_tc_estimate_is_differentiable_and_falls_when_codes_decorrelate():
    z, mu, logvar = _gaussian_codes(0.9, 256, 0.3)
    mu = mu.clone().requires_grad_(True)
    tc = minibatch_total_correlation(mu + (z - mu.detach()), mu, logvar)
    tc.backward()
    assert tc.item() > 0.3 and torch.isfinite(mu.grad).all() and mu.grad.abs().sum() > 0


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_code_information_on_a_gaussian_channel(noise):
    """x = c + noise * n: I(c; x) = 0.5 log(1 + 1 / noise^2) (1.7 nats at noise 0.3 ... here noise 1: 0.347)."""
    rng = np.random.default_rng(0)
    c = rng.normal(size=(20000, 3))
    readout = c[:, :1] + 1.0 * rng.normal(size=(20000, 1)) if noise else rng.normal(size=(20000, 1))
    info = code_information(c, readout)
    assert info[0] == pytest.approx(0.5 * math.log(2.0) if noise else 0.0, abs=0.01)
    assert info[1:].max() < 0.01  # codes 1 and 2 never reach the image


def test_code_information_refuses_too_few_samples():
    with pytest.raises(ValueError, match="N > K"):
        code_information(np.zeros((3, 2)), np.zeros((3, 4)))
