"""What the explorer's page shows and asks for, without the web: one slider per direction, requests checked,
images rendered.

A slider moves along one direction in its own units: t through the calibration g for a calibrated direction
(over the calibration's range of t, within the transform's documented range), alpha (raw steps along u) for a
raw vector (as far as the projections ``<z, u>`` of 256 sampled latents reach: their largest distance from zero
of mean +- 3 standard deviations). An image request names a seed, a mode and a value per slider (all but the
seed may be left out). Relative moves the seed's latent by each value in turn (0 leaves it as it is), absolute
sets each named factor to its value (:meth:`~latentnav.directions.Direction.move`; ``Direction.step`` for raw
relative steps): the images :func:`~latentnav.directions.traverse` makes for one direction.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from latentnav.directions import Direction
from latentnav.errors import BadInputError
from latentnav.seeds import EVAL_SEED

#: the largest seed (as ``--seeds`` on the command line, :data:`latentnav.cli.parse.MAX_SEED`)
MAX_SEED = 2**32 - 1
#: relative: move the seed's image by the values; absolute: set its factors to them
MODES = ("relative", "absolute")
#: the query parameters that are not directions (no direction is named after them)
RESERVED = ("seed", "mode")
#: the latents whose projections on a raw vector give its slider's range
SPREAD_SEEDS = range(EVAL_SEED, EVAL_SEED + 256)
#: how many standard deviations of the projection a raw vector's slider reaches beyond its mean
SPREADS = 3.0
#: meta entries the figures leave out: shown by :func:`latentnav.display.direction_rows`, or bookkeeping
_NOT_FIGURES = ("unit", "fit_r2", "control", "leakage_before", "leakage_after", "generator_evals", "stage_seconds")
#: labels of meta entries whose key alone reads badly
_LABELS = {"calibration": "g fitted with", "calibration_r2": "calibration R^2", "calibration_pairs": "calibration pairs",
           "seed": "made with seed"}  # fmt: skip


class RequestError(BadInputError):
    """A request the explorer cannot answer, with its HTTP status (400: malformed, 404: an unknown direction)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Slider:
    """One direction on the page.

    Attributes:
        name: its label and query parameter.
        direction: the direction it moves along.
        lo, hi: the range of its values (t through g, or alpha for a raw vector).
        figures: ``(label, text)`` rows: what the direction moves and what its record measured.
    """

    name: str
    direction: Direction
    lo: float
    hi: float
    figures: tuple[tuple[str, str], ...]

    @property
    def unit(self) -> str:
        """``t`` (transform units, through g) or ``alpha`` (raw steps along u)."""
        return "t" if self.direction.calibrated else "alpha"

    def describe(self) -> dict[str, Any]:
        """The slider as the page reads it (JSON-ready)."""
        d = self.direction
        meaning = (d.meta.get("unit") or _transform_unit(d.transform)) if d.calibrated else "raw steps along u"
        return {"name": self.name, "unit": self.unit, "meaning": meaning, "lo": self.lo, "hi": self.hi,
                "moves": d.transform or "raw vector", "figures": [list(row) for row in self.figures]}  # fmt: skip

    def check(self, text: str) -> float:
        """The value ``text`` asks for, checked to be a number within [lo, hi] (else :class:`RequestError`, 400)."""
        try:
            value = float(text)
        except ValueError:
            raise RequestError(f"{self.name}: {self.unit} must be a number, got {text[:40]!r}") from None
        slack = 1e-6 * (self.hi - self.lo)  # the ends as typed (0.57) or as float32 holds them (0.5699999928)
        if not math.isfinite(value) or not self.lo - slack <= value <= self.hi + slack:
            raise RequestError(f"{self.name}: {self.unit}={text[:40]} is out of its range [{self.lo:.6g}, {self.hi:.6g}]")  # fmt: skip
        return value


