import json

import numpy as np
import pytest
import torch
from toys import BlobGenerator

from latentnav.correction.config import OPTIMIZERS, REFITS, CorrectConfig
from latentnav.correction.fit import fit_on_meters
from latentnav.correction.steps import density_percentile, holding_step, landed, low_density_targets
from latentnav.measure import get_meter


def _correlated(n=4000, rho=0.8, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    b = rho * a + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    return np.c_[a, b]


def test_correct_cli_defaults_are_the_config_defaults():
    """The CLI states its defaults (it imports torch lazily); they must be CorrectConfig's, which the API uses."""
    from latentnav.cli import main

    params = {p.name: p.default for p in main.commands["correct"].params}
    flags = {p.name: p.opts[0] for p in main.commands["correct"].params}
    cfg = CorrectConfig()
    fields = ("n_samples", "n_low", "offset", "invert_steps", "refit", "fit_steps", "fit_iterations", "fit_keep",
              "fit_optimizer", "seed")  # fmt: skip
    assert {k: params[k] for k in fields} == {k: getattr(cfg, k) for k in fields}  # the options carry the fields' names
    assert (flags["n_samples"], flags["n_low"], flags["fit_keep"]) == ("--scored", "--samples", "--keep")  # as documented
    choices = {p.name: tuple(p.type.choices) for p in main.commands["correct"].params if hasattr(p.type, "choices")}
    assert choices["refit"] == REFITS and choices["fit_optimizer"] == OPTIMIZERS  # the CLI's lists are the module's


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


def test_fit_on_meters_finds_the_axis_that_moves_x_alone():
    G = BlobGenerator(z_dim=6, resolution=32, seed=3)
    u0 = (G.u_x + G.u_y) / 2**0.5  # moves x and y alike: leakage 1
    z = 0.5 * torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    # from 45 degrees off, the decaying step needs 300 steps to also drop the components that change nothing
    u, info = fit_on_meters(G, z, u0, get_meter("pos_x"), [get_meter("pos_y")], steps=300, alphas=(-0.5, 0.5),
                            keep=0.9, seed=0)  # fmt: skip
    u = torch.as_tensor(u).float()
    assert float(u @ G.u_x) > 0.97 and abs(float(u @ G.u_y)) < 0.1
    assert info["leak_ratio_before"] > 0.8 and info["leak_ratio_after"] < 0.02
    assert info["on_target_after"] >= 0.85 * info["on_target_before"]


def test_fit_on_meters_starts_from_the_base_when_the_start_keeps_less_than_asked():
    """A start (a projection) that changes x at a third of the base's rate cannot honour keep 0.9 without
    climbing back: the fit goes from the base instead and reaches the x-only axis; a start that keeps
    enough is used as given."""
    G = BlobGenerator(z_dim=6, resolution=32, seed=3)
    u0 = (G.u_x + G.u_y) / 2**0.5
    null = torch.linalg.qr(torch.stack([G.u_x, G.u_y, torch.ones(6)], dim=1))[0][:, 2]  # changes nothing
    weak = (0.3 * G.u_x + null) / (1 + 0.3**2) ** 0.5
    z = 0.5 * torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    mx, my = get_meter("pos_x"), [get_meter("pos_y")]
    u, info = fit_on_meters(G, z, u0, mx, my, steps=300, alphas=(-0.5, 0.5), keep=0.9, start=weak, seed=0)
    assert info["started_from"] == "base"
    assert float(torch.as_tensor(u).float() @ G.u_x) > 0.97
    assert info["on_target_after"] >= 0.85 * info["on_target_before"]
    _, info = fit_on_meters(G, z, u0, mx, my, steps=5, alphas=(-0.5, 0.5), keep=0.9, start=G.u_x, seed=0)
    assert info["started_from"] == "start"


def test_slsqp_starts_on_the_arc_that_keeps_what_is_asked():
    """A start keeping less than half of the base's x rate, with keep 0.9: SLSQP starts from the mix of the start and
    the base that keeps 0.9 (feasible, so no climb back from the base) and ends with no y in it, keeping
    at least 0.9 (SLSQP has no reward, so the start's component that changes nothing may stay)."""
    G = BlobGenerator(z_dim=6, resolution=32, seed=3)
    u0 = (G.u_x + G.u_y) / 2**0.5
    null = torch.linalg.qr(torch.stack([G.u_x, G.u_y, torch.ones(6)], dim=1))[0][:, 2]
    weak = (0.3 * G.u_x + null) / (1 + 0.3**2) ** 0.5
    z = 0.5 * torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    mx, my = get_meter("pos_x"), [get_meter("pos_y")]
    u, info = fit_on_meters(G, z, u0, mx, my, steps=60, alphas=(-0.5, 0.5), keep=0.9, start=weak,
                            optimizer="slsqp", batch=None, seed=0)  # fmt: skip
    assert info["started_from"] == "arc" and 0.0 < info["start_mix"] < 1.0
    u = torch.as_tensor(u).float()
    assert float(u @ G.u_x) > 0.8 and abs(float(u @ G.u_y)) < 0.01
    assert info["leak_ratio_before"] > 0.8 and info["leak_ratio_after"] < 1e-4
    assert info["on_target_after"] >= 0.9 * info["on_target_before"]


def test_fit_on_meters_with_slsqp_finds_the_x_axis_at_the_asked_share():
    """SLSQP minimises the leakage alone subject to the share: from the 45-degree direction (leakage 1) it
    reaches the x-only axis, which keeps sqrt(2) of the base's x rate (more than the 0.9 asked)."""
    G = BlobGenerator(z_dim=6, resolution=32, seed=3)
    u0 = (G.u_x + G.u_y) / 2**0.5
    z = 0.5 * torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    u, info = fit_on_meters(G, z, u0, get_meter("pos_x"), [get_meter("pos_y")], steps=60, alphas=(-0.5, 0.5),
                            keep=0.9, optimizer="slsqp", batch=200, seed=0)  # fmt: skip
    u = torch.as_tensor(u).float()
    assert float(u @ G.u_x) > 0.97 and abs(float(u @ G.u_y)) < 0.05
    assert info["optimizer"] == "slsqp" and 0 < info["iterations"] <= 60 and info["leak_ratio_after"] < 0.01
    assert info["stopped"] == "converged" and info["on_target_after"] >= 0.9 * info["on_target_before"]
    # steps is SLSQP's iteration limit: stopped at 2 it is on its way (less y than the base, more than converged)
    seen = []
    u_early, early = fit_on_meters(G, z, u0, get_meter("pos_x"), [get_meter("pos_y")], steps=2, alphas=(-0.5, 0.5),
                                   keep=0.9, optimizer="slsqp", batch=200, seed=0, on_iterate=seen.append)  # fmt: skip
    assert early["iterations"] == 2 and early["stopped"] == "iteration limit"
    assert len(seen) == 2 and np.allclose(seen[-1], u_early, atol=1e-6)  # each iterate, unit, the last returned
    assert info["leak_ratio_after"] < early["leak_ratio_after"] < 0.1 * early["leak_ratio_before"]
    with pytest.raises(ValueError, match="known: adam, slsqp"):
        fit_on_meters(G, z, u0, get_meter("pos_x"), [get_meter("pos_y")], optimizer="lbfgs")


def test_a_re_fit_that_diverges_is_an_error_not_a_nan_direction(monkeypatch):
    """An optimiser that returns a non-finite direction (here SLSQP, made to) ends in a LatentnavError that
    names the other optimiser, never in a NaN direction written to disk."""
    from types import SimpleNamespace

    from latentnav.correction import fit as correction
    from latentnav.errors import LatentnavError

    monkeypatch.setattr(correction, "minimize", lambda f, x0, **kw: SimpleNamespace(x=np.full_like(x0, np.nan), nit=1, status=8,
                                                                                  message="Positive directional derivative"))
    G = BlobGenerator(z_dim=6, resolution=32, seed=3)
    z = 0.5 * torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    with pytest.raises(LatentnavError, match="diverged.*--fit-optimizer adam"):
        fit_on_meters(G, z, G.u_x, get_meter("pos_x"), [get_meter("pos_y")], steps=5, optimizer="slsqp")


def test_an_slsqp_re_fit_never_returns_worse_than_the_feasible_points_it_evaluated(monkeypatch):
    """SLSQP stopped at its iteration limit on a point that breaks the keep constraint (measured on
    bvae-dsprites-corr06: leakage 0.05 -> 0.88 of the base's, x per step down to 18%) is replaced by the best
    feasible point it evaluated, here its start."""
    from types import SimpleNamespace

    from latentnav.correction import fit as correction

    G = BlobGenerator(z_dim=6, resolution=32, seed=3)

    def stops_badly(fun, x0, jac=None, constraints=(), callback=None, **kw):
        fun(x0), [c["fun"](x0) for c in constraints]  # SLSQP evaluates its (feasible) start first
        return SimpleNamespace(x=G.u_y.double().numpy(), nit=20, status=9, message="Iteration limit reached")

    monkeypatch.setattr(correction, "minimize", stops_badly)
    z = 0.5 * torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
    u, info = fit_on_meters(G, z, G.u_x, get_meter("pos_x"), [get_meter("pos_y")], steps=20, optimizer="slsqp")
    assert info["stopped"] == "iteration limit; its best feasible point kept"
    assert float(torch.as_tensor(u).float() @ G.u_x / G.u_x.norm()) > 0.999
    assert info["on_target_after"] >= info["keep"] * info["on_target_before"]


def test_fit_on_meters_on_every_latent_does_not_depend_on_the_seed():
    """batch=None: every step sees all latents, so the seed (which only orders minibatches) changes nothing."""
    G = BlobGenerator(z_dim=6, resolution=32, seed=3)
    u0 = (G.u_x + 0.5 * G.u_y) / 1.25**0.5
    z = 0.5 * torch.randn(60, 6, generator=torch.Generator().manual_seed(0))
    fits = [fit_on_meters(G, z, u0, get_meter("pos_x"), [get_meter("pos_y")], steps=60, alphas=(-0.5, 0.5),
                          batch=None, seed=seed) for seed in (0, 1)]  # fmt: skip
    assert np.array_equal(fits[0][0], fits[1][0])
    assert fits[0][1]["leak_ratio_after"] < 0.1 * fits[0][1]["leak_ratio_before"]


def test_fit_on_meters_holds_several_attributes_in_different_units_alike():
    """B1 = y (fractions of the width), B2 = size in thousandths of a log unit (readings ~100x larger): each is
    weighed by its inverse variance, so the fit removes both leaks, not just the one in the larger units."""
    import dataclasses

    from toys import SizedBlobGenerator

    G = SizedBlobGenerator(z_dim=6, resolution=32, seed=3)
    size = get_meter("scale")
    size_milli = dataclasses.replace(size, name="size_milli", fn=lambda im: 1000 * size.fn(im))
    u0 = (G.u_x + 0.6 * G.u_y + 0.6 * G.u_s) / (1 + 2 * 0.36) ** 0.5
    z = 0.5 * torch.randn(300, 6, generator=torch.Generator().manual_seed(0))
    meters_b = [get_meter("pos_y"), size_milli]
    u, info = fit_on_meters(G, z, u0, get_meter("pos_x"), meters_b, steps=150, alphas=(-0.5, 0.5), keep=0.7, seed=0)
    u = torch.as_tensor(u).float()
    assert float(u @ G.u_x) > 0.97 and abs(float(u @ G.u_y)) < 0.1 and abs(float(u @ G.u_s)) < 0.1
    assert info["on_target_after"] >= 0.7 * info["on_target_before"]


def test_config_refuses_nonsense():
    with pytest.raises(ValueError, match="keep"):
        CorrectConfig(keep=1.5)
    with pytest.raises(ValueError, match=">= 1"):
        CorrectConfig(n_low=0)
    with pytest.raises(ValueError, match="known: meters, logistic"):
        CorrectConfig(refit="svm")
    with pytest.raises(ValueError, match="optimizer"):
        CorrectConfig(fit_optimizer="lbfgs")
    with pytest.raises(ValueError, match="fit_keep"):
        CorrectConfig(fit_keep=1.5)
    with pytest.raises(ValueError, match="fit_iterations"):
        CorrectConfig(fit_iterations=-1)


# ------------------------------------------------------------------------------- the command line
def run(*args):
    from click.testing import CliRunner

    from latentnav.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def x_vector(tmp_path_factory):
    """InterFaceGAN's supervised x direction on the correlated model (it drags y along)."""
    import latentnav as ln
    from latentnav.measure import get_meter

    G = ln.load_generator("bvae-dsprites-corr", device="cpu")
    d = ln.interfacegan(G, get_meter("pos_x", G), n_samples=2000, ratio=0.1, name="pos_x", allow_nan=True)
    return d.save(tmp_path_factory.mktemp("dir") / "x.safetensors")


def test_correct_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, x_vector):
    args = ["correct", "--model", "bvae-dsprites-corr", "--direction", x_vector]
    res = run(*args, "--attribute", "pos_x", "--against", "pos_y", "-o", tmp_path / "out.npy")
    assert res.exit_code == 2 and "must end in .safetensors" in res.output
    res = run(*args, "--attribute", "size_of_it", "--against", "pos_y", "-o", tmp_path / "out.safetensors")
    assert res.exit_code != 0 and "size_of_it" in res.output and "pos_x" in res.output  # lists the known ones
    assert len(res.output.strip().splitlines()) == 1
    res = run(*args, "--attribute", "pos_x", "--against", "pos_x", "-o", tmp_path / "out.safetensors")
    assert res.exit_code == 2 and "cannot also be an attribute to hold" in res.output
    res = run(*args, "--attribute", "pos_x", "--against", "pos_y", "--fit-optimizer", "lbfgs", "-o", tmp_path / "o.safetensors")
    assert res.exit_code == 2 and "'adam', 'slsqp'" in res.output
    (tmp_path / "taken.safetensors").write_text("keep me")
    res = run(*args, "--attribute", "pos_x", "--against", "pos_y", "-o", tmp_path / "taken.safetensors")
    assert res.exit_code == 2 and "--force" in res.output
    assert (tmp_path / "taken.safetensors").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.safetensors"]


