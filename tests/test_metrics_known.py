"""Metrics against known answers: steerability, leakage, MI control, total correlation, and the disentanglement
scores against the values a perfect and a random code must get (shared/reference/metrics-and-data.md §2.2)."""

import numpy as np
import pytest

from latentnav.metrics import disentanglement as dl
from latentnav.metrics.control import leakage, leakage_matrix, mi_control, steerability
from latentnav.metrics.information import gaussian_total_correlation, sampled_total_correlation

T = np.linspace(-0.2, 0.2, 9)


def test_steerability_of_a_known_response():
    rng = np.random.default_rng(0)
    achieved = 0.8 * T[:, None] + 0.01 + rng.normal(0, 0.02, size=(9, 400))
    s = steerability(T, achieved)
    assert s["slope"] == pytest.approx(0.8, abs=0.01) and s["intercept"] == pytest.approx(0.01, abs=0.002)
    assert s["spread"] == pytest.approx(0.02, abs=0.002) and len(s["spread_per_step"]) == 9
    assert s["r2"] == pytest.approx(0.64 * 0.0167 / (0.64 * 0.0167 + 0.0004), abs=0.02)  # var(0.8 t) / total
    assert s["usable_range"] == pytest.approx(0.2)
    # a response that saturates beyond |t| = 0.1 is usable only up to there
    flat = np.clip(T, -0.1, 0.1)[:, None] + rng.normal(0, 0.005, size=(9, 100))
    flat[np.abs(T) > 0.11] = rng.normal(0, 0.2, size=(4, 100))
    assert steerability(T, flat)["usable_range"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"expected achieved changes of shape \[9, N\]"):
        steerability(T, achieved[:3])


def test_leakage_of_a_known_mixture():
    rng = np.random.default_rng(1)
    x = T[:, None] + rng.normal(0, 0.01, size=(9, 300))
    changes = {"pos_x": x, "pos_y": 0.5 * x, "scale": rng.normal(0, 0.001, size=x.shape), "hue": -2 * x}
    row = leakage(changes, "pos_x", scales={"pos_x": 0.2, "pos_y": 0.1, "scale": 1.0, "hue": 1.0})
    assert row["pos_x"]["slope"] == pytest.approx(1) and row["pos_x"]["ratio"] == pytest.approx(1)
    assert row["pos_y"]["slope"] == pytest.approx(0.5) and row["pos_y"]["ratio"] == pytest.approx(0.5)
    assert row["pos_y"]["slope_normalised"] == pytest.approx(1.0)  # half the change, half the natural scale
    assert row["hue"]["slope"] == pytest.approx(-2) and row["hue"]["ratio"] == pytest.approx(2)
    assert abs(row["scale"]["slope"]) < 0.01 and row["scale"]["ratio"] < 0.02
    with pytest.raises(ValueError, match="the target 'zoom' is not among the measured attributes"):
        leakage(changes, "zoom")
    y = T[:, None] + rng.normal(0, 0.01, size=(9, 300))
    names, attrs, m = leakage_matrix({"x-dir": ({"pos_x": x, "pos_y": 0.5 * x}, "pos_x"),
                                      "y-dir": ({"pos_x": 0 * y, "pos_y": y}, "pos_y")})  # fmt: skip
    assert names == ["x-dir", "y-dir"] and attrs == ["pos_x", "pos_y"]
    assert m.flatten().tolist() == pytest.approx([1.0, 0.5, 0.0, 1.0])


def test_mi_control_perfect_leaky_and_useless_directions():
    rng = np.random.default_rng(2)
    n = 400
    t = np.broadcast_to(T[:, None], (9, n))
    perfect = mi_control(T, {"pos_x": t.copy(), "pos_y": rng.normal(size=(9, n))}, "pos_x")
    assert perfect["mi_target"] == pytest.approx(1.0)
    assert perfect["mi_other"]["pos_y"] < 0.05 and perfect["mi_leak_share"] < 0.05
    leaky = mi_control(T, {"pos_x": t.copy(), "pos_y": t.copy()}, "pos_x")
    assert leaky["mi_leak_share"] == pytest.approx(0.5)
    useless = mi_control(T, {"pos_x": rng.normal(size=(9, n)), "pos_y": rng.normal(size=(9, n))}, "pos_x")
    assert useless["mi_target"] < 0.05
    # few latents: the plug-in MI of independent variables is large, the chance-adjusted figure is not
    few = mi_control(T, {"pos_x": rng.normal(size=(9, 12)), "pos_y": rng.normal(size=(9, 12))}, "pos_x")
    assert few["mi_nats"]["pos_x"] / few["step_entropy_nats"] > 0.2 and few["mi_target"] < 0.08
    # a change far below the meter's resolution (float noise that follows the step) is no information
    tiny = {"pos_x": t.copy(), "pos_y": 1e-9 * t}
    assert mi_control(T, tiny, "pos_x")["mi_other"]["pos_y"] == pytest.approx(1.0)
    assert mi_control(T, tiny, "pos_x", min_width={"pos_y": 1e-3})["mi_other"]["pos_y"] == pytest.approx(0.0)