def make_slider(G, name: str, direction: Direction) -> Slider:
    """A :class:`Slider` for ``direction`` on ``G``: its range (see the module docstring) and its figures."""
    if direction.calibrated:
        from latentnav.measure.transforms import TRANSFORMS

        lo, hi = float(direction.values[0]), float(direction.values[-1])
        known = TRANSFORMS.get(direction.transform)
        if known is not None and math.isfinite(known.max_t):
            lo, hi = max(lo, -known.max_t), min(hi, known.max_t)
    else:
        a = direction.project(G.sample_latent(list(SPREAD_SEEDS), direction.space).double())
        reach = float(f"{abs(float(a.mean())) + SPREADS * float(a.std()):.3g}")
        lo, hi = -reach, reach
    return Slider(name, direction, lo, hi, figures(direction))


def figures(direction: Direction) -> tuple[tuple[str, str], ...]:
    """What a direction moves and what its record measured: :func:`latentnav.display.direction_rows`, then the
    other numbers and short texts its ``meta`` holds, then its control warning."""
    from latentnav.display import direction_rows, number

    rows = [row for row in direction_rows(direction) if row[0] != "moves"]
    for key, value in direction.meta.items():
        if key in _NOT_FIGURES or key.endswith("_seconds") or isinstance(value, (dict, list)) or len(str(value)) > 80:
            continue
        rows.append((_LABELS.get(key, key.replace("_", " ")), number(value)))
    warning = (direction.meta.get("control") or {}).get("warning")
    return tuple(rows + ([("warning", str(warning))] if warning else []))


def _transform_unit(name: str) -> str:
    """The unit of a registered transform's t, or ``""``."""
    from latentnav.measure.transforms import TRANSFORMS

    known = TRANSFORMS.get(name)
    return known.unit if known is not None else ""


def direction_names(paths: Sequence[str | Path]) -> list[str]:
    """A distinct label per direction file: its name without the extension (the run folder's for a
    ``direction.safetensors``), with ``-2``, ``-3``, ... where two would be the same or one is a query parameter."""
    names: list[str] = []
    for path in paths:
        p = Path(path)
        base = (p.parent.name if p.stem == "direction" else p.stem) or "direction"
        name, k = base, 2
        while name in names or name in RESERVED:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def latent_space(directions: Iterable[Direction]) -> str:
    """The one latent space the directions live in (``"z"`` for none); :class:`BadInputError` when they differ."""
    spaces = sorted({d.space for d in directions})
    if len(spaces) > 1:
        raise BadInputError(f"the directions live in different latent spaces ({', '.join(spaces)}); explore moves in one")  # fmt: skip
    return spaces[0] if spaces else "z"


def check_made_for(directions: Mapping[str, Direction], model: str) -> None:
    """Refuse a direction made for another model before ``model`` (a registry name or alias) is loaded; a model
    given by path is checked once loaded (:meth:`~latentnav.directions.Direction.check_compatible`).

    Raises:
        DirectionMismatchError: one line naming the direction and both models.
    """
    from latentnav.directions import DirectionMismatchError
    from latentnav.generators.registry import default_registry

    registry = default_registry()
    if model not in registry:
        return
    name = registry[model].name
    for label, d in directions.items():
        if d.model and d.model != name:
            raise DirectionMismatchError(f"direction {label} was made for model {d.model!r}, not {name!r}; give "
                                         f"--model {d.model}")  # fmt: skip


