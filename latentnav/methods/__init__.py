"""Direction-finding methods, and the registry every part of latentnav reads them from.

Every method returns :class:`~latentnav.directions.Direction` objects (method recorded in ``method`` and
its settings in ``meta``), so their files load, traverse and evaluate like the trajectory method's.
GANSpace and SeFa find unsupervised, uncalibrated directions (raw ``alpha`` steps, sign arbitrary);
InterFaceGAN needs attribute scores. :func:`latentnav.evaluate.calibrate_direction` gives any of them
a calibration g in an attribute's units.

- :mod:`latentnav.methods.trajectory`: follow an image transform through the generator (Plumerault et al. 2020)
- :mod:`latentnav.methods.ganspace`: PCA of sampled latents or of an intermediate feature (Harkonen et al. 2020)
- :mod:`latentnav.methods.sefa`: eigenvectors of A^T A for the weight A that first acts on the latent (Shen & Zhou 2021)
- :mod:`latentnav.methods.interfacegan`: a linear SVM on attribute scores, conditional projections (Shen et al. 2020)
- :mod:`latentnav.methods.layers`: where each generator family's latent meets its first layer

Every method answers the same call, ``candidates(G, *, space, meter, scorer, scorer_name, settings)`` ->
:class:`Candidates`, so ``latentnav discover --method``, ``compare`` and the CLI's choices cannot drift apart.
Register your own from outside the package::

    from latentnav.methods import Candidates, register_method
    register_method("mine", lambda G, **kw: Candidates([my_direction(G)], "my way"), "my own method")
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from latentnav.errors import UnknownNameError


@dataclass(frozen=True)
class MethodSettings:
    """What a method may be told (each method reads the fields that concern it; defaults are the CLI's).

    Attributes:
        n_components: GANSpace/SeFa: components computed (the candidates).
        samples: GANSpace/InterFaceGAN: latents sampled.
        ratio: InterFaceGAN: the top and bottom fraction of the samples used.
        feature: GANSpace: module of ``G.net`` analysed (``"auto"``: the family's default; ``None``: the latent).
        layers: GANSpace/SeFa on StyleGAN2: the W+ layers the directions act on.
        conditions: InterFaceGAN: directions to keep unchanged.
        seed: first seed of the samples.
        trajectory: the trajectory method's :class:`~latentnav.methods.trajectory.optimizer.TrajectoryConfig`
            (``None``: its defaults).
    """

    n_components: int = 10
    samples: int = 10_000
    ratio: float = 0.02
    feature: str | None = "auto"
    layers: tuple[int, ...] | None = None
    conditions: tuple = ()
    seed: int = 0
    trajectory: Any = None


@dataclass
class Candidates:
    """What a method offers: its directions (one for the supervised methods), how it found them, its figures.

    Attributes:
        directions: the candidate directions, best first where the method ranks them.
        how: a few words for tables (``feature decoder_fc``, ``boundary val. acc. 0.97``).
        info: a JSON-ready record of the method's own figures (explained variance, eigenvalues, accuracy).
        ranked: the directions are a set to choose from (components: pick one by the attribute, or by number),
            not one answer for the attribute.
    """

    directions: list
    how: str = ""
    info: dict = field(default_factory=dict)
    ranked: bool = False


@dataclass(frozen=True)
class Method:
    """A registered method.

    Attributes:
        name: the name ``--method`` and ``compare --methods`` take.
        candidates: ``candidates(G, *, space, meter, scorer, scorer_name, settings) -> Candidates``, or
            ``"module:function"`` (imported on first use).
        summary: one line for help texts and docs.
    """

    name: str
    candidates: str | Callable
    summary: str = ""

    def find(self, G, *, space: str = "z", meter=None, scorer: Callable | None = None, scorer_name: str = "scorer",
             settings: MethodSettings | None = None) -> Candidates:  # fmt: skip
        """The method's candidates for ``meter``'s attribute (or ``scorer``'s) in ``G``'s latent ``space``."""
        fn = self.candidates
        if isinstance(fn, str):
            module, _, attr = fn.partition(":")
            fn = getattr(importlib.import_module(module), attr)
        return fn(G, space=space, meter=meter, scorer=scorer, scorer_name=scorer_name, settings=settings or MethodSettings())


#: name -> method, in registration order (the order ``compare`` runs them in)
METHODS: dict[str, Method] = {}


def register_method(name: str, candidates: str | Callable, summary: str = "") -> Method:
    """Add (or replace) a method; see the module docstring."""
    METHODS[name] = Method(name, candidates, summary)
    return METHODS[name]


def get_method(name: str) -> Method:
    """The method called ``name``.

    Raises:
        UnknownNameError: lists the known methods.
    """
    if name not in METHODS:
        raise UnknownNameError("method", name, list(METHODS))
    return METHODS[name]


register_method("trajectory", "latentnav.methods.trajectory.discover:candidates",
                "follow an image transform through the generator and fit one calibrated direction")
register_method("ganspace", "latentnav.methods.ganspace:candidates", "principal axes of latents or of a feature")
register_method("sefa", "latentnav.methods.sefa:candidates", "eigenvectors of the weight that first reads the latent")
register_method("interfacegan", "latentnav.methods.interfacegan:candidates",
                "the normal of a linear SVM separating high from low attribute scores")