def test_total_correlation_known_answers():
    rng = np.random.default_rng(3)
    rho = 0.8
    cov = np.array([[1.0, rho, 0], [rho, 1.0, 0], [0, 0, 1.0]])
    codes = rng.multivariate_normal(np.zeros(3), cov, size=20000)
    truth = -0.5 * np.log(1 - rho**2)
    assert gaussian_total_correlation(codes) == pytest.approx(truth, abs=0.02)
    assert gaussian_total_correlation(rng.normal(size=(20000, 3))) < 0.002
    # a VAE whose posterior means carry the correlation: q(z) = N(0, cov + s^2 I) for posteriors of std s
    mu = codes[:3000]
    logvar = np.full_like(mu, np.log(0.5**2))
    expected = -0.5 * np.log(1 - (rho / 1.25) ** 2)
    assert sampled_total_correlation(mu, logvar) == pytest.approx(expected, abs=0.05)
    independent = sampled_total_correlation(rng.normal(size=(3000, 3)), np.full((3000, 3), np.log(0.5**2)))
    assert abs(independent) < 0.05


# ---------------------------------------------------------------------------------------- disentanglement
SMALL = {
    "beta_vae": {"num_train": 400, "num_eval": 200, "batch_size": 16},
    "factor_vae": {"num_train": 400, "num_eval": 200, "num_variance_estimate": 1000, "batch_size": 16},
    "mig": {"num_train": 2000},
    "sap": {"num_train": 500, "num_test": 300},
    "dci": {"num_train": 400, "num_test": 200, "n_estimators": 10},
    "tc": {"num_train": 1000, "num_sampled": 100},
}


def _noise(x):
    return np.random.default_rng(int(x.sum()) % 10_000).normal(size=(len(x), 10))


@pytest.fixture(scope="module")
def scores():
    data = dl.IdentityData()  # 10 factors x 10 values, disentanglement_lib's test data
    reps = {"identity": lambda x: x, "random": _noise, "zero": lambda x: np.zeros((len(x), 10)),
            "duplicated": lambda x: np.concatenate([x, x], axis=1)}  # fmt: skip
    return {name: dl.evaluate_representation(data, rep, preset=SMALL) for name, rep in reps.items()}


def test_a_perfect_code_scores_near_one(scores):
    s = scores["identity"]
    assert s["beta_vae"]["eval_accuracy"] >= 0.9 and s["factor_vae"]["eval_accuracy"] >= 0.9
    assert 0.9 <= s["mig"]["mig"] <= 1 and s["sap"]["sap_continuous"] >= 0.9
    assert s["dci"]["disentanglement"] >= 0.9 and s["dci"]["completeness"] >= 0.9 and s["dci"]["informativeness_test"] >= 0.9
    assert s["total_correlation"]["gaussian"] < 0.05


def test_random_zero_and_duplicated_codes_score_low(scores):
    r = scores["random"]
    assert r["beta_vae"]["eval_accuracy"] <= 0.2 and r["factor_vae"]["eval_accuracy"] <= 0.2  # chance: 0.1
    assert r["mig"]["mig"] <= 0.1 and r["sap"]["sap"] <= 0.2 and r["sap"]["sap_continuous"] <= 0.1
    assert r["dci"]["disentanglement"] <= 0.2 and r["dci"]["completeness"] <= 0.2
    z = scores["zero"]
    assert z["mig"]["mig"] <= 0.2 and z["sap"]["sap"] <= 0.2 and z["factor_vae"]["num_active_dims"] == 0
    d = scores["duplicated"]
    assert d["mig"]["mig"] <= 0.1 and d["sap"]["sap_continuous"] <= 0.2  # duplicating a latent destroys the gap
    assert d["beta_vae"]["eval_accuracy"] >= 0.9  # ... while the code still predicts the factor


