"""Model, registry and direction files are checked before they are used: every bad file ends in one line
naming the file and the problem, raised as latentnav's own error class, before any large allocation."""

import json
import math
import resource
import socket
import struct
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import latentnav as ln
from latentnav.directions import Direction, DirectionMismatchError, identity_direction, load_direction
from latentnav.errors import (
    BadInputError,
    CheckpointError,
    DirectionFileError,
    RegistryError,
    UnknownNameError,
    WeightsNotFoundError,  # fmt: skip
)
from latentnav.generators import betavae, biggan, cmivae, dcgan, hub, infogan, stylegan2
from latentnav.generators.registry import Registry


def one_line(err: pytest.ExceptionInfo, *needles: str) -> str:
    """The error's message, asserted to be one line holding every needle."""
    msg = str(err.value)
    assert "\n" not in msg and msg.strip() == msg and msg, msg
    for needle in needles:
        assert needle in msg, msg
    return msg


def edit_header(path: Path, edit) -> None:
    """Rewrite a safetensors file's JSON header in place (``edit(header)``); the tensor bytes are kept."""
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    edit(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n :])


def set_settings(path: Path, **settings) -> None:
    def edit(header):
        header["__metadata__"]["settings"] = json.dumps(settings)

    edit_header(path, edit)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


