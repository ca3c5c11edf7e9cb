import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import latentnav as ln
from latentnav.cli import main, parse_seeds


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_models_lists_the_embedded_models_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = run("models", "--json")
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    for name in ("bvae-dsprites", "bvae-dsprites-b4", "bvae-dsprites-corr", "bvae-dsprites-b1"):
        assert rows[name]["available"] is True and rows[name]["z_dim"] == 10 and rows[name]["resolution"] == 64
    table = run("models")
    assert table.exit_code == 0 and "bvae-dsprites-corr" in table.stdout and "package" in table.stdout


def test_sample_writes_the_generator_images_as_a_grid(tmp_path):
    out = tmp_path / "grid.png"
    res = run("sample", "--model", "bvae-dsprites", "--seeds", "0-3", "--upscale", "1", "--device", "cpu", "-o", str(out))
    assert res.exit_code == 0, res.output
    img = np.asarray(Image.open(out))
    assert img.shape == (2 * 66 + 2, 2 * 66 + 2)
    G = ln.load_generator("bvae-dsprites", device="cpu")
    from latentnav.viz import to_uint8

    expected = to_uint8(G(G.sample_z(seeds=[3])).detach())[0, :, :, 0]
    assert np.array_equal(img[68:132, 68:132], expected)  # seed 3 sits at row 1, column 1


def test_unknown_model_exits_2_with_one_line_listing_known_names(tmp_path):
    res = run("sample", "--model", "no-such-model", "-o", str(tmp_path / "x.png"))
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1
    assert "unknown model 'no-such-model'; known: " in res.stderr and "bvae-dsprites, " in res.stderr
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("corr,msg", [("pos_x:nose:0.5", "unknown or categorical factor 'nose'"), ("pos_x:pos_y:1", "|rho| < 1")])
def test_train_refuses_bad_correlate(tmp_path, corr, msg):
    out = tmp_path / "m.safetensors"
    res = run("train", "bvae", "--steps", "1", "--correlate", corr, "-o", str(out))
    assert res.exit_code != 0 and msg in res.stderr and res.stderr.count("\n") == 1
    assert not out.exists()


def test_train_bvae_writes_a_loadable_model_and_its_config(tmp_path):
    out = tmp_path / "m.safetensors"
    res = run("train", "bvae", "--steps", "2", "--batch-size", "4", "--beta", "2", "-o", str(out))
    assert res.exit_code == 0, res.output
    G = ln.load_generator(out, device="cpu")
    assert G.metadata["steps_done"] == "2"
    assert json.loads((tmp_path / "m.config.json").read_text())["beta"] == 2.0


def test_parse_seeds():
    assert parse_seeds("0-3,7") == [0, 1, 2, 3, 7]
    assert parse_seeds("5") == [5]


def test_every_lazy_export_survives_importing_every_submodule():
    # A submodule named like an export (the old latentnav/discover.py) would replace the function on first import.
    import importlib
    import pkgutil

    for info in pkgutil.walk_packages(ln.__path__, "latentnav."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name, module in ln._EXPORTS.items():
        assert getattr(ln, name) is getattr(importlib.import_module(module), name), name
    assert callable(ln.discover)
