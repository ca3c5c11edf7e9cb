import dataclasses

import numpy as np
import pytest
import torch
from toys import BlobGenerator

from latentnav import measure
from latentnav.errors import UnknownNameError
from latentnav.methods.trajectory.calibration import achieved_t
from latentnav.methods.trajectory.config import TrajectoryConfig
from latentnav.methods.trajectory.discover import discover
from latentnav.methods.trajectory.optimizer import GeneratorNaNError, run_trajectories

FAST = TrajectoryConfig(n_trajectories=16, n_steps=4, max_t=0.15)


def test_discovery_recovers_the_planted_direction_and_calibration():
    G = BlobGenerator()
    d = discover(G, "shift-x", FAST, progress=False)
    assert abs(torch.dot(d.u, G.u_x).item()) > 0.95
    assert abs(torch.dot(d.u, G.u_y).item()) < 0.15
    # moving by t through g shifts the blob by t of the width (measured from pixels)
    z = G.sample_z(20, seed=500) * 0.3
    with torch.no_grad():
        base = measure.centroid_x(G(z))
        moved = measure.centroid_x(G(d.move(z, 0.1)))
        back = measure.centroid_x(G(d.move(z, -0.1)))
    assert (moved - base).mean().item() == pytest.approx(0.1, abs=0.015)
    assert (back - base).mean().item() == pytest.approx(-0.1, abs=0.015)


def test_matched_calibration_reads_what_moving_along_u_does():
    G = BlobGenerator()
    d = discover(G, "shift-x", dataclasses.replace(FAST, calibration="matched"), progress=False)
    assert d.meta["calibration"] == "matched" and d.meta["calibration_pairs"] == 16 * 12
    assert d.meta["calibration_r2"] > 0.95
    # the blob's x centre is 0.5 + 0.25 tanh(<z, u_x>): g must bend like 0.25 tanh around a start at 0
    alpha = torch.tensor([-0.8, -0.4, 0.4, 0.8])
    sign = torch.sign(torch.dot(d.u, G.u_x)).item()
    want = 0.25 * torch.tanh(sign * alpha * abs(torch.dot(d.u, G.u_x)))
    got = d.t_of(alpha) - d.t_of(torch.zeros(1))
    assert torch.allclose(got, want, atol=0.015)
    z = G.sample_z(20, seed=500) * 0.3
    with torch.no_grad():
        moved = measure.centroid_x(G(d.move(z, 0.1))) - measure.centroid_x(G(z))
    assert moved.mean().item() == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ValueError, match="unknown calibration 'x'; known: trajectories, achieved, matched"):
        TrajectoryConfig(calibration="x")


def test_achieved_t_reads_what_each_fit_reached_where_the_generator_saturates():
    # the blob's x centre is 0.5 + 0.25 tanh(<z, u_x>): it never passes 0.75 of the width, so a blob that
    # starts right of centre cannot follow a shift of +0.3; the requested t then overstates what the fit did
    G = BlobGenerator()
    config = dataclasses.replace(FAST, n_trajectories=12, max_t=0.3, calibration="achieved")
    traj = run_trajectories(G, "shift-x", config, progress=False)
    t, evals = achieved_t(G, "shift-x", traj, config)
    k = traj.kept
    assert evals == 12 + int(k.sum())
    with torch.no_grad():
        dx = (measure.centroid_x(G(traj.zt[k])) - measure.centroid_x(G(traj.z0[k]))).double()
    req = traj.t[k].double()
    short = (req - dx).abs() > 0.04  # fits that fell short of the target
    assert short.sum() >= 5
    assert (t.double() - dx).abs().max().item() < 0.02  # read back within 2% of the width of the truth
    assert (t.double() - dx)[short].abs().mean() < 0.25 * (req - dx)[short].abs().mean()
    d = discover(G, "shift-x", config, progress=False)
    assert d.meta["calibration"] == "achieved" and d.meta["achieved_over_requested"] < 0.97


def test_trajectories_are_batched_both_signs_and_record_everything():
    G = BlobGenerator()
    traj = run_trajectories(G, "shift-y", dataclasses.replace(FAST, n_trajectories=5, n_steps=3), progress=False)
    assert traj.z0.shape == (30, 6) and traj.zt.shape == (30, 6)
    assert np.allclose(sorted(set(traj.t.tolist())), [-0.15, -0.1, -0.05, 0.05, 0.1, 0.15])
    assert traj.kept.sum().item() == 30 - 6 * int(0.1 * 5)  # worst decile per target; 0 of 5 here
    assert (traj.zt.norm(dim=1) <= np.sqrt(6) + 1e-5).all()  # the prior constraint holds
    # the fits moved the blob along y by the requested amounts
    with torch.no_grad():
        dy = measure.centroid_y(G(traj.zt)) - measure.centroid_y(G(traj.z0))
    assert torch.corrcoef(torch.stack([dy, traj.t]))[0, 1] > 0.98


