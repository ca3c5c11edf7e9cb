import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner

import latentnav as ln
from latentnav.cli import main
from latentnav.errors import WeightsNotFoundError
from latentnav.generators import biggan, hub, imagenet
from latentnav.generators.registry import Registry, default_registry
from latentnav.methods.trajectory.discover import discover

# made by tests/fixtures/make_biggan_fixture.py from pytorch-pretrained-biggan (see tests/fixtures/README.md)
FIXTURE = Path(__file__).parent / "fixtures" / "biggan_deep_ref_tiny.npz"
HUB_REPO, HUB_REV = "osanseviero/BigGAN-deep-128", "af0640a119a2486b24eed0985d6d54e734890bff"
# the fixture's block layout at channel_width 8 with the 1000 ImageNet classes, for the class-name tests
TINY_1000 = dict(output_dim=32, z_dim=16, class_embed_dim=16, channel_width=8, num_classes=1000,
                 layers=[[False, 16, 16], [True, 16, 8], [False, 8, 4], [True, 4, 2], [False, 2, 1], [True, 1, 1]],
                 attention_layer_position=3)  # fmt: skip


@pytest.fixture(scope="module")
def ref():
    data = np.load(FIXTURE)
    config = json.loads(bytes(data["config_json"]).decode())
    truncations = config.pop("truncations")
    state = {k[len("state."):]: torch.from_numpy(data[k]) for k in data.files if k.startswith("state.")}
    outs = {t: torch.from_numpy(data[f"out.img_trunc{t}"]) for t in truncations}
    return {"config": config, "state": state, "z": torch.from_numpy(data["in.z"]),
            "y": torch.from_numpy(data["in.class_vector"]), "out": outs}  # fmt: skip


