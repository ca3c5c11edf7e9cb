"""The model registry: ``checkpoints.yaml`` parsed into frozen dataclasses, and ``load_generator``.

Models are data: every model's source, sha256, architecture and settings live in ``checkpoints.yaml``.
Architectures map to the module that builds them; modules are imported only when a model is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import torch
import yaml

from latentnav.errors import UnknownNameError
from latentnav.generators.base import Generator

#: architecture key -> module with ``load(path, *, name, device, **settings)``.
ARCHITECTURES: Mapping[str, str] = MappingProxyType({
    "betavae": "latentnav.generators.betavae",
    "biggan-deep": "latentnav.generators.biggan",
    "cmivae": "latentnav.generators.cmivae",
    "dcgan": "latentnav.generators.dcgan",
    "infogan": "latentnav.generators.infogan",
    "stylegan2": "latentnav.generators.stylegan2",
})  # fmt: skip

SOURCE_KINDS = ("package", "hub", "pypi")


@dataclass(frozen=True)
class FileSpec:
    """One weight file: where it is inside its source, its sha256 and size in bytes."""

    path: str
    sha256: str
    size: int | None = None


@dataclass(frozen=True)
class SourceSpec:
    """Where a model's files come from.

    ``package``: files inside the installed latentnav package. ``hub``: a Hugging Face Hub repo at a
    pinned revision. ``pypi``: files inside an installed distribution (``pip install`` it first).
    """

    kind: str
    files: tuple[FileSpec, ...]
    repo_id: str | None = None
    revision: str | None = None
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        """A short human-readable origin, e.g. ``hub:org/name@abc1234``."""
        if self.kind == "hub":
            return f"hub:{self.repo_id}@{(self.revision or 'main')[:7]}"
        if self.kind == "pypi":
            return f"pypi:{self.distribution}=={self.version}" if self.version else f"pypi:{self.distribution}"
        return "package"


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry (one model in ``checkpoints.yaml``)."""

    name: str
    arch: str
    description: str
    license: str
    img_resolution: int
    img_channels: int
    z_dim: int
    source: SourceSpec
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    reproduce: str | None = None
    notice: str | None = None  # shown once per process when the model is loaded (e.g. a non-commercial license)


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}; known: {', '.join(sorted(known))}")
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"{where}: {err}") from None


def parse_model(data: Mapping[str, Any]) -> ModelSpec:
    """Build a :class:`ModelSpec` from one YAML mapping (unknown keys are an error)."""
    name = data.get("name", "?") if isinstance(data, Mapping) else "?"
    where = f"checkpoints.yaml model {name!r}"
    data = dict(data)
    src = dict(data.get("source") or {})
    src["files"] = tuple(_build(FileSpec, f, f"{where} source file") for f in src.get("files", ()))
    source = _build(SourceSpec, src, f"{where} source")
    if source.kind not in SOURCE_KINDS:
        raise ValueError(f"{where}: source kind {source.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    if not source.files:
        raise ValueError(f"{where}: source lists no files")
    data["source"] = source
    data["settings"] = MappingProxyType(dict(data.get("settings") or {}))
    spec = _build(ModelSpec, data, where)
    if spec.arch not in ARCHITECTURES:
        raise UnknownNameError("architecture", spec.arch, list(ARCHITECTURES), f" (in {where})")
    return spec


class Registry(Mapping[str, ModelSpec]):
    """Model specs by name (a read-only mapping)."""

    def __init__(self, specs: list[ModelSpec]) -> None:
        self._specs = {s.name: s for s in specs}
        if len(self._specs) != len(specs):
            raise ValueError("checkpoints.yaml lists a model name twice")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Registry":
        """Parse a registry file with a top-level ``models:`` list."""
        doc = yaml.safe_load(Path(path).read_text()) or {}
        if set(doc) - {"models"}:
            raise ValueError(f"{path}: unknown top-level keys {sorted(set(doc) - {'models'})}; known: models")
        return cls([parse_model(m) for m in doc.get("models") or []])

    def __getitem__(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownNameError("model", name, list(self._specs)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self):
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry shipped with latentnav (``latentnav/checkpoints.yaml``)."""
    with resources.as_file(resources.files("latentnav") / "checkpoints.yaml") as path:
        return Registry.from_yaml(path)


def _arch_module(arch: str):
    if arch not in ARCHITECTURES:
        raise UnknownNameError("architecture", arch, list(ARCHITECTURES))
    return importlib.import_module(ARCHITECTURES[arch])


def load_generator(
    name_or_path: str | Path,
    *,
    arch: str | None = None,
    device: str | torch.device = "auto",
    registry: Registry | None = None,
    **settings: Any,
) -> Generator:
    """Load a generator by registry name or from a local file or directory.

    Args:
        name_or_path: a name from ``checkpoints.yaml`` (see ``latentnav models``) or a path.
        arch: architecture of a local path (inferred from latentnav's own safetensors metadata).
        device: ``"auto"`` (cuda, mps, cpu) or an explicit device.
        registry: another registry (defaults to the shipped one).
        **settings: architecture settings that override the registry's (e.g. ``batch_size``).

    Returns:
        A :class:`~latentnav.generators.base.Generator`.

    Raises:
        UnknownNameError: the name is neither a known model nor an existing path.
        ChecksumError: a file's sha256 does not match the registry.
        WeightsNotFoundError: a file is missing and cannot be fetched (e.g. offline).
    """
    from latentnav.generators import hub

    registry = registry if registry is not None else default_registry()
    key = str(name_or_path)
    if key in registry:
        spec = registry[key]
        paths = hub.fetch(spec)
        _show_notice(spec)
        merged = {**spec.settings, **settings}
        return _arch_module(spec.arch).load(paths[0] if len(paths) == 1 else paths[0].parent, name=spec.name,
                                            device=device, **merged)  # fmt: skip
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise UnknownNameError("model", key, list(registry), " (or give the path of a checkpoint file or directory)")
    arch = arch or _infer_arch(path)
    return _arch_module(arch).load(path, name=str(path), device=device, **settings)


_NOTICES_SHOWN: set[str] = set()


def _show_notice(spec: ModelSpec) -> None:
    """Log a model's ``notice`` (its license terms) on its first use in this process."""
    if spec.notice and spec.name not in _NOTICES_SHOWN:
        import logging

        _NOTICES_SHOWN.add(spec.name)
        logging.getLogger("latentnav").warning("%s: %s", spec.name, spec.notice)


def _infer_arch(path: Path) -> str:
    from latentnav.generators import biggan

    if biggan.is_checkpoint(path):
        return biggan.ARCH
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                arch = (f.metadata() or {}).get("arch")
        except Exception as err:  # noqa: BLE001 - safetensors raises its own error type for bad headers
            raise ValueError(f"{path}: not a readable safetensors file (truncated or corrupted: {err})") from None
        if arch:
            return arch
    from latentnav.generators import stylegan2

    if stylegan2.sniff(path):
        return stylegan2.ARCH
    raise ValueError(f"cannot tell the architecture of {path}; pass arch= one of: {', '.join(sorted(ARCHITECTURES))}")