def test_mig_and_sap_on_the_dsprites_grid_match_the_reference_table():
    data = dl.IdentityData(factor_sizes=(3, 6, 40, 32, 32))
    sizes = np.array(data.factor_sizes)

    def scaled(f):
        return f / (sizes - 1)

    def rotated(f):  # scale and pos_x mixed at 45 degrees
        x = scaled(f)
        a, b = x[:, 1].copy(), x[:, 3].copy()
        x[:, 1], x[:, 3] = (a + b) / 2**0.5, (a - b) / 2**0.5
        return x

    m = dl.mig(data, scaled, np.random.default_rng(0))
    assert m["mig"] == pytest.approx(0.896, abs=0.01)  # 20 bins cap orientation and positions
    assert [m["per_factor"][k] for k in ("f0", "f1", "f2", "f3", "f4")] == pytest.approx([1.0, 1.0, 0.80, 0.84, 0.84], abs=0.01)
    rot = dl.mig(data, rotated, np.random.default_rng(0))
    assert rot["mig"] == pytest.approx(0.530, abs=0.01) and rot["per_factor"]["f1"] < 0.02 and rot["per_factor"]["f3"] < 0.02
    rng = np.random.default_rng(1)
    f_train, f_test = data.sample_factors(3000, rng), data.sample_factors(1500, rng)
    assert dl.sap_from_codes(scaled(f_train), f_train, scaled(f_test), f_test) == pytest.approx(0.18, abs=0.02)
    assert dl.sap_from_codes(scaled(f_train), f_train, scaled(f_test), f_test, True) == pytest.approx(1.0, abs=0.01)
    assert dl.sap_from_codes(rotated(f_train), f_train, rotated(f_test), f_test, True) == pytest.approx(0.60, abs=0.02)


def test_dci_of_known_importance_matrices():
    assert dl.disentanglement_of(np.eye(4)) == pytest.approx(1) and dl.completeness_of(np.eye(4)) == pytest.approx(1)
    assert dl.disentanglement_of(np.ones((4, 4))) == pytest.approx(0, abs=1e-6)
    assert dl.completeness_of(np.ones((4, 4))) == pytest.approx(0, abs=1e-6)
    # one code explains two factors equally: that code is half as disentangled, the factors stay complete
    imp = np.array([[1.0, 1.0], [0.0, 0.0]])
    assert dl.disentanglement_of(imp) == pytest.approx(0.0, abs=1e-6) and dl.completeness_of(imp) == pytest.approx(1.0)


def test_unknown_preset_lists_the_known_ones():
    from latentnav.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown preset 'quick'; known: default, fast"):
        dl.evaluate_representation(dl.IdentityData(), lambda x: x, preset="quick")


# ------------------------------------------------------------------------------- a model's representation
def _planted_colour_infogan():
    """A 32 px colour InfoGAN whose Q reads the testbed exactly: cat0 = the sprite's palette index, cont0 and
    cont1 = its centroid x and y (monotone in pos_x and pos_y). So through evaluate_model colour sits in one
    code alone (MIG gap near 1), x and y each in one code (near a perfect code's 0.84 at 20 bins), and shape,
    scale and orientation in none (gap near 0)."""
    import torch

    from latentnav.generators.infogan import CodeSpec, DiscriminatorQ, InfoGANGenerator, StyleGenerator
    from latentnav.testbed.report import palette_index

    class ReadsTheTestbed(InfoGANGenerator):
        def code_readout(self, images):
            assert images.shape[1:] == (3, 32, 32), images.shape  # rendered at the model's resolution
            lit = (images.amax(1) > 0).float()
            grid = torch.arange(32, dtype=torch.float32)
            mass = lit.sum((1, 2))
            x, y = (lit.sum(1) * grid).sum(1) / mass, (lit.sum(2) * grid).sum(1) / mass
            return torch.stack([palette_index(images).float(), x, y], dim=1)

    spec = CodeSpec.parse("cat:6,cont:2")
    net = StyleGenerator(3 + spec.dim, 8, (8, 8, 8, 8), img_channels=3)
    return ReadsTheTestbed(net, DiscriminatorQ(spec, 32, 3, 8), spec, 3, name="planted-q", device="cpu")


def test_evaluate_model_scores_an_infogans_q_readout_on_colour_renders_at_its_resolution():
    G = _planted_colour_infogan()
    r = dl.evaluate_model(G, preset=SMALL)
    assert r["codes"] == ["cat0", "cont0", "cont1"]
    assert r["data"] == {"factors": ["shape", "scale", "orientation", "pos_x", "pos_y", "colour"], "resolution": 32}
    gap = r["mig"]["per_factor"]
    assert gap["colour"] > 0.95  # plug-in bias of the second code's MI is all that keeps it from 1
    assert 0.6 < gap["pos_x"] < 0.9 and 0.6 < gap["pos_y"] < 0.9
    assert max(gap["shape"], gap["scale"], gap["orientation"]) < 0.05
    assert r["mig"]["mig"] == pytest.approx(np.mean(list(gap.values())))
    assert r["total_correlation"]["gaussian"] < 0.01  # over cont0, cont1: x and y are independent in the data
    assert "sampled" not in r["total_correlation"]  # no posterior: Q is not a VAE


