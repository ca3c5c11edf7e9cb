"""Directions made by other tools: GANSpace's .npz components, rosinality's closed-form .pt eigenvectors, and
export to a plain .npy. The files are written here in those tools' layouts (GANSpace ``decomposition.py``:
``lat_comp`` [K, 1, D] with ``lat_stdev`` [K] among other arrays; rosinality ``closed_form_factorization.py``:
``torch.save({"ckpt": path, "eigvec": V})`` with one direction per column of V [D, K])."""

import json
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import latentnav as ln
from latentnav import measure
from latentnav.cli import main
from latentnav.directions import Direction, export_npy, load_direction, traverse
from latentnav.errors import BadInputError, DirectionFileError, OutputExistsError
from latentnav.testbed.report import factor_axes

D, K = 10, 4  # bvae-dsprites: a 10-dim z


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def x_axis(bvae):
    """The unit vector along the latent that moves the sprite right (the encoder's best pos_x axis, signed)."""
    axis = factor_axes(bvae, n=1000)["pos_x"]
    u = torch.zeros(D)
    u[axis["axis"]] = float(np.sign(axis["r"]))
    return u


def ganspace_file(path, comp, **extra):
    """A GANSpace-layout .npz: lat_comp [K, 1, D] and the other arrays decomposition.py saves."""
    k = comp.shape[0]
    arrays = {"act_comp": np.zeros((k, 32), np.float32), "act_mean": np.zeros(32, np.float32),
              "act_stdev": np.linspace(3.0, 1.0, k).astype(np.float32), "lat_comp": comp.reshape(k, 1, -1).astype(np.float32),
              "lat_mean": np.zeros((1, comp.shape[-1]), np.float32), "lat_stdev": np.linspace(2.0, 0.5, k).astype(np.float32),
              "var_ratio": np.full(k, 1.0 / k, np.float32), "random_stdevs": np.ones(k, np.float32)}  # fmt: skip
    np.savez_compressed(path, **{**arrays, **extra})
    return path


def closed_form_file(path, eigvec):
    """A closed-form factorization .pt as rosinality's script writes it."""
    torch.save({"ckpt": "checkpoint/550000.pt", "eigvec": eigvec}, path)
    return path


def sprite_shift(G, d, alphas=(-1.5, 1.5), n=16):
    """Mean change of the sprite's x and y centroid (fractions of the image) between the two raw steps."""
    images = traverse(G, d, G.sample_z(n, seed=5), alpha=list(alphas))
    with torch.no_grad():
        dx = measure.centroid_x(images[1]) - measure.centroid_x(images[0])
        dy = measure.centroid_y(images[1]) - measure.centroid_y(images[0])
    return float(np.nanmean(dx.numpy())), float(np.nanmean(np.abs(dy.numpy()))), dx


# ------------------------------------------------------------------------------------------------- reading
def test_each_ganspace_component_is_its_normalised_row_with_its_stdev(tmp_path):
    comp = np.random.default_rng(0).normal(size=(K, D)) * 3.0  # rows of length != 1: the loader normalises
    path = ganspace_file(tmp_path / "pcs.npz", comp)
    for k in range(K):
        d = load_direction(path, space="z", component=k)
        assert torch.allclose(d.u, torch.from_numpy(comp[k] / np.linalg.norm(comp[k])).float(), atol=1e-6)
        assert d.space == "z" and d.method == "ganspace-npz" and not d.calibrated and d.model == ""
        assert d.meta["component"] == k and d.meta["components"] == K and d.meta["source"] == "ganspace"
        assert d.meta["stdev"] == pytest.approx(np.linspace(2.0, 0.5, K)[k], rel=1e-6)
        assert d.meta["act_stdev"] == pytest.approx(np.linspace(3.0, 1.0, K)[k], rel=1e-6)
    assert torch.equal(load_direction(path, space="z").u, load_direction(path, space="z", component=0).u)
    # only lat_comp is required
    bare = tmp_path / "bare.npz"
    np.savez(bare, lat_comp=comp[:, None, :])
    d = load_direction(bare, space="w", component=3)
    assert d.space == "w" and "stdev" not in d.meta and torch.allclose(d.u.norm(), torch.tensor(1.0))


