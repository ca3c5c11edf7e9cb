"""The architecture registry: each generator family's loader, and how to recognise its files.

A family is registered once, where latentnav learns about it, and everything else (``checkpoints.yaml``,
``load_generator`` on a path, ``latentnav models``) reads the registry; loaders and sniffers are named as
``"module:function"`` strings so that a family's module is imported only when one of its models is used.
Register your own from outside the package::

    from latentnav.generators.architectures import register_architecture
    register_architecture("mygan", my_load, sniff=lambda path: path.suffix == ".mygan")

A loader is ``load(path, *, name, device, **settings) -> Generator``; a sniffer ``(path) -> bool`` says
whether a local path holds a model of the family (cheap: headers only).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from latentnav.errors import CheckpointError, UnknownNameError


def _resolve(target: str | Callable) -> Callable:
    """A callable given as itself or as ``"module:function"`` (imported now)."""
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Architecture:
    """A generator family.

    Attributes:
        name: the key ``checkpoints.yaml`` and safetensors headers use (``arch``).
        load: ``load(path, *, name, device, **settings) -> Generator``, or ``"module:function"``.
        sniff: ``(path) -> bool`` for local paths, or ``"module:function"``; ``None``: recognised only by
            latentnav's own safetensors header (``arch`` in its metadata).
    """

    name: str
    load: str | Callable
    sniff: str | Callable | None = None

    def loader(self) -> Callable:
        """The loader (its module imported now)."""
        return _resolve(self.load)

    def sniffer(self) -> Callable | None:
        """The sniffer (its module imported now), or ``None``."""
        return None if self.sniff is None else _resolve(self.sniff)


#: name -> family, in registration order (the order sniffers are tried in)
ARCHITECTURES: dict[str, Architecture] = {}


def register_architecture(name: str, load: str | Callable, *, sniff: str | Callable | None = None) -> Architecture:
    """Add (or replace) a generator family; see the module docstring."""
    ARCHITECTURES[name] = Architecture(name, load, sniff)
    return ARCHITECTURES[name]


def get_architecture(name: str, where: str = "") -> Architecture:
    """The family called ``name``.

    Raises:
        UnknownNameError: lists the known families.
    """
    if name not in ARCHITECTURES:
        raise UnknownNameError("architecture", name, list(ARCHITECTURES), where)
    return ARCHITECTURES[name]


def infer_architecture(path: Path) -> str:
    """The family of a local path: latentnav's ``arch`` header in a safetensors file, else the first sniffer
    that recognises it.

    Raises:
        CheckpointError: an empty file, or one no family recognises (pass ``arch=``).
    """
    from latentnav.generators.base import read_safetensors_layout

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (0 bytes), not a model file")
    if path.suffix == ".safetensors" and path.is_file():
        arch = read_safetensors_layout(path)[0].get("arch")
        if arch:
            return get_architecture(arch, f" (the arch in {path.name}'s header)").name
    for family in ARCHITECTURES.values():
        sniff = family.sniffer()
        if sniff is not None and sniff(path):
            return family.name
    raise CheckpointError(f"cannot tell the architecture of {path}; pass arch= one of: {', '.join(sorted(ARCHITECTURES))}")


register_architecture("betavae", "latentnav.generators.betavae:load")
register_architecture("biggan-deep", "latentnav.generators.biggan:load", sniff="latentnav.generators.biggan:is_checkpoint")
register_architecture("cmivae", "latentnav.generators.cmivae:load")
register_architecture("dcgan", "latentnav.generators.dcgan:load")
register_architecture("infogan", "latentnav.generators.infogan:load")
register_architecture("stylegan2", "latentnav.generators.stylegan2:load", sniff="latentnav.generators.stylegan2:sniff")