def test_correct_writes_direction_projection_report_and_grids(tmp_path, x_vector):
    out = tmp_path / "x-corrected.safetensors"
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", x_vector, "--attribute", "pos_x",
              "--against", "pos_y", "--scored", 400, "--samples", 80, "--invert-steps", 20, "--fit-iterations", 2,
              "--fit-optimizer", "slsqp", "--eval-n", 100, "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["x-corrected.grids.png", "x-corrected.json", "x-corrected.projection.json",
                     "x-corrected.projection.safetensors", "x-corrected.report.json", "x-corrected.safetensors"]  # fmt: skip
    report = json.loads((tmp_path / "x-corrected.report.json").read_text())
    ev = report["eval"]
    assert report["correlation"][0] > 0.6  # the model keeps the data's x-y correlation
    assert 5 <= report["low_density_kept"] <= report["low_density_made"] == 80
    assert ev["base"]["on_target"] > 0.02
    # --fit-iterations is SLSQP's limit: reached here, which the report and the command's output say
    assert report["refit"]["optimizer"] == "slsqp" and report["refit"]["iterations"] == 2
    assert report["refit"]["stopped"] == "iteration limit" and "limit of 2 iterations" in res.output
    # it prints each direction's leakage with its interval, as the report has it, and judges them in x's units
    lo, hi = ev["corrected"]["leakage_interval"]["pos_y"]
    assert f"corrected {ev['corrected']['leakage_max']:.3f} ({lo:.3f}-{hi:.3f})" in res.output
    assert "asked pos_x -0.1 .. +0.1, achieved slope / R^2: base " in res.output
    assert "scale change per unit pos_x: base " in res.output and "latent distance for +0.1: base " in res.output
    for k in ("base", "projection", "corrected"):
        e = ev[k]
        assert e["n"] == 100 and e["t"] == [-0.1, -0.05, 0.05, 0.1] and set(e["changes"]) == {"pos_y", "scale"}
        assert 0.5 < e["steer"]["slope"] < 1.5 and 0 <= e["lost_share"] <= 1 and 0 <= e["beyond_prior_99"] <= 1
        assert e["distance_per_0.1"] > 0
    # every stage is timed; the re-fit bounds the scale's change per unit x by the base's + 0.15 on its latents
    assert set(report["stage_seconds"]) == {"scoring", "low_density", "synthesis", "inversion", "refit", "calibration",
                                            "evaluation", "grids"}  # fmt: skip
    bound = report["refit"]["bounds"]["scale"]
    assert bound["bound"] == pytest.approx(abs(bound["before"]) + 0.15) and np.isfinite(bound["after"])
    # the orthogonal projection (the baseline) leaks less y per unit x than the base axis
    assert ev["projection"]["leakage_max"] < ev["base"]["leakage_max"]