def write_dir(path: Path, config: dict, state: dict) -> Path:
    """The released layout: config.json + pytorch_model.bin (a plain state dict)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    torch.save(state, path / "pytorch_model.bin")
    return path


@pytest.fixture()
def ref_dir(tmp_path, ref):
    return write_dir(tmp_path / "tiny", ref["config"], ref["state"])


@pytest.fixture(scope="module")
def tiny1000(tmp_path_factory):
    cfg = biggan.BigGANConfig.from_dict(TINY_1000)
    return biggan.write_checkpoint(tmp_path_factory.mktemp("tiny1000"), cfg, biggan.random_checkpoint(cfg, seed=1))


# ------------------------------------------------------------------------------------- conformance
def test_fixture_conformance_through_load_generator(ref, ref_dir):
    G = ln.load_generator(ref_dir, arch="biggan-deep", device="cpu")
    assert (G.z_dim, G.num_classes, G.img_resolution, G.img_channels) == (16, 5, 32, 3)
    for t, want in ref["out"].items():
        with torch.no_grad():
            got = G(ref["z"], class_vector=ref["y"], truncation=t)
        assert got.dtype == torch.float32 and got.shape == (4, 3, 32, 32)
        assert (got - want).abs().max().item() <= 1e-5, t
    # bound at load instead of per call (row 3: the 50/50 mixture of classes 0 and 1, given as a mapping)
    G = ln.load_generator(ref_dir, device="cpu", truncation=0.4, class_vector={0: 0.5, 1: 0.5})  # arch inferred
    with torch.no_grad():
        assert (G(ref["z"][3:]) - ref["out"][0.4][3:]).abs().max().item() <= 1e-5
    G = ln.load_generator(ref_dir, device="cpu", class_index=2)
    with torch.no_grad():
        assert (G(ref["z"][2:3]) - ref["out"][1.0][2:3]).abs().max().item() <= 1e-5


def test_batches_and_chunks_do_not_change_images(ref, ref_dir):
    G = ln.load_generator(ref_dir, device="cpu", batch_size=3, truncation=0.4)
    z = G.sample_z(7, seed=5)
    with torch.no_grad():
        whole = G(z, batch_size=7)
        assert torch.allclose(G(z), whole, atol=1e-6)
        assert torch.allclose(G(z[4:5]), whole[4:5], atol=1e-6)
        rows = G(z[:2], class_vector=torch.eye(5)[[3, 4]])
        assert torch.allclose(rows[1], G(z[1:2], class_vector=4)[0], atol=1e-6)
        assert not torch.allclose(rows[0], whole[0], atol=1e-3)  # the class matters


def test_reference_package_between_stored_statistics(tmp_path):
    """The reference implementation itself, on configurations and truncations the fixture lacks."""
    ppb = pytest.importorskip("pytorch_pretrained_biggan", reason="the reference package is missing: pip install -e .[dev] "
                              "(or pip install pytorch-pretrained-biggan==0.1.1)")  # fmt: skip
    configs = [dict(TINY_1000, num_classes=7),
               dict(TINY_1000, num_classes=7, attention_layer_position=0, z_dim=8, class_embed_dim=8, channel_width=4,
                    layers=[[True, 16, 8], [True, 8, 4], [False, 4, 2], [True, 2, 1]])]  # fmt: skip
    for k, config in enumerate(configs):
        model = ppb.BigGAN(ppb.BigGANConfig(**config, eps=1e-4, n_stats=51)).eval()
        # random weights in the released layout; the reference's strict load checks that layout too
        model.load_state_dict(biggan.random_checkpoint(biggan.BigGANConfig.from_dict(config), seed=k), strict=True)
        G = ln.load_generator(write_dir(tmp_path / str(k), config, model.state_dict()), device="cpu")
        z = torch.from_numpy(ppb.truncated_noise_sample(batch_size=3, dim_z=config["z_dim"], truncation=1.0, seed=k + 1))
        y = torch.softmax(torch.randn(3, 7), dim=1)
        for t in (1.0, 0.999, 0.73, 0.5, 0.37, 0.4, 0.02, 0.013):
            with torch.no_grad():
                want = model(z * t, y, t)
                got = G(z * t, class_vector=y, truncation=t)
            assert (got - want).abs().max().item() <= 1e-5, (k, t)
    # sample_z draws the reference's truncated normal, seed for seed
    for seed in (1, 7):
        want = ppb.truncated_noise_sample(batch_size=1, dim_z=16, truncation=0.6, seed=seed)
        got = ln.load_generator(tmp_path / "0", device="cpu", truncation=0.6).sample_z(1, seed=seed)
        assert np.array_equal(got.numpy(), want)


def test_interpolated_statistics_weight_the_farther_row_as_the_reference_does():
    means = torch.arange(51.0)[:, None] * torch.ones(1, 2)
    variances = means + 1
    assert biggan.truncation_stats(means, variances, 0.4)[0].tolist() == [20.0, 20.0]
    mean, var = biggan.truncation_stats(means, variances, 0.405)  # a quarter of the way from row 20 to row 21
    assert mean[0].item() == pytest.approx(20 * 0.25 + 21 * 0.75, abs=1e-4)
    assert var[0].item() == pytest.approx(21 * 0.25 + 22 * 0.75, abs=1e-4)
    assert biggan.truncation_stats(means, variances, 1.0)[0][0].item() == 50.0


def test_released_configs_have_the_reference_layout():
    # key counts and element totals of the released 128/256/512 state dicts (reference section 1.3)
    expected = {128: (506, 52_687_425, 11), 256: (602, 58_573_185, 13), 512: (698, 58_908_865, 15)}
    for res, (n_keys, n_elements, n_modules) in expected.items():
        with torch.device("meta"):
            net = biggan.BigGANDeep(biggan.CONFIGS[res])
        shapes = biggan.checkpoint_shapes(net)
        assert len(shapes) == n_keys and sum(math.prod(s) for s in shapes.values()) == n_elements
        assert len(net.generator.layers) == n_modules and "generator.layers.8.gamma" in shapes
        width = 256 if res == 128 else 512
        assert shapes["generator.layers.8.snconv1x1_g.weight_orig"] == (width // 2, width, 1, 1)
        assert shapes["generator.gen_z.weight_orig"] == (32768, 256)
        assert shapes["generator.layers.0.conv_1.weight_v"] == (512 * 9,)
    assert biggan.CONFIGS[256].output_dim == 256 and len(biggan.CONFIGS[512].layers) == 14


def test_full_128_runs_forward_and_backward_on_cpu():
    net = biggan.build(biggan.CONFIGS[128], biggan.random_checkpoint(biggan.CONFIGS[128]))
    G = biggan.BigGANGenerator(net, name="random-128", class_index="golden retriever", truncation=0.4, device="cpu")
    z = G.sample_z(1, seed=0).requires_grad_(True)
    x = G(z)
    assert x.shape == (1, 3, 128, 128) and x.abs().max() <= 1 and x.std() > 0.01
    x.square().mean().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_missing_weight_v_is_rebuilt_from_u(ref, tmp_path):
    state = {k: v for k, v in ref["state"].items() if not k.endswith("weight_v")}
    G = ln.load_generator(write_dir(tmp_path / "no-v", ref["config"], state), device="cpu")
    with torch.no_grad():
        got = G(ref["z"], class_vector=ref["y"], truncation=1.0)
    # v = normalize(W^T u), u = normalize(W v) is one more power-iteration step from the stored u; the
    # fixture's vectors are converged only approximately, so the images move a little, not a lot
    assert (got - ref["out"][1.0]).abs().max().item() < 2e-3


# --------------------------------------------------------------------------------------- latents
def test_sample_z_is_the_truncated_normal_one_seed_per_sample(ref_dir):
    from scipy.stats import truncnorm

    G = ln.load_generator(ref_dir, device="cpu", truncation=0.4)
    z = G.sample_z(6, seed=3)
    assert torch.equal(z[2], G.sample_z(1, seed=5)[0]) and torch.equal(z, G.sample_z(seeds=range(3, 9)))
    want = 0.4 * truncnorm.rvs(-2, 2, size=(1, 16), random_state=np.random.RandomState(4)).astype(np.float32)
    assert np.array_equal(z[1].numpy(), want[0])
    many = G.sample_z(400, seed=0)
    assert many.abs().max().item() <= 0.8 and many.abs().max().item() > 0.7
    assert many.std().item() == pytest.approx(0.4 * math.sqrt(0.77374), rel=0.03)
    # the optimizer's ball: truncation * sqrt(d * var of the normal cut to [-2, 2]); the mean norm sits inside
    assert G.prior_radius("z") == pytest.approx(0.4 * math.sqrt(16 * 0.7737413), rel=1e-6)
    norms = many.norm(dim=1)
    assert abs(norms.mean().item() - G.prior_radius()) < 0.03 * G.prior_radius()


def test_gradients_flow_to_z(ref_dir):
    G = ln.load_generator(ref_dir, device="cpu", truncation=0.4)
    z = G.sample_z(2).requires_grad_(True)
    G(z).sum().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().min() > 0


def test_discover_keeps_latents_inside_the_truncated_prior(ref_dir):
    G = ln.load_generator(ref_dir, device="cpu", truncation=0.5, class_index=1)
    d, traj = discover(G, "zoom", n_trajectories=4, n_steps=2, max_iters=3, progress=False, return_trajectories=True)
    radius = G.prior_radius()
    assert traj.zt.shape == (4 * 2 * 2, 16) and traj.generator_evals > 4
    assert traj.zt.norm(dim=1).max().item() <= radius * (1 + 1e-5)
    assert traj.z0.norm(dim=1).max().item() <= radius * (1 + 1e-5)
    assert not torch.allclose(traj.zt, traj.z0)  # the optimiser moved
    assert torch.isfinite(d.u).all() and d.u.norm().item() == pytest.approx(1, abs=1e-5)


def test_discover_cli_on_a_local_biggan_directory(ref_dir, tmp_path):
    out = tmp_path / "zoom"
    args = ["discover", "--model", ref_dir, "--transform", "zoom", "--trajectories", "3", "--steps", "1",
            "--max-iters", "2", "--device", "cpu", "-o", out]  # fmt: skip
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fits"] == 3 * 1 * 2 and (out / "traverse.png").is_file()
    assert ln.load_direction(out / "direction.safetensors").u.shape == (16,)


# --------------------------------------------------------------------------- registry and the Hub
def test_shipped_registry_entry():
    spec = default_registry()["biggan-deep-128"]
    assert spec.arch == "biggan-deep" and (spec.img_resolution, spec.z_dim, spec.img_channels) == (128, 128, 3)
    assert (spec.source.kind, spec.source.repo_id, spec.source.revision) == ("hub", HUB_REPO, HUB_REV)
    (weights,) = spec.source.files
    assert weights.path == "pytorch_model.bin"
    assert weights.sha256 == "b86146a8cfcde4cda135adba4b2806f78b3abe2dac9d0fd090cc3ab318604ad9"
    assert dict(spec.settings) == {"config": 128, "default_class": 207, "truncation": 0.4} and "Apache-2.0" in spec.license


def _offline_cache(tmp_path, monkeypatch, files: dict[str, Path]):
    snap = tmp_path / "hub" / f"models--{HUB_REPO.replace('/', '--')}" / "snapshots" / HUB_REV
    snap.mkdir(parents=True)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text(HUB_REV)
    for name, src in files.items():
        shutil.copyfile(src, snap / name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))


def _test_registry(tmp_path, weights: Path, **settings) -> Registry:
    """The shipped biggan-deep-128 entry with the tiny file's sha256/size and the tiny model's settings."""
    entry = next(m for m in yaml.safe_load((Path(ln.__file__).parent / "checkpoints.yaml").read_text())["models"]
                 if m["name"] == "biggan-deep-128")  # fmt: skip
    entry["source"]["files"] = [{"path": "pytorch_model.bin", "sha256": hub.sha256_of(weights), "size": weights.stat().st_size}]
    entry["settings"] = settings
    path = tmp_path / "checkpoints.yaml"
    path.write_text(yaml.safe_dump({"models": [entry]}))
    return Registry.from_yaml(path)


def test_registry_name_loads_from_an_offline_hub_cache(ref, ref_dir, tmp_path, monkeypatch):
    _offline_cache(tmp_path, monkeypatch, {"pytorch_model.bin": ref_dir / "pytorch_model.bin", "config.json": ref_dir / "config.json"})
    reg = _test_registry(tmp_path, ref_dir / "pytorch_model.bin", truncation=0.4, default_class=2)
    assert hub.is_available(reg["biggan-deep-128"])
    G = ln.load_generator("biggan-deep-128", registry=reg, device="cpu")  # the registry's class and truncation
    assert G.name == "biggan-deep-128" and G.truncation == 0.4 and G.class_vector.argmax().item() == 2
    with torch.no_grad():
        assert (G(ref["z"][2:3]) - ref["out"][0.4][2:3]).abs().max().item() <= 1e-5
    G = ln.load_generator("biggan-deep-128", registry=reg, device="cpu", class_vector=ref["y"][3])  # no clash
    with torch.no_grad():
        assert (G(ref["z"][3:]) - ref["out"][0.4][3:]).abs().max().item() <= 1e-5
    G = ln.load_generator("biggan-deep-128", registry=reg, device="cpu", class_index=0, truncation=1.0)
    with torch.no_grad():
        assert (G(ref["z"][:1]) - ref["out"][1.0][:1]).abs().max().item() <= 1e-5


def test_registry_config_setting_uses_the_builtin_config(ref_dir, tmp_path, monkeypatch):
    # the shipped entry reads no config.json: config=128 is the released configuration, which the tiny
    # weights do not fit, so the load fails on shapes (after the sha256 check passed)
    _offline_cache(tmp_path, monkeypatch, {"pytorch_model.bin": ref_dir / "pytorch_model.bin"})
    reg = _test_registry(tmp_path, ref_dir / "pytorch_model.bin", config=128)
    with pytest.raises(biggan.BigGANWeightsError, match="missing .* keys .*unexpected"):
        ln.load_generator("biggan-deep-128", registry=reg, device="cpu")


def test_models_lists_biggan_with_license_and_cache_state(ref_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty"))
    res = CliRunner().invoke(main, ["models", "--json"])
    row = next(r for r in json.loads(res.output) if r["name"] == "biggan-deep-128")
    assert row["available"] is False and row["license"].startswith("Apache-2.0")
    assert row["source"] == f"hub:{HUB_REPO}@{HUB_REV[:7]}"
    _offline_cache(tmp_path, monkeypatch, {"pytorch_model.bin": ref_dir / "pytorch_model.bin"})
    row = next(r for r in json.loads(CliRunner().invoke(main, ["models", "--json"]).output) if r["name"] == "biggan-deep-128")
    assert row["available"] is True


def test_hub_weights_missing_offline_is_one_line(tmp_path, monkeypatch):
    _offline_cache(tmp_path, monkeypatch, {})
    with pytest.raises(WeightsNotFoundError) as info:
        ln.load_generator("biggan-deep-128")
    assert "\n" not in str(info.value) and "hf download osanseviero/BigGAN-deep-128" in str(info.value)


def test_bin_with_builtin_config_and_no_config_json(tiny1000, tmp_path):
    # e.g. the legacy biggan-deep-256-pytorch_model.bin downloads: the file alone plus config=256
    (tmp_path / "w.bin").write_bytes((tiny1000 / "pytorch_model.bin").read_bytes())
    with pytest.raises(WeightsNotFoundError, match="config.json not found"):
        ln.load_generator(tmp_path / "w.bin", arch="biggan-deep")
    with pytest.raises(ValueError, match="unknown built-in BigGAN-deep config 300; known: 128, 256, 512"):
        ln.load_generator(tmp_path / "w.bin", arch="biggan-deep", config=300)
    with pytest.raises(biggan.BigGANWeightsError, match="w.bin does not fit"):
        ln.load_generator(tmp_path / "w.bin", arch="biggan-deep", config=256)


# ------------------------------------------------------------------------------------ class names
def test_imagenet_names_and_indices(tiny1000):
    assert len(imagenet.classes()) == 1000
    for name in ("golden retriever", "Golden_Retriever", "n02099601", "  golden   retriever "):
        assert imagenet.class_index(name) == 207
    assert imagenet.class_index("Tinca tinca") == 0 and imagenet.class_name(999) == "toilet tissue"
    G = ln.load_generator(tiny1000, device="cpu", class_index="goldfish", truncation=0.7)
    assert G.class_vector.argmax().item() == 1 and G.class_vector.sum().item() == 1
    z = G.sample_z(2)
    with torch.no_grad():
        assert torch.equal(G(z), G(z, class_vector="goldfish"))
        assert torch.equal(G(z, class_vector={"tench": 0.5, 1: 0.5}), G(z, class_vector=torch.eye(1000)[:2].mean(0)))
    assert biggan.one_hot(["tench", 207]).argmax(1).tolist() == [0, 207]


def test_class_names_ship_in_the_package():
    data = Path(imagenet.__file__).with_name("imagenet_classes.tsv")
    assert data.is_file()
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert '"generators/*.tsv"' in pyproject


# -------------------------------------------------------------------------------------- bad input
def test_truncation_outside_0_1_is_refused(ref_dir):
    for bad in (0, -0.2, 1.5, float("nan"), "high"):
        with pytest.raises(ValueError, match=r"truncation must (lie in|be a number in) \(0, 1\]") as info:
            ln.load_generator(ref_dir, device="cpu", truncation=bad)
        assert "\n" not in str(info.value)
    G = ln.load_generator(ref_dir, device="cpu")
    with pytest.raises(ValueError, match=r"truncation must lie in \(0, 1\], got 1.01"):
        G(G.sample_z(1), truncation=1.01)


def test_class_index_out_of_range_or_unknown_name(ref_dir, tiny1000):
    with pytest.raises(ValueError, match=r"class index must lie in 0..999, got 1000"):
        ln.load_generator(tiny1000, device="cpu", class_index=1000)
    with pytest.raises(ValueError, match=r"class index must lie in 0..999, got -1"):
        ln.load_generator(tiny1000, device="cpu", class_index=-1)
    with pytest.raises(imagenet.UnknownClassError, match=r"unknown ImageNet class 'golden retreiver'; close names: golden retriever"):
        ln.load_generator(tiny1000, device="cpu", class_index="golden retreiver")
    with pytest.raises(ValueError, match=r"'crane' is ambiguous: it names classes 134 .*; 517 "):
        ln.load_generator(tiny1000, device="cpu", class_index="crane")
    with pytest.raises(ValueError, match="class names need a 1000-class ImageNet model; this one has 5 classes"):
        ln.load_generator(ref_dir, device="cpu", class_index="goldfish")
    with pytest.raises(ValueError, match=r"class index must lie in 0..4, got 5"):
        ln.load_generator(ref_dir, device="cpu", class_index=5)
    with pytest.raises(ValueError, match="give class_index or class_vector, not both"):
        ln.load_generator(ref_dir, device="cpu", class_index=1, class_vector=[0, 1, 0, 0, 0])
    G = ln.load_generator(ref_dir, device="cpu")
    with pytest.raises(ValueError, match=r"expected a class vector of shape \[5\] or \[N, 5\], got \[1, 4\]"):
        G(G.sample_z(1), class_vector=[0.5, 0.5, 0, 0])
    with pytest.raises(ValueError, match="class_vector has 2 rows for 3 latents"):
        G(G.sample_z(3), class_vector=torch.eye(5)[:2])


def test_strict_load_lists_missing_and_unexpected_keys(ref, tmp_path):
    state = dict(ref["state"])
    del state["generator.layers.2.bn_1.running_vars"], state["generator.conv_to_rgb.bias"]
    state["generator.extra.weight"] = torch.zeros(3)
    with pytest.raises(biggan.BigGANWeightsError) as info:
        ln.load_generator(write_dir(tmp_path / "a", ref["config"], state), device="cpu")
    msg = str(info.value)
    assert "\n" not in msg
    assert ("missing 2 keys (generator.conv_to_rgb.bias, generator.layers.2.bn_1.running_vars)" in msg
            and "unexpected 1 keys (generator.extra.weight)" in msg)  # fmt: skip
    torch.save({"weights": [1, 2]}, tmp_path / "a" / "pytorch_model.bin")
    with pytest.raises(biggan.BigGANWeightsError, match="expected a state dict of tensors"):
        ln.load_generator(tmp_path / "a", device="cpu")


def test_config_json_that_does_not_match_the_weights(ref, tmp_path):
    wide = dict(ref["config"], channel_width=16)
    with pytest.raises(biggan.BigGANWeightsError, match=r"config.json does not match the weights' shapes: .* is \[.*\] in "
                       r"pytorch_model.bin but config.json \(z_dim=16, channel_width=16, num_classes=5\) implies"):  # fmt: skip
        ln.load_generator(write_dir(tmp_path / "w", wide, ref["state"]), device="cpu")
    more_classes = dict(ref["config"], num_classes=1000)
    with pytest.raises(biggan.BigGANWeightsError, match=r"embeddings.weight is \[16, 5\] .* implies \[16, 1000\]"):
        ln.load_generator(write_dir(tmp_path / "c", more_classes, ref["state"]), device="cpu")
    fewer_layers = dict(ref["config"], layers=ref["config"]["layers"][:-2] + [[True, 2, 1]])
    with pytest.raises(biggan.BigGANWeightsError, match="unexpected 48 keys .* is config.json the one for these weights"):
        ln.load_generator(write_dir(tmp_path / "l", fewer_layers, ref["state"]), device="cpu")
    with pytest.raises(biggan.BigGANWeightsError, match="config.json: 2 up-sampling layers make 16 px images, but output_dim is 32"):
        ln.load_generator(write_dir(tmp_path / "o", dict(ref["config"], output_dim=32, layers=ref["config"]["layers"][:-2] + [[False, 2, 1]]),
                                    ref["state"]))  # fmt: skip
    with pytest.raises(biggan.BigGANWeightsError, match="layers must start at 16 channel units .* got 8 and 1"):
        ln.load_generator(write_dir(tmp_path / "s", dict(ref["config"], layers=ref["config"]["layers"][2:], output_dim=16),
                                    ref["state"]))  # fmt: skip
    with pytest.raises(biggan.BigGANWeightsError, match=r"unknown keys \['colour'\]"):
        ln.load_generator(write_dir(tmp_path / "k", dict(ref["config"], colour=1), ref["state"]), device="cpu")


def test_other_bad_settings(ref_dir):
    with pytest.raises(ValueError, match="unknown biggan-deep settings \\['psi'\\]; known: batch_size"):
        ln.load_generator(ref_dir, device="cpu", psi=0.7)
    with pytest.raises(ValueError, match="float16 inference needs a CUDA device; on cpu use float32"):
        ln.load_generator(ref_dir, device="cpu", dtype="float16")
    with pytest.raises(ValueError, match="unknown dtype 'float64'; known: float32, float16, bfloat16"):
        ln.load_generator(ref_dir, device="cpu", dtype="float64")
    with pytest.raises(WeightsNotFoundError, match="a BigGAN-deep checkpoint is a directory holding config.json"):
        ln.load_generator(ref_dir.parent, arch="biggan-deep", device="cpu")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="half precision needs a CUDA device")
def test_half_precision_on_gpu_is_close_to_float32(tiny1000):
    G32 = ln.load_generator(tiny1000, device="cuda", truncation=0.5, class_index=207)
    z = G32.sample_z(8)
    with torch.no_grad():
        ref = G32(z)
        for dtype, tol in (("float16", 2e-2), ("bfloat16", 1e-1)):
            G = ln.load_generator(tiny1000, device="cuda", truncation=0.5, class_index=207, dtype=dtype)
            x = G(z)
            assert x.dtype == torch.float32 and (x - ref).abs().max().item() < tol, dtype
