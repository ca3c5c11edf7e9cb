"""Directions: a unit vector u in a latent space plus a monotone calibration g_theta, and their files.

The model (Plumerault et al. 2020, eq. 6): the transform parameter of an image is ``t = g(<z, u>)`` for a
monotone g, so the change between two latents is ``g(<z_t, u>) - g(<z_0, u>)``. g is piecewise linear on
evenly spaced knots with non-negative increments (fitted by non-negative least squares, with a mild
smoothness penalty), extended linearly beyond its end knots, and pinned to ``g(0) = 0``. Unlike the
reference code, g is kept: it is what turns "shift by 0.2 of the width" into a step along u.

Two ways to move (``traverse``):

- relative, ``z' = z + (alpha_for(t_of(<z, u>) + t) - <z, u>) u``: "move this image by t";
- absolute, ``z' = z - <z, u> u + alpha_for(t) u``: "put the factor at t" (t relative to g's zero).

Files are safetensors (``u``, ``knots``, ``values``) whose metadata says which model, latent space,
transform, method, config, seed and latentnav version made them, plus a JSON sidecar with the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from latentnav._version import __version__
from latentnav.errors import BadInputError, DirectionFileError, LatentnavError
from latentnav.generators.base import Layout, first_line, read_safetensors_layout, require_file

FORMAT = "latentnav-direction"
FORMAT_VERSION = 1
#: Metadata every latentnav direction file carries (``meta`` and ``layers`` are optional).
REQUIRED_METADATA = ("format", "space", "model", "transform", "method", "calibrated")
#: The most values a direction file's u, knots or values may hold: far above any latent space (StyleGAN2-1024's
#: W+ has 18 x 512), low enough that no header makes latentnav allocate gigabytes.
MAX_ELEMENTS = 1 << 22
#: How far from 1 the length of a stored u may be (files hold unit vectors in float32).
UNIT_TOLERANCE = 1e-3
#: Raw steps along u are refused beyond ``ALPHA_LIMIT * sqrt(D)`` unless extrapolating (:meth:`Direction.check_steps`).
ALPHA_LIMIT = 4.0


class DirectionMismatchError(LatentnavError, ValueError):
    """A direction used with a generator or latent space it was not made for."""

    exit_code = 2


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor, slope: bool = False):
    """Piecewise-linear interpolation; beyond the ends, linear with the mean slope over the whole range.

    Written by hand because torch has no ``interp``; ``xp`` must be increasing. The mean slope (not the
    end segment's) keeps the inverse of a calibration whose ends flatten out from running off to huge
    steps when a t beyond the fitted range is asked for. With ``slope=True`` it returns ``(values, derivative
    in x)``: the derivative autograd would give (the segment's slope; the mean slope beyond the ends).
    """
    xp, fp = xp.to(x), fp.to(x)
    i = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    width = x1 - x0
    inside_slope = (f1 - f0) / torch.where(width > 0, width, torch.ones_like(width))
    inside = f0 + inside_slope * (x - x0)
    mean_slope = (fp[-1] - fp[0]) / (xp[-1] - xp[0]).clamp_min(1e-12)
    below = fp[0] + mean_slope * (x - xp[0])
    above = fp[-1] + mean_slope * (x - xp[-1])
    values = torch.where(x < xp[0], below, torch.where(x > xp[-1], above, inside))
    if not slope:
        return values
    return values, torch.where((x < xp[0]) | (x > xp[-1]), mean_slope, inside_slope)


@dataclass(repr=False)
class Direction:
    """A unit direction u with a monotone calibration g (``t = g(<z, u>)``).

    Attributes:
        u: [D] unit vector.
        knots: [K] increasing projections ``alpha`` where g is tabulated.
        values: [K] increasing ``g(knots)`` (with ``g(0) = 0``).
        space: latent space (``"z"``, ``"w"``, ...).
        model: name of the generator it was made on.
        transform: what t measures (a transform name), or ``""`` for raw vectors.
        method: how it was found (``"trajectory"``, ``"npy"``, ...).
        calibrated: False for imported raw vectors (g is then the identity: t = alpha).
        meta: anything else worth keeping (config, seed, fit figures).
        layers: for a layered space (StyleGAN2's W+, [num_ws, w_dim]), the layers u acts on (u is zero on
            the others; see :func:`restrict_layers`); ``None`` = no restriction.
    """

    u: torch.Tensor
    knots: torch.Tensor
    values: torch.Tensor
    space: str = "z"
    model: str = ""
    transform: str = ""
    method: str = "trajectory"
    calibrated: bool = True
    meta: dict[str, Any] = field(default_factory=dict)
    layers: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        self.validate()

    def __repr__(self) -> str:
        """One short line: what it moves, where, how it was found, and the range its calibration covers."""
        what = self.transform or "raw vector"
        where = f"{self.model or '?'} {self.space}[{self.dim}]" + (f" layers {list(self.layers)}" if self.layers else "")
        if self.calibrated:
            lo, hi = float(self.values[0]), float(self.values[-1])
            unit = self.meta.get("unit") or ""
            reach = f", t {lo:+.3g}..{hi:+.3g}" + (f" {unit}" if unit else "")
        else:
            reach = ", uncalibrated (raw steps)"
        fit = f", fit R^2 {self.meta['fit_r2']:.3f}" if "fit_r2" in self.meta else ""
        return f"Direction({what} on {where}, {self.method}{reach}{fit})"

    def validate(self) -> None:
        """Raise :class:`BadInputError` (one line) unless this is a direction latentnav can move along.

        ``u``: a 1-D floating-point tensor, finite, of unit length (within :data:`UNIT_TOLERANCE`);
        ``knots`` and ``values``: 1-D floating-point tensors of one length >= 2, finite and both strictly
        increasing (g must be invertible); ``layers``: ``None`` or distinct integers >= 0; ``space``: a name.
        Called on construction, so a direction built in code is checked as a file's is.
        """
        for name in ("u", "knots", "values"):
            x = getattr(self, name)
            if not isinstance(x, torch.Tensor):
                raise BadInputError(f"{name} is a {type(x).__name__}, not a tensor")
            if not x.is_floating_point():
                raise BadInputError(f"{name} has dtype {str(x.dtype).removeprefix('torch.')}; expected floating point")
            if x.ndim != 1 or not x.numel():
                raise BadInputError(f"{name} has shape {list(x.shape)}; expected a non-empty vector")
            bad = int(x.numel() - torch.isfinite(x).sum())
            if bad:
                raise BadInputError(f"{name} has {bad} non-finite values")
        norm = float(self.u.double().norm())
        if norm == 0:
            raise BadInputError("u is zero: a direction must point somewhere")
        if abs(norm - 1) > UNIT_TOLERANCE:
            raise BadInputError(f"u has length {norm:.6g}, not 1: a direction is a unit vector")
        if len(self.knots) != len(self.values):
            raise BadInputError(f"the calibration has {len(self.knots)} knots but {len(self.values)} values")
        if len(self.knots) < 2:
            raise BadInputError(f"the calibration has {len(self.knots)} knot; it needs at least 2")
        checks = (("knots", "the knots", "g is not defined"), ("values", "the values of g", "g cannot be inverted"))
        for name, what, so in checks:
            x = getattr(self, name)
            down = torch.nonzero(x[1:] <= x[:-1])
            if len(down):
                k = int(down[0])
                later, earlier = x[k + 1].item(), x[k].item()
                raise BadInputError(f"{what} are not strictly increasing ({later:.6g} follows {earlier:.6g} at position "
                                    f"{k + 1}), so {so}")  # fmt: skip
        if self.layers is not None:
            ok = isinstance(self.layers, tuple) and self.layers and len(set(self.layers)) == len(self.layers)
            if not ok or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in self.layers):
                raise BadInputError(f"layers must be distinct layer indices >= 0, got {self.layers!r}")
        if not isinstance(self.space, str) or not self.space:
            raise BadInputError(f"space must name a latent space, got {self.space!r}")

    @property
    def dim(self) -> int:
        """Latent dimension D."""
        return int(self.u.numel())

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """``<z, u>`` for z [N, D] -> [N]."""
        return z @ self.u.to(z)

    def t_of(self, alpha: torch.Tensor | float) -> torch.Tensor:
        """g: projection(s) along u -> transform parameter t."""
        alpha = torch.as_tensor(alpha, dtype=torch.float32)
        return _interp(alpha, self.knots, self.values)

    def alpha_for(self, t: torch.Tensor | float) -> torch.Tensor:
        """g's inverse: transform parameter(s) t -> projection along u."""
        t = torch.as_tensor(t, dtype=torch.float32)
        return _interp(t, self.values, self.knots)

    # ----------------------------------------------------------------- moving
    def move(self, z: torch.Tensor, t: float | torch.Tensor, mode: str = "relative") -> torch.Tensor:
        """Latents moved by ``t`` (relative) or set to ``t`` (absolute), z [N, D] -> [N, D]."""
        a = self.project(z)
        u = self.u.to(z)
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
        if mode == "relative":
            target = self.alpha_for((self.t_of(a.cpu()) + t.cpu())).to(z)
            return z + (target - a)[:, None] * u
        if mode == "absolute":
            target = self.alpha_for(t.cpu()).to(z).expand_as(a)
            return z + (target - a)[:, None] * u
        raise ValueError(f"unknown mode {mode!r}; known: relative, absolute")

    def step(self, z: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
        """Raw step ``z + alpha u`` (no calibration)."""
        return z + torch.as_tensor(alpha, dtype=z.dtype, device=z.device) * self.u.to(z)

    # ------------------------------------------------------------------ checks
    def check_steps(self, t: Sequence[float] | float | torch.Tensor | None = None,
                    alpha: Sequence[float] | float | torch.Tensor | None = None, *, extrapolate: bool = False,
                    max_t: float | None = None) -> None:  # fmt: skip
        """Refuse steps this direction cannot be trusted with, before anything is generated.

        Give the steps as for :func:`traverse` (``t`` or ``alpha``; a range's two ends are enough), and call it
        before generating: ``traverse`` does not call it.

        - ``t`` (transform units, through g) needs a calibrated direction, and must lie within
          ``[-max_t, max_t]``: the transform's documented range when :attr:`transform` names a registered
          transform (:data:`latentnav.measure.transforms.TRANSFORMS`), or ``max_t`` when given. A transform latentnav
          does not know (a meter's units, a user's own) has no range to check.
        - ``alpha`` (raw steps along u) must lie within ``ALPHA_LIMIT * sqrt(D)`` (4 sqrt(D)), D the
          dimension of u. A standard-normal latent in D dimensions has a norm of about sqrt(D), and its
          projection on u is of size 1, so a step four times the whole prior's radius carries every start far
          beyond anything the generator was trained on. W and W+ have no such prior; the same bound then only
          catches steps that are far too large (a typo such as ``--alpha -300,300``).

        ``extrapolate=True`` (``--extrapolate``) lifts both ranges; steps must still be finite numbers.

        Raises:
            BadInputError: one line saying the allowed range and that ``--extrapolate`` allows more.
        """
        if t is not None and alpha is not None:
            raise BadInputError("give either t (transform units) or alpha (raw steps along u), not both")
        if t is None and alpha is None:
            return
        name = "t" if t is not None else "alpha"
        steps = _steps(t if t is not None else alpha, name)
        if t is not None and not self.calibrated:
            raise BadInputError("this direction has no calibration (a plain vector): give raw steps (alpha, --alpha)")
        if extrapolate or not steps.numel():
            return
        worst = float(steps.abs().max())
        if t is not None:
            from latentnav.measure.transforms import TRANSFORMS

            known = TRANSFORMS.get(self.transform)
            limit = max_t if max_t is not None else known.max_t if known is not None else math.inf
            if worst > limit:
                unit = f" ({known.unit})" if known is not None and known.unit and max_t is None else ""
                raise BadInputError(f"t={worst:g} is beyond the range of {self.transform or 'this direction'}: t must "
                                    f"lie in [-{limit:g}, {limit:g}]{unit}; --extrapolate (extrapolate=True) allows "
                                    f"more")  # fmt: skip
            return
        limit = ALPHA_LIMIT * self.dim**0.5
        if worst > limit:
            raise BadInputError(f"alpha={worst:g} is a raw step far beyond the prior: alpha must lie in "
                                f"[-{limit:.3g}, {limit:.3g}] (4 sqrt(D), D={self.dim}); --extrapolate (extrapolate=True) "
                                f"allows more")  # fmt: skip

    def check_compatible(self, G, space: str | None = None) -> None:
        """Raise :class:`DirectionMismatchError` unless this direction fits ``G`` (model, space, dimension)."""
        space = space or self.space
        if space != self.space:
            raise DirectionMismatchError(f"direction lives in latent space {self.space!r}, not {space!r}")
        shape = G.latent_shape(space)
        width = int(np.prod(shape))
        if width != self.dim:
            raise DirectionMismatchError(
                f"direction has dimension {self.dim} but {G.name}'s {space} has {width} ({list(shape)}); "
                f"it was made for model {self.model or '(unknown)'}"
            )
        if self.layers is not None:
            if len(shape) != 2:
                raise DirectionMismatchError(f"direction acts on layers {list(self.layers)}, but {G.name}'s {space} "
                                             f"{list(shape)} has no layers")  # fmt: skip
            bad = [k for k in self.layers if not 0 <= k < shape[0]]
            if bad:
                raise DirectionMismatchError(f"direction acts on layers {bad}, but {G.name}'s {space} has {shape[0]} layers")
        if self.model and self.model != G.name:
            raise DirectionMismatchError(
                f"direction was made for model {self.model!r}, not {G.name!r} (same dimension {self.dim}, "
                f"but its directions mean nothing here)"
            )

    # -------------------------------------------------------------------- files
    def metadata(self) -> dict[str, str]:
        """The self-description stored with the file."""
        return {
            "format": FORMAT, "format_version": str(FORMAT_VERSION), "latentnav_version": __version__,
            "model": self.model, "space": self.space, "dim": str(self.dim), "transform": self.transform,
            "unit": str(self.meta.get("unit", "")), "method": self.method, "calibrated": str(self.calibrated).lower(),
            "meta": json.dumps(self.meta, default=str), "layers": "" if self.layers is None else json.dumps(list(self.layers)),
        }  # fmt: skip

    def save(self, path: str | Path) -> Path:
        """Write ``path`` (safetensors) and ``path`` with ``.json`` (sidecar), each atomically."""
        from latentnav.errors import OutputError
        from latentnav.io import check_writable_parent, save_safetensors, write_text

        path = Path(path)
        if path.suffix != ".safetensors":
            raise OutputError(f"a direction file must end in .safetensors, got {path.name}")
        check_writable_parent(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {"u": self.u.float(), "knots": self.knots.float(), "values": self.values.float()}
        meta = self.metadata()
        sidecar = {**{k: v for k, v in meta.items() if k != "meta"}, "meta": self.meta, "u": self.u.tolist()}
        save_safetensors(tensors, path, meta)
        write_text(path.with_suffix(".json"), json.dumps(sidecar, indent=2, default=str))
        return path

    def _repr_html_(self) -> str:
        """A notebook's summary: what it moves, its calibration, its figures (:func:`latentnav.display.direction_html`)."""
        from latentnav.display import direction_html

        return direction_html(self)


def _steps(value: Any, name: str) -> torch.Tensor:
    """Steps as a flat float64 tensor; a one-line :class:`BadInputError` when they are not finite numbers."""
    try:
        steps = torch.as_tensor(value, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise BadInputError(f"{name} must be numbers, got {value!r}"[:200]) from None
    if not torch.isfinite(steps).all():
        raise BadInputError(f"{name} must be finite numbers, got {steps.tolist()}"[:200])
    return steps


def monotone_calibration(knots: np.ndarray, readings: np.ndarray) -> np.ndarray:
    """g's values at ``knots`` [K] (increasing) from mean ``readings`` [K] of an attribute there: fitted
    increasing by isotonic regression (NaN readings left out, the ends clipped), made strictly increasing by a
    ramp of 1e-3 of its range (so g inverts in float32) and pinned to g(0) = 0. Both meter calibrations use it
    (:func:`latentnav.evaluate.calibrate_direction`, :func:`latentnav.testbed.oracle.oracle_direction`)."""
    from sklearn.isotonic import IsotonicRegression

    ok = np.isfinite(readings)
    fitted = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(knots[ok], readings[ok]).predict(knots)
    fitted = fitted + np.linspace(0, 1e-3 * max(np.ptp(fitted), 1e-6), len(knots))
    return fitted - np.interp(0.0, knots, fitted)


def identity_direction(u: torch.Tensor, space: str, model: str = "", method: str = "npy") -> Direction:
    """A raw vector as an uncalibrated direction (t = alpha, normalised to unit length).

    Raises:
        BadInputError: ``u`` is not a non-empty, finite, non-zero vector of numbers.
    """
    try:
        u = torch.as_tensor(u)
    except (TypeError, ValueError, RuntimeError):
        raise BadInputError(f"a direction vector must be numbers, got {type(u).__name__}") from None
    if u.dtype == torch.bool or u.is_complex():
        raise BadInputError(f"a direction vector must be real numbers, got dtype {str(u.dtype).removeprefix('torch.')}")
    u = u.to(torch.float32).flatten()
    if not u.numel():
        raise BadInputError("a direction vector must not be empty")
    bad = int(u.numel() - torch.isfinite(u).sum())
    if bad:
        raise BadInputError(f"a direction vector must be finite; this one has {bad} NaN or infinite values")
    norm = u.norm()
    if norm == 0:
        raise BadInputError("a direction vector must be non-zero; this one is all zeros")
    knots = torch.tensor([-1.0, 1.0])
    return Direction(u / norm, knots, knots.clone(), space=space, model=model, method=method, calibrated=False)


def load_direction(path: str | Path, *, space: str | None = None, model: str = "", component: int | None = None) -> Direction:
    """Read a direction: latentnav's safetensors, or one made elsewhere (give ``space``).

    Formats (by extension):

    - ``.safetensors``: a latentnav direction file (its metadata says everything);
    - ``.npy``: one plain vector, flattened and normalised;
    - ``.npz``: GANSpace's components (``lat_comp`` [K, ...]: direction ``component`` is ``lat_comp[component]``;
      its ``lat_stdev``, ``act_stdev`` and ``var_ratio`` entries are kept in ``meta`` as ``stdev``, ``act_stdev``
      and ``var_ratio``);
    - ``.pt``: rosinality's closed-form factorization (a dict with ``eigvec`` [D, K]: direction ``component`` is
      column ``eigvec[:, component]``), read with ``torch.load(..., weights_only=True)`` only.

    The last three do not record their latent space (``space`` says it) nor a calibration: they become raw,
    uncalibrated directions (see :func:`identity_direction`). Everything is checked before it is used (see
    :meth:`Direction.validate`): a latentnav file must hold the metadata :data:`REQUIRED_METADATA` and the
    tensors ``u``, ``knots`` and ``values``, with ``u`` of unit length; nothing is ever unpickled.

    Args:
        path: the file.
        space: the latent space of a ``.npy``, ``.npz`` or ``.pt`` file (required for them); for a latentnav
            file, checked against the file's.
        model: the generator a foreign file was made for (``""``: not checked when used).
        component: which direction of an ``.npz`` or ``.pt`` file (default 0); refused for single-direction files.

    Raises:
        DirectionFileError: no such file; an empty, truncated, corrupted or foreign file; missing metadata,
            tensors or keys; a ``.pt`` that needs full unpickling; contents that :meth:`Direction.validate`
            refuses (one line naming the file).
        BadInputError: a foreign file without ``space``; ``component`` out of range, or given for a file that
            holds one direction.
        DirectionMismatchError: ``space`` differs from the file's.
    """
    path = require_file(path, what="direction file", missing=DirectionFileError, bad=DirectionFileError)
    if path.suffix in _FOREIGN:
        return _load_foreign(path, space, model, component)
    if path.suffix != ".safetensors":
        raise DirectionFileError(f"{path}: unknown direction format {path.suffix!r}: expected .safetensors (latentnav), "
                                 f".npy (a vector), .npz (GANSpace) or .pt (closed-form factorization)")  # fmt: skip
    if component is not None:
        raise BadInputError(f"{path.name} holds one direction; a component is chosen only in GANSpace .npz and "
                            f"closed-form .pt files")  # fmt: skip
    meta, layout = read_safetensors_layout(path, DirectionFileError)
    if meta.get("format") != FORMAT:
        raise DirectionFileError(f"{path}: not a latentnav direction file (format {meta.get('format')!r})")
    fields = _direction_fields(path, meta, layout)
    try:
        d = Direction(**fields)
    except BadInputError as err:
        raise DirectionFileError(f"{path}: {err}") from None
    if space is not None and space != d.space:
        raise DirectionMismatchError(f"{path.name} lives in latent space {d.space!r}, not {space!r}")
    return d


def _direction_fields(path: Path, meta: dict[str, str], layout: Layout) -> dict[str, Any]:
    """The :class:`Direction` fields of a latentnav direction file whose header is ``meta`` and ``layout``."""
    version = meta.get("format_version", str(FORMAT_VERSION))
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise DirectionFileError(f"{path}: format version {version!r}; this latentnav reads version {FORMAT_VERSION} "
                                 f"(upgrade latentnav to read it)")  # fmt: skip
    missing = [k for k in REQUIRED_METADATA if k not in meta] + [k for k in ("u", "knots", "values") if k not in layout]
    if missing:
        raise DirectionFileError(f"{path}: incomplete direction file: no {', '.join(missing)}")
    for key in ("u", "knots", "values"):
        shape = layout[key][0]
        if len(shape) != 1 or not 0 < shape[0] <= MAX_ELEMENTS:
            raise DirectionFileError(f"{path}: {key} has shape {list(shape)}; expected a vector of 1 to {MAX_ELEMENTS} "
                                     f"values")  # fmt: skip
    if meta["calibrated"] not in ("true", "false"):
        raise DirectionFileError(f"{path}: calibrated is {meta['calibrated']!r}; expected 'true' or 'false'")
    try:
        extra = json.loads(meta.get("meta") or "{}")
        layers = json.loads(meta["layers"]) if meta.get("layers") else None
    except json.JSONDecodeError as err:
        raise DirectionFileError(f"{path}: malformed meta or layers metadata (not JSON: {err})") from None
    if not isinstance(extra, dict):
        raise DirectionFileError(f"{path}: malformed meta metadata: expected a JSON object, got {type(extra).__name__}")
    if layers is not None and (not isinstance(layers, list) or not all(type(k) is int for k in layers)):
        raise DirectionFileError(f"{path}: malformed layers metadata: expected a list of layer indices, got "
                                 f"{meta['layers'][:60]!r}")  # fmt: skip
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in ("u", "knots", "values")}
    dim = meta.get("dim", "")
    if dim and dim != str(tensors["u"].numel()):
        raise DirectionFileError(f"{path}: its metadata says dim {dim} but u has {tensors['u'].numel()} values")
    return dict(**tensors, space=meta["space"], model=meta["model"], transform=meta["transform"], method=meta["method"],
                calibrated=meta["calibrated"] == "true", meta=extra,
                layers=None if layers is None else tuple(layers))  # fmt: skip


_NPY_MAGIC, _ZIP_MAGIC = b"\x93NUMPY", b"PK\x03\x04"
_NPY_KINDS = {"U": "strings", "S": "bytes", "O": "Python objects", "b": "booleans", "c": "complex numbers",
              "V": "records", "M": "dates", "m": "time spans"}  # fmt: skip


def _read_npy(path: Path) -> np.ndarray:
    """The float32 vector in a ``.npy`` file: one array of real numbers, flattened; never unpickled.

    Raises:
        DirectionFileError: not a ``.npy`` array file, a truncated one, or one holding strings, objects,
            booleans, complex numbers or too many values.
    """
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic[:4] == _ZIP_MAGIC:
        raise DirectionFileError(f"{path}: an .npz archive of several arrays; save one vector with numpy.save")
    if magic != _NPY_MAGIC:
        raise DirectionFileError(f"{path}: not a .npy file (no NumPy header); save the vector with numpy.save")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        if "object" in str(err):
            raise DirectionFileError(f"{path}: holds Python objects, which latentnav never unpickles; a direction is a "
                                     f"vector of real numbers") from None  # fmt: skip
        reason = first_line(err)
        raise DirectionFileError(f"{path}: not a readable .npy vector (truncated or corrupted: {reason})") from None
    if arr.dtype.kind not in "fiu":
        kind = _NPY_KINDS.get(arr.dtype.kind, f"{arr.dtype} values")
        raise DirectionFileError(f"{path}: holds {kind} (dtype {arr.dtype}); a direction is a vector of real numbers")
    if arr.ndim == 0 or not 0 < arr.size <= MAX_ELEMENTS:
        raise DirectionFileError(f"{path}: holds an array of shape {list(arr.shape)}; expected a vector of 1 to "
                                 f"{MAX_ELEMENTS} numbers")  # fmt: skip
    return np.array(arr, dtype=np.float32).reshape(-1)


def restrict_layers(direction: Direction, layers: Sequence[int], num_layers: int) -> Direction:
    """The direction acting only on some layers of W+ (layer-wise edits, e.g. coarse vs fine StyleGAN2 styles).

    A ``"w+"`` direction keeps its components on ``layers`` (zero elsewhere, renormalised). A ``"w"``
    direction is lifted into ``"w+"``: the same u on each chosen layer, divided by sqrt(len(layers)).

    The calibration g is kept where it still measures the same move: a W direction lifted onto every
    layer (its knots scaled by sqrt(num_layers), since a w broadcast to all layers has
    ``<w+, u'> = sqrt(num_layers) <w, u>``), or a W+ direction that was already zero off ``layers``.
    Otherwise the result is uncalibrated (raw ``alpha`` steps; run discovery again to calibrate it).

    Args:
        direction: a direction in ``"w"`` or ``"w+"``.
        layers: indices of the W+ layers to act on.
        num_layers: number of W+ layers (StyleGAN2's ``num_ws``).

    Raises:
        DirectionMismatchError: a space without layers, or layers out of range.
    """
    if direction.space not in ("w", "w+"):
        raise DirectionMismatchError(f"layer-wise edits need a direction in w or w+, not {direction.space!r}")
    chosen = sorted({int(k) for k in layers})
    if not chosen or chosen[0] < 0 or chosen[-1] >= num_layers:
        raise DirectionMismatchError(f"layers must be a non-empty subset of 0..{num_layers - 1}, got {list(layers)}")
    if direction.space == "w":
        u = torch.zeros(num_layers, direction.dim)
        u[chosen] = direction.u / len(chosen) ** 0.5
        keeps = len(chosen) == num_layers
        scale = num_layers**0.5
    else:
        if direction.dim % num_layers:
            raise DirectionMismatchError(f"a w+ direction of dimension {direction.dim} does not split into {num_layers} layers")
        u = direction.u.reshape(num_layers, -1).clone()
        off = [k for k in range(num_layers) if k not in chosen]
        keeps = bool(u[off].abs().max() <= 1e-6) if off else True
        u[off] = 0
        if u.norm() == 0:
            raise DirectionMismatchError(f"the direction is zero on layers {chosen}")
        u, scale = u / u.norm(), 1.0
    calibrated = direction.calibrated and keeps
    knots = direction.knots * scale if calibrated else torch.tensor([-1.0, 1.0])
    values = direction.values.clone() if calibrated else knots.clone()
    meta = {**direction.meta, "restricted_from": {"space": direction.space, "layers": list(direction.layers or [])}}
    return Direction(u.flatten(), knots, values, space="w+", model=direction.model, transform=direction.transform,
                     method=direction.method, calibrated=calibrated, meta=meta, layers=tuple(chosen))  # fmt: skip












# -------------------------------------------------------------------- traversal
def traverse(G, direction: Direction, z: torch.Tensor, t: Sequence[float] | None = None, *, alpha: Sequence[float] | None = None,
             mode: str = "relative", space: str | None = None) -> torch.Tensor:  # fmt: skip
    """Images along a direction.

    Args:
        G: the generator the direction was made for.
        direction: a :class:`Direction`.
        z: [N, D] starting latents in the direction's space (or [N, *G.latent_shape(space)]).
        t: steps in transform units through g (``mode`` relative or absolute).
        alpha: raw steps along u instead of ``t``.
        mode: ``"relative"`` (move by t) or ``"absolute"`` (set the factor to t).
        space: latent space (defaults to the direction's).

    Returns:
        [len(t), N, C, H, W] images.
    """
    direction.check_compatible(G, space)
    if (t is None) == (alpha is None):
        raise ValueError("give either t (transform units) or alpha (raw steps along u)")
    if t is not None and not direction.calibrated:
        raise ValueError("this direction has no calibration (a plain vector): use alpha= raw steps")
    steps = list(t if t is not None else alpha)
    if not steps:
        raise BadInputError("give at least one step (t or alpha) to traverse")
    shape = G.latent_shape(direction.space)
    if not isinstance(z, torch.Tensor) or z.ndim < 2 or int(np.prod(z.shape[1:])) != direction.dim:
        got = list(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise BadInputError(f"expected z of shape [N, {direction.dim}] (or [N, {', '.join(map(str, shape))}]), got {got}")
    z = G.check_latent(z.reshape(len(z), *shape), direction.space).to(G.device).reshape(len(z), -1)
    rows = []
    with torch.no_grad():
        for value in (t if t is not None else alpha):
            moved = direction.move(z, value, mode) if t is not None else direction.step(z, value)
            rows.append(G(moved.view(-1, *shape), space=direction.space))
    return torch.stack(rows)


def sample_with_t(G, direction: Direction, n: int, t_values: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Latents whose factor follows given values (the paper's output-distribution shaping): absolute moves.

    Args:
        t_values: [n] wanted transform parameters (draw them from the distribution you want).

    Returns:
        [n, D] latents (in the direction's space, flattened) on the CPU.
    """
    z = G.sample_latent(range(seed, seed + n), direction.space)
    t_values = torch.as_tensor(t_values, dtype=torch.float32)
    if t_values.shape != (n,):
        raise ValueError(f"expected {n} t values, got shape {list(t_values.shape)}")
    return direction.move(z, t_values, "absolute")


def code_direction(G, code: str) -> Direction:
    """A model's own code as a raw direction: ``z<k>`` (latent axis k of ``z``) or a named code of an
    InfoGAN (``cont0``, ...). Uncalibrated: t is the step along the axis until a meter calibrates it.

    Raises:
        UnknownNameError: a code the model does not have (lists the known ones).
    """
    from latentnav.errors import UnknownNameError
    from latentnav.generators.base import SupportsCodeDirection, SupportsCodeReadout

    if isinstance(G, SupportsCodeDirection) and not code.startswith("z"):
        return G.code_direction(code)
    known = [f"z{k}" for k in range(G.z_dim)] + (G.spec.names() if isinstance(G, SupportsCodeReadout) else [])
    if code not in known[: G.z_dim]:
        raise UnknownNameError("code", code, known)
    u = torch.zeros(G.z_dim)
    u[int(code[1:])] = 1.0
    return Direction(u, torch.tensor([-3.0, 3.0]), torch.tensor([-3.0, 3.0]), model=G.name, method="code-axis",
                     calibrated=False, meta={"code": code})  # fmt: skip


# ------------------------------------------------------------------------ directions made by other tools
#: Extensions of direction files other tools write: what each holds, for messages.
_FOREIGN = {".npy": "a plain vector", ".npz": "a GANSpace component file", ".pt": "a closed-form factorization file"}
#: The most values a whole GANSpace or closed-form file may hold (256 MiB of float32): far above K x D for any
#: latent space latentnav knows, low enough that a doctored header cannot make latentnav allocate gigabytes.
MAX_FOREIGN_VALUES = 1 << 26


def _load_foreign(path: Path, space: str | None, model: str, component: int | None) -> Direction:
    """A ``.npy``, GANSpace ``.npz`` or closed-form ``.pt`` file as an uncalibrated direction (see :func:`load_direction`)."""
    if space is None:
        raise BadInputError(f"{path.name} is {_FOREIGN[path.suffix]}: say which latent space it lives in (space=/--space)")
    if path.suffix == ".npy":
        if component is not None:
            raise BadInputError(f"{path.name} holds one direction; a component is chosen only in GANSpace .npz and "
                                f"closed-form .pt files")  # fmt: skip
        vector, meta, method = _read_npy(path), {}, "npy"
    elif path.suffix == ".npz":
        vector, meta, method = *_ganspace_component(path, _component(component)), "ganspace-npz"
    else:
        vector, meta, method = *_closed_form_component(path, _component(component)), "closed-form-pt"
    try:
        d = identity_direction(torch.from_numpy(vector), space, model, method)
    except BadInputError as err:
        raise DirectionFileError(f"{path}: {err}") from None
    d.meta.update(meta)
    return d


def _component(component: int | None) -> int:
    """The component index asked for (default 0), checked to be a non-negative integer."""
    if component is None:
        return 0
    if isinstance(component, bool) or not isinstance(component, (int, np.integer)) or component < 0:
        raise BadInputError(f"component must be an integer >= 0, got {component!r}"[:200])
    return int(component)


def _check_index(path: Path, k: int, count: int) -> None:
    """One line when component ``k`` is not among the ``count`` a file holds."""
    if k >= count:
        raise BadInputError(f"component {k} is out of range: {path.name} holds {count} component"
                            f"{'s' if count != 1 else ''} (0 to {count - 1})")  # fmt: skip


def _ganspace_component(path: Path, k: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Component ``k`` of a GANSpace ``.npz``: ``lat_comp[k]`` flattened, and what the file says of it.

    GANSpace (Härkönen et al. 2020, ``decomposition.py``) saves ``lat_comp`` [K, *latent shape] (unit rows),
    ``lat_mean``, ``lat_stdev`` [K] (the spread of ``<z, u>`` along each component: a natural unit of alpha),
    ``act_comp``, ``act_mean``, ``act_stdev`` [K], ``var_ratio`` [K] and ``random_stdevs``. Only ``lat_comp`` is
    required; the per-component figures present are kept as ``stdev``, ``act_stdev`` and ``var_ratio``.
    """
    with open(path, "rb") as f:
        if f.read(4) != _ZIP_MAGIC:
            raise DirectionFileError(f"{path}: not an .npz archive (no zip header); GANSpace saves its components "
                                     f"with numpy.savez")  # fmt: skip
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - zipfile reports a damaged archive as BadZipFile, struct.error, OSError, ...
        raise DirectionFileError(f"{path}: not a readable .npz archive ({first_line(err)})") from None
    with archive:
        if "lat_comp" not in archive.files:
            keys = ", ".join(sorted(archive.files)) or "none"
            raise DirectionFileError(f"{path}: not a GANSpace component file: no lat_comp among its arrays ({keys})"[:300])
        comp = _npz_array(path, archive, "lat_comp")
        if comp.ndim < 2 or 0 in comp.shape:
            raise DirectionFileError(f"{path}: lat_comp has shape {list(comp.shape)}; expected [components, latent ...]")
        _check_index(path, k, comp.shape[0])
        meta: dict[str, Any] = {"source": "ganspace", "file": path.name, "component": k, "components": comp.shape[0]}
        for key, name in (("lat_stdev", "stdev"), ("act_stdev", "act_stdev"), ("var_ratio", "var_ratio")):
            if key in archive.files:
                values = _npz_array(path, archive, key).reshape(-1)
                if values.size == comp.shape[0] and np.isfinite(values[k]):
                    meta[name] = float(values[k])
        return np.array(comp[k], dtype=np.float32).reshape(-1), meta


def _npz_array(path: Path, archive, key: str) -> np.ndarray:
    """``archive[key]``, after its header says it holds at most :data:`MAX_FOREIGN_VALUES` real numbers."""
    from numpy.lib import format as npy_format

    try:
        with archive.zip.open(f"{key}.npy") as f:
            version = npy_format.read_magic(f)
            read_header = npy_format.read_array_header_1_0 if version == (1, 0) else npy_format.read_array_header_2_0
            shape, _, dtype = read_header(f)
        size = math.prod(shape)
        if dtype.kind not in "fiu":
            kind = _NPY_KINDS.get(dtype.kind, f"{dtype} values")
            raise DirectionFileError(f"{path}: {key} holds {kind} (dtype {dtype}); expected real numbers")
        if size > MAX_FOREIGN_VALUES:
            raise DirectionFileError(f"{path}: {key} has shape {list(shape)}, more than {MAX_FOREIGN_VALUES} values")
        return archive[key]
    except DirectionFileError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged member: BadZipFile, ValueError, EOFError, zlib.error, ...
        raise DirectionFileError(f"{path}: {key} is not a readable array (truncated or corrupted: {first_line(err)})") from None


def _closed_form_component(path: Path, k: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Column ``k`` of the ``eigvec`` [D, K] in rosinality's ``closed_form_factorization.py`` output.

    That script saves ``{"ckpt": <checkpoint path>, "eigvec": V}`` with ``torch.save``, V from ``torch.svd`` of
    the stacked style-modulation weights, so its columns are directions in W (its ``apply_factor.py`` moves along
    ``eigvec[:, index]``). Read with ``weights_only=True``: a file holding anything but tensors, strings, numbers
    and containers is refused, never unpickled.
    """
    saved = _read_torch_safely(path)
    if not isinstance(saved, dict) or "eigvec" not in saved:
        what = f"a dict with keys {', '.join(map(str, saved))}" if isinstance(saved, dict) else type(saved).__name__
        raise DirectionFileError(f"{path}: not a closed-form factorization file: expected a dict with 'eigvec' [D, K], "
                                 f"got {what}"[:300])  # fmt: skip
    eigvec = saved["eigvec"]
    if not isinstance(eigvec, torch.Tensor) or eigvec.ndim != 2 or 0 in eigvec.shape or not eigvec.is_floating_point():
        shape = list(eigvec.shape) if isinstance(eigvec, torch.Tensor) else type(eigvec).__name__
        raise DirectionFileError(f"{path}: eigvec is {shape}; expected a [D, K] tensor of real numbers (one direction "
                                 f"per column)")  # fmt: skip
    _check_index(path, k, eigvec.shape[1])
    meta: dict[str, Any] = {"source": "closed-form", "file": path.name, "component": k, "components": eigvec.shape[1]}
    if isinstance(saved.get("ckpt"), str):
        meta["ckpt"] = saved["ckpt"][:500]
    return eigvec[:, k].detach().to(torch.float32).numpy().copy(), meta


def _read_torch_safely(path: Path) -> Any:
    """``torch.load(path, weights_only=True)`` with one-line errors; a file that needs full unpickling is refused.

    Written here rather than with :func:`latentnav.generators.base.read_torch_file` because its errors are
    :class:`CheckpointError` about model files, and a direction file is refused with :class:`DirectionFileError`.
    """
    import pickle
    import warnings

    if path.stat().st_size > 4 * MAX_FOREIGN_VALUES + (1 << 20):
        raise DirectionFileError(f"{path}: {path.stat().st_size:,} bytes, far more than a closed-form factorization file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols before it refuses a plain pickle
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = [ln.strip() for ln in str(err).splitlines() if "Unsupported global" in ln]
        reason = f" ({found[0].split(' was not')[0].removeprefix('WeightsUnpickler error: ')})" if found else ""
        raise DirectionFileError(f"{path}: refused: it holds Python objects that only full unpickling would build"
                                 f"{reason}, and latentnav never unpickles; a closed-form factorization file is a "
                                 f"dict of tensors and strings"[:400]) from None  # fmt: skip
    except Exception as err:  # noqa: BLE001 - torch.load reports a damaged file as EOFError, RuntimeError, KeyError, ...
        raise DirectionFileError(f"{path}: not a readable torch file (truncated or corrupted, or another format: "
                                 f"{first_line(err).split('. ')[0]})"[:400]) from None  # fmt: skip


def export_npy(direction: Direction, path: str | Path, *, force: bool = False, inputs: Sequence[str | Path] = ()) -> Path:
    """Write ``direction.u`` as a plain ``.npy`` vector (float32, [D]) for other tools, whole or not at all.

    A ``.npy`` holds u only: the latent space, model and calibration g stay in latentnav's own file (a layered W+
    direction is written flat, [num_ws * w_dim], layer after layer). ``load_direction(path, space=...)`` reads it back.

    Args:
        direction: the direction to export.
        path: the output file (must end in ``.npy``).
        force: replace an existing file (never one of ``inputs``).
        inputs: files this export reads (never overwritten, even with ``force``).

    Raises:
        OutputError: a path that does not end in ``.npy``, an existing file without ``force`` (``OutputExistsError``),
            one of ``inputs``, or a parent latentnav cannot write into.
    """
    from latentnav.io import OutputFiles

    path = Path(path)
    vector = direction.u.detach().to("cpu", torch.float32).numpy()
    with OutputFiles([path], force=force, inputs=inputs, suffixes=(".npy",), what="an exported vector") as out:
        out.commit(lambda paths: np.save(paths[0], vector, allow_pickle=False))
    return path