def test_each_closed_form_component_is_its_normalised_column(tmp_path):
    eigvec = torch.randn(D, K, generator=torch.Generator().manual_seed(1)) * 0.3
    path = closed_form_file(tmp_path / "factor.pt", eigvec)
    for k in range(K):
        d = load_direction(path, space="w", component=k)
        assert torch.allclose(d.u, eigvec[:, k] / eigvec[:, k].norm(), atol=1e-6)
        assert d.space == "w" and d.method == "closed-form-pt" and not d.calibrated
        assert d.meta == {"source": "closed-form", "file": "factor.pt", "component": k, "components": K,
                          "ckpt": "checkpoint/550000.pt"}  # fmt: skip
    assert torch.equal(load_direction(path, space="w").u, load_direction(path, space="w", component=0).u)


# ---------------------------------------------------------------------------------------- using them
def test_a_ganspace_x_axis_component_traverses_on_the_cli_and_moves_the_sprite(tmp_path, bvae, x_axis):
    comp = np.random.default_rng(2).normal(size=(K, D))
    comp[2] = 4.0 * x_axis.numpy()
    path = ganspace_file(tmp_path / "f.npz", comp)
    grid = tmp_path / "grid.png"
    res = run("traverse", "--model", "bvae-dsprites", "--direction", path, "--space", "z", "--component", 2,
              "--alpha", "-1.5,1.5", "--steps", 3, "--seeds", "0-3", "--device", "cpu", "-o", grid)  # fmt: skip
    assert res.exit_code == 0, res.output
    with Image.open(grid) as im:
        assert im.width > 3 * 64 and im.height > 4 * 64  # 3 steps x 4 seeds of 64 px images
    dx, dy, each = sprite_shift(bvae, load_direction(path, space="z", component=2))
    assert dx > 0.25 and bool((each > 0.15).all()) and dy < 0.1  # right by about 0.4 of the width, y nearly still
    dx_other, _, _ = sprite_shift(bvae, load_direction(path, space="z", component=0))
    assert abs(dx_other) < dx  # another component moves it less


def closed_form_x_file(path, x_axis):
    """A closed-form file whose column 1 is the x axis with the wrong sign (calibration flips it so x grows)."""
    eigvec = torch.randn(D, K, generator=torch.Generator().manual_seed(3))
    eigvec[:, 1] = -2.0 * x_axis
    return closed_form_file(path, eigvec)


def test_a_closed_form_x_axis_column_evaluates_as_a_good_pos_x_control(tmp_path, x_axis):
    path = closed_form_x_file(tmp_path / "factor.pt", x_axis)
    res = run("evaluate", "--direction", path, "--space", "z", "--component", 1, "--target", "pos_x",
              "--attributes", "pos_x,pos_y", "-n", 8, "--steps", 3, "--device", "cpu", "-o", tmp_path / "ev")  # fmt: skip
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["steerability"]["r2"] > 0.8 and metrics["steerability"]["slope"] > 0.7
    assert metrics["leakage"]["pos_y"]["ratio"] < 0.2


