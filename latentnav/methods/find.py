"""``find_direction``: GANSpace, SeFa, InterFaceGAN or any registered method as ``latentnav discover --method`` runs it.

- A method that offers a ranked set (GANSpace, SeFa) gives, with an ``attribute``, the direction that moves it most
  consistently and exclusively (:func:`latentnav.evaluate.pick_direction`), calibrated in its units; otherwise
  component ``component`` as it is (raw steps).
- A method that gives one answer (InterFaceGAN) is calibrated in the attribute's units when the attribute is a
  meter; a user scorer's direction stays raw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from latentnav.directions import Direction
from latentnav.errors import BadInputError, UnknownNameError
from latentnav.methods import METHODS, MethodSettings, get_method


def find_direction(G, method: str, *, space: str = "z", attribute: str | None = None,
                   scorer: Callable | None = None, scorer_name: str = "scorer", component: int = 0,
                   n_components: int = 10, n_samples: int = 10_000, ratio: float = 0.02,
                   layers: Sequence[int] | None = None, feature: str | None = "auto",
                   conditions: Sequence[Direction] = (), seed: int = 0) -> tuple[Direction, list[Direction], dict[str, Any]]:  # fmt: skip
    """Find a direction in ``G`` with a registered ``method`` (``"ganspace"``, ``"sefa"``, ``"interfacegan"``, ...).

    Args:
        G: a generator.
        method: the method's name (:data:`latentnav.methods.METHODS`; the trajectory method is
            :func:`latentnav.methods.trajectory.discover.discover`).
        space: latent space.
        attribute: a meter name (``pos_x``, ``scale``, ``hue``, ...): picks and calibrates (GANSpace, SeFa),
            or scores (InterFaceGAN).
        scorer: InterFaceGAN only, a user scorer instead of ``attribute``.
        scorer_name: the scorer's name in messages and metadata.
        component: GANSpace/SeFa without an attribute: which component to return.
        n_components, n_samples, ratio, layers, feature, conditions, seed: the fields of
            :class:`~latentnav.methods.MethodSettings`.

    Returns:
        ``(direction, candidates, info)``: the chosen direction, every direction a ranked method offered, and a
        JSON-ready record (the method's figures, choice, generator evaluations, seconds).
    """
    from latentnav.evaluate import count_evals, total_evals
    from latentnav.measure import get_meter

    if method == "trajectory":
        raise UnknownNameError("method", method, [m for m in METHODS if m != "trajectory"],
                               " (trajectory: latentnav.methods.trajectory.discover)")  # fmt: skip
    runner = get_method(method)
    meter = get_meter(attribute, G) if attribute else None
    settings = MethodSettings(n_components=n_components, samples=n_samples, ratio=ratio, feature=feature,
                              layers=None if layers is None else tuple(layers), conditions=tuple(conditions), seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    info: dict[str, Any] = {"method": method, "space": space, "attribute": attribute or (scorer_name if scorer else None)}
    with count_evals(G) as evals:
        found = runner.find(G, space=space, meter=meter, scorer=scorer, scorer_name=scorer_name, settings=settings)
        info.update(found.info)
        direction = _choose(G, method, found, meter, component, info)
    info.update(generator_evals=total_evals(evals), seconds=round(time.perf_counter() - t0, 3), calibrated=direction.calibrated)
    direction.meta = {**direction.meta, "seed": seed}
    return direction, (found.directions if found.ranked else []), info


def _choose(G, method: str, found, meter, component: int, info: dict) -> Direction:
    """The direction ``find_direction`` returns: picked and calibrated, a numbered component, or the one answer."""
    from latentnav.evaluate import calibrate_direction, default_attributes, pick_direction
    from latentnav.measure import get_meter

    candidates = found.directions
    if found.ranked and meter is not None:
        others = [get_meter(a, G) for a in default_attributes(G)]
        k, scores = pick_direction(G, candidates, meter, others)
        info.update(choice=k, pick_scores=scores)
        return calibrate_direction(G, candidates[k], meter)
    if found.ranked:
        if not 0 <= component < len(candidates):
            raise BadInputError(f"component {component} does not exist: {method} found {len(candidates)} "
                                 f"(0..{len(candidates) - 1})")  # fmt: skip
        info["choice"] = component
        return candidates[component]
    return calibrate_direction(G, candidates[0], meter) if meter is not None else candidates[0]