# ---------------------------------------------------------------------------------- on an InfoGAN
def test_correct_runs_end_to_end_on_a_tiny_infogan_and_reports_what_direction_effect_measures():
    """discover/evaluate/correct run on the information-theoretic generators: here an untrained 32 px InfoGAN
    (no encoder, so the inversion starts from the scored latents) and its continuous code cont0 as the base."""
    import torch

    import latentnav as ln
    from latentnav.correction.evaluation import user_effect
    from latentnav.generators.infogan import CodeSpec, DiscriminatorQ, InfoGANGenerator, StyleGenerator
    from latentnav.measure import get_meter

    torch.manual_seed(0)
    spec = CodeSpec.parse("cat:3,cont:2")
    G = InfoGANGenerator(StyleGenerator(4 + spec.dim, 16, (16, 16, 8, 8)), DiscriminatorQ(spec, 32, 1, 8), spec, 4,
                         name="tiny-infogan", device="cpu")  # fmt: skip
    base = G.code_direction("cont0")
    cfg = ln.CorrectConfig(n_samples=300, n_low=40, invert_steps=10, batch_size=40)
    c = ln.correct(G, base, "pos_x", ["pos_y"], cfg, eval_n=20, also=[])
    u = c.direction.u
    assert u.shape == (G.z_dim,) and torch.isfinite(u).all() and u.norm().item() == pytest.approx(1.0, abs=1e-5)
    assert c.projection.u.norm().item() == pytest.approx(1.0, abs=1e-5) and c.direction.model == "tiny-infogan"
    assert torch.equal(c.samples["base_u"].abs(), base.u)  # the base is cont0's axis, oriented to make x grow
    r = c.report
    assert r["base_method"] == "infogan-code" and r["samples_scored"] == 300 and r["low_density_made"] == 40
    assert 5 <= r["low_density_kept"] <= 40 and np.isfinite(r["inversion_loss_mean"])
    assert r["cos_base_corrected"] == pytest.approx(float(c.samples["base_u"] @ u), abs=1e-6)
    z_eval = G.sample_latent(range(r["eval"]["seed"], r["eval"]["seed"] + 20))
    again = user_effect(G, c.base, get_meter("pos_x", G), [get_meter("pos_y", G)], z_eval)
    assert r["eval"]["base"]["leakage"]["pos_y"] == pytest.approx(abs(again["changes"]["pos_y"]), rel=1e-9)
    assert r["eval"]["base"]["on_target"] == pytest.approx(again["on_target"], rel=1e-9)
    assert c.direction.calibrated and c.base.calibrated and c.direction.transform == "shift-x"
    for name in ("base", "projection", "corrected"):
        assert np.isfinite(r["eval"][name]["on_target"]) and np.isfinite(r["eval"][name]["leakage_max"])


