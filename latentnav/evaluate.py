"""Every direction on one scale: meter calibration, evaluation of one direction, and the comparison of methods.

- :func:`calibrate_direction` gives any direction (GANSpace, SeFa, InterFaceGAN, a plain vector) a monotone
  calibration g in an attribute's units, read from the pixels with that attribute's meter: place fresh
  latents at a grid of positions along u, average the meter, fit an isotonic (increasing) curve; the sign
  of u is chosen so the attribute grows. After that, ``t`` means the same for every method.
- :func:`evaluate_direction`: move fresh latents by each requested t (relative mode) and measure every
  attribute: steerability of the target, the leakage row, the MI control metrics, and the control report
  of :func:`latentnav.metrics.control.control_report` (relative and absolute mode).
- :func:`compare`: run every method that applies to a model, pick each method's best-matching direction
  for the target attribute, calibrate it, and evaluate them all on the same latents.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from latentnav import distributed, measure
from latentnav.directions import Direction, monotone_calibration
from latentnav.errors import AttributeNotMeasurableError, BadInputError, MethodNotApplicableError
from latentnav.measure import MeterSpec, get_meter
from latentnav.metrics.control import control_report, leakage, leakage_matrix, mi_control, spearman, steerability
from latentnav.seeds import CALIB_SEED, EVAL_SEED  # noqa: F401 - EVAL_SEED: re-exported
from latentnav.testbed.oracle import TRANSFORM_METERS

MI_RESOLUTION = 0.01  # MI bins are at least this fraction of an attribute's std over the latents (and its meter's resolution)


@contextlib.contextmanager
def count_evals(G) -> Iterator[dict[str, int]]:
    """Count the latents ``G`` turns into images (or into part of one, e.g. GANSpace's features) inside the block.

    Yields a dict whose ``"n"`` holds the count once the block ends (read from :attr:`Generator.evaluations`, so
    blocks nest).
    """
    counter = {"n": 0}
    start = G.evaluations
    try:
        yield counter
    finally:
        counter["n"] = G.evaluations - start


def default_attributes(G) -> list[str]:
    """The attributes measured by default on ``G``'s images: the testbed's factors, plus colour for RGB."""
    names = ["pos_x", "pos_y", "scale"]
    if G.img_channels == 3:
        names += ["brightness", "hue"]
    return names


def read_latents(G, z: torch.Tensor, space: str, meters: Sequence[MeterSpec]) -> np.ndarray:
    """[len(meters), N] meter readings of ``G``'s images of latents z (flattened), without gradients.

    In a distributed run each rank renders and measures its block of the rows; the readings are gathered.
    """
    rows = distributed.shard_range(len(z))

    def mine() -> np.ndarray:
        if not len(rows):
            return np.empty((len(meters), 0))
        with torch.no_grad():
            images = G(z[rows.start : rows.stop].to(G.device).view(-1, *G.latent_shape(space)), space=space)
            return np.stack([m(images).detach().cpu().numpy().astype(np.float64) for m in meters])

    return np.concatenate(distributed.exchange(mine), axis=1)


def total_evals(counter: dict[str, int]) -> int:
    """The generator evaluations a :func:`count_evals` block counted, summed over the ranks of a distributed run."""
    return sum(distributed.exchange(lambda: counter["n"]))


def calibrate_direction(G, direction: Direction, meter: MeterSpec | str, *, n: int = 64, grid: int = 41,
                        span: float = 3.0, seed: int = CALIB_SEED) -> Direction:  # fmt: skip
    """``direction`` with a monotone calibration g in ``meter``'s units (and u's sign making the attribute grow).

    Latents (seeds ``seed ..``) are placed at ``grid`` positions along u spanning +-``span`` standard
    deviations of their projections (absolute moves, as the oracle axis is calibrated); the meter's mean
    at each position, made increasing by isotonic regression and pinned to g(0) = 0, is g.

    Returns:
        A calibrated copy (``transform`` = the meter's transform or name, ``meta`` gains
        ``calibrated_by``, ``calibration_reach`` = g's range and ``calibration_evals``).

    Raises:
        AttributeNotMeasurableError: the meter reads NaN on every image.
    """
    meter = get_meter(meter, G) if isinstance(meter, str) else meter
    z = G.sample_latent(range(seed, seed + n), direction.space)
    u = direction.u
    a0 = z @ u
    centre, scale = a0.mean().item(), max(a0.std().item(), 1e-6)
    alphas = centre + scale * np.linspace(-span, span, grid)
    rows = [read_latents(G, z + (float(a) - a0)[:, None] * u, direction.space, [meter])[0] for a in alphas]
    readings = np.stack(rows)  # [grid, n]
    if meter.circular:
        readings = np.degrees(np.unwrap(np.radians(readings), axis=0))
    if not np.isfinite(readings).any():
        raise AttributeNotMeasurableError(f"attribute {meter.name!r} reads NaN on every image of {G.name} along this direction")
    with np.errstate(all="ignore"):
        mean = np.nanmean(readings, axis=1)
    ok = np.isfinite(mean)
    if np.ptp(mean[ok]) == 0:
        raise AttributeNotMeasurableError(f"attribute {meter.name!r} does not change along this direction on {G.name}: "
                                          "there is nothing to calibrate it by")  # fmt: skip
    rho = spearman(alphas[ok], mean[ok]) if ok.sum() > 2 else 1.0
    sign = -1.0 if np.isfinite(rho) and rho < 0 else 1.0
    knots, values = (-alphas[::-1], mean[::-1]) if sign < 0 else (alphas, mean)  # increasing knots along sign * u
    fitted = monotone_calibration(knots, values)
    meta = {**direction.meta, "calibrated_by": meter.name, "calibration_reach": float(np.ptp(fitted)),
            "calibration_evals": grid * n, "sign_flipped": sign < 0}  # fmt: skip
    return Direction(sign * u, torch.tensor(knots, dtype=torch.float32), torch.tensor(fitted, dtype=torch.float32),
                     space=direction.space, model=direction.model or G.name, transform=meter.transform or meter.name,
                     method=direction.method, calibrated=True, meta=meta, layers=direction.layers)  # fmt: skip


def in_units_of(direction: Direction, meter: MeterSpec) -> bool:
    """Whether ``direction``'s calibration g already speaks ``meter``'s units."""
    if not direction.calibrated:
        return False
    return measure.TRANSFORM_ATTRIBUTE.get(direction.transform, direction.transform) == meter.name


def pick_direction(G, candidates: Sequence[Direction], meter: MeterSpec, others: Sequence[MeterSpec] = (), *,
                   n: int = 32, steps: int = 5, span: float = 2.0, seed: int = CALIB_SEED) -> tuple[int, list[float]]:  # fmt: skip
    """The candidate that moves ``meter``'s attribute most consistently and most exclusively.

    Each candidate moves ``n`` latents by ``steps`` raw steps in [-span, span] standard deviations of
    their projections. For every attribute, its effect is the mean |change| at the two ends in units of
    its spread over the n latents. The score is ``|rho| * share * min(1, effect)``: rho = Spearman's
    between step and target change over all pairs (does it follow the step?), share = the target's
    effect over the sum of all attributes' effects (does it move the target rather than the others?),
    and the last factor discounts directions that barely move the target at all.

    Returns:
        ``(index of the best, scores)``.
    """
    meters = [meter, *[m for m in others if m.name != meter.name]]
    scores = []
    for d in candidates:
        z = G.sample_latent(range(seed, seed + n), d.space)
        base = read_latents(G, z, d.space, meters)  # [A, n]
        with np.errstate(all="ignore"):
            spread = np.nanstd(base, axis=1)
        scale = max((z @ d.u).std().item(), 1e-6)
        alphas = scale * np.linspace(-span, span, steps)
        moved = [read_latents(G, z + float(a) * d.u, d.space, meters) for a in alphas]
        change = np.stack([[m.change(row[k], base[k]) for k, m in enumerate(meters)] for row in moved])  # [S, A, n]
        target = change[:, 0]
        req = np.broadcast_to(alphas[:, None], target.shape)
        ok = np.isfinite(target)
        rho = spearman(req[ok], target[ok]) if ok.sum() > 2 and np.ptp(target[ok]) > 0 else 0.0
        with np.errstate(all="ignore"):
            effect = np.nanmean(np.abs(change[[0, -1]]), axis=(0, 2)) / np.where(spread > 0, spread, np.nan)
        effect = np.nan_to_num(effect)
        share = effect[0] / effect.sum() if effect.sum() > 0 else 0.0
        score = abs(rho) * share * min(1.0, effect[0]) if np.isfinite(rho) else 0.0
        scores.append(float(score))
    return int(np.argmax(scores)), scores


# ------------------------------------------------------------------------------------------ one direction
@dataclass
class Evaluation:
    """What :func:`evaluate_direction` measured.

    Attributes:
        direction: the (calibrated) direction evaluated.
        target: the target attribute.
        t_values: [T] requested changes.
        changes: attribute -> [T, N] achieved changes (relative mode).
        metrics: the figures (see :func:`evaluate_direction`).
    """

    direction: Direction
    target: str
    t_values: np.ndarray
    changes: dict[str, np.ndarray]
    metrics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: the target's steerability and MI, and the latents it was measured on."""
        st = self.metrics["steerability"]
        return (f"{self.target}: R^2 {st['r2']:.3f}, slope {st['slope']:.3f}, spread {st['spread']:.4f}, "
                f"MI {self.metrics['mi']['mi_target']:.2f}; {self.metrics.get('n', '?')} fresh latents from seed "
                f"{self.metrics.get('seed', '?')}")  # fmt: skip

    @property
    def warning(self) -> str | None:
        """What weak control means, when R^2 or the slope is out of bounds (:mod:`latentnav.metrics.control`)."""
        from latentnav.metrics.control import MIN_R2, SLOPE_RANGE

        st = self.metrics["steerability"]
        if st["r2"] >= MIN_R2 and SLOPE_RANGE[0] <= st["slope"] <= SLOPE_RANGE[1]:
            return None
        return (f"weak control of {self.target}: R^2 {st['r2']:.2f}, slope {st['slope']:.2f} of what was asked (weak: "
                f"R^2 below {MIN_R2} or a slope outside {SLOPE_RANGE[0]}-{SLOPE_RANGE[1]}); see report.md")  # fmt: skip


def evaluate_direction(G, direction: Direction, *, target: str | None = None, attributes: Sequence[str] | None = None,
                       t_values: Sequence[float] | None = None, n: int = 50, seed: int = EVAL_SEED,
                       absolute: bool = True) -> Evaluation:  # fmt: skip
    """Measure how well ``direction`` controls ``target`` on ``n`` fresh latents, and what else it moves.

    Args:
        G: the generator the direction was made for.
        direction: any direction; one not calibrated in the target's units is calibrated first
            (:func:`calibrate_direction`).
        target: the attribute it should change (default: the one its transform changes).
        attributes: attributes measured for leakage (default: :func:`default_attributes`; the target is added).
        t_values: requested changes in the target's units (default: 9 values in +-0.15, or +-30 degrees for hue).
        n: fresh latents (seeds ``seed ..``).
        absolute: also run :func:`latentnav.metrics.control.control_report` (relative and absolute mode; z-space
            directions).

    Returns:
        An :class:`Evaluation` whose ``metrics`` hold ``steerability``, ``leakage`` (rows per attribute,
        normalised by each attribute's std over the n latents, at least its meter's resolution, so an
        attribute the model never varies does not blow up), ``mi``, ``control`` (when ``absolute``),
        ``blank_fraction`` and ``generator_evals``.

    Raises:
        ValueError / AttributeNotMeasurableError: an unknown attribute, one that cannot be measured on ``G``,
        or an uncalibrated direction with no target.
    """
    direction.check_compatible(G)
    if target is None:
        if not direction.transform or direction.transform not in measure.TRANSFORM_ATTRIBUTE:
            raise BadInputError("this direction does not say which attribute it changes (no known transform): "
                                 "give the target attribute (--target pos_x)")  # fmt: skip
        target = direction.transform
    meter = get_meter(target, G)
    names = list(dict.fromkeys([meter.name, *(attributes or default_attributes(G))]))
    meters = [get_meter(a, G) for a in names]
    with count_evals(G) as evals:
        if not in_units_of(direction, meter):
            direction = calibrate_direction(G, direction, meter)
        if t_values is None:
            t_values = np.linspace(-30, 30, 9) if meter.circular else np.linspace(-0.15, 0.15, 9)
        t = np.asarray(t_values, dtype=np.float64)
        z = G.sample_latent(range(seed, seed + n), direction.space)
        base = read_latents(G, z, direction.space, meters)
        for m, row in zip(meters, base):
            if not np.isfinite(row).any():
                raise AttributeNotMeasurableError(f"attribute {m.name!r} reads NaN on every image of {G.name}")
        moved = [read_latents(G, direction.move(z, float(v)), direction.space, meters) for v in t]  # T x [A, N]
        changes = {m.name: np.stack([m.change(row[k], base[k]) for row in moved]) for k, m in enumerate(meters)}
        with np.errstate(all="ignore"):
            scales = {m.name: max(float(np.nanstd(base[k])), m.resolution) for k, m in enumerate(meters)}  # spread, at least the resolution
        metrics: dict[str, Any] = {
            "target": meter.name, "unit": meter.unit, "t_values": t.tolist(), "n": n, "seed": seed,
            "steerability": steerability(t, changes[meter.name]),
            "leakage": leakage(changes, meter.name, scales), "attribute_std": scales,
            "mi": mi_control(t, changes, meter.name, min_width={m.name: max(m.resolution, MI_RESOLUTION * scales[m.name])
                                                                for m in meters}),  # fmt: skip
            "calibration": {"method": direction.method, "by": direction.meta.get("calibrated_by", "own g"),
                            "reach": direction.meta.get("calibration_reach")},
        }  # fmt: skip
        if absolute and direction.space == "z":  # control_report generates from z
            cross = [m for m in meters if m.name != meter.name]
            metrics["control"] = control_report(G, direction, meter.fn, t, z, cross_meter=_cross_meter(meter, cross),
                                                response=meter.change)  # fmt: skip
    metrics["generator_evals"] = total_evals(evals)
    return Evaluation(direction, meter.name, t, changes, metrics)


def _cross_meter(meter: MeterSpec, others: Sequence[MeterSpec]) -> Callable | None:
    """The meter control_report uses for leakage: the testbed's pairing (x <-> y, zoom -> x), else the first other."""
    if meter.transform in TRANSFORM_METERS:
        return TRANSFORM_METERS[meter.transform][1]
    return others[0].fn if others else None


# ------------------------------------------------------------------------------------------ all methods
@dataclass
class MethodRun:
    """One method's part of :func:`compare`.

    Attributes:
        method: the method's name.
        direction: the chosen, calibrated direction (``None`` when the method does not apply).
        evaluation: its :class:`Evaluation` (``None`` when the method does not apply).
        choice: which of the method's directions was chosen (e.g. ``component 2 of 10``).
        find_evals, pick_evals: generator evaluations to find the candidates, and to pick and calibrate one.
        seconds: wall time of finding, picking and calibrating.
        note: why the method does not apply, if it does not.
    """

    method: str
    direction: Direction | None = None
    evaluation: Evaluation | None = None
    choice: str = ""
    find_evals: int = 0
    pick_evals: int = 0
    seconds: float = 0.0
    note: str = ""


def _settings_for(method: str, settings: dict):
    """:class:`~latentnav.methods.MethodSettings` for ``method`` from :func:`compare`'s keyword settings."""
    from latentnav.methods import MethodSettings

    samples = settings.get(f"{method}_samples", settings.get("samples", 10_000))
    return MethodSettings(n_components=settings.get("n_candidates", 10), samples=samples,
                          ratio=settings.get("interfacegan_ratio", 0.02), feature=settings.get("ganspace_feature", "auto"),
                          trajectory=settings.get("trajectory_config"))  # fmt: skip


def compare(G, target: str, *, methods: Sequence[str] | None = None, attributes: Sequence[str] | None = None,
            t_values: Sequence[float] | None = None, n_eval: int = 50, seed: int = EVAL_SEED,
            progress: Callable[[str], None] | None = None, **settings: Any) -> list[MethodRun]:  # fmt: skip
    """Run every method on ``G`` for ``target``, pick each one's best direction, and evaluate all on the same latents.

    Args:
        G: a generator.
        target: the attribute (``pos_x``) or the transform that changes it (``shift-x``).
        methods: which to run (default: all of :data:`latentnav.methods.METHODS`).
        attributes: measured for leakage (default: :func:`default_attributes`).
        t_values, n_eval, seed: see :func:`evaluate_direction`.
        progress: called with a line before each method.
        **settings: ``n_candidates`` (10: GANSpace/SeFa directions considered), ``samples`` (10,000: latents
            any sampling method draws) or per method ``ganspace_samples``, ``interfacegan_samples``, ...,
            ``interfacegan_ratio`` (0.02), ``ganspace_feature`` ("auto"), ``trajectory_config``; every
            method gets the same :class:`~latentnav.methods.MethodSettings` (space z, seed 0).

    Returns:
        One :class:`MethodRun` per method, in order; a method that does not apply carries its reason in ``note``.
    """
    from latentnav.methods import METHODS, get_method

    meter = get_meter(target, G)
    names = list(dict.fromkeys([meter.name, *(attributes or default_attributes(G))]))
    others = [get_meter(a, G) for a in names[1:]]
    say = progress or (lambda line: None)
    runs = []
    for method in methods or METHODS:
        run = MethodRun(method)
        say(f"{method}: finding directions for {meter.name}")
        t0 = time.perf_counter()
        try:
            with count_evals(G) as found:
                offered = get_method(method).find(G, meter=meter, settings=_settings_for(method, settings))
                candidates, how = offered.directions, offered.how
            with count_evals(G) as picked:
                k, scores = pick_direction(G, candidates, meter, others) if len(candidates) > 1 else (0, [])
                direction = candidates[k]
                if not in_units_of(direction, meter):
                    direction = calibrate_direction(G, direction, meter)
        except MethodNotApplicableError as err:
            run.note = str(err)
            runs.append(run)
            continue
        run.seconds = time.perf_counter() - t0
        run.find_evals, run.pick_evals = total_evals(found), total_evals(picked)
        run.choice = (f"component {k} of {len(candidates)}" + (f", {how}" if how else "")) if scores else how
        run.direction = direction
        say(f"{method}: evaluating on {n_eval} fresh latents")
        run.evaluation = evaluate_direction(G, direction, target=meter.name, attributes=names, t_values=t_values,
                                            n=n_eval, seed=seed)  # fmt: skip
        runs.append(run)
    return runs


COMPARE_HEADER = ("| target | method | direction | R^2 | slope | spread | leakage | MI target / leak share | abs. std "
                  "| generator evals (find + pick/calibrate) | seconds |")  # fmt: skip


def compare_rows(runs: Sequence[MethodRun], target: str) -> list[str]:
    """Markdown rows (see :data:`COMPARE_HEADER`) for one target's runs."""
    rows = []
    for r in runs:
        if r.evaluation is None:
            rows.append(f"| {target} | {r.method} | not applicable: {r.note} | - | - | - | - | - | - | - | - |")
            continue
        m = r.evaluation.metrics
        s, c, mi = m["steerability"], m.get("control", {}), m["mi"]
        leak = c.get("leakage", float("nan"))
        rows.append(f"| {target} | {r.method} | {r.choice} | {s['r2']:.3f} | {s['slope']:.3f} | {s['spread']:.4f} | "
                    f"{leak:.3f} | {mi['mi_target']:.2f} / {mi['mi_leak_share']:.2f} | {c.get('absolute_std', float('nan')):.4f} "
                    f"| {r.find_evals} + {r.pick_evals} | {r.seconds:.1f} |")  # fmt: skip
    return rows


def run_summary(run: MethodRun) -> dict[str, Any]:
    """A JSON-ready record of one :class:`MethodRun`."""
    out = {"method": run.method, "choice": run.choice, "find_evals": run.find_evals, "pick_evals": run.pick_evals,
           "seconds": round(run.seconds, 3), "note": run.note}  # fmt: skip
    if run.evaluation is not None:
        out["metrics"] = run.evaluation.metrics
    return out


# ------------------------------------------------------------------------------------------ artifacts
def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def evaluation_markdown(ev: Evaluation) -> str:
    """A Markdown report of one :class:`Evaluation`."""
    m = ev.metrics
    s, mi = m["steerability"], m["mi"]
    lines = [f"# {ev.direction.method} direction on {ev.direction.model}: control of {ev.target} ({m['unit']})", "",
             f"{m['n']} fresh latents, requested t in [{ev.t_values.min():g}, {ev.t_values.max():g}] ({len(ev.t_values)} "
             f"steps); calibration: {m['calibration']['by']}.", "",
             "| figure | value |", "|---|---|"]  # fmt: skip
    rows = {"R^2 (achieved vs requested)": s["r2"], "slope": s["slope"], "intercept": s["intercept"],
            "usable range (R^2 >= 0.8)": s["usable_range"], "spread (std per step, mean)": s["spread"],
            "MI target (normalised)": mi["mi_target"], "MI leak share": mi["mi_leak_share"]}  # fmt: skip
    for k, v in m.get("control", {}).items():
        rows[f"control_report {k}"] = v
    rows["generator evaluations"] = m["generator_evals"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows.items()]
    lines += ["", "Leakage: change of each attribute per unit change of the target (normalised: in units of each "
              "attribute's std over the latents).", "", "| attribute | mean-abs ratio | slope | ratio normalised | "
              "slope normalised | MI with the step |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, row in m["leakage"].items():
        mi_v = mi["mi_target"] if name == ev.target else mi["mi_other"].get(name, float("nan"))
        lines.append(f"| {name} | {row['ratio']:.3f} | {row['slope']:.3f} | {row['ratio_normalised']:.3f} | "
                     f"{row['slope_normalised']:.3f} | {mi_v:.3f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def write_evaluation(ev: Evaluation, directory) -> list[str]:
    """metrics.json, report.md, steerability.png and leakage.png of one evaluation into ``directory``."""
    import json
    from pathlib import Path

    from latentnav import viz

    d = Path(directory)
    (d / "metrics.json").write_text(json.dumps(ev.metrics, indent=2, default=float))
    (d / "report.md").write_text(evaluation_markdown(ev))
    s = ev.metrics["steerability"]
    viz.plot_steerability({ev.direction.method: (ev.t_values, s["mean_per_step"], s["spread_per_step"])},
                          d / "steerability.png", unit=ev.metrics["unit"], title=f"control of {ev.target}")  # fmt: skip
    names = list(ev.changes)
    scales = ev.metrics["attribute_std"]
    with np.errstate(all="ignore"):
        heat = np.stack([np.nanmean(ev.changes[a], axis=1) / (scales[a] or np.nan) for a in names], axis=1)
    viz.plot_heatmap(heat, [f"t={v:+.3g}" for v in ev.t_values], names, d / "leakage.png",
                     title="mean change per step (in each attribute's std)")  # fmt: skip
    return ["metrics.json", "report.md", "steerability.png", "leakage.png"]


def write_comparison(runs: Sequence[MethodRun], target: str, directory) -> str:
    """compare.md, compare.json, each method's direction and the two plots into ``directory``; returns the table."""
    import json
    from pathlib import Path

    from latentnav import viz

    d = Path(directory)
    table = "\n".join([COMPARE_HEADER, "|---" * (COMPARE_HEADER.count("|") - 1) + "|", *compare_rows(runs, target)]) + "\n"
    (d / "compare.md").write_text(table)
    (d / "compare.json").write_text(json.dumps({"target": target, "runs": [run_summary(r) for r in runs]}, indent=2, default=float))
    done = [r for r in runs if r.evaluation is not None]
    for r in done:
        r.direction.save(d / f"{r.method}.safetensors")
    if done:
        unit = done[0].evaluation.metrics["unit"]
        curves = {r.method: (r.evaluation.t_values, r.evaluation.metrics["steerability"]["mean_per_step"],
                             r.evaluation.metrics["steerability"]["spread_per_step"]) for r in done}  # fmt: skip
        viz.plot_steerability(curves, d / "steerability.png", unit=unit, title=f"control of {target}")
        rows, names, heat = leakage_matrix({r.method: (r.evaluation.changes, r.evaluation.target) for r in done},
                                           "ratio_normalised", done[0].evaluation.metrics["attribute_std"])  # fmt: skip
        viz.plot_heatmap(heat, rows, names, d / "leakage.png", center=False,
                         title=f"leakage: |change| per |change of {target}| (normalised)")  # fmt: skip
    return table
