import json

import numpy as np
import pytest
import torch

import latentnav as ln
from latentnav.directions import DirectionMismatchError, _interp, identity_direction, load_direction, traverse
from latentnav.methods.trajectory.calibration import _adam, _refine, fit_calibration, fit_direction, fit_u


def planted(n=600, d=8, seed=0, noise=0.02):
    """Rows from a factor t = 0.3 tanh(<z, u*>): an S-shaped g that a straight line cannot follow."""
    gen = torch.Generator().manual_seed(seed)
    u_true = torch.randn(d, generator=gen)
    u_true /= u_true.norm()
    z0 = torch.randn(n, d, generator=gen)
    a0 = z0 @ u_true
    g0 = 0.3 * torch.tanh(a0)
    t = (torch.rand(n, generator=gen) - 0.5) * 0.3
    target = (g0 + t).clamp(-0.29, 0.29)
    t = target - g0
    at = torch.atanh(target / 0.3)
    zt = z0 + (at - a0)[:, None] * u_true + noise * torch.randn(n, d, generator=gen)
    return z0, zt, t, u_true


def test_fit_recovers_the_planted_direction_and_its_s_shaped_calibration():
    z0, zt, t, u_true = planted()
    d = fit_direction(z0, zt, t, model="toy", transform="shift-x")
    assert torch.dot(d.u, u_true).item() > 0.99
    alphas = torch.linspace(-1.5, 1.5, 31)
    assert torch.allclose(d.t_of(alphas), 0.3 * torch.tanh(alphas), atol=0.015)
    assert d.t_of(0.0).abs().item() < 1e-6  # pinned to g(0) = 0
    assert torch.allclose(d.t_of(d.alpha_for(torch.tensor([-0.2, 0.0, 0.25]))), torch.tensor([-0.2, 0.0, 0.25]), atol=1e-5)
    assert d.meta["fit_r2"] > 0.97


def test_the_written_out_refinement_takes_autograds_steps():
    """``_interp``'s slopes (inside the knots and beyond them) and ``_refine``'s gradient against autograd's."""
    knots = torch.tensor([-1.0, -0.2, 0.3, 1.1], dtype=torch.float64)
    values = torch.tensor([-0.5, -0.1, 0.05, 0.2], dtype=torch.float64)
    x = torch.linspace(-2.0, 2.0, 57, dtype=torch.float64).requires_grad_(True)  # both ends and every segment
    (auto,) = torch.autograd.grad(_interp(x, knots, values).sum(), x)
    assert torch.equal(_interp(x, knots, values, slope=True)[1], auto)

    z0, zt, t, _ = planted()
    u = fit_u(z0, zt, t)
    knots, values, _ = fit_calibration(z0 @ u, zt @ u, t)
    w = u.clone().requires_grad_(True)  # the autograd version of the loop _refine runs
    step = _adam(w, lr=1e-3)
    for _ in range(50):
        ends = _interp(torch.cat([zt, z0]) @ (w / w.norm()), knots, values)
        (grad,) = torch.autograd.grad(((ends[: len(zt)] - ends[len(zt) :] - t) ** 2).mean(), w)
        step(grad)
    refined = _refine(z0, zt, t, u, knots, values, 50, 101, 1.0)[0]
    assert (w.detach() / w.detach().norm() - refined).abs().max() < 1e-5
    assert (refined - u).abs().max() > 1e-4  # the steps moved u: the comparison is not of two copies of the start


def test_a_straight_calibration_would_miss_the_ends():
    """Relative moves through the bending g land on target; a linear g (2 knots) does not."""
    z0, zt, t, u_true = planted()
    bent = fit_direction(z0, zt, t)
    straight = fit_direction(z0, zt, t, n_knots=2, refine_iters=0)
    z = torch.randn(200, 8, generator=torch.Generator().manual_seed(5))
    truth = lambda zz: 0.3 * torch.tanh(zz @ u_true)  # noqa: E731
    start = truth(z)
    ok = start.abs() < 0.12
    err_bent = (truth(bent.move(z[ok], 0.15)) - start[ok] - 0.15).abs().mean()
    err_straight = (truth(straight.move(z[ok], 0.15)) - start[ok] - 0.15).abs().mean()
    assert err_bent < 0.01 and err_straight > 2 * err_bent