def png_bytes(images: torch.Tensor) -> bytes:
    """The first image of [N, C, H, W] in [-1, 1] as PNG bytes (through :func:`latentnav.viz.to_uint8`)."""
    from PIL import Image

    from latentnav.viz import to_uint8

    arr = to_uint8(images[:1])[0]
    buffer = io.BytesIO()
    Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class Explorer:
    """A generator and its sliders: checks requests and renders their images, one at a time (a lock).

    Args:
        G: the generator.
        directions: label -> direction, each made for ``G``, all in one latent space.
        public: whether the page is served beyond this machine (the page then says it has no authentication).

    Raises:
        BadInputError: directions in several latent spaces, or one named after a query parameter.
        DirectionMismatchError: a direction not made for ``G``.
    """

    def __init__(self, G, directions: Mapping[str, Direction], *, public: bool = False) -> None:
        self.space = latent_space(directions.values())
        taken = [name for name in directions if name in RESERVED or not name]
        if taken:
            raise BadInputError(f"a direction may not be called {taken[0]!r} (reserved: {', '.join(RESERVED)})")
        for d in directions.values():
            d.check_compatible(G)
        self.G, self.public = G, public
        self._lock = threading.Lock()
        with self._lock, torch.inference_mode():
            self.sliders = {name: make_slider(G, name, d) for name, d in directions.items()}

    def info(self) -> dict[str, Any]:
        """What the page needs: the model, the seeds, the modes and the sliders (JSON-ready)."""
        return {"model": self.G.name, "resolution": self.G.img_resolution, "channels": self.G.img_channels,
                "space": self.space, "max_seed": MAX_SEED, "modes": list(MODES), "public": self.public,
                "sliders": [s.describe() for s in self.sliders.values()]}  # fmt: skip

    def parse(self, pairs: Iterable[tuple[str, str]]) -> tuple[int, str, dict[str, float]]:
        """``(seed, mode, {label: value})`` from a request's query parameters, each checked.

        Raises:
            RequestError: 400 for a missing, repeated or malformed parameter or a value out of range, 404 for a
                direction it does not know (listing the known ones).
        """
        given: dict[str, list[str]] = {}
        for key, value in pairs:
            given.setdefault(key, []).append(value)
        twice = [key for key, values in given.items() if len(values) > 1]
        if twice:
            raise RequestError(f"parameter {twice[0][:40]!r} is given {len(given[twice[0]])} times; give it once")
        if "seed" not in given:
            raise RequestError(f"missing parameter seed (an integer from 0 to {MAX_SEED})")
        seed, mode = _seed(given.pop("seed")[0]), given.pop("mode", ["relative"])[0]
        if mode not in MODES:
            raise RequestError(f"mode must be {' or '.join(MODES)}, got {mode[:40]!r}")
        unknown = [key for key in given if key not in self.sliders]
        if unknown:
            known = ", ".join(self.sliders) or "none: explore was started without --direction"
            raise RequestError(f"unknown direction {unknown[0][:60]!r}; known: {known}", status=404)
        return seed, mode, {name: s.check(given[name][0]) for name, s in self.sliders.items() if name in given}

    def render(self, seed: int, mode: str = "relative", values: Mapping[str, float] | None = None) -> torch.Tensor:
        """The image [1, C, H, W] of ``seed`` moved (relative) or set (absolute) along the sliders by ``values``."""
        shape = self.G.latent_shape(self.space)
        with self._lock, torch.inference_mode():
            z = self._latent(seed)
            for name, value in (values or {}).items():
                d = self.sliders[name].direction
                if mode == "relative" and not d.calibrated:
                    z = d.step(z, value) if value else z
                elif mode == "absolute" or value:
                    z = d.move(z, value, mode)
            return self.G(z.view(-1, *shape), space=self.space)

    def png(self, pairs: Iterable[tuple[str, str]]) -> bytes:
        """The PNG a request asks for (see :meth:`parse` and :meth:`render`)."""
        return png_bytes(self.render(*self.parse(pairs)))

    def factors(self, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Where the request's seed sits along each slider (t through g, or the projection alpha): the values
        absolute mode starts from."""
        seed, _, _ = self.parse(pairs)
        values = {}
        with self._lock, torch.inference_mode():
            z = self._latent(seed)
            for name, s in self.sliders.items():
                alpha = s.direction.project(z).cpu()
                values[name] = round(float((s.direction.t_of(alpha) if s.direction.calibrated else alpha)[0]), 6)
        return {"seed": seed, "values": values}

    def _latent(self, seed: int) -> torch.Tensor:
        """The seed's latent [1, D] in the sliders' space, on the generator's device (as ``traverse`` takes it)."""
        shape = self.G.latent_shape(self.space)
        z = self.G.sample_latent([seed], self.space)
        return self.G.check_latent(z.reshape(1, *shape), self.space).to(self.G.device).reshape(1, -1)


def _seed(text: str) -> int:
    """A seed from a query parameter: an integer from 0 to :data:`MAX_SEED` (else :class:`RequestError`, 400)."""
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_SEED))) or int(text) > MAX_SEED:
        raise RequestError(f"seed must be an integer from 0 to {MAX_SEED}, got {text[:40]!r}")
    return int(text)
