import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import latentnav as ln
from latentnav.errors import ChecksumError, UnknownNameError, WeightsNotFoundError
from latentnav.generators import hub
from latentnav.generators.registry import Registry, default_registry

PKG_WEIGHTS = Path(ln.__file__).parent / "weights" / "bvae-dsprites-b4.safetensors"


def _entry(**source):
    return {"name": "tiny", "arch": "betavae", "description": "test", "license": "MIT", "img_resolution": 64,
            "img_channels": 1, "z_dim": 10, "source": source}  # fmt: skip


def _write(tmp_path, *entries):
    path = tmp_path / "checkpoints.yaml"
    path.write_text(yaml.safe_dump({"models": list(entries)}))
    return Registry.from_yaml(path)


def test_shipped_registry_lists_the_embedded_models_with_their_real_checksums():
    reg = default_registry()
    for name in ("bvae-dsprites", "bvae-dsprites-b4", "bvae-dsprites-corr", "bvae-dsprites-corr06"):
        spec = reg[name]
        assert spec.source.kind == "package"
        (path,) = hub.fetch(spec)
        assert hub.sha256_of(path) == spec.source.files[0].sha256
        assert path.stat().st_size == spec.source.files[0].size


def test_unknown_model_lists_known_names():
    with pytest.raises(UnknownNameError, match="unknown model 'bigggan'; known: .*bvae-dsprites"):
        ln.load_generator("bigggan")


def test_unknown_yaml_key_is_an_error(tmp_path):
    bad = _entry(kind="package", files=[{"path": "x", "sha256": "0"}])
    bad["colour"] = "blue"
    with pytest.raises(ValueError, match=r"unknown keys \['colour'\]"):
        _write(tmp_path, bad)
    worse = _entry(kind="ftp", files=[{"path": "x", "sha256": "0"}])
    with pytest.raises(ValueError, match="source kind 'ftp'"):
        _write(tmp_path, worse)


def test_sha256_mismatch_refuses_to_load(tmp_path, monkeypatch):
    good = hub.sha256_of(PKG_WEIGHTS)
    wrong = ("0" if good[0] != "0" else "1") + good[1:]
    reg = _write(tmp_path, _entry(kind="package", files=[{"path": "weights/bvae-dsprites-b4.safetensors", "sha256": wrong}]))
    calls = []
    import latentnav.generators.betavae as bv

    monkeypatch.setattr(bv, "load", lambda *a, **k: calls.append(a))
    with pytest.raises(ChecksumError, match="refusing to load"):
        ln.load_generator("tiny", registry=reg)
    assert calls == []  # nothing was loaded


def _hub_cache(tmp_path, repo="someone/tiny-bvae", rev="0123456789abcdef0123456789abcdef01234567", with_file=True):
    snap = tmp_path / "hub" / f"models--{repo.replace('/', '--')}" / "snapshots" / rev
    snap.mkdir(parents=True)
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text(rev)
    if with_file:
        shutil.copyfile(PKG_WEIGHTS, snap / "model.safetensors")
    return repo, rev


def test_hub_source_loads_from_an_offline_cache(tmp_path, monkeypatch):
    repo, rev = _hub_cache(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    files = [{"path": "model.safetensors", "sha256": hub.sha256_of(PKG_WEIGHTS), "size": PKG_WEIGHTS.stat().st_size}]
    reg = _write(tmp_path, _entry(kind="hub", repo_id=repo, revision=rev, files=files))
    assert hub.is_available(reg["tiny"])
    G = ln.load_generator("tiny", registry=reg, device="cpu")
    ref = ln.load_generator("bvae-dsprites-b4", device="cpu")
    z = G.sample_z(3)
    assert torch.equal(G(z), ref(z))


def test_hub_file_missing_offline_is_a_one_line_error(tmp_path, monkeypatch):
    repo, rev = _hub_cache(tmp_path, with_file=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    reg = _write(tmp_path, _entry(kind="hub", repo_id=repo, revision=rev, files=[{"path": "model.safetensors", "sha256": "ab"}]))
    assert not hub.is_available(reg["tiny"])
    with pytest.raises(WeightsNotFoundError) as info:
        ln.load_generator("tiny", registry=reg)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"{repo}/model.safetensors at revision {rev}" in msg and "hf download" in msg


def test_pypi_source_names_the_package_to_install(tmp_path):
    files = [{"path": "pkg/weights.tar", "sha256": "ab"}]
    reg = _write(tmp_path, _entry(kind="pypi", distribution="surely-not-installed-pkg", version="1.0", files=files))
    with pytest.raises(WeightsNotFoundError, match="pip install --no-deps surely-not-installed-pkg==1.0"):
        ln.load_generator("tiny", registry=reg)


def test_local_path_loads_with_inferred_arch():
    G = ln.load_generator(PKG_WEIGHTS, device="cpu")
    assert G.z_dim == 10 and G.img_channels == 1


def test_checkpoints_yaml_at_top_level_is_the_shipped_registry():
    top = Path(__file__).resolve().parents[1] / "checkpoints.yaml"
    assert yaml.safe_load(top.read_text()) == yaml.safe_load((Path(ln.__file__).parent / "checkpoints.yaml").read_text())


def test_short_aliases_find_their_family_and_are_listed(monkeypatch):
    from click.testing import CliRunner

    from latentnav.cli import main
    from latentnav.generators.registry import default_registry

    reg = default_registry()
    assert reg["biggan"].name == "biggan-deep-128" and reg["stylegan2"].name == "stylegan2-ffhq-1024"
    assert reg["dcgan"].name == "dcgan-digiface" and "biggan" in reg and "biggan-deep-512" not in reg
    G = ln.load_generator("digiface", device="cpu")
    assert G.name == "dcgan-digiface"  # directions made through an alias record the model's own name
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = {r["name"]: r for r in json.loads(CliRunner().invoke(main, ["models", "--json"]).stdout)}
    assert rows["biggan-deep-128"]["aliases"] == "biggan,biggan-deep"


def test_an_alias_that_clashes_is_a_registry_error(tmp_path):
    from latentnav.errors import RegistryError
    from latentnav.generators.registry import Registry, default_registry

    specs = list(default_registry().values())
    clash = dataclasses.replace(specs[1], aliases=(specs[0].name,))
    with pytest.raises(RegistryError, match="already a model name"):
        Registry([specs[0], clash])
