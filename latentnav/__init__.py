"""latentnav: find, calibrate and correct controllable directions in pretrained generators.

``import latentnav`` is cheap: submodules load on first use.

    >>> import latentnav as ln
    >>> G = ln.load_generator("bvae-dsprites")
    >>> x = G(G.sample_z(4, seed=0))          # [4, 1, 64, 64] float32 in [-1, 1]
"""

from __future__ import annotations

import importlib
from typing import Any

from latentnav._version import __version__

_EXPORTS = {
    "load_generator": "latentnav.generators.registry",
    "default_registry": "latentnav.generators.registry",
    "Generator": "latentnav.generators.base",
    "SupportsEncode": "latentnav.generators.base",
    "SupportsCodeReadout": "latentnav.generators.base",
    "SupportsCodeDirection": "latentnav.generators.base",
    "resolve_device": "latentnav.devices",
    "LatentnavError": "latentnav.errors",
    "discover": "latentnav.runs",
    "Discovery": "latentnav.runs",
    "correct": "latentnav.correction.correct",
    "correct_direction": "latentnav.runs",
    "CorrectionRun": "latentnav.runs",
    "CorrectConfig": "latentnav.correction.config",
    "Direction": "latentnav.directions",
    "load_direction": "latentnav.directions",
    "export_npy": "latentnav.directions",
    "traverse": "latentnav.directions",
    "TrajectoryConfig": "latentnav.methods.trajectory.optimizer",
    "TRANSFORMS": "latentnav.measure.transforms",
    "register_transform": "latentnav.measure.transforms",
    "register_meter": "latentnav.measure.meters",
    "register_method": "latentnav.methods",
    "register_architecture": "latentnav.generators.architectures",
    "sefa": "latentnav.methods.sefa",
    "ganspace": "latentnav.methods.ganspace",
    "interfacegan": "latentnav.methods.interfacegan",
    "project_orthogonal": "latentnav.methods.interfacegan",
    "calibrate_direction": "latentnav.evaluate",
    "evaluate_direction": "latentnav.evaluate",
    "compare": "latentnav.runs",
    "Comparison": "latentnav.runs",
    "evaluate_model": "latentnav.metrics.disentanglement",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'latentnav' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
