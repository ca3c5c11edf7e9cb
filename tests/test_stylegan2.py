"""StyleGAN2: conformance with NVlabs stylegan2-ada-pytorch (tests/fixtures/stylegan2_ref_tiny.npz) through
every file format a user has, the safe pickle reader, latent spaces, layer-wise directions and bad input."""

import argparse
import json
import os
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import latentnav as ln
from latentnav.cli import main
from latentnav.directions import (
    Direction,
    DirectionMismatchError,
    identity_direction,
    load_direction,
    restrict_layers,  # fmt: skip
    traverse,
)
from latentnav.errors import CheckpointError, UnknownNameError
from latentnav.generators import nvlabs_pickle, stylegan2
from latentnav.generators.registry import Registry, default_registry

# recorded from NVlabs stylegan2-ada-pytorch (see tests/fixtures/README.md)
FIXTURE = Path(__file__).parent / "fixtures" / "stylegan2_ref_tiny.npz"
WS_TOL, IMG_TOL = 1e-5, 1e-4


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def ref():
    data = np.load(FIXTURE)
    out = {k: torch.from_numpy(data[k]) for k in data.files if k != "config_json"}
    out["config"] = json.loads(bytes(data["config_json"]).decode())
    out["state"] = {k[len("state."):]: v for k, v in out.items() if k.startswith("state.")}
    return out


def write_state_dict(ref, folder: Path, suffix: str = ".pt") -> Path:
    """What a user has: NVlabs-named tensors plus config.json with the constructor kwargs."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"model{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in ref["state"].items()}, str(path))
    else:
        torch.save(ref["state"], path)
    (folder / "config.json").write_text(json.dumps(ref["config"]))
    return path


def max_diffs(G, ref) -> dict[str, float]:
    """Max |ours - reference| for every recorded output, through the public API."""
    z = ref["in.z"]
    diffs = {}
    with torch.no_grad():
        ws = {
            "ws_psi1": G.to_w(z),
            "ws_psi07": G.to_w(z, truncation_psi=0.7),
            "ws_psi05_cutoff2": G.to_w(z, truncation_psi=0.5, truncation_cutoff=2),
        }
        mix = ws["ws_psi1"].clone()
        mix[:, 2:] = ws["ws_psi1"][[1, 0, 3, 2], 2:]
        ws["ws_mix"] = mix
        images = {
            "img_psi1_const": G.synthesize(ws["ws_psi1"], noise_mode="const"),
            "img_psi07_const": G.synthesize(ws["ws_psi07"], noise_mode="const"),
            "img_psi1_nonoise": G.synthesize(ws["ws_psi1"], noise_mode="none"),
            "img_mix_const": G.synthesize(mix, noise_mode="const"),
        }
    for key, value in {**ws, **images}.items():
        diffs[key] = (value.cpu() - ref[f"out.{key}"]).abs().max().item()
    return diffs


def assert_conforms(G, ref) -> None:
    diffs = max_diffs(G, ref)
    for key, diff in diffs.items():
        assert diff <= (WS_TOL if key.startswith("ws") else IMG_TOL), (key, diff)


# ------------------------------------------------------------------------------------ conformance
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_state_dict_with_config_json_matches_the_reference(ref, tmp_path, suffix):
    path = write_state_dict(ref, tmp_path / "m", suffix)
    G = ln.load_generator(path, device="cpu")
    assert isinstance(G, stylegan2.StyleGAN2Generator) and G.source_format == "state-dict"
    assert (G.z_dim, G.w_dim, G.num_ws, G.img_resolution, G.num_classes) == (32, 32, 8, 32, 0)
    assert_conforms(G, ref)
    # the images are raw: with random weights they go far outside [-1, 1] and are not clamped
    assert ref["out.img_psi1_const"].abs().max() > 5


def test_directory_load_and_generator_settings_match_the_reference(ref, tmp_path):
    write_state_dict(ref, tmp_path / "m")
    G = ln.load_generator(tmp_path / "m", device="cpu", truncation_psi=0.7)
    z = ref["in.z"]
    with torch.no_grad():
        img = G(z)  # the z space applies the generator's truncation
        w = G.sample_latent(range(3), "w")
        same = (G(w, space="w") - G(G.sample_z(seeds=range(3)))).abs().max().item()
    assert (img - ref["out.img_psi07_const"]).abs().max().item() <= IMG_TOL
    assert same <= 1e-5 and w.shape == (3, 32)


# --------------------------------------------------------------------------------- NVlabs pickles
_CLASS = {"mapping": "MappingNetwork", "synthesis": "SynthesisNetwork", "torgb": "ToRGBLayer", "affine": "FullyConnectedLayer",
          "conv0": "SynthesisLayer", "conv1": "SynthesisLayer", "embed": "FullyConnectedLayer"}  # fmt: skip
_BUFFERS = ("w_avg", "resample_filter", "noise_const")


@pytest.fixture
def fake_nvlabs(monkeypatch):
    """Stand-ins for NVIDIA's torch_utils.persistence and dnnlib.util, so pickle writes the same globals."""
    return install_fake_nvlabs(lambda name, mod: monkeypatch.setitem(sys.modules, name, mod))