def test_a_closed_form_column_is_corrected_into_a_latentnav_direction(tmp_path, x_axis):
    path = closed_form_x_file(tmp_path / "factor.pt", x_axis)
    out = tmp_path / "corrected.safetensors"
    res = run("correct", "--direction", path, "--space", "z", "--component", 1, "--attribute", "pos_x", "--against",
              "pos_y", "--scored", 200, "--samples", 20, "--invert-steps", 5, "--fit-iterations", 1,
              "--fit-optimizer", "slsqp", "--eval-n", 6, "--device", "cpu", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    corrected = load_direction(out)
    assert corrected.space == "z" and corrected.calibrated and corrected.method == "corrected:closed-form-pt"
    assert float(corrected.u @ x_axis) > 0.9


# ---------------------------------------------------------------------------------------------- refusals
def test_a_component_out_of_range_is_one_line_naming_how_many_there_are(tmp_path):
    npz = ganspace_file(tmp_path / "f.npz", np.eye(K, D))
    pt = closed_form_file(tmp_path / "f.pt", torch.eye(D, K))
    with pytest.raises(BadInputError, match=r"component 4 is out of range: f.npz holds 4 components \(0 to 3\)"):
        load_direction(npz, space="z", component=4)
    with pytest.raises(BadInputError, match=r"component 9 is out of range: f.pt holds 4 components \(0 to 3\)"):
        load_direction(pt, space="z", component=9)
    with pytest.raises(BadInputError, match="integer >= 0"):
        load_direction(npz, space="z", component=-1)
    res = run(
        "traverse", "--direction", npz, "--space", "z", "--component", 7, "--alpha", "-1,1", "-o", tmp_path / "g.png"
    )
    assert (
        res.exit_code == 2 and res.stderr == "error: component 7 is out of range: f.npz holds 4 components (0 to 3)\n"
    )
    assert not (tmp_path / "g.png").exists()


def test_a_foreign_file_without_its_space_is_refused_before_any_work(tmp_path):
    npz = ganspace_file(tmp_path / "f.npz", np.eye(K, D))
    pt = closed_form_file(tmp_path / "f.pt", torch.eye(D, K))
    with pytest.raises(BadInputError, match="f.npz is a GANSpace component file: say which latent space"):
        load_direction(npz)
    with pytest.raises(BadInputError, match="f.pt is a closed-form factorization file: say which latent space"):
        load_direction(pt, component=1)
    for command in (["traverse", "--alpha", "-1,1", "-o", tmp_path / "g.png"], ["evaluate", "-o", tmp_path / "ev"],
                    ["correct", "--attribute", "pos_x", "--against", "pos_y", "-o", tmp_path / "c.safetensors"],
                    ["export", "-o", tmp_path / "u.npy"]):  # fmt: skip
        res = run(*command, "--direction", pt)
        assert res.exit_code == 2 and "say which latent space it lives in" in res.stderr, command
        assert len(res.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npz", "f.pt"]


def test_a_pt_that_needs_unpickling_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")  # would create the marker if unpickled

    torch.save({"ckpt": "x", "eigvec": Payload()}, tmp_path / "evil.pt")
    (tmp_path / "plain.pt").write_bytes(pickle.dumps({"eigvec": Payload()}))
    for name in ("evil.pt", "plain.pt"):
        with pytest.raises(DirectionFileError, match="refused: it holds Python objects .* latentnav never unpickles"):
            load_direction(tmp_path / name, space="w")
        res = run("export", "--direction", tmp_path / name, "--space", "w", "-o", tmp_path / "u.npy")
        assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1 and "never unpickles" in res.stderr
    assert not marker.exists() and not (tmp_path / "u.npy").exists()


def test_files_of_the_wrong_layout_are_one_line_each(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.ones(3), bias=np.zeros(2))
    with pytest.raises(
        DirectionFileError, match=r"not a GANSpace component file: no lat_comp among its arrays \(bias, weights\)"
    ):
        load_direction(tmp_path / "other.npz", space="z")
    np.savez(tmp_path / "objects.npz", lat_comp=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DirectionFileError, match="lat_comp holds Python objects"):
        load_direction(tmp_path / "objects.npz", space="z")
    np.savez(tmp_path / "flat.npz", lat_comp=np.ones(D))
    with pytest.raises(DirectionFileError, match=r"lat_comp has shape \[10\]; expected \[components, latent"):
        load_direction(tmp_path / "flat.npz", space="z")
    np.save(tmp_path / "vector.npy", np.ones(D))
    (tmp_path / "vector.npz").write_bytes((tmp_path / "vector.npy").read_bytes())
    with pytest.raises(DirectionFileError, match="not an .npz archive"):
        load_direction(tmp_path / "vector.npz", space="z")
    good = ganspace_file(tmp_path / "good.npz", np.eye(K, D)).read_bytes()
    (tmp_path / "cut.npz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DirectionFileError, match="not a readable .npz archive"):
        load_direction(tmp_path / "cut.npz", space="z")
    torch.save({"ckpt": "x", "g_ema": {"w": torch.ones(2)}}, tmp_path / "ckpt.pt")
    with pytest.raises(
        DirectionFileError, match="expected a dict with 'eigvec' \\[D, K\\], got a dict with keys ckpt, g_ema"
    ):
        load_direction(tmp_path / "ckpt.pt", space="w")
    torch.save({"eigvec": torch.ones(D)}, tmp_path / "vec.pt")
    with pytest.raises(DirectionFileError, match=r"eigvec is \[10\]; expected a \[D, K\] tensor"):
        load_direction(tmp_path / "vec.pt", space="w")
    with pytest.raises(BadInputError, match="holds one direction"):
        load_direction(tmp_path / "vector.npy", space="z", component=1)


def test_sample_refuses_a_foreign_direction_for_t_dist_it_has_no_units_for(tmp_path):
    npz = ganspace_file(tmp_path / "f.npz", np.eye(K, D))
    res = run("sample", "--direction", npz, "--space", "z", "--component", 1, "--t-dist", "uniform:-0.1,0.1",
              "-o", tmp_path / "s.png")  # fmt: skip
    assert res.exit_code == 2 and "has no calibration" in res.stderr and not (tmp_path / "s.png").exists()


# ------------------------------------------------------------------------------------------------ export
def test_export_to_npy_and_back_gives_the_same_u_and_never_overwrites_without_force(tmp_path):
    u = torch.randn(D, generator=torch.Generator().manual_seed(4))
    u = u / u.norm()
    d = Direction(u, torch.tensor([-1.0, 1.0]), torch.tensor([-0.3, 0.3]), space="z", model="bvae-dsprites",
                  transform="shift-x", calibrated=True)  # fmt: skip
    out = export_npy(d, tmp_path / "u.npy")
    raw = np.load(out, allow_pickle=False)
    assert raw.dtype == np.float32 and raw.shape == (D,)
    assert torch.equal(load_direction(out, space="z").u, u)
    with pytest.raises(OutputExistsError, match="pass --force"):
        export_npy(d, out)
    export_npy(ln.load_direction(out, space="z"), out, force=True)  # replaced whole
    # on the command line: a latentnav file and a GANSpace component
    d.save(tmp_path / "d.safetensors")
    res = run("export", "--direction", tmp_path / "d.safetensors", "-o", tmp_path / "cli.npy")
    assert res.exit_code == 0 and "calibration g is not in a .npy" in res.output
    assert torch.equal(torch.from_numpy(np.load(tmp_path / "cli.npy")), u)
    res = run("export", "--direction", tmp_path / "d.safetensors", "-o", tmp_path / "cli.npy")
    assert res.exit_code == 2 and res.stderr.startswith("error: ") and "exists" in res.stderr
    comp = np.random.default_rng(5).normal(size=(K, D))
    npz = ganspace_file(tmp_path / "f.npz", comp)
    res = run("export", "--direction", npz, "--space", "z", "--component", 3, "-o", tmp_path / "cli.npy", "--force")
    assert res.exit_code == 0, res.output
    assert np.allclose(np.load(tmp_path / "cli.npy"), comp[3] / np.linalg.norm(comp[3]), atol=1e-6)
    res = run("export", "--direction", tmp_path / "cli.npy", "--space", "z", "-o", tmp_path / "cli.npy", "--force")
    assert res.exit_code == 2 and "input" in res.stderr  # never the input, even with --force
    res = run("export", "--direction", npz, "--space", "z", "-o", tmp_path / "u.txt")
    assert res.exit_code == 2 and ".npy" in res.stderr and not (tmp_path / "u.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".latentnav-tmp")]