# ------------------------------------------------------------------------------ W+ layer mixing
def test_layer_mixing_draws_the_rare_combinations_and_the_corrected_direction_moves_x_alone():
    """On a toy whose x lives in W+ layers 0-1 and y in layers 2-3 (correlated ~0.77 through the mapping), the
    diagonal base direction leaks y one for one; mixing layers 0-1 from donors that carry the wanted x draws
    x-moved, y-held samples (more of them land than by the linear move), and the re-fit finds the x-only axis."""
    from toys import LayeredBlobGenerator

    import latentnav as ln

    G = LayeredBlobGenerator(rho=0.8)
    base = torch.zeros(4, 2)
    base[:, 0] = 0.5  # the diagonal: every layer's first coordinate
    x_axis = torch.zeros(4, 2)
    x_axis[0:2, 0] = 2**-0.5
    kept = {}
    for layers in (None, (0, 1)):
        cfg = ln.CorrectConfig(n_samples=600, n_low=100, invert_steps=10, fit_steps=60, layers=layers)
        c = ln.correct(G, base.flatten(), "pos_x", ["pos_y"], cfg, space="w+", eval_n=100)
        kept[layers] = c.report["low_density_kept"]
    r, s = c.report, c.samples
    assert r["synthesis"] == "W+ layer mixing (layers [0, 1])" and r["correlation"][0] > 0.7
    # each mixed sample reads its donor's x and keeps its own y
    assert np.abs(s["rescored"][:, 0] - s["scores"][s["donors"], 0]).max() < 0.02
    assert np.abs(s["rescored"][:, 1] - s["scores"][s["index"], 1]).max() < 0.02
    assert kept[(0, 1)] >= 95 and kept[(0, 1)] > kept[None]
    ev = r["eval"]
    assert ev["base"]["leakage_max"] > 0.7 and ev["projection"]["leakage_max"] > 0.1
    assert ev["corrected"]["leakage_max"] < 0.02 and float(c.direction.u @ x_axis.flatten()) > 0.99
    assert ev["corrected"]["on_target"] >= ev["base"]["on_target"]