def test_monotone_calibration_from_noisy_pairs():
    gen = torch.Generator().manual_seed(1)
    a0 = torch.randn(400, generator=gen)
    t = torch.rand(400, generator=gen) - 0.5
    at = a0 + 2 * t  # g(a) = a / 2
    knots, values, r2 = fit_calibration(a0, at, t)
    assert (values[1:] > values[:-1]).all()
    assert r2 > 0.999
    assert np.interp(1.0, knots.numpy(), values.numpy()) == pytest.approx(0.5, abs=0.01)


def test_absolute_and_relative_moves():
    z0, zt, t, _ = planted()
    d = fit_direction(z0, zt, t)
    z = torch.randn(10, 8, generator=torch.Generator().manual_seed(2))
    rel = d.move(z, 0.1, "relative")
    assert torch.allclose(d.t_of(d.project(rel)) - d.t_of(d.project(z)), torch.full((10,), 0.1), atol=1e-4)
    ab = d.move(z, -0.2, "absolute")
    assert torch.allclose(d.t_of(d.project(ab)), torch.full((10,), -0.2), atol=1e-4)
    orth = lambda x: x - d.project(x)[:, None] * d.u  # noqa: E731
    assert torch.allclose(orth(ab), orth(z), atol=1e-5)  # only the component along u changes
    with pytest.raises(ValueError, match="unknown mode"):
        d.move(z, 0.1, "sideways")


def test_file_roundtrip_describes_itself(tmp_path):
    z0, zt, t, _ = planted(d=10)
    d = fit_direction(z0, zt, t, model="bvae-dsprites", transform="shift-x", space="z", meta={"unit": "fraction of width", "seed": 3})
    path = d.save(tmp_path / "dir.safetensors")
    back = load_direction(path)
    assert torch.equal(back.u, d.u) and torch.equal(back.values, d.values)
    assert (back.model, back.space, back.transform, back.method, back.calibrated) == ("bvae-dsprites", "z", "shift-x", "trajectory", True)
    side = json.loads((tmp_path / "dir.json").read_text())
    assert side["model"] == "bvae-dsprites" and side["meta"]["seed"] == 3 and side["latentnav_version"] == ln.__version__
    assert len(side["u"]) == 10


def test_direction_for_another_model_or_dimension_is_refused(tmp_path, bvae):
    z0, zt, t, _ = planted(d=12)
    wrong_dim = fit_direction(z0, zt, t, model="bvae-dsprites")
    with pytest.raises(DirectionMismatchError, match="dimension 12 but bvae-dsprites's z has 10"):
        traverse(bvae, wrong_dim, bvae.sample_z(2), t=[0.1])
    z0, zt, t, _ = planted(d=10)
    other = fit_direction(z0, zt, t, model="bvae-dsprites-b1")
    with pytest.raises(DirectionMismatchError, match="made for model 'bvae-dsprites-b1', not 'bvae-dsprites'"):
        traverse(bvae, other, bvae.sample_z(2), t=[0.1])


def test_npy_vectors_need_a_space_and_take_raw_steps(tmp_path, bvae):
    v = np.zeros(10, dtype=np.float32)
    v[3] = 2.0
    np.save(tmp_path / "b.npy", v)
    with pytest.raises(ValueError, match="say which latent space"):
        load_direction(tmp_path / "b.npy")
    d = load_direction(tmp_path / "b.npy", space="z")
    assert not d.calibrated and d.u[3] == 1.0
    z = bvae.sample_z(2)
    out = traverse(bvae, d, z, alpha=[0.0, 1.5])
    assert out.shape == (2, 2, 1, 64, 64)
    moved = z.clone()
    moved[:, 3] += 1.5
    assert torch.allclose(out[1], bvae(moved), atol=1e-6)
    with pytest.raises(ValueError, match="no calibration"):
        traverse(bvae, d, z, t=[0.1])


def test_identity_direction_refuses_zero():
    with pytest.raises(ValueError, match="non-zero"):
        identity_direction(torch.zeros(4), "z")