def install_fake_nvlabs(setitem):
    """Register the stand-in modules with ``setitem(name, module)``; returns their two globals."""
    persistence, util = types.ModuleType("torch_utils.persistence"), types.ModuleType("dnnlib.util")

    def _reconstruct_persistent_obj(meta):  # what NVIDIA's loader does: exec the source. Never called here.
        exec(meta["module_src"], {})  # noqa: S102

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util.EasyDict = EasyDict
    for name, mod in (("torch_utils", types.ModuleType("torch_utils")), ("torch_utils.persistence", persistence),
                      ("dnnlib", types.ModuleType("dnnlib")), ("dnnlib.util", util)):  # fmt: skip
        setitem(name, mod)
    return types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=EasyDict)


class _Persistent:
    """Pickles as NVIDIA's persistent classes do: _reconstruct_persistent_obj(meta)."""

    def __init__(self, fake, meta):
        self.fake, self.meta = fake, meta

    def __reduce__(self):
        return self.fake.reconstruct, (self.meta,)


def _records(fake, state: dict, kwargs: dict, source: str) -> _Persistent:
    """A persistent-object tree built from state-dict key names alone (NVlabs module layout)."""
    tree: dict = {}
    for key, value in state.items():
        node = tree
        *path, leaf = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value

    def make(node: dict, name: str, init: dict) -> _Persistent:
        klass = "Generator" if not name else _CLASS.get(name, "SynthesisBlock" if name.startswith("b") else "FullyConnectedLayer")
        params, buffers, children = OrderedDict(), OrderedDict(), OrderedDict()
        for key, value in node.items():
            if isinstance(value, dict):
                children[key] = make(value, key, {})
            elif key in _BUFFERS:
                buffers[key] = value.clone()
            else:
                params[key] = torch.nn.Parameter(value.clone(), requires_grad=False)
        st = {"training": False, "_parameters": params, "_buffers": buffers, "_non_persistent_buffers_set": set(),
              "_modules": children, "_forward_hooks": OrderedDict(), "_init_args": (), "_init_kwargs": fake.EasyDict(init),
              "_orig_module_src": source, "_orig_class_name": klass, "weight_gain": np.float64(0.125), "activation": "lrelu"}  # fmt: skip
        return _Persistent(fake, {"type": "class", "version": 6, "module_src": source, "class_name": klass, "state": st})

    return make(tree, "", kwargs)