def test_layer_mixing_refuses_other_spaces_and_layers_out_of_range():
    from toys import LayeredBlobGenerator

    import latentnav as ln

    G = LayeredBlobGenerator()
    with pytest.raises(ValueError, match="needs a direction in StyleGAN2's W\\+ space; this one is in 'z'"):
        ln.correct(G, torch.ones(4), "pos_x", ["pos_y"], ln.CorrectConfig(layers=(0,)), space="z")
    with pytest.raises(ValueError, match=r"W\+ layer\(s\) \[4, 9\] out of range: this generator has layers 0-3"):
        ln.correct(G, torch.ones(8), "pos_x", ["pos_y"], ln.CorrectConfig(layers=(0, 4, 9)), space="w+")
    with pytest.raises(ValueError, match="layers must be W\\+ layer indices"):
        ln.CorrectConfig(layers=())


def test_correct_cli_refuses_layers_for_a_z_direction_in_one_line(tmp_path, x_vector):
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", x_vector, "--attribute", "pos_x",
              "--against", "pos_y", "--layers", "0-3", "-o", tmp_path / "out.safetensors")  # fmt: skip
    assert res.exit_code == 2 and "needs a direction in StyleGAN2's W+ space" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not list(tmp_path.iterdir())


# ------------------------------------------------------------------------------------- bad cases
def test_samples_that_fall_back_onto_the_diagonal_end_in_one_line_saying_what_to_change(tmp_path, x_vector,
                                                                                        monkeypatch):  # fmt: skip
    """A generator that cannot draw the rare combinations (here: synthesis that leaves every sample where it was,
    so the inversion lands back on the diagonal) ends the run with why and what to change; nothing written."""
    from latentnav.correction import steps as correction

    monkeypatch.setattr(correction, "synthesize", lambda G, z, *a, **k: (G(z).cpu(), z))
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", x_vector, "--attribute", "pos_x",
              "--against", "pos_y", "--scored", 300, "--samples", 40, "--invert-steps", 5,
              "-o", tmp_path / "x.safetensors")  # fmt: skip
    assert res.exit_code == 1, res.output
    line = res.output.strip().splitlines()[-1]
    assert "only 0 of 40 synthesized samples landed off the diagonal" in line and "--offset" in line
    assert "--invert-steps" in line and not list(tmp_path.iterdir())