def test_model_codes_read_an_infogan_by_code_and_a_vae_by_latent():
    import torch

    from latentnav.generators.cmivae import CMIVAE, CMIVAEGenerator
    from latentnav.generators.infogan import CodeSpec, DiscriminatorQ, InfoGANGenerator, StyleGenerator

    torch.manual_seed(0)
    spec = CodeSpec.parse("cat:3,cat:2,cont:2")
    G = InfoGANGenerator(StyleGenerator(4 + spec.dim, 8, (8, 8, 8, 8)), DiscriminatorQ(spec, 32, 1, 8), spec, 4, name="g",
                         device="cpu")  # fmt: skip
    x = G(G.sample_z(5, seed=0))
    codes = dl.model_codes(G)
    cats, cont = G.read_codes(x)
    assert codes.names == ("cat0", "cat1", "cont0", "cont1") and codes.gaussian_columns == (2, 3)
    assert np.array_equal(codes.read(x), torch.cat([cats[0][:, None], cats[1][:, None], cont], 1).numpy())
    assert isinstance(dl.testbed_data(G), dl.DSpritesData) and dl.testbed_data(G).resolution == 32
    V = CMIVAEGenerator(CMIVAE(z1_dim=3, z2_dim=2), name="v", device="cpu")
    data = dl.testbed_data(V)
    assert isinstance(data, dl.ColourDSpritesData) and data.resolution == 64
    v = dl.model_codes(V, chunk=4)
    images = data.observations(data.sample_factors(6, np.random.default_rng(0)))
    assert v.names == ("z0", "z1", "z2", "z3", "z4") and v.posterior is not None
    assert np.allclose(v.read(images), V.encode(images).numpy(), atol=1e-5)
    assert np.allclose(v.posterior(images)[0], v.read(images), atol=1e-5)


def test_colour_dsprites_data_paints_each_factor_vector_in_its_colour():
    from latentnav.testbed.report import palette_index

    data = dl.ColourDSpritesData(resolution=32)
    f = data.sample_factors(40, np.random.default_rng(3))
    images = data.observations(f)
    assert images.shape == (40, 3, 32, 32) and np.array_equal(palette_index(images).numpy(), f[:, 5])
    assert np.array_equal(images.amax(1, keepdim=True) > 0, dl.DSpritesData(resolution=32).observations(f[:, :5]) > 0)


def test_the_code_cache_encodes_each_combination_once_and_returns_the_same_codes():
    data = dl.IdentityData(factor_sizes=(3, 6, 8))  # 144 combinations
    calls = []

    def rep(x):  # deterministic, and nonlinear so rows cannot be confused
        calls.append(len(x))
        return np.stack([x[:, 0] * 2 + x[:, 1] ** 2, np.sin(x[:, 2]) + x[:, 0]], axis=1)

    cache = dl.CodeCache(data, rep, chunk=50)
    factors = data.sample_factors(5000, np.random.default_rng(0))
    direct = dl.represent(data, rep, factors)
    calls.clear()
    np.testing.assert_array_equal(cache.lookup(factors), direct)
    assert cache.encoded == len(np.unique(factors, axis=0)) == 144 and sum(calls) == 144 and max(calls) <= 50
    np.testing.assert_array_equal(dl.represent(data, cache, factors[:7]), direct[:7])  # from the table
    assert cache.encoded == 144 and sum(calls) == 144
    big = dl.CodeCache(dl.IdentityData(), rep)  # 10^10 combinations: not tabulated, each call encodes its draws
    assert not big.tabulate and big.lookup(np.zeros((3, 10), dtype=int)).shape == (3, 2) and big.encoded == 3


def test_dci_fits_each_factor_in_its_own_process_with_the_same_values():
    data = dl.IdentityData(factor_sizes=(4, 7, 5))
    rng = np.random.default_rng(3)
    f_train, f_test = data.sample_factors(1000, rng), data.sample_factors(500, rng)
    code = lambda f: f + rng.normal(scale=0.3, size=f.shape)  # noqa: E731
    r_train, r_test = code(f_train), code(f_test)
    one = dl.dci_from_codes(r_train, f_train, r_test, f_test, 40, n_jobs=1)
    two = dl.dci_from_codes(r_train, f_train, r_test, f_test, 40, n_jobs=2)
    assert one == two and one["disentanglement"] > 0.8 and one["completeness"] > 0.8
    forest = dl.dci_from_codes(r_train, f_train, r_test, f_test, 100, estimator="forest")
    assert forest["disentanglement"] > 0.5 and abs(forest["informativeness_test"] - one["informativeness_test"]) < 0.05
    mixed = r_train @ np.ones((3, 3)), r_test @ np.ones((3, 3))  # every code the same mixture: no disentanglement
    assert dl.dci_from_codes(mixed[0], f_train, mixed[1], f_test, 20, estimator="forest")["completeness"] < 0.2
    with pytest.raises(ValueError, match="unknown DCI estimator 'xgb'; known: forest, gbt"):
        dl.dci_from_codes(r_train, f_train, r_test, f_test, estimator="xgb")
