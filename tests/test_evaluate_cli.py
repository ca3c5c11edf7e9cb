"""discover --method, evaluate, compare and evaluate-model on the command line, and their bad inputs."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from toys import PlantedGenerator

from latentnav.cli import main
from latentnav.directions import load_direction
from latentnav.errors import AttributeNotMeasurableError, MethodNotApplicableError
from latentnav.evaluate import calibrate_direction, evaluate_direction
from latentnav.measure import get_meter
from latentnav.testbed.report import factor_axes


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def axes(bvae):
    return factor_axes(bvae, n=1000)


def test_sefa_with_an_attribute_picks_and_calibrates_the_x_component(tmp_path, bvae, axes):
    out = tmp_path / "sefa"
    res = run("discover", "--method", "sefa", "--attribute", "pos_x", "--components", "4", "--device", "cpu", "-o", out)
    assert res.exit_code == 0, res.output
    d = load_direction(out / "direction.safetensors")
    assert d.method == "sefa" and d.calibrated and d.transform == "shift-x" and d.meta["calibrated_by"] == "pos_x"
    assert abs(d.u[axes["pos_x"]["axis"]].item()) > 0.7  # the latent that encodes pos_x
    assert sorted(p.name for p in (out / "components").glob("*.safetensors")) == [f"0{k}.safetensors" for k in range(4)]
    info = json.loads((out / "metrics.json").read_text())
    assert len(info["eigenvalues"]) == 4 and info["pick_scores"][info["choice"]] == max(info["pick_scores"])
    # moving by t through g shifts the sprite by about t of the width (measured from pixels)
    z = bvae.sample_z(40, seed=77)
    from latentnav import measure

    with torch.no_grad():
        change = measure.centroid_x(bvae(d.move(z, 0.1))) - measure.centroid_x(bvae(z))
    assert float(np.nanmean(change.numpy())) == pytest.approx(0.1, abs=0.03)


def test_ganspace_without_an_attribute_saves_the_chosen_raw_component(tmp_path):
    out = tmp_path / "gs"
    res = run("discover", "--method", "ganspace", "--components", "3", "--component", "1", "--samples", "500",
              "--device", "cpu", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    d = load_direction(out / "direction.safetensors")
    assert d.method == "ganspace" and not d.calibrated and d.meta["rank"] == 1 and d.meta["feature"] == "decoder_fc"
    assert (out / "components.png").is_file() and (out / "traverse.gif").is_file()


def test_interfacegan_from_a_meter_and_evaluate_writes_every_artifact(tmp_path, axes):
    out = tmp_path / "ifg"
    res = run("discover", "--method", "interfacegan", "--attribute", "pos_y", "--samples", "1000", "--ratio", "0.1",
              "--device", "cpu", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    d = load_direction(out / "direction.safetensors")
    assert d.method == "interfacegan" and d.calibrated and abs(d.u[axes["pos_y"]["axis"]].item()) > 0.7
    ev = tmp_path / "ev"
    res = run("evaluate", "--direction", out / "direction.safetensors", "-n", "12", "--device", "cpu", "-o", ev)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in ev.iterdir()) == [".latentnav-manifest.json", "leakage.png", "metrics.json", "report.md", "steerability.png"]
    m = json.loads((ev / "metrics.json").read_text())
    assert m["target"] == "pos_y" and m["steerability"]["r2"] > 0.5 and m["steerability"]["slope"] > 0.5
    assert set(m["leakage"]) == {"pos_x", "pos_y", "scale"} and m["leakage"]["pos_y"]["slope"] == pytest.approx(1)
    assert "| R^2 (achieved vs requested) |" in (ev / "report.md").read_text()


def test_a_user_scorer_drives_interfacegan_and_bad_scorers_are_one_line_errors(tmp_path, monkeypatch, axes):
    (tmp_path / "my_scorers.py").write_text(
        "import torch\n"
        "from latentnav import measure\n"
        "def right(images):\n    return measure.centroid_x(images).nan_to_num(0.5)\n"
        "def wide(images):\n    return torch.zeros(len(images), 3)\n"
        "def broken(images):\n    return torch.full((len(images),), float('nan'))\n"
        "not_callable = 3\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    res = run("discover", "--method", "interfacegan", "--scorer", "my_scorers:right", "--samples", "1000", "--ratio", "0.1",
              "--device", "cpu", "-o", "ok")  # fmt: skip
    assert res.exit_code == 0, res.output
    d = load_direction(tmp_path / "ok" / "direction.safetensors")
    assert not d.calibrated and d.meta["attribute"] == "my_scorers:right" and abs(d.u[axes["pos_x"]["axis"]].item()) > 0.7
    # the scorer is a target and a leakage attribute of evaluate too: calibrated by it, the direction moves it as asked
    res = run("evaluate", "--direction", "ok/direction.safetensors", "--target", "my_scorers:right",
              "--attributes", "pos_y,my_scorers:right", "-n", "40", "--device", "cpu", "-o", "ev")  # fmt: skip
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["target"] == "my_scorers:right" and m["steerability"]["r2"] > 0.9 and m["steerability"]["slope"] > 0.85
    assert m["leakage"]["my_scorers:right"]["slope"] == pytest.approx(1) and abs(m["leakage"]["pos_y"]["slope"]) < 0.1
    res = run("evaluate", "--direction", "ok/direction.safetensors", "--target", "no_such_module:f", "-n", "4",
              "--device", "cpu", "-o", "ev_bad")  # fmt: skip
    assert res.exit_code == 2 and "cannot import scorer module 'no_such_module'" in res.stderr
    assert res.stderr.count("\n") == 1 and not (tmp_path / "ev_bad").exists()
    expect = {
        "my_scorers:wide": "my_scorers:wide returned scores of shape [500, 3]; expected [500] (one score per image)",
        "my_scorers:broken": "my_scorers:broken returned NaN or infinite scores for 500 of 500 images",
        "my_scorers:missing": "scorer module 'my_scorers' has no attribute 'missing'",
        "my_scorers:not_callable": "my_scorers:not_callable is not callable",
        "no_such_module:f": "cannot import scorer module 'no_such_module'",
        "just_a_name": "expected a scorer as module:function",
    }
    for spec, message in expect.items():
        res = run("discover", "--method", "interfacegan", "--scorer", spec, "--samples", "1000", "--device", "cpu", "-o", "bad")
        assert res.exit_code == 2 and message in res.stderr and res.stderr.count("\n") == 1, (spec, res.output)
    assert not (tmp_path / "bad").exists()


def test_attributes_that_cannot_be_measured_are_explained(tmp_path, bvae):
    d = tmp_path / "d"
    assert run("discover", "--method", "sefa", "--components", "2", "--device", "cpu", "-o", d).exit_code == 0
    res = run("evaluate", "--direction", d / "direction.safetensors", "--target", "pos_x", "--attributes", "pos_x,hue",
              "--device", "cpu", "-o", tmp_path / "e")  # fmt: skip
    assert res.exit_code == 2
    assert res.stderr == ("error: attribute 'hue' cannot be measured on bvae-dsprites: it needs 3-channel images and "
                          "bvae-dsprites makes 1-channel ones\n")  # fmt: skip
    res = run("discover", "--method", "interfacegan", "--attribute", "hue", "--device", "cpu", "-o", tmp_path / "h")
    assert res.exit_code == 2 and "attribute 'hue' cannot be measured on bvae-dsprites" in res.stderr
    res = run("evaluate", "--direction", d / "direction.safetensors", "--target", "smile", "--device", "cpu", "-o", tmp_path / "s")
    assert res.exit_code == 2 and "unknown attribute 'smile'; known: area, brightness, hue, log_scale, pos_x" in res.stderr
    res = run("evaluate", "--direction", d / "direction.safetensors", "--device", "cpu", "-o", tmp_path / "t")
    assert res.exit_code == 2 and "give the target attribute (--target pos_x)" in res.stderr
    with pytest.raises(AttributeNotMeasurableError, match="needs 3-channel images"):
        get_meter("hue", bvae)
    assert not any(p.name in ("e", "h", "s", "t") for p in tmp_path.iterdir())


def test_methods_that_do_not_apply_are_explained(tmp_path):
    res = run("discover", "--method", "sefa", "--layers", "0-3", "--device", "cpu", "-o", tmp_path / "a")
    assert res.exit_code == 2 and "layers apply to the w/w+ spaces of a layered generator (StyleGAN2)" in res.stderr
    res = run("discover", "--method", "sefa", "--layers", "a-b", "-o", tmp_path / "a")
    assert res.exit_code == 2 and "expected layers as non-negative integers and ranges like 0-3,8, got 'a-b'" in res.stderr
    res = run("discover", "--method", "sefa", "--transform", "zoom", "-o", tmp_path / "b")
    assert res.exit_code == 2 and "--transform belongs to --method trajectory, not sefa (for the attribute it changes: --attribute scale)" in res.stderr
    res = run("discover", "--method", "interfacegan", "--device", "cpu", "-o", tmp_path / "c")
    assert res.exit_code == 2 and "interfacegan needs the attribute to separate" in res.stderr
    res = run("discover", "--method", "sefa", "--scorer", "x:y", "--device", "cpu", "-o", tmp_path / "c")
    assert res.exit_code == 2 and "--scorer does not apply to --method sefa" in res.stderr
    res = run("discover", "--method", "trajectory", "-o", tmp_path / "d")
    assert res.exit_code == 2 and "--method trajectory needs --transform" in res.stderr
    res = run("compare", "--target", "pos_x", "--methods", "sefa,pca", "-o", tmp_path / "e")
    assert res.exit_code == 2 and "unknown method 'pca'; known: ganspace, interfacegan, sefa, trajectory" in res.stderr
    res = run("evaluate-model", "--model", "dcgan-digiface", "--preset", "fast")
    assert res.exit_code != 0 and res.stderr.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_evaluate_model_refuses_a_model_without_encoder_or_factors():
    from latentnav.metrics.disentanglement import evaluate_model

    with pytest.raises(MethodNotApplicableError, match="toy-planted has no encoder"):
        evaluate_model(PlantedGenerator())


def test_compare_on_the_command_line_writes_one_table(tmp_path):
    out = tmp_path / "cmp"
    res = run("compare", "--target", "shift-x", "--methods", "sefa", "-n", "8", "--candidates", "2", "--device", "cpu",
              "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    table = (out / "compare.md").read_text()
    assert table.startswith("| target | method | direction | R^2 |") and table.count("\n") == 3
    assert "| pos_x | sefa | component 0 of 2 |" in table and table in res.stdout
    data = json.loads((out / "compare.json").read_text())
    assert [r["method"] for r in data["runs"]] == ["sefa"]
    r = data["runs"][0]
    assert r["metrics"]["steerability"]["r2"] > 0.5 and r["metrics"]["t_values"][0] == pytest.approx(-0.15)
    assert r["find_evals"] == 0 and r["pick_evals"] == 2 * 6 * 32 + 41 * 64  # pick: 2 candidates x 6 x 32; calibrate
    for name in ("sefa.safetensors", "steerability.png", "leakage.png"):
        assert (out / name).is_file(), name


def test_compare_finds_the_planted_direction_with_every_method():
    from latentnav.evaluate import compare
    from latentnav.methods.trajectory.config import TrajectoryConfig

    G = PlantedGenerator()
    runs = compare(G, "pos_x", attributes=["pos_x", "pos_y"], n_eval=12, n_candidates=3, ganspace_samples=4000,
                   ganspace_feature="first", interfacegan_samples=1000, interfacegan_ratio=0.1,
                   trajectory_config=TrajectoryConfig(n_trajectories=8, n_steps=2, max_t=0.15))  # fmt: skip
    assert [r.method for r in runs] == ["trajectory", "ganspace", "sefa", "interfacegan"]
    for r in runs:
        assert torch.dot(r.direction.u, G.u_x).item() > 0.95, r.method  # signed: calibrated so x grows
        assert r.evaluation.metrics["leakage"]["pos_y"]["ratio"] < 0.1, r.method
    assert runs[1].choice.startswith("component 0 of 3") and runs[2].choice == "component 0 of 3"
    assert runs[2].find_evals == 0 and runs[3].find_evals == 1000 and runs[0].pick_evals == 0


def test_calibration_by_meter_recovers_the_toy_s_known_curve():
    G = PlantedGenerator()
    from latentnav.directions import identity_direction

    raw = identity_direction(-G.u_x, "z", model=G.name, method="npy")  # the wrong sign on purpose
    d = calibrate_direction(G, raw, get_meter("pos_x"), n=16)
    assert torch.dot(d.u, G.u_x).item() > 0.99 and d.meta["sign_flipped"]
    # x centre = 0.5 + 0.25 tanh(c a) with c = |mean of rows 0..31|: g(a) - g(0) follows it
    c = G.net.first.weight[:32].mean(dim=0) @ d.u
    for a in (-1.0, 0.5, 1.5):
        assert d.t_of(a).item() == pytest.approx(0.25 * np.tanh(c.item() * a), abs=0.01)
    # the blob cannot leave [0.25, 0.75] of the width, so large moves of off-centre latents fall short
    ev = evaluate_direction(G, d, target="pos_x", attributes=["pos_x", "pos_y"], n=20)
    s = ev.metrics["steerability"]
    assert 0.7 < s["slope"] < 1.0 and s["r2"] > 0.75
    small = evaluate_direction(G, d, target="pos_x", attributes=["pos_x", "pos_y"], n=20, t_values=np.linspace(-0.05, 0.05, 5))
    assert small.metrics["steerability"]["slope"] > s["slope"] and small.metrics["steerability"]["r2"] > 0.85
    assert ev.metrics["leakage"]["pos_y"]["ratio"] < 0.01 and ev.metrics["mi"]["mi_target"] > 0.7
    assert ev.metrics["mi"]["mi_other"]["pos_y"] < 0.1 and ev.metrics["mi"]["mi_leak_share"] < 0.1


def test_evaluate_model_on_the_shipped_beta_vae_reads_its_position_latents(bvae):
    from latentnav.metrics.disentanglement import evaluate_model, metrics_markdown

    tiny = {"beta_vae": {"num_train": 150, "num_eval": 80, "batch_size": 8},
            "factor_vae": {"num_train": 150, "num_eval": 80, "num_variance_estimate": 500, "batch_size": 8},
            "mig": {"num_train": 1000}, "sap": {"num_train": 300, "num_test": 200},
            "dci": {"num_train": 200, "num_test": 100, "n_estimators": 5}, "tc": {"num_train": 500, "num_sampled": 200}}  # fmt: skip
    r = evaluate_model(bvae, preset=tiny)
    assert r["beta_vae"]["eval_accuracy"] > 0.4  # chance: 0.2
    assert r["mig"]["per_factor"]["pos_x"] > 0.1 and r["mig"]["per_factor"]["pos_y"] > 0.1
    assert r["factor_vae"]["num_active_dims"] >= 2 and np.isfinite(r["total_correlation"]["sampled"])
    assert metrics_markdown({"bvae-dsprites": r}).count("\n") == 3


def test_compare_reports_a_method_that_does_not_apply_instead_of_crashing():
    from toys import BlobGenerator

    from latentnav.evaluate import compare, compare_rows

    runs = compare(BlobGenerator(), "pos_x", methods=["sefa", "interfacegan"], attributes=["pos_x", "pos_y"], n_eval=8,
                   interfacegan_samples=600, interfacegan_ratio=0.1)  # fmt: skip
    assert runs[0].evaluation is None and "SeFa needs the weight that first acts on the latent" in runs[0].note
    assert runs[1].evaluation is not None and runs[1].evaluation.metrics["steerability"]["r2"] > 0.8
    rows = compare_rows(runs, "pos_x")
    assert rows[0].startswith("| pos_x | sefa | not applicable: SeFa needs") and rows[0].endswith("| - | - | - | - | - | - | - | - |")
