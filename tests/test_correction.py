import numpy as np
import pytest

from latentnav.correction import CorrectConfig, density_percentile, holding_step, landed, low_density_targets


def _correlated(n=4000, rho=0.8, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return np.c_[a, b]


def test_holding_step_changes_a_by_one_unit_and_leaves_b_alone():
    rng = np.random.default_rng(1)
    grads = rng.standard_normal((3, 8))  # A and two held attributes, linear in z
    u = grads[0] + 2 * grads[1]  # a direction that drags B1 along
    step = holding_step(u, grads)
    assert grads[0] @ step == pytest.approx(1.0)
    assert np.abs(grads[1:] @ step).max() < 1e-9
    assert (grads[1] @ u) / (grads[0] @ u) > 0.5  # the base direction did leak


def test_low_density_targets_move_against_the_correlation_into_thin_regions():
    scores = _correlated()
    index, delta = low_density_targets(scores, 300, offset=1.0, seed=0)
    assert len(index) == 300 and len(set(index.tolist())) == 300
    assert np.abs(delta) == pytest.approx(np.full(300, scores[:, 0].std()))
    a, b = scores[index, 0], scores[index, 1]
    # above the line A ~ B the move is down, below it up: towards the thin side of the ellipse
    expected = np.polyval(np.polyfit(scores[:, 1], scores[:, 0], 1), b)
    assert np.all(np.sign(delta) == np.where(a >= expected, -1, 1))
    asked = scores[index].copy()
    asked[:, 0] += delta
    assert density_percentile(scores, asked) < 0.85 * density_percentile(scores, scores[index]) < 0.85 * 50


def test_landed_keeps_only_samples_that_moved_off_the_diagonal_as_asked():
    scores = _correlated()
    start = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    delta = np.array([1.0, 1.0, 1.0, -1.0])
    now = np.array([[0.9, 0.0],  # A moved, B held: off the diagonal
                    [0.8, 0.8],  # both moved: back on the diagonal
                    [-0.5, 0.0],  # the wrong way
                    [0.1, 1.0]])  # fmt: skip
    assert landed(start, now, delta, scores, keep=0.5).tolist() == [True, False, False, True]


def test_config_refuses_nonsense():
    with pytest.raises(ValueError, match="keep"):
        CorrectConfig(keep=1.5)
    with pytest.raises(ValueError, match=">= 1"):
        CorrectConfig(n_low=0)