def test_a_diverged_inversion_is_reported_and_its_sample_dropped(monkeypatch):
    from toys import LayeredBlobGenerator

    import latentnav as ln
    from latentnav.correction import steps as correction

    real = correction.invert

    def diverging(G, images, **kw):
        z, loss = real(G, images, **kw)
        z[:7], loss[:7] = float("nan"), float("inf")
        return z, loss

    monkeypatch.setattr(correction, "invert", diverging)
    G = LayeredBlobGenerator(rho=0.8)
    cfg = ln.CorrectConfig(n_samples=400, n_low=60, invert_steps=10, fit_steps=20)
    c = ln.correct(G, torch.tensor([1.0, 0.0, 0.0, 0.0]), "pos_x", ["pos_y"], cfg, space="z", eval_n=40)
    r, s = c.report, c.samples
    assert r["inversion_diverged"] == 7 and not s["kept"][:7].any() and np.isnan(s["rescored"][:7]).all()
    assert 5 <= r["low_density_kept"] <= 53 and np.isfinite(r["inversion_loss_mean"])
    assert torch.isfinite(c.direction.u).all()


def test_correct_refuses_a_direction_made_for_another_model_or_of_another_width(tmp_path, x_vector):
    res = run("correct", "--model", "bvae-dsprites", "--direction", x_vector, "--attribute", "pos_x", "--against",
              "pos_y", "-o", tmp_path / "x.safetensors")  # fmt: skip
    assert res.exit_code != 0 and "made for model 'bvae-dsprites-corr', not 'bvae-dsprites'" in res.output
    assert len(res.output.strip().splitlines()) == 1
    np.save(tmp_path / "v.npy", np.ones(12, dtype=np.float32))
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", tmp_path / "v.npy", "--space", "z",
              "--attribute", "pos_x", "--against", "pos_y", "-o", tmp_path / "x.safetensors")  # fmt: skip
    assert res.exit_code != 0 and "dimension 12" in res.output and "has 10" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy"]


