import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from latentnav.cli import main
from latentnav.directions import load_direction
from latentnav.testbed.report import factor_axes

QUICK = ["--trajectories", "8", "--steps", "2", "--max-iters", "8", "--device", "cpu"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_discover_writes_a_direction_that_moves_the_sprite_along_x(tmp_path, bvae):
    out = tmp_path / "shift-x"
    res = run("discover", "--model", "bvae-dsprites", "--transform", "shift-x", *QUICK, "-o", out)
    assert res.exit_code == 0, res.output
    for name in ("direction.safetensors", "direction.json", "config.json", "trajectories.npz", "metrics.json",
                 "traverse.png", "traverse.gif"):  # fmt: skip
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["generator_evals"] > 0 and metrics["fits"] == 8 * 2 * 2
    traj = np.load(out / "trajectories.npz")
    assert traj["zt"].shape == (32, 10) and traj["kept"].sum() == 32 - 4 * int(0.1 * 8)  # worst decile per target t
    d = load_direction(out / "direction.safetensors")
    assert d.model == "bvae-dsprites" and d.transform == "shift-x" and d.meta["unit"] == "fraction of width"
    # the direction lies mostly along the latent that encodes pos_x
    axis = factor_axes(bvae, n=1000)["pos_x"]["axis"]
    assert abs(d.u[axis].item()) > 0.7
    assert Image.open(out / "traverse.gif").n_frames > 2


def test_traverse_writes_one_row_per_seed(tmp_path, bvae):
    out = tmp_path / "d"
    assert run("discover", "--transform", "shift-y", *QUICK, "-o", out).exit_code == 0
    res = run("traverse", "--direction", out / "direction.safetensors", "--seeds", "0-2", "--t", "-0.1,0.1",
              "--steps", "5", "--mode", "absolute", "-o", tmp_path / "g.png", "--gif", tmp_path / "g.gif")  # fmt: skip
    assert res.exit_code == 0, res.output
    img = Image.open(tmp_path / "g.png")
    assert img.size == ((5 * 66 + 2) * 2 + 84, (3 * 66 + 2) * 2 + 16)  # the grid, a caption row above, seeds at the left


def test_discover_bad_input_is_one_line_and_writes_nothing(tmp_path):
    res = run("discover", "--transform", "warp", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "unknown transform 'warp'; known: brightness" in res.stderr
    assert res.stderr.count("\n") == 1
    res = run("discover", "--transform", "shift-x", "--max-t", "1.5", *QUICK, "-o", tmp_path / "y")
    assert res.exit_code == 2 and "outside the transform's range" in res.stderr
    res = run("discover", "--transform", "shift-x", "--sigma", "0", "-o", tmp_path / "z")
    assert res.exit_code == 2 and "Invalid value for '--sigma'" in res.stderr
    assert not any(tmp_path.iterdir())  # no output directory, no temporary left behind


def test_direction_for_another_model_is_refused_on_the_cli(tmp_path):
    out = tmp_path / "d"
    assert run("discover", "--transform", "shift-x", *QUICK, "-o", out).exit_code == 0
    res = run("traverse", "--model", "bvae-dsprites-b1", "--direction", out / "direction.safetensors", "-o", tmp_path / "g.png")
    assert res.exit_code == 2 and "made for model 'bvae-dsprites', not 'bvae-dsprites-b1'" in res.stderr


def test_sample_shapes_the_factor_distribution(tmp_path, bvae):
    out = tmp_path / "d"
    assert run("discover", "--transform", "shift-x", *QUICK, "-o", out).exit_code == 0
    res = run("sample", "--direction", out / "direction.safetensors", "--t-dist", "uniform:-0.1,0.1", "-n", "8",
              "-o", tmp_path / "s.png")  # fmt: skip
    assert res.exit_code == 0, res.output
    res = run("sample", "--direction", out / "direction.safetensors", "--t-dist", "uniform:0.3,0.1", "-o", tmp_path / "t.png")
    assert res.exit_code == 2 and "LO < HI" in res.stderr