@pytest.fixture
def vae_file(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "vae.safetensors"
    betavae.save(betavae.BurgessVAE(z_dim=10, img_channels=1), path)
    return path


# ------------------------------------------------------------------------------------------ model files
def test_settings_that_would_build_a_huge_network_are_refused_before_any_allocation(vae_file):
    set_settings(vae_file, z_dim=10, img_channels=1, fc=40000)  # a 2 MB file claiming 40000-wide layers (6 GB)
    before, t0 = peak_rss_mb(), time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        ln.load_generator(vae_file, device="cpu")
    elapsed, grown = time.perf_counter() - t0, peak_rss_mb() - before
    one_line(err, str(vae_file), "fc=40000 disagree with the tensors", "is [256, 512] in the file, the settings imply [40000, 512]")
    assert elapsed < 5 and grown < 200, (elapsed, grown)


def test_settings_that_disagree_with_the_tensors_name_the_tensor(vae_file):
    set_settings(vae_file, z_dim=12, img_channels=1)
    with pytest.raises(CheckpointError) as err:
        betavae.load(vae_file, device="cpu")
    one_line(err, "settings z_dim=12, img_channels=1 disagree with the tensors:", "encoder.13.weight is [20, 256] in the "
             "file, the settings imply [24, 256]")  # fmt: skip


@pytest.mark.parametrize("settings, problem", [
    ({"z_dim": "ten", "img_channels": 1}, "setting z_dim='ten' is not an integer in 1..65536"),
    ({"z_dim": 10, "img_channels": 1, "fc": -3}, "setting fc=-3 is not an integer in 1..65536"),
    ({"z_dim": 10, "img_channels": True}, "setting img_channels=True is not an integer in 1..4"),
    ({"z_dim": 10, "colour": 2}, "unknown settings ['colour']; known: z_dim, img_channels, hidden, fc"),
])  # fmt: skip
def test_settings_that_are_not_plausible_integers_are_refused(vae_file, settings, problem):
    set_settings(vae_file, **settings)
    with pytest.raises(CheckpointError) as err:
        betavae.load(vae_file, device="cpu")
    one_line(err, str(vae_file), problem)


def test_settings_that_are_not_a_json_object_and_a_foreign_arch_are_refused(vae_file):
    edit_header(vae_file, lambda h: h["__metadata__"].update(settings="{z_dim: 10"))
    with pytest.raises(CheckpointError) as err:
        betavae.load(vae_file, device="cpu")
    one_line(err, "the settings in its header are not valid JSON")
    edit_header(vae_file, lambda h: h["__metadata__"].update(settings="{}", arch="infogan"))
    with pytest.raises(CheckpointError) as err:
        betavae.load(vae_file, device="cpu")
    one_line(err, "written for architecture 'infogan', not 'betavae'; load it with arch='infogan'")


def test_a_non_finite_weight_is_refused_at_load(vae_file, tmp_path):
    tensors = load_file(str(vae_file))
    tensors["decoder_fc.0.weight"][3, 2] = float("nan")
    tensors["decoder_fc.0.weight"][4, 2] = float("inf")
    with safe_open(str(vae_file), framework="pt") as f:
        meta = f.metadata()
    save_file(tensors, str(vae_file), metadata=meta)
    with pytest.raises(CheckpointError) as err:
        ln.load_generator(vae_file, device="cpu")
    one_line(err, str(vae_file), "tensor decoder_fc.0.weight has 2 non-finite values; refusing to load it")


def _damaged(good: bytes, kind: str) -> bytes:
    return {"empty": b"", "truncated": good[: len(good) // 2], "header cut": good[:100],
            "text": b"this is a text file, renamed\n" * 20, "flipped header": good[:20] + b"\xff" + good[21:]}[kind]  # fmt: skip


@pytest.mark.parametrize("kind", ["empty", "truncated", "header cut", "text", "flipped header"])
def test_damaged_safetensors_models_are_one_line_errors(vae_file, kind):
    vae_file.write_bytes(_damaged(vae_file.read_bytes(), kind))
    for load in (lambda: ln.load_generator(vae_file, device="cpu"), lambda: betavae.load(vae_file, device="cpu")):
        with pytest.raises(CheckpointError) as err:
            load()
        msg = one_line(err, str(vae_file))
        assert "empty file (0 bytes)" in msg if kind == "empty" else "not a readable safetensors file" in msg


def test_a_missing_model_file_is_weights_not_found(tmp_path):
    with pytest.raises(WeightsNotFoundError) as err:
        betavae.load(tmp_path / "nope.safetensors", device="cpu")
    one_line(err, "nope.safetensors: no such model file")
    assert isinstance(err.value, FileNotFoundError)


def test_cmivae_and_infogan_files_are_checked_the_same_way(tmp_path):
    cpath = tmp_path / "c.safetensors"
    cmivae.save(cmivae.CMIVAE(z1_dim=3, z2_dim=2, img_channels=1, label_classes=4), cpath)
    set_settings(cpath, z1_dim=3, z2_dim=2, img_channels=1, label_classes=50000)
    with pytest.raises(CheckpointError) as err:
        cmivae.load(cpath, device="cpu")
    one_line(err, "label_classes=50000 disagree with the tensors: head.weight is [4, 2] in the file, the settings imply [50000, 2]")

    spec = infogan.CodeSpec.parse("cat:3,cont:2")
    G = infogan.StyleGenerator(4 + spec.dim, 8, (8, 4), 1)
    D = infogan.DiscriminatorQ(spec, G.img_resolution, 1, 4)
    ipath = tmp_path / "i.safetensors"
    infogan.save(G, D, spec, 4, ipath)
    assert infogan.load(ipath, device="cpu").spec == spec
    with safe_open(str(ipath), framework="pt") as f:
        good = json.loads(f.metadata()["settings"])
    for bad, problem in (({"w_dim": 30000}, "w_dim=30000"), ({"codes": "cat:1"}, "setting codes='cat:1': bad code spec"),
                         ({"channels": "8,4"}, "setting channels='8,4' is not a list"), ({"noise_dim": None}, "noise_dim=None")):  # fmt: skip
        set_settings(ipath, **{**good, **bad})
        with pytest.raises(CheckpointError) as err:
            infogan.load(ipath, device="cpu")
        one_line(err, str(ipath), problem)
    set_settings(ipath, **{k: v for k, v in good.items() if k != "d_width"})
    with pytest.raises(CheckpointError) as err:
        infogan.load(ipath, device="cpu")
    one_line(err, "no d_width in its settings")


def test_torch_files_that_are_not_state_dicts_or_not_torch_files_are_one_line_errors(tmp_path):
    torch.save([torch.zeros(3)], tmp_path / "list.pt")
    with pytest.raises(CheckpointError) as err:
        dcgan.load(tmp_path / "list.pt", device="cpu")
    one_line(err, "list.pt: expected a state dict of tensors")
    (tmp_path / "text.pt").write_text("hello\n" * 10)
    (tmp_path / "empty.pt").write_bytes(b"")
    net = dcgan.DCGAN(z_dim=8, ngf=4, img_channels=1, img_resolution=16)
    torch.save(net.state_dict(), tmp_path / "good.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "good.pt").read_bytes()[:500])
    for name in ("text.pt", "empty.pt", "cut.pt"):
        with pytest.raises(CheckpointError) as err:
            ln.load_generator(tmp_path / name, arch="dcgan", device="cpu")
        one_line(err, name)


def test_dcgan_shapes_that_do_not_fit_one_layout_and_non_finite_weights_are_refused(tmp_path):
    state = dcgan.DCGAN(z_dim=8, ngf=4, img_channels=1, img_resolution=16).state_dict()
    state["main.6.weight"] = torch.zeros(40000, 1, 4, 4)  # ngf read off the last layer: the first would be 80000 wide
    torch.save(state, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError) as err:
        ln.load_generator(tmp_path / "odd.pt", arch="dcgan", device="cpu")
    one_line(err, "ngf=40000", "(read off its shapes) disagree with the tensors: main.0.weight is [8, 8, 4, 4] in the file, "
             "the settings imply [8, 80000, 4, 4]")  # fmt: skip
    state = dcgan.DCGAN(z_dim=8, ngf=4, img_channels=1, img_resolution=16).state_dict()
    state["main.1.running_var"][0] = float("inf")
    torch.save(state, tmp_path / "inf.pt")
    with pytest.raises(CheckpointError) as err:
        ln.load_generator(tmp_path / "inf.pt", arch="dcgan", device="cpu")
    one_line(err, "tensor main.1.running_var has 1 non-finite values")


def _tiny_stylegan2(directory: Path) -> Path:
    config = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 8, "img_channels": 1,
              "mapping_kwargs": {"num_layers": 2}, "synthesis_kwargs": {"channel_base": 64, "channel_max": 16}}  # fmt: skip
    net = stylegan2.random_init_(stylegan2.StyleGAN2(**config))
    directory.mkdir()
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps(config))
    return directory / "model.safetensors"


def test_stylegan2_configs_are_compared_with_the_tensors_before_allocation(tmp_path):
    path = _tiny_stylegan2(tmp_path / "sg")
    assert stylegan2.load(path, device="cpu").w_dim == 8
    config = json.loads(path.with_name("config.json").read_text())
    before = peak_rss_mb()
    path.with_name("config.json").write_text(json.dumps({**config, "w_dim": 60000}))  # 8 x 60000^2 floats: 115 GB
    with pytest.raises(CheckpointError) as err:
        stylegan2.load(path, device="cpu")
    one_line(err, "model.safetensors: synthesis.b4.conv1.affine.weight has shape [16, 8], the config implies [16, 60000]")
    assert peak_rss_mb() - before < 200
    for bad, problem in (({"z_dim": "ten"}, "z_dim='ten' in the config is not an integer"),
                         ({"w_dim": 10**9}, "w_dim=1000000000 in the config is not an integer in 1..65536"),
                         ({"mapping_kwargs": [2]}, "must be mappings")):  # fmt: skip
        path.with_name("config.json").write_text(json.dumps({**config, **bad}))
        with pytest.raises(CheckpointError) as err:
            stylegan2.load(path, device="cpu")
        one_line(err, problem)
    path.with_name("config.json").write_text(json.dumps(config))
    tensors = load_file(str(path))
    tensors["synthesis.b8.conv1.weight"][0, 0, 0, 0] = float("nan")
    save_file(tensors, str(path))
    with pytest.raises(CheckpointError) as err:
        stylegan2.load(path, device="cpu")
    one_line(err, "model.safetensors: tensor synthesis.b8.conv1.weight has 1 non-finite values; refusing to load it")


def test_biggan_config_values_and_weights_are_checked(tmp_path):
    config = {"output_dim": 32, "z_dim": 16, "class_embed_dim": 16, "channel_width": 8, "num_classes": 5,
              "layers": [[False, 16, 16], [True, 16, 8], [False, 8, 4], [True, 4, 2], [False, 2, 1], [True, 1, 1]],
              "attention_layer_position": 3}  # fmt: skip
    cfg = biggan.BigGANConfig.from_dict(config)
    state = biggan.random_checkpoint(cfg)
    folder = biggan.write_checkpoint(tmp_path / "bg", cfg, state)
    for bad, problem in (({"z_dim": "ten"}, "z_dim='ten' is not an integer in 1..65536"),
                         ({"n_stats": 0}, "n_stats=0 is not an integer"), ({"layers": [[False, "x", 1]]}, "layers must be a list")):  # fmt: skip
        (folder / "config.json").write_text(json.dumps({**config, **bad}))
        with pytest.raises(CheckpointError) as err:
            biggan.load(folder, device="cpu")
        one_line(err, str(folder / "config.json"), problem)
    (folder / "config.json").write_text(json.dumps(config))
    state["generator.gen_z.weight_orig"][0, 0] = float("nan")
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as err:
        biggan.load(folder, device="cpu")
    one_line(err, "pytorch_model.bin: tensor generator.gen_z.weight_orig has 1 non-finite values")
    (folder / "pytorch_model.bin").write_bytes(b"not a torch file\n" * 8)
    with pytest.raises(CheckpointError) as err:
        biggan.load(folder, device="cpu")
    one_line(err, "pytorch_model.bin: ", "torch file", "truncated or corrupted")


def test_a_file_whose_architecture_cannot_be_told_is_a_checkpoint_error(tmp_path):
    torch.save({"a": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError) as err:
        ln.load_generator(tmp_path / "x.pt")
    one_line(err, "cannot tell the architecture of")
    with pytest.raises(UnknownNameError) as err:
        ln.load_generator(tmp_path / "x.pt", arch="vqgan")
    one_line(err, "unknown architecture 'vqgan'")


# ------------------------------------------------------------------------------------- checkpoints.yaml
GOOD_ENTRY = {"name": "tiny", "arch": "betavae", "description": "d", "license": "MIT", "img_resolution": 64,
              "img_channels": 1, "z_dim": 10, "source": {"kind": "package", "files": [{"path": "w.safetensors",
              "sha256": "ab"}]}}  # fmt: skip


def _registry_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "checkpoints.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, needles", [
    ("models: [name: x\n  bad: [", ["not valid YAML at line"]),
    ("models: {tiny: 1}", ["models must be a list of model entries"]),
    ("models: [3]", ["models entry 1", "expected a mapping of model fields, got int"]),
    ("- a\n- b", ["expected a mapping with a top-level models: list"]),
    ("models: []\nextra: 1", ["unknown top-level keys ['extra']"]),
    (yaml.safe_dump({"models": [{k: v for k, v in GOOD_ENTRY.items() if k != "license"}]}), ["model 'tiny'", "missing license"]),
    (yaml.safe_dump({"models": [{**GOOD_ENTRY, "z_dim": "ten"}]}), ["model 'tiny'", "z_dim must be an integer, got 'ten'"]),
    (yaml.safe_dump({"models": [{**GOOD_ENTRY, "z_dim": 0}]}), ["model 'tiny'", "z_dim must be >= 1, got 0"]),
    (yaml.safe_dump({"models": [{**GOOD_ENTRY, "colour": "red"}]}), ["model 'tiny'", "unknown keys ['colour']"]),
    (yaml.safe_dump({"models": [{**GOOD_ENTRY, "settings": [1, 2]}]}), ["model 'tiny'", "settings must be a mapping"]),
    (yaml.safe_dump({"models": [{**GOOD_ENTRY, "source": "hub"}]}), ["model 'tiny'", "source must be a mapping"]),
    (yaml.safe_dump({"models": [{**GOOD_ENTRY, "source": {"kind": "package", "files": [{"path": 3, "sha256": "ab"}]}}]}),
     ["model 'tiny' source file 1", "path must be a string, got 3"]),
    (yaml.safe_dump({"models": [GOOD_ENTRY, GOOD_ENTRY]}), ["lists the model name 'tiny' twice"]),
])  # fmt: skip
def test_a_broken_checkpoints_yaml_is_a_one_line_registry_error(tmp_path, text, needles):
    path = _registry_text(tmp_path, text)
    with pytest.raises(RegistryError) as err:
        Registry.from_yaml(path)
    one_line(err, str(path), *needles)


def test_an_unknown_architecture_in_the_registry_stays_an_unknown_name(tmp_path):
    path = _registry_text(tmp_path, yaml.safe_dump({"models": [{**GOOD_ENTRY, "arch": "vqgan"}]}))
    with pytest.raises(UnknownNameError) as err:
        Registry.from_yaml(path)
    one_line(err, "unknown architecture 'vqgan'", "model 'tiny'")
    assert len(Registry.from_yaml(_registry_text(tmp_path, yaml.safe_dump({"models": [GOOD_ENTRY]})))) == 1


def test_an_unreachable_hub_fails_at_once_with_the_download_command(tmp_path, monkeypatch):
    with socket.socket() as s:  # a local port nobody listens on: connections are refused, nothing leaves the machine
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    import huggingface_hub.constants as hf_constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    template = hf_constants.HUGGINGFACE_CO_URL_TEMPLATE.replace(hf_constants.ENDPOINT, f"http://127.0.0.1:{port}")
    monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", template)
    rev = "0123456789abcdef0123456789abcdef01234567"
    entry = {**GOOD_ENTRY, "source": {"kind": "hub", "repo_id": "someone/tiny", "revision": rev,
                                      "files": [{"path": "model.safetensors", "sha256": "ab"}]}}  # fmt: skip
    reg = Registry.from_yaml(_registry_text(tmp_path, yaml.safe_dump({"models": [entry]})))
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as err:
        ln.load_generator("tiny", registry=reg, device="cpu")
    assert time.perf_counter() - t0 < 5
    one_line(err, "someone/tiny/model.safetensors at revision", "is not in the Hugging Face cache and cannot be downloaded "
             "now (offline?", f"download someone/tiny model.safetensors --revision {rev}")  # fmt: skip
    assert hub.download_command("a/b", "f.bin", "main").endswith("download a/b f.bin --revision main")


# ------------------------------------------------------------------------------------------ directions
@pytest.fixture
def direction_file(tmp_path) -> Path:
    u = torch.zeros(10)
    u[0] = 1.0
    knots = torch.linspace(-4, 4, 9)
    Direction(u, knots, 0.1 * knots, model="bvae-dsprites", transform="shift-x").save(tmp_path / "d.safetensors")
    return tmp_path / "d.safetensors"


def rewrite(path: Path, *, drop: tuple[str, ...] = (), meta: dict | None = None, **tensors: torch.Tensor) -> Path:
    """Write ``path`` again with some tensors replaced or dropped and some metadata changed or dropped."""
    with safe_open(str(path), framework="pt") as f:
        header = dict(f.metadata())
        old = {k: f.get_tensor(k) for k in f.keys()}
    header = {k: v for k, v in {**header, **(meta or {})}.items() if k not in drop and v is not None}
    save_file({k: v for k, v in {**old, **tensors}.items() if k not in drop}, str(path), metadata=header)
    return path


@pytest.mark.parametrize("change, problem", [
    ({"u": torch.zeros(10)}, "u is zero: a direction must point somewhere"),
    ({"u": torch.eye(10, dtype=torch.int64)[0]}, "u has dtype int64; expected floating point"),
    ({"u": torch.full((10,), float("nan"))}, "u has 10 non-finite values"),
    ({"u": 2 * torch.eye(10)[0]}, "u has length 2, not 1: a direction is a unit vector"),
    ({"u": torch.eye(10)[:2] / 2**0.5}, "u has shape [2, 10]; expected a vector of 1 to"),
    ({"values": -0.1 * torch.linspace(-4, 4, 9)},
     "the values of g are not strictly increasing (0.3 follows 0.4 at position 1), so g cannot be inverted"),
    ({"knots": torch.tensor([0.0, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])}, "the knots are not strictly increasing"),
    ({"values": torch.linspace(-1, 1, 5)}, "the calibration has 9 knots but 5 values"),
    ({"knots": torch.zeros(1), "values": torch.zeros(1)}, "the calibration has 1 knot; it needs at least 2"),
    ({"knots": torch.tensor([-1.0, float("inf")]), "values": torch.tensor([-1.0, 1.0])}, "knots has 1 non-finite values"),
])  # fmt: skip
def test_direction_contents_that_would_give_wrong_images_are_refused(direction_file, change, problem):
    rewrite(direction_file, **change)
    with pytest.raises(DirectionFileError) as err:
        load_direction(direction_file)
    one_line(err, str(direction_file), problem)


@pytest.mark.parametrize("drop, meta, problem", [
    (("space",), None, "incomplete direction file: no space"),
    (("calibrated", "values"), None, "incomplete direction file: no calibrated, values"),
    ((), {"format": None}, "not a latentnav direction file (format None)"),
    ((), {"format_version": "7"}, "format version '7'; this latentnav reads version 1"),
    ((), {"calibrated": "yes"}, "calibrated is 'yes'; expected 'true' or 'false'"),
    ((), {"layers": "[0, 'a']"}, "malformed meta or layers metadata (not JSON"),
    ((), {"layers": "{\"0\": 1}"}, "malformed layers metadata: expected a list of layer indices"),
    ((), {"layers": "[1, 1]"}, "layers must be distinct layer indices >= 0"),
    ((), {"meta": "[1]"}, "malformed meta metadata: expected a JSON object"),
    ((), {"dim": "12"}, "its metadata says dim 12 but u has 10 values"),
])  # fmt: skip
def test_direction_files_with_missing_or_malformed_metadata_are_refused(direction_file, drop, meta, problem):
    rewrite(direction_file, drop=drop, meta=meta)
    with pytest.raises(DirectionFileError) as err:
        load_direction(direction_file)
    one_line(err, str(direction_file), problem)


@pytest.mark.parametrize("kind", ["empty", "truncated", "header cut", "text", "flipped header"])
def test_damaged_direction_files_are_one_line_errors(direction_file, kind):
    direction_file.write_bytes(_damaged(direction_file.read_bytes(), kind))
    with pytest.raises(DirectionFileError) as err:
        load_direction(direction_file)
    msg = one_line(err, str(direction_file))
    assert "empty file (0 bytes)" in msg if kind == "empty" else "not a readable safetensors file" in msg


def test_missing_and_foreign_direction_files_are_direction_file_errors(tmp_path):
    with pytest.raises(DirectionFileError) as err:
        load_direction(tmp_path / "nope.safetensors")
    one_line(err, "nope.safetensors: no such direction file")
    (tmp_path / "notes.txt").write_text("u = 1, 0, 0")
    with pytest.raises(DirectionFileError) as err:
        load_direction(tmp_path / "notes.txt")
    one_line(err, "unknown direction format '.txt'")


@pytest.mark.parametrize("make, problem", [
    (lambda p: np.save(p, np.array(["a", "b"])), "holds strings (dtype <U1); a direction is a vector of real numbers"),
    (lambda p: np.save(p, np.array([1, "a", None], dtype=object), allow_pickle=True), "holds Python objects, which latentnav never unpickles"),
    (lambda p: np.save(p, np.array([True, False])), "holds booleans"),
    (lambda p: np.save(p, np.array([1 + 2j])), "holds complex numbers"),
    (lambda p: np.save(p, np.float32(3.0)), "holds an array of shape []"),
    (lambda p: np.save(p, np.zeros(10)), "a direction vector must be non-zero"),
    (lambda p: np.save(p, np.array([1.0, np.nan])), "must be finite; this one has 1 NaN or infinite values"),
    (lambda p: p.write_bytes(b"\x80\x04\x95pickled"), "not a .npy file (no NumPy header)"),
    (lambda p: (np.savez(p.with_suffix(".npz"), a=np.ones(3)), p.with_suffix(".npz").rename(p)), "an .npz archive of"),
    (lambda p: (np.save(p, np.arange(1.0, 11.0)), p.write_bytes(p.read_bytes()[:-16])), "truncated or corrupted"),
])  # fmt: skip
def test_npy_vectors_must_be_real_numbers(tmp_path, make, problem):
    path = tmp_path / "v.npy"
    make(path)
    with pytest.raises(DirectionFileError) as err:
        load_direction(path, space="z")
    one_line(err, str(path), problem)


def test_npy_integer_and_matrix_vectors_load_normalised(tmp_path):
    np.save(tmp_path / "i.npy", np.array([[3, 0], [0, 4]]))
    d = load_direction(tmp_path / "i.npy", space="z")
    assert torch.allclose(d.u, torch.tensor([0.6, 0.0, 0.0, 0.8])) and not d.calibrated


def test_a_direction_of_the_wrong_dimension_is_refused_by_check_compatible(bvae, direction_file):
    load_direction(direction_file).check_compatible(bvae)
    wide = identity_direction(torch.ones(12), "z", model="bvae-dsprites")
    with pytest.raises(DirectionMismatchError) as err:
        wide.check_compatible(bvae)
    one_line(err, "direction has dimension 12 but bvae-dsprites's z has 10")
    with pytest.raises(UnknownNameError) as err:
        Direction(wide.u, wide.knots, wide.values, space="w").check_compatible(bvae)
    one_line(err, "unknown latent space 'w'; known: z")


def test_directions_built_in_code_are_validated_too():
    u = torch.eye(4)[0]
    with pytest.raises(BadInputError) as err:
        Direction(torch.zeros(4), torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 1.0]))
    one_line(err, "u is zero")
    with pytest.raises(BadInputError) as err:
        Direction(u, torch.tensor([-1.0, 1.0]), torch.tensor([1.0, -1.0]))
    one_line(err, "the values of g are not strictly increasing")
    with pytest.raises(ValueError):  # BadInputError is a ValueError for API callers
        Direction(u, torch.tensor([-1.0, 1.0]), torch.tensor([-1.0, 1.0]), layers=(-1,))
    with pytest.raises(BadInputError) as err:
        identity_direction(np.array([True, False]), "z")
    one_line(err, "a direction vector must be real numbers, got dtype bool")