def write_nvlabs_pickle(ref, fake, path: Path, *, protocol: int = 3, marker: Path | None = None, with_g_ema: bool = True,
                        extra: dict | None = None) -> Path:  # fmt: skip
    marker = marker or path.with_name("executed")
    source = f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nclass Generator: pass\n"
    cfg = {k: v for k, v in ref["config"].items() if k != "num_ws"}
    kwargs = fake.EasyDict({**cfg, "mapping_kwargs": fake.EasyDict(cfg["mapping_kwargs"]),
                            "synthesis_kwargs": fake.EasyDict(cfg["synthesis_kwargs"])})  # fmt: skip
    zeros = {k: torch.zeros_like(v) for k, v in ref["state"].items()}
    data = {"training_set_kwargs": fake.EasyDict(path="ffhq.zip"), "G": _records(fake, zeros, kwargs, source),
            "D": None, "augment_pipe": None}  # fmt: skip
    if with_g_ema:
        data["G_ema"] = _records(fake, ref["state"], kwargs, source)
    data.update(extra or {})
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [3, 4])
def test_nvlabs_pickle_loads_through_the_allow_list_to_the_reference_outputs(ref, tmp_path, fake_nvlabs, protocol):
    path = write_nvlabs_pickle(ref, fake_nvlabs, tmp_path / "network-snapshot.pkl", protocol=protocol)
    found = nvlabs_pickle.scan_globals(path.read_bytes())
    assert ("torch_utils.persistence", "_reconstruct_persistent_obj") in found and ("dnnlib.util", "EasyDict") in found
    assert ("torch.storage", "_load_from_bytes") in found and found <= set(nvlabs_pickle.ALLOWED)
    G = ln.load_generator(path, device="cpu")  # a .pkl is recognised as StyleGAN2
    assert G.source_format == "nvlabs-pickle"
    assert_conforms(G, ref)  # G_ema, not the zeroed G
    assert not (tmp_path / "executed").exists()  # the embedded module source never ran


class _Evil:
    def __reduce__(self):
        return os.system, ("echo pwned",)


@pytest.mark.parametrize("protocol", [3, 4])
def test_pickle_asking_for_os_system_is_refused_before_anything_runs(ref, tmp_path, fake_nvlabs, monkeypatch, protocol):
    path = write_nvlabs_pickle(ref, fake_nvlabs, tmp_path / "evil.pkl", protocol=protocol, extra={"zz": _Evil()})
    storages = []
    monkeypatch.setattr(nvlabs_pickle, "_load_storage", lambda b: storages.append(b))
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    with pytest.raises(nvlabs_pickle.UnsafePickleError, match=r"evil.pkl: refusing to unpickle: it asks for posix.system"):
        stylegan2.load(path, device="cpu")
    assert storages == [] and calls == []  # the G_ema tensors before it in the stream were never built either
    res = run("sample", "--model", path, "-n", "1", "-o", tmp_path / "s.png")
    assert res.exit_code == 1 and "not on latentnav's allow-list (nothing was run)" in res.stderr
    assert res.stderr.count("\n") == 1 and not (tmp_path / "s.png").exists()


def test_the_restricted_unpickler_refuses_on_its_own_too():
    data = pickle.dumps(_Evil(), protocol=2)
    with pytest.raises(nvlabs_pickle.UnsafePickleError, match="posix.system"):
        nvlabs_pickle.RestrictedUnpickler(__import__("io").BytesIO(data)).load()


def test_pickle_without_g_ema_is_a_clear_error(ref, tmp_path, fake_nvlabs):
    path = write_nvlabs_pickle(ref, fake_nvlabs, tmp_path / "no-ema.pkl", with_g_ema=False)
    with pytest.raises(CheckpointError, match=r"no-ema.pkl: no G_ema network in this pickle \(found: training_set_kwargs, G, D, augment_pipe\)"):
        stylegan2.load(path, device="cpu")


def test_stylegan3_and_tensorflow_pickles_are_refused_with_a_reason(ref, tmp_path, fake_nvlabs):
    state = {**ref["state"], "synthesis.input.affine.weight": torch.zeros(4, 32)}
    cfg = {k: v for k, v in ref["config"].items() if k != "num_ws"}
    path = tmp_path / "sg3.pkl"
    path.write_bytes(pickle.dumps({"G_ema": _records(fake_nvlabs, state, fake_nvlabs.EasyDict(cfg), "")}, protocol=3))
    with pytest.raises(CheckpointError, match="a StyleGAN3 \\(alias-free\\) generator; latentnav reads StyleGAN2"):
        stylegan2.load(path, device="cpu")
    tf = tmp_path / "stylegan2-ffhq-config-f.pkl"  # a TF-era (G, D, Gs) tuple of dnnlib.tflib Networks
    tf.write_bytes(b"\x80\x03cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01}q\x02b\x85q\x03.")
    with pytest.raises(nvlabs_pickle.UnsafePickleError, match="dnnlib.tflib.network.Network.*TensorFlow-era StyleGAN2 pickle"):
        stylegan2.load(tf, device="cpu")