def test_correct_takes_user_scorers_as_module_function(tmp_path, x_vector, monkeypatch):
    """--against correct_scorers:height (the y centroid, in torch: the meter re-fit works through it); a scorer that
    returns a list has no gradient: the meter re-fit says to use --refit logistic, in one line."""
    (tmp_path / "correct_scorers.py").write_text("from latentnav.measure import centroid_y\n\n\ndef height(images):\n"
                                            "    return centroid_y(images)\n\n\ndef as_list(images):\n"
                                            "    return centroid_y(images).tolist()\n")  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "out" / "x.safetensors"
    small = ["--scored", 400, "--samples", 80, "--invert-steps", 20, "--fit-steps", 40, "--fit-iterations", 3, "--eval-n", 100]
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", x_vector, "--attribute", "pos_x",
              "--against", "correct_scorers:height", *small, "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads((out.parent / "x.report.json").read_text())
    ev = report["eval"]
    assert report["against"] == ["correct_scorers:height"] and report["correlation"][0] > 0.6
    leak = {k: ev[k]["leakage"]["correct_scorers:height"] for k in ("base", "projection", "corrected")}
    assert leak["base"] > 0.3 and leak["projection"] < leak["base"] and leak["corrected"] < leak["base"]
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", x_vector, "--attribute", "pos_x",
              "--against", "correct_scorers:as_list", *small, "-o", tmp_path / "list.safetensors")  # fmt: skip
    assert res.exit_code == 1 and "--refit logistic" in res.output and not (tmp_path / "list.safetensors").exists()
    res = run("correct", "--model", "bvae-dsprites-corr", "--direction", x_vector, "--attribute", "pos_x",
              "--against", "no_such_module:f", "-o", tmp_path / "none.safetensors")  # fmt: skip
    assert res.exit_code != 0 and "cannot import scorer module 'no_such_module'" in res.output


# ------------------------------------------------------------------------------ a face model and your own attribute
SCORER = '''import torch

NET = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 4, 4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 16 * 16, 1))
NET.load_state_dict(torch.load(__file__.replace(".py", ".pt"), weights_only=True))
NET.requires_grad_(False)


def bright(images):
    """A tiny classifier's logit that the face image is brighter than the median (gradients flow to the images)."""
    return NET(images).squeeze(1)
'''


def _has_digiface() -> bool:
    import importlib.util

    return importlib.util.find_spec("gan_face_generate") is not None