def test_check_steps_refuses_t_beyond_the_transform_and_alpha_beyond_the_prior(direction_file):
    d = load_direction(direction_file)  # shift-x: t in [-0.999, 0.999] of the width; D = 10
    d.check_steps(t=(-0.9, 0.9))
    d.check_steps(alpha=[-12.0, 12.0])
    d.check_steps()
    with pytest.raises(BadInputError) as err:
        d.check_steps(t=(-2, 2))
    one_line(err, "t=2 is beyond the range of shift-x: t must lie in [-0.999, 0.999] (fraction of width)", "--extrapolate")
    limit = 4 * math.sqrt(10)
    with pytest.raises(BadInputError) as err:
        d.check_steps(alpha=(-100, 13))
    one_line(err, f"alpha=100 is a raw step far beyond the prior: alpha must lie in [-{limit:.3g}, {limit:.3g}]", "--extrapolate")
    d.check_steps(t=(-2, 2), extrapolate=True)
    d.check_steps(alpha=(-100, 100), extrapolate=True)
    with pytest.raises(BadInputError) as err:
        d.check_steps(t=[0.1, float("nan")], extrapolate=True)
    one_line(err, "t must be finite numbers")
    with pytest.raises(BadInputError) as err:
        d.check_steps(t=0.5, max_t=0.25)
    one_line(err, "t must lie in [-0.25, 0.25]; --extrapolate")
    raw = identity_direction(torch.ones(10), "z")
    with pytest.raises(BadInputError) as err:
        raw.check_steps(t=[0.1])
    one_line(err, "no calibration")
    with pytest.raises(BadInputError):
        d.check_steps(t=[0.1], alpha=[1.0])
    unknown = Direction(d.u, d.knots, d.values, transform="oracle:scale")  # no documented range: t is not limited
    unknown.check_steps(t=(-50, 50))
