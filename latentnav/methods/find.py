"""``find_direction``: one entry point to GANSpace, SeFa and InterFaceGAN (the API behind ``latentnav discover --method``).

- GANSpace and SeFa give several directions; with an ``attribute`` the one that moves it most consistently
  and exclusively is chosen (:func:`latentnav.evaluate.pick_direction`) and calibrated in its units,
  otherwise component ``component`` is returned as it is (raw steps).
- InterFaceGAN needs an attribute: a meter's name, or a user scorer (any callable images -> [N] scores).
  With a meter the direction is calibrated in its units; a scorer's direction stays raw.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from latentnav.directions import Direction
from latentnav.errors import LatentnavError, UnknownNameError
from latentnav.methods import METHODS


def find_direction(G, method: str, *, space: str = "z", attribute: str | None = None,
                   scorer: Callable | None = None, scorer_name: str = "scorer", component: int = 0,
                   n_components: int = 10, n_samples: int = 10_000, ratio: float = 0.02,
                   layers: Sequence[int] | None = None, feature: str | None = "auto",
                   conditions: Sequence[Direction] = (), seed: int = 0) -> tuple[Direction, list[Direction], dict[str, Any]]:  # fmt: skip
    """Find a direction in ``G`` with ``method`` (``"ganspace"``, ``"sefa"`` or ``"interfacegan"``).

    Args:
        G: a generator.
        method: the method.
        space: latent space.
        attribute: a meter name (``pos_x``, ``scale``, ``hue``, ...): picks and calibrates (GANSpace, SeFa),
            or scores (InterFaceGAN).
        scorer: InterFaceGAN only, a user scorer instead of ``attribute``.
        scorer_name: the scorer's name in messages and metadata.
        component: GANSpace/SeFa without an attribute: which component to return.
        n_components: GANSpace/SeFa components computed.
        n_samples: GANSpace/InterFaceGAN samples.
        ratio: InterFaceGAN's top/bottom fraction.
        layers: StyleGAN2 W+ layers (GANSpace, SeFa).
        feature: GANSpace's feature (see :func:`latentnav.methods.ganspace.ganspace`).
        conditions: InterFaceGAN: directions to keep unchanged.
        seed: first seed.

    Returns:
        ``(direction, candidates, info)``: the chosen direction, every direction the method offered (GANSpace,
        SeFa) and a JSON-ready record (choice, scores, generator evaluations, seconds).
    """
    from latentnav.evaluate import calibrate_direction, count_evals, default_attributes, pick_direction, total_evals
    from latentnav.measure import get_meter

    if method not in METHODS or method == "trajectory":
        raise UnknownNameError("method", method, [m for m in METHODS if m != "trajectory"], " (trajectory: latentnav.methods.trajectory.discover)")
    meter = get_meter(attribute, G) if attribute else None
    t0 = time.perf_counter()
    info: dict[str, Any] = {"method": method, "space": space, "attribute": attribute or (scorer_name if scorer else None)}
    with count_evals(G) as evals:
        if method in ("ganspace", "sefa"):
            if scorer is not None:
                raise LatentnavError(f"{method} is unsupervised: it takes --attribute (to pick a component), not --scorer")
            if method == "ganspace":
                from latentnav.methods.ganspace import ganspace

                res = ganspace(G, space, n_samples=n_samples, n_components=n_components, feature=feature, layers=layers, seed=seed)
                info.update(feature=res.feature, explained_variance_ratio=res.explained_variance_ratio.tolist())
            else:
                from latentnav.methods.sefa import sefa

                res = sefa(G, space, layers=layers, n_components=n_components)
                info.update(eigenvalues=res.eigenvalues.tolist(), weight_shape=list(res.weight_shape))
            candidates = res.directions
            if meter is not None:
                others = [get_meter(a, G) for a in default_attributes(G)]
                k, scores = pick_direction(G, candidates, meter, others)
                direction = calibrate_direction(G, candidates[k], meter)
                info.update(choice=k, pick_scores=scores)
            else:
                if not 0 <= component < len(candidates):
                    raise LatentnavError(f"component {component} does not exist: {method} found {len(candidates)} (0..{len(candidates) - 1})")
                direction, info["choice"] = candidates[component], component
        else:
            from latentnav.methods.interfacegan import interfacegan

            if (meter is None) == (scorer is None):
                raise LatentnavError("interfacegan needs the attribute to separate: give --attribute NAME (a meter) "
                                     "or --scorer module:function, one of the two")  # fmt: skip
            fn = meter.fn if meter is not None else scorer
            name = meter.name if meter is not None else scorer_name
            raw = interfacegan(G, fn, space=space, n_samples=n_samples, ratio=ratio, conditions=conditions, name=name,
                               allow_nan=meter is not None, seed=seed)  # fmt: skip
            candidates = []
            direction = calibrate_direction(G, raw, meter) if meter is not None else raw
            info.update(val_accuracy=raw.meta["val_accuracy"], remaining_accuracy=raw.meta["remaining_accuracy"],
                        conditions=raw.meta["conditions"])  # fmt: skip
    info.update(generator_evals=total_evals(evals), seconds=round(time.perf_counter() - t0, 3), calibrated=direction.calibrated)
    direction.meta = {**direction.meta, "seed": seed}
    return direction, candidates, info