def test_convergence_stopping_costs_fewer_evaluations_than_a_fixed_count():
    G = BlobGenerator()
    stop = run_trajectories(G, "shift-x", FAST, progress=False)
    fixed = run_trajectories(G, "shift-x", dataclasses.replace(FAST, tol=0.0), progress=False)
    assert stop.generator_evals < 0.7 * fixed.generator_evals
    assert stop.loss.mean() < 2 * fixed.loss.mean() + 1e-4


def test_paper_schedule_matches_the_reference_settings():
    cfg = TrajectoryConfig(schedule="paper").resolved()
    assert (cfg.n_trajectories, cfg.n_steps, cfg.lr, cfg.max_iters, cfg.batch_size, cfg.reset_optimizer) == (50, 5, 0.01, 50, 10, True)


def test_bad_inputs():
    G = BlobGenerator()
    with pytest.raises(UnknownNameError, match="unknown transform 'warp'; known: .*shift-x"):
        discover(G, "warp", FAST, progress=False)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        TrajectoryConfig(sigma=0)
    with pytest.raises(ValueError, match="outside"):
        run_trajectories(G, "shift-x", dataclasses.replace(FAST, max_t=1.5), progress=False)


def test_a_generator_returning_nan_stops_with_the_step_named():
    class NaNAfterStart(BlobGenerator):
        def _synthesize(self, latent, space):
            out = super()._synthesize(latent, space)
            return out if torch.is_grad_enabled() is False else out * float("nan")

    with pytest.raises(GeneratorNaNError, match=r"step 1/4 \(t = \+-0.0375\), iteration 0"):
        run_trajectories(NaNAfterStart(), "shift-x", FAST, progress=False)


class GridSpaceBlob(BlobGenerator):
    """The blob behind a second space "w+" of shape [2, 3] (a stand-in for StyleGAN2's W+): no prior ball."""

    latent_spaces = ("z", "w+")

    def latent_shape(self, space="z"):
        return (2, 3) if space == "w+" else super().latent_shape(space)

    def sample_latent(self, seeds, space="z"):
        z = self.sample_z(seeds=seeds)
        return 3 * z if space == "w+" else z  # outside the z prior ball on purpose

    def _synthesize(self, latent, space):
        return super()._synthesize(latent.reshape(len(latent), -1), space)


def test_multi_dimensional_spaces_are_flattened_and_not_projected():
    G = GridSpaceBlob()
    assert G.prior_radius("z") == pytest.approx(np.sqrt(6)) and G.prior_radius("w+") is None
    d, traj = discover(G, "shift-x", dataclasses.replace(FAST, n_trajectories=8), space="w+", progress=False,
                       return_trajectories=True)  # fmt: skip
    assert traj.z0.shape == (2 * 8 * 4, 6)
    assert traj.z0.norm(dim=1).max() > 2 * np.sqrt(6)  # no projection in a space without a prior
    assert abs(torch.dot(d.u, G.u_x).item()) > 0.9 and d.space == "w+"


def test_the_calibrations_nnls_is_scipys_minimiser():
    """The hand-written NNLS (kept out of scipy.optimize for start-up time) against SciPy's, on random problems
    with active constraints and on the calibration's own penalised design."""
    from scipy.optimize import nnls

    from latentnav.methods.trajectory.calibration import _basis, _nnls

    rng = np.random.default_rng(0)
    active = 0
    for _ in range(60):
        m, n = int(rng.integers(30, 300)), int(rng.integers(1, 30))
        a, b = rng.normal(size=(m, n)), rng.normal(size=m)
        want, _ = nnls(a, b)
        got = _nnls(a, b)
        assert (got >= 0).all()
        np.testing.assert_allclose(got, want, atol=1e-8)
        active += int((want == 0).sum())
    assert active > 300  # the constraints bind: not an unconstrained least-squares test
    a0, at = torch.randn(500, dtype=torch.float64), torch.randn(500, dtype=torch.float64)
    t = torch.tanh(at) - torch.tanh(a0) + 0.05 * torch.randn(500, dtype=torch.float64)
    knots = torch.linspace(-2.5, 2.5, 41, dtype=torch.float64)
    design = (_basis(at, knots) - _basis(a0, knots)).numpy()
    penalty = np.sqrt(500 / 40) * (np.eye(40, 40, 1) - np.eye(40))[:-1]
    a, b = np.vstack([design, penalty]), np.concatenate([t.numpy(), np.zeros(39)])
    np.testing.assert_allclose(_nnls(a, b), nnls(a, b, maxiter=2000)[0], atol=1e-7)
