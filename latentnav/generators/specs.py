"""The registry's data: one model of ``checkpoints.yaml`` as frozen dataclasses, parsed with one-line errors.

Nothing here loads a model or touches the network; :mod:`latentnav.generators.registry` reads the file and
:mod:`latentnav.generators.hub` finds the files a spec names.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any, Mapping

from latentnav.errors import RegistryError
from latentnav.generators.architectures import get_architecture

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
    aliases: tuple[str, ...] = ()  # short names that also find this model (``biggan`` for ``biggan-deep-128``)
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
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(x, str) and x for x in aliases):
        raise RegistryError(f"{where}: aliases must be a list of names, got {aliases!r}"[:200])
    data["aliases"] = tuple(aliases)
    spec = _build(ModelSpec, data, where)
    small = [k for k in _POSITIVE if getattr(spec, k) < 1]
    if small:
        raise RegistryError(f"{where}: {small[0]} must be >= 1, got {getattr(spec, small[0])}")
    get_architecture(spec.arch, where=f" (in {where})")
    return spec