# -------------------------------------------------------------------------------------- rosinality
def rosinality_state(ref) -> dict[str, torch.Tensor]:
    """The fixture's weights under rosinality/stylegan2-pytorch names (shared/reference/checkpoints.md §2.5)."""
    s, out = ref["state"], {}
    for i in range(4):
        out[f"style.{i + 1}.weight"], out[f"style.{i + 1}.bias"] = s[f"mapping.fc{i}.weight"], s[f"mapping.fc{i}.bias"]
    out["input.input"] = s["synthesis.b4.const"][None]

    def styled(dst, src, j, blur=False):
        out[f"{dst}.conv.weight"] = s[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"], out[f"{dst}.conv.modulation.bias"] = s[f"{src}.affine.weight"], s[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = s[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = s[f"{src}.bias"]
        out[f"noises.noise_{j}"] = s[f"{src}.noise_const"][None, None]
        if blur:
            out[f"{dst}.conv.blur.kernel"] = 4 * s[f"{src}.resample_filter"]

    def rgb(dst, src, up=False):
        out[f"{dst}.conv.weight"] = s[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"], out[f"{dst}.conv.modulation.bias"] = s[f"{src}.affine.weight"], s[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = s[f"{src}.bias"].reshape(1, -1, 1, 1)
        if up:
            out[f"{dst}.upsample.kernel"] = 4 * s["synthesis.b8.resample_filter"]

    styled("conv1", "synthesis.b4.conv1", 0)
    rgb("to_rgb1", "synthesis.b4.torgb")
    for k, res in enumerate((8, 16, 32)):
        styled(f"convs.{2 * k}", f"synthesis.b{res}.conv0", 2 * k + 1, blur=True)
        styled(f"convs.{2 * k + 1}", f"synthesis.b{res}.conv1", 2 * k + 2)
        rgb(f"to_rgbs.{k}", f"synthesis.b{res}.torgb", up=True)
    return out


def test_rosinality_checkpoint_loads_to_the_reference_outputs(ref, tmp_path):
    path = tmp_path / "stylegan2-tiny-config-f.pt"
    args = argparse.Namespace(size=32, latent=32, n_mlp=4)  # training checkpoints carry their settings
    torch.save({"g_ema": rosinality_state(ref), "latent_avg": ref["state"]["mapping.w_avg"], "args": args}, path)
    G = ln.load_generator(path, device="cpu")
    assert G.source_format == "rosinality" and G.num_ws == 8
    assert_conforms(G, ref)


def test_rosinality_without_latent_avg_estimates_it_and_keeps_untruncated_outputs(ref, tmp_path):
    path = tmp_path / "g.pt"
    torch.save({"g_ema": rosinality_state(ref)}, path)
    G = stylegan2.load(path, device="cpu")
    with torch.no_grad():
        diff = (G.synthesize(G.to_w(ref["in.z"])) - ref["out.img_psi1_const"]).abs().max().item()
        mapped = G.to_w(G.sample_z(4000, seed=123))[:, 0].mean(0)
    assert diff <= IMG_TOL
    w_avg = G.net.mapping.w_avg
    assert (w_avg - mapped).norm() < 0.1 * mapped.norm()  # an estimate of the mean w from other samples agrees
    assert (w_avg - ref["state"]["mapping.w_avg"]).norm() > 0  # (the fixture's w_avg is random, not a mean)


# ------------------------------------------------------------------------------------------ convert
def test_convert_writes_safetensors_and_config_that_reload_to_the_same_outputs(ref, tmp_path, fake_nvlabs):
    pkl = write_nvlabs_pickle(ref, fake_nvlabs, tmp_path / "snap.pkl")
    out = tmp_path / "converted"
    res = run("convert", "--model", pkl, "-o", out)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == [".latentnav-manifest.json", "config.json", "model.safetensors"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    config = json.loads((out / "config.json").read_text())
    assert config["num_ws"] == 8 and config["arch"] == "stylegan2" and config["mapping_kwargs"]["num_layers"] == 4
    assert config["synthesis_kwargs"]["channel_base"] == 512 and config["synthesis_kwargs"]["channel_max"] == 64
    G = ln.load_generator(out, device="cpu")
    assert_conforms(G, ref)
    G2 = ln.load_generator(out / "model.safetensors", device="cpu")  # the file alone carries its config
    assert_conforms(G2, ref)
    res = run("convert", "--model", pkl, "-o", out)
    assert res.exit_code == 2 and "exists and is not empty" in res.stderr
    res = run("convert", "--model", "stylegan2-ffhqq", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "unknown model 'stylegan2-ffhqq'; known: stylegan2-" in res.stderr


# ------------------------------------------------------------------------------------------- spaces
@pytest.fixture(scope="module")
def G(ref, tmp_path_factory):
    return ln.load_generator(write_state_dict(ref, tmp_path_factory.mktemp("sg2")), device="cpu")


def test_spaces_shapes_and_equivalence(G):
    assert G.latent_spaces == ("z", "w", "w+")
    assert [G.latent_shape(s) for s in G.latent_spaces] == [(32,), (32,), (8, 32)]
    assert G.prior_radius("z") == pytest.approx(32**0.5) and G.prior_radius("w") is None and G.prior_radius("w+") is None
    z = G.sample_z(3, seed=5)
    w, wp = G.sample_latent([5, 6, 7], "w"), G.sample_latent([5, 6, 7], "w+")
    assert wp.shape == (3, 8 * 32) and torch.equal(wp.view(3, 8, 32)[:, 3], w)
    with torch.no_grad():
        a, b, c = G(z), G(w, space="w"), G(wp.view(3, 8, 32), space="w+")
    assert (a - b).abs().max() < 1e-5 and (a - c).abs().max() < 1e-5
    assert (G.sample_latent([6], "w") - w[1:2]).abs().max() < 1e-5  # one seed, one latent, whatever the batch


def test_gradients_flow_through_the_unclamped_output(G):
    w = G.sample_latent([0, 1], "w").requires_grad_(True)
    img = G(w, space="w")
    assert img.abs().max() > 1  # not clamped to [-1, 1]
    (img.square().mean()).backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_noise_modes(ref, tmp_path):
    path = write_state_dict(ref, tmp_path / "m")
    ws = ref["out.ws_psi1"]
    with torch.no_grad():
        a = stylegan2.load(path, device="cpu", noise_mode="random", noise_seed=3).synthesize(ws)
        b = stylegan2.load(path, device="cpu", noise_mode="random", noise_seed=3).synthesize(ws)
        c = stylegan2.load(path, device="cpu").synthesize(ws)
    assert torch.equal(a, b) and (a - c).abs().max() > 1e-3
    with pytest.raises(ValueError, match="unknown noise_mode 'fresh'; known: const, random, none"):
        stylegan2.load(path, device="cpu", noise_mode="fresh")


# --------------------------------------------------------------------------------------- directions
def test_w_direction_lifted_to_all_layers_keeps_its_calibration(G):
    u = torch.randn(32, generator=torch.Generator().manual_seed(0))
    d = Direction(u / u.norm(), torch.tensor([-4.0, 0.0, 4.0]), torch.tensor([-0.2, 0.0, 0.2]), space="w", model=G.name)
    lifted = restrict_layers(d, range(8), num_layers=8)
    assert lifted.space == "w+" and lifted.calibrated and lifted.layers == tuple(range(8))
    w = G.sample_latent([0, 1], "w")
    wp = w[:, None].expand(-1, 8, -1)
    a = traverse(G, d, w, t=[-0.1, 0.15])
    b = traverse(G, lifted, wp, t=[-0.1, 0.15])
    assert (a - b).abs().max() < 1e-4 and (a[0] - a[1]).abs().max() > 0.1


def test_layer_restricted_direction_edits_only_its_layers_and_round_trips(G, tmp_path):
    u = torch.randn(32, generator=torch.Generator().manual_seed(1))
    coarse = restrict_layers(identity_direction(u, "w", model=G.name), [0, 1], num_layers=8)
    assert not coarse.calibrated and coarse.layers == (0, 1)
    wp = G.sample_latent([0, 1], "w+")
    moved = coarse.step(wp, 3.0).view(2, 8, 32) - wp.view(2, 8, 32)
    assert moved[:, 2:].abs().max() == 0 and moved[:, :2].abs().max() > 0.5
    coarse.check_compatible(G)
    coarse.save(tmp_path / "coarse.safetensors")
    again = load_direction(tmp_path / "coarse.safetensors")
    assert again.layers == (0, 1) and torch.equal(again.u, coarse.u)
    # a W+ direction restricted further: zero off the chosen layers, unit length
    fine = restrict_layers(identity_direction(torch.randn(8 * 32), "w+", model=G.name), [5, 6, 7], num_layers=8)
    assert fine.u.view(8, 32)[:5].abs().max() == 0 and fine.u.norm().item() == pytest.approx(1.0)
    images = traverse(G, fine, wp, alpha=[-3.0, 3.0])
    assert (images[0] - images[1]).abs().max() > 0.01
    with pytest.raises(DirectionMismatchError, match="has 8 layers"):
        Direction(coarse.u, coarse.knots, coarse.values, space="w+", model=G.name, layers=(0, 9)).check_compatible(G)
    with pytest.raises(DirectionMismatchError, match="layer-wise edits need a direction in w or w"):
        restrict_layers(identity_direction(u, "z"), [0], num_layers=8)


def test_a_z_direction_is_refused_in_w(G, tmp_path):
    d = identity_direction(torch.ones(32), "z", model=G.name)  # z_dim == w_dim here: only the space tells them apart
    w = G.sample_latent([0], "w")
    with pytest.raises(DirectionMismatchError, match="direction lives in latent space 'z', not 'w'"):
        traverse(G, d, w, alpha=[1.0], space="w")
    d.save(tmp_path / "dz.safetensors")
    with pytest.raises(DirectionMismatchError, match="dz.safetensors lives in latent space 'z', not 'w'"):
        load_direction(tmp_path / "dz.safetensors", space="w")


# -------------------------------------------------------------------------------------- bad input
def test_ws_with_the_wrong_num_ws_is_refused(G):
    with pytest.raises(ValueError, match=r"expected w\+ of shape \[N, 8, 32\], got \[2, 7, 32\]"):
        G(torch.zeros(2, 7, 32), space="w+")
    with pytest.raises(ValueError, match=r"expected w\+ of shape \[N, 8, 32\], got \[2, 9, 32\]"):
        G.synthesize(torch.zeros(2, 9, 32))
    with pytest.raises(ValueError, match=r"truncation_cutoff must lie in \[0, 8\]"):
        G.to_w(torch.zeros(1, 32), truncation_psi=0.5, truncation_cutoff=9)


def _conditional(tmp_path: Path) -> Path:
    net = stylegan2.random_init_(stylegan2.StyleGAN2(z_dim=8, c_dim=3, w_dim=8, img_resolution=8, img_channels=3,
                                                     mapping_kwargs={"num_layers": 2},
                                                     synthesis_kwargs={"channel_base": 64, "channel_max": 16}))  # fmt: skip
    folder = tmp_path / "cond"
    folder.mkdir()
    torch.save(net.state_dict(), folder / "model.pt")
    (folder / "config.json").write_text(json.dumps(net.config))
    return folder


def test_conditional_model_needs_a_class(tmp_path):
    folder = _conditional(tmp_path)
    G = ln.load_generator(folder, device="cpu")
    z = G.sample_z(2, seed=0)
    assert G.num_classes == 3
    with pytest.raises(ValueError, match=r"is class-conditional \(3 classes\): give c="):
        G(z)
    with torch.no_grad():
        one_hot = G.to_w(z, c=torch.tensor([[0.0, 1.0, 0.0]] * 2))
        assert torch.equal(G.to_w(z, c=1), one_hot) and torch.equal(G.to_w(z, c=torch.tensor([1, 1])), one_hot)
        assert (G.to_w(z, c=2) - one_hot).abs().max() > 1e-3
        G1 = ln.load_generator(folder, device="cpu", class_idx=1)
        assert (G1(z) - G1.synthesize(one_hot)).abs().max() < 1e-6
        assert G(one_hot, space="w+").shape == (2, 3, 8, 8)  # synthesis from W+ needs no class
    with pytest.raises(ValueError, match=r"expected 2 class indices in \[0, 3\)"):
        G.to_w(z, c=torch.tensor([0, 3]))
    res = run("sample", "--model", folder, "-n", "2", "-o", tmp_path / "s.png")
    assert res.exit_code == 2 and "class-conditional (3 classes)" in res.stderr and res.stderr.count("\n") == 1


@pytest.mark.parametrize("suffix", [".pt", ".safetensors", ".pkl"])
def test_truncated_or_corrupted_files_are_clear_errors(ref, tmp_path, fake_nvlabs, suffix):
    if suffix == ".pkl":
        good = write_nvlabs_pickle(ref, fake_nvlabs, tmp_path / "good.pkl")
    else:
        good = write_state_dict(ref, tmp_path / "good", suffix)
    data = good.read_bytes()
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(ref["config"]))
    for kind, payload in (("truncated", data[: len(data) // 2]), ("garbage", b"\x00\x13not a checkpoint" * 64)):
        path = folder / f"{kind}{suffix}"
        path.write_bytes(payload)
        with pytest.raises(CheckpointError, match=rf"{kind}{suffix}: .*(truncated or corrupted|refus)"):
            stylegan2.load(path, device="cpu")
        res = run("sample", "--model", path, "-n", "1", "-o", tmp_path / "s.png")
        assert res.exit_code == 1 and res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res.stderr


def test_bad_configs_are_clear_errors(ref, tmp_path):
    path = write_state_dict(ref, tmp_path / "m")
    cfg = path.with_name("config.json")
    bad = {
        "unknown StyleGAN2 synthesis settings \\['colour'\\]; known: channel_base": {**ref["config"], "colour": 1},
        "only the 'skip' synthesis architecture": {**ref["config"], "synthesis_kwargs": {**ref["config"]["synthesis_kwargs"], "architecture": "resnet"}},
        "config says num_ws=9 but a 32px StyleGAN2 has 8": {**ref["config"], "num_ws": 9},
        "synthesis.b4.const has shape \\[64, 4, 4\\], the config implies \\[128, 4, 4\\]": {**ref["config"], "synthesis_kwargs": {"channel_base": 512, "channel_max": 128}},
        "lacks img_resolution": {k: v for k, v in ref["config"].items() if k != "img_resolution"},
    }  # fmt: skip
    for message, config in bad.items():
        cfg.write_text(json.dumps(config))
        with pytest.raises(CheckpointError, match=message):
            stylegan2.load(path, device="cpu")
    cfg.write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        stylegan2.load(path, device="cpu")
    cfg.unlink()
    with pytest.raises(CheckpointError, match="needs config.json beside it"):
        stylegan2.load(path, device="cpu")
    with pytest.raises(ValueError, match=r"unknown stylegan2 settings \['psi'\]; known: batch_size, truncation_psi"):
        stylegan2.load(path, device="cpu", psi=0.5)


# -------------------------------------------------------------------------------- CLI and registry
def test_discover_in_w_runs_end_to_end(ref, tmp_path):
    write_state_dict(ref, tmp_path / "tiny")
    out = tmp_path / "run"
    res = run("discover", "--model", tmp_path / "tiny", "--transform", "shift-x", "--space", "w", "--trajectories", "4",
              "--steps", "2", "--max-iters", "4", "--device", "cpu", "-o", out)  # fmt: skip
    assert res.exit_code == 0, res.output
    d = load_direction(out / "direction.safetensors")
    assert d.space == "w" and d.dim == 32 and d.model == str(tmp_path / "tiny")
    traj = np.load(out / "trajectories.npz")
    assert traj["z0"].shape == (4 * 2 * 2, 32) and np.isfinite(traj["zt"]).all()
    assert json.loads((out / "config.json").read_text())["space"] == "w"
    res = run("traverse", "--model", tmp_path / "tiny", "--direction", out / "direction.safetensors", "--seeds", "0-1",
              "--alpha", "-1,1", "--steps", "3", "-o", tmp_path / "g.png")  # fmt: skip
    assert res.exit_code == 0, res.output
    res = run("sample", "--model", tmp_path / "tiny", "--direction", out / "direction.safetensors", "--t-dist",
              "uniform:-0.05,0.05", "-n", "2", "-o", tmp_path / "s.png")  # fmt: skip
    assert res.exit_code == 0, res.output
    res = run("discover", "--model", tmp_path / "tiny", "--transform", "shift-x", "--space", "s", "-o", tmp_path / "x")
    assert res.exit_code == 2 and "unknown latent space 's'; known: w, w+, z" in res.stderr
    assert not (tmp_path / "x").exists()


def test_registry_lists_stylegan2_models_with_pins_and_the_nc_license():
    reg = default_registry()
    names = [n for n, s in reg.items() if s.arch == "stylegan2"]
    assert {"stylegan2-ffhq-1024", "stylegan2-ffhq-1024-rosinality", "stylegan2-lsun-cat-256", "stylegan2-afhqdog-512"} <= set(names)
    for name in names:
        spec = reg[name]
        assert spec.license == "nvidia-source-code-license-nc" and "non-commercially" in spec.notice
        assert len(spec.source.revision) == 40 and all(len(f.sha256) == 64 for f in spec.source.files)
    assert reg["stylegan2-ffhq-1024"].source.files[0].path.endswith(".pkl")
    assert reg["stylegan2-ffhq-1024-rosinality"].source.files[0].sha256.startswith("646c7e7c")
    res = run("models", "--json")
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert rows["stylegan2-ffhq-1024"]["license"] == "nvidia-source-code-license-nc"


def test_license_notice_is_shown_once_on_first_use(tmp_path, caplog):
    import latentnav.generators.registry as registry

    entry = {"name": "nc-model", "arch": "betavae", "description": "test", "license": "some-nc", "notice": "non-commercial use only",
             "img_resolution": 64, "img_channels": 1, "z_dim": 10,
             "source": {"kind": "package", "files": [{"path": "weights/bvae-dsprites-b4.safetensors",
                                                      "sha256": default_registry()["bvae-dsprites-b4"].source.files[0].sha256}]}}  # fmt: skip
    (tmp_path / "c.yaml").write_text(json.dumps({"models": [entry]}))
    reg = Registry.from_yaml(tmp_path / "c.yaml")
    registry._NOTICES_SHOWN.discard("nc-model")
    with caplog.at_level("WARNING", logger="latentnav"):
        ln.load_generator("nc-model", registry=reg, device="cpu")
        ln.load_generator("nc-model", registry=reg, device="cpu")
    assert [r.getMessage() for r in caplog.records] == ["nc-model: non-commercial use only"]


def test_unknown_names_list_the_known_ones(tmp_path):
    with pytest.raises(UnknownNameError, match="unknown model 'stylegan2-ffhq-2048'; known: .*stylegan2-ffhq-1024"):
        ln.load_generator("stylegan2-ffhq-2048")


def test_layer_mixing_puts_the_donors_layers_where_synthesis_reads_them(G):
    """correction.mix_layers on the flattened W+ latents = swapping those layers of ws by hand."""
    from latentnav.correction.steps import mix_layers

    w, donors = G.sample_latent([1, 2], "w+"), G.sample_latent([3, 4], "w+")
    mixed = mix_layers(w, donors, [0, 1, 5], G.latent_shape("w+"))
    ws = w.view(2, 8, 32).clone()
    ws[:, [0, 1, 5]] = donors.view(2, 8, 32)[:, [0, 1, 5]]
    with torch.no_grad():
        assert torch.equal(G(mixed.view(2, 8, 32), space="w+"), G.synthesize(ws))
        assert (G(mixed.view(2, 8, 32), space="w+") - G(w.view(2, 8, 32), space="w+")).abs().max() > 1e-3
    assert torch.equal(mixed.view(2, 8, 32)[:, 2], w.view(2, 8, 32)[:, 2])
