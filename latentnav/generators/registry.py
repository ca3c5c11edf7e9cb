"""The model registry: ``checkpoints.yaml`` parsed into frozen dataclasses, and ``load_generator``.

Models are data: every model's source, sha256, architecture and settings live in ``checkpoints.yaml``.
Architectures map to the module that builds them; modules are imported only when a model is loaded.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import torch
import yaml

from latentnav.errors import RegistryError, UnknownNameError
from latentnav.generators.architectures import get_architecture, infer_architecture
from latentnav.generators.base import Generator, first_line
from latentnav.generators.specs import ModelSpec, parse_model

#: libyaml's safe loader where PyYAML was built with it (the same documents, a tenth of the time), else PyYAML's own
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Registry(Mapping[str, ModelSpec]):
    """Model specs by name (a read-only mapping)."""

    def __init__(self, specs: list[ModelSpec], origin: str = "checkpoints.yaml") -> None:
        self._specs = {s.name: s for s in specs}
        if len(self._specs) != len(specs):
            twice = sorted({s.name for s in specs if sum(t.name == s.name for t in specs) > 1})
            raise RegistryError(f"{origin}: lists the model name {twice[0]!r} twice")
        self._aliases: dict[str, str] = {}
        for spec in specs:
            for alias in spec.aliases:
                if alias in self._specs or alias in self._aliases:
                    raise RegistryError(f"{origin}: model {spec.name!r}: the alias {alias!r} is already a model name or "
                                        "another model's alias")  # fmt: skip
                self._aliases[alias] = spec.name

    def aliases(self) -> dict[str, str]:
        """Short names and the model each one means (``{"biggan": "biggan-deep-128", ...}``)."""
        return dict(self._aliases)

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
            doc = yaml.load(text, Loader=SAFE_LOADER)
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
            return self._specs[self._aliases.get(name, name)]
        except KeyError:
            raise UnknownNameError("model", name, list(self._specs)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._aliases

    def __iter__(self):
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry shipped with latentnav (``latentnav/checkpoints.yaml``)."""
    with resources.as_file(resources.files("latentnav") / "checkpoints.yaml") as path:
        return Registry.from_yaml(path)


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
        load = get_architecture(spec.arch).loader()
        return load(paths[0] if len(paths) == 1 else paths[0].parent, name=spec.name, device=device, **merged)
    path = Path(name_or_path).expanduser()
    if not path.exists():
        raise UnknownNameError("model", key, list(registry), " (or give the path of a checkpoint file or directory)")
    load = get_architecture(arch or infer_architecture(path)).loader()
    return load(path, name=str(path), device=device, **settings)


_NOTICES_SHOWN: set[str] = set()


def _show_notice(spec: ModelSpec) -> None:
    """Log a model's ``notice`` (its license terms) on its first use in this process."""
    if spec.notice and spec.name not in _NOTICES_SHOWN:
        import logging

        _NOTICES_SHOWN.add(spec.name)
        logging.getLogger("latentnav").warning("%s: %s", spec.name, spec.notice)


def model_rows(registry: Registry | None = None) -> list[dict]:
    """One row per model for ``latentnav models``: name, aliases, architecture, size, source, license, and
    whether its files are on this machine (no download, no hashing)."""
    from latentnav.generators import hub

    registry = registry if registry is not None else default_registry()
    return [{
        "name": spec.name, "aliases": ",".join(spec.aliases), "arch": spec.arch, "resolution": spec.img_resolution,
        "channels": spec.img_channels, "z_dim": spec.z_dim, "source": spec.source.describe(), "license": spec.license,
        "available": hub.is_available(spec), "description": spec.description,
    } for spec in registry.values()]  # fmt: skip