@pytest.mark.skipif(not _has_digiface(), reason="pip install --no-deps gan-face-generate==1.1.1 for the real weights")
def test_an_interfacegan_npy_on_a_face_model_is_corrected_with_a_trained_torch_classifier_as_scorer(tmp_path, monkeypatch):
    """The route of ``latentnav correct --direction age.npy``: an InterFaceGAN-style boundary saved as a plain .npy
    (here the classifier's own boundary), ``--space z`` on ``dcgan-digiface``, and a user scorer ``module:function``
    wrapping a torch classifier trained here (its gradients carry the meter re-fit), corrected against pos_y."""
    import latentnav as ln
    from latentnav.measure import brightness

    G = ln.load_generator("dcgan-digiface", device="cpu")
    z = G.sample_latent(range(400))
    with torch.no_grad():
        images = G(z)
    label = (brightness(images) > brightness(images).median()).float()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 4, 4), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 16 * 16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(images).squeeze(1), label)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        logit = net(images).squeeze(1)
    assert ((logit > 0).float() == label).float().mean() > 0.8  # the classifier has learnt its attribute
    torch.save(net.state_dict(), tmp_path / "face_scorer.pt")
    (tmp_path / "face_scorer.py").write_text(SCORER)
    monkeypatch.syspath_prepend(str(tmp_path))
    # an InterFaceGAN-style boundary: the normal of a linear separation of the classifier's labels, as a .npy
    boundary = np.linalg.lstsq(z.double().numpy(), (logit > 0).double().numpy() * 2 - 1, rcond=None)[0]
    np.save(tmp_path / "bright.npy", (boundary / np.linalg.norm(boundary)).astype(np.float32))
    out = tmp_path / "out" / "bright.safetensors"
    res = run("correct", "--model", "dcgan-digiface", "--direction", tmp_path / "bright.npy", "--space", "z",
              "--attribute", "face_scorer:bright", "--against", "pos_y", "--scored", 200, "--samples", 30,
              "--invert-steps", 3, "--fit-iterations", 2, "--fit-latents", 60, "--no-hold-others", "--eval-n", 30,
              "--device", "cpu", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    report = json.loads((out.parent / "bright.report.json").read_text())
    assert report["attribute"] == "face_scorer:bright" and report["refit"]["optimizer"] == "slsqp"
    assert report["refit"]["iterations"] >= 1 and report["low_density_kept"] >= 5
    corrected = ln.load_direction(out)
    assert corrected.calibrated and corrected.space == "z" and corrected.model == "dcgan-digiface"
    ev = report["eval"]["corrected"]
    assert ev["steer"]["slope"] > 0 and np.isfinite(ev["changes"]["pos_y"])
    assert "brightness change per unit face_scorer:bright" in res.output  # the face model's other meters, read
    assert (out.parent / "bright.grids.png").exists()


@pytest.mark.filterwarnings("ignore:weak control")
def test_a_correction_that_leaves_most_of_the_leakage_says_so_and_names_the_hold():
    """On bvae-dsprites-corr a y-free x direction must grow the sprite more than the base does; holding the scale
    near the base's change (the default) leaves y in place, and the run warns; letting the scale move removes it."""
    import latentnav as ln

    C = ln.load_generator("bvae-dsprites-corr", device="cpu")
    x_dir = ln.discover(C, "shift-x", n_trajectories=12, calibration_starts=8, progress=False).direction
    small = {"n_samples": 600, "n_low": 80, "invert_steps": 30, "fit_optimizer": "adam", "fit_steps": 20}
    with pytest.warns(UserWarning, match=r"removed less than half .* holding scale .* --no-hold-others"):
        held = ln.correct_direction(C, x_dir, "pos_x", ["pos_y"], CorrectConfig(**small), eval_n=100)
    free = ln.correct_direction(C, x_dir, "pos_x", ["pos_y"], CorrectConfig(**small, hold_others=False), eval_n=100)
    ev_held, ev_free = held.result.report["eval"], free.result.report["eval"]
    assert ev_held["corrected"]["leakage_max"] > 0.5 * ev_held["base"]["leakage_max"]
    assert free.warning is None and ev_free["corrected"]["leakage_max"] < 0.5 * ev_free["base"]["leakage_max"]
    assert ev_free["corrected"]["changes"]["scale"] > ev_held["corrected"]["changes"]["scale"]  # the cost, in scale
