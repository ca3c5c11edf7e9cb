"""Runs: what a discovery makes, as an object a notebook keeps, looks at and saves.

``ln.discover(...)`` returns a :class:`Discovery`; ``Discovery.save(dir)`` writes exactly what ``latentnav
discover -o dir`` writes (the command calls the same :meth:`Discovery.write`), through :class:`latentnav.io.RunDir`
(a temporary sibling renamed into place, with a manifest). A batch (several transforms or classes) is a
:class:`DiscoveryBatch`. What every file holds, and every key of ``metrics.json``: docs/outputs.md.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentnav._version import __version__
from latentnav.seeds import PICTURE_SEED

#: how far a meter-calibrated direction's picture and control check move (meter units; hue in degrees)
METER_REACH = {"hue": 30.0}
DEFAULT_METER_REACH = 0.15

#: the keys of a trajectory discovery's ``metrics.json`` taken from its direction's meta (docs/outputs.md)
TRAJECTORY_METRICS = ("fit_r2", "calibration_r2", "achieved_over_requested", "generator_evals", "trajectory_seconds",
                      "mean_final_loss", "fits", "fits_kept", "control", "stage_seconds")  # fmt: skip


def _processes() -> int:
    from latentnav import distributed

    return distributed.world().size


@dataclass(repr=False)
class Discovery:
    """A finished discovery: the direction, what made it, how well it controls, and how to write it.

    Attributes:
        generator: the generator it was made on (not saved; the pictures are rendered from it).
        direction: the :class:`~latentnav.directions.Direction`.
        config: everything needed to repeat the run (``config.json``).
        metrics: the figures (``metrics.json``; ``metrics["control"]`` is the control on fresh latents).
        trajectories: the trajectory method's recorded trajectories (``trajectories.npz``), else ``None``.
        candidates: every direction a ranked method offered (GANSpace, SeFa: ``components/``).
        max_t: the |t| the pictures show (transform units), or ``None`` for raw steps.
        started: ``time.perf_counter()`` when the run began (``metrics["wall_seconds"]`` counts from it).
    """

    generator: Any
    direction: Any
    config: dict
    metrics: dict
    trajectories: Any = None
    candidates: list = field(default_factory=list)
    max_t: float | None = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def control(self) -> dict | None:
        """The achieved control on fresh latents (:func:`latentnav.metrics.control.measure_control`), or ``None``."""
        return self.metrics.get("control")

    @property
    def warning(self) -> str | None:
        """What weak control means for the user, or ``None`` when control is not weak."""
        control = self.control
        if control is None:
            return None if self.direction.calibrated else (
                "this direction is uncalibrated (raw steps along a component): its control was not measured; give "
                "--attribute NAME to pick and calibrate a component, or measure it with latentnav evaluate")  # fmt: skip
        return control.get("warning")

    def summary(self) -> str:
        """One line: the fit, the control on fresh latents, the cost."""
        said = []
        if "fit_r2" in self.metrics:
            said.append(f"fit R^2 {self.metrics['fit_r2']:.3f}")
        elif self.config.get("method"):
            what = self.metrics.get("attribute")
            said.append(f"{self.config['method']} direction" + (f" for {what}" if what else
                        f" (component {self.metrics.get('choice', 0)})"))  # fmt: skip
        control = self.control
        if control is not None and control.get("r2") is not None:
            said.append(f"control on {control['n_latents']} fresh latents: R^2 {control['r2']:.3f}, "
                        f"slope {control['slope']:.2f}")  # fmt: skip
        seconds = self.metrics.get("wall_seconds", time.perf_counter() - self.started)
        said.append(f"{self.metrics['generator_evals']:,} generator evaluations, {seconds:.1f} s")
        return "; ".join(said)

    def __repr__(self) -> str:
        return f"Discovery({self.direction!r}; {self.summary()})"

    def write(self, folder: Path) -> None:
        """Write every file of the run into ``folder`` (an empty directory; :meth:`save` makes one)."""
        import numpy as np

        folder = Path(folder)
        clock = time.perf_counter()
        self.direction.save(folder / "direction.safetensors")
        if self.trajectories is not None:
            np.savez(folder / "trajectories.npz", **self.trajectories.to_numpy())
        (folder / "config.json").write_text(json.dumps(self.config, indent=2))
        self._pictures(folder)
        if "stage_seconds" in self.metrics:
            self.metrics["stage_seconds"] = {**self.metrics["stage_seconds"], "outputs": round(time.perf_counter() - clock, 3)}
        self.metrics["wall_seconds"] = round(time.perf_counter() - self.started, 3)
        (folder / "metrics.json").write_text(json.dumps(self.metrics, indent=2, default=float))

    def _pictures(self, folder: Path) -> None:
        """``traverse.png`` and ``traverse.gif`` (and ``components.png`` with every offered component)."""
        import numpy as np
        import torch

        from latentnav import viz
        from latentnav.directions import traverse

        G = self.generator
        seeds = G.sample_latent(range(PICTURE_SEED, PICTURE_SEED + 6), self.direction.space)
        images, labels = self._traversal(seeds)
        viz.save_image(viz.traversal_grid(images, labels=labels), folder / "traverse.png")
        viz.save_gif(images, folder / "traverse.gif")
        if self.candidates:
            (folder / "components").mkdir()
            rows = []
            for k, c in enumerate(self.candidates):
                c.save(folder / "components" / f"{k:02d}.safetensors")
                rows.append(traverse(G, c, seeds[:1], alpha=np.linspace(-3, 3, 9).tolist())[:, 0])
            grid = viz.traversal_grid(torch.stack(rows, dim=1), labels=[f"alpha {a:+.3g}" for a in np.linspace(-3, 3, 9)])
            viz.save_image(grid, folder / "components.png")

    def _traversal(self, z):
        """The pictures' traversal of latents ``z``: ``(images [9, N, C, H, W], column labels)``, over +-max_t in
        transform units, or raw steps of +-3 along u when the direction has no units."""
        import numpy as np

        from latentnav.directions import traverse

        if self.max_t is not None:
            steps = np.linspace(-self.max_t, self.max_t, 9).tolist()
            return traverse(self.generator, self.direction, z, t=steps), [f"t {t:+.3g}" for t in steps]
        steps = np.linspace(-3, 3, 9).tolist()
        return traverse(self.generator, self.direction, z, alpha=steps), [f"alpha {a:+.3g}" for a in steps]

    def picture(self, rows: int = 4):
        """The labelled traversal grid of the first ``rows`` picture latents (seeds from 10,000), as a PIL image."""
        from latentnav import viz

        seeds = list(range(PICTURE_SEED, PICTURE_SEED + rows))
        images, labels = self._traversal(self.generator.sample_latent(seeds, self.direction.space))
        return viz.traversal_grid(images, labels=labels, row_labels=[f"seed {s}" for s in seeds])

    def _repr_html_(self) -> str:
        """A notebook's summary: the figures, the warning and the labelled grid (:func:`latentnav.display.discovery_html`)."""
        from latentnav.display import discovery_html

        return discovery_html(self, self.picture())

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the run into the directory ``path`` (whole or not at all; see :class:`latentnav.io.RunDir`)."""
        from latentnav import io

        with io.RunDir(path, force=force, command="discover") as run:
            run.commit(self.write)
        return Path(path)


def discover(G, transform=None, config=None, *, method: str = "trajectory", space: str = "z", attribute: str | None = None,
             scorer: Callable | None = None, scorer_name: str = "scorer", component: int = 0, settings=None,
             progress: bool = True, **overrides) -> Discovery:  # fmt: skip
    """Discover a direction in ``G`` and measure its control on fresh latents: the API behind ``latentnav discover``.

    Args:
        G: a generator.
        transform: the trajectory method's image transform (a name such as ``"shift-x"``, or a callable).
        config: the trajectory method's :class:`~latentnav.methods.trajectory.optimizer.TrajectoryConfig`; keyword
            ``overrides`` replace single fields (``discover(G, "zoom", n_trajectories=32)``).
        method: a registered method (:data:`latentnav.methods.METHODS`).
        space: the latent space.
        attribute: another method's attribute (a meter name): picks and calibrates (GANSpace, SeFa) or separates
            (InterFaceGAN).
        scorer, scorer_name: InterFaceGAN: your scorer (images -> [N] scores) instead of ``attribute``.
        component: GANSpace/SeFa without ``attribute``: the component kept.
        settings: another method's :class:`~latentnav.methods.MethodSettings`.
        progress: show progress bars.

    Returns:
        A :class:`Discovery` (``.direction``, ``.metrics``, ``.save(dir)``); a ``warnings.warn`` when its control
        on fresh latents is weak.
    """
    started = time.perf_counter()
    if method == "trajectory":
        run = _trajectory_run(G, transform, config, space=space, progress=progress, overrides=overrides)
    else:
        run = _method_run(G, method, space=space, attribute=attribute, scorer=scorer, scorer_name=scorer_name,
                          component=component, settings=settings)  # fmt: skip
    run.started = started
    if run.warning:
        warnings.warn(run.warning, stacklevel=2)
    return run


def _trajectory_run(G, transform, config, *, space: str, progress: bool, overrides: dict) -> Discovery:
    """The trajectory method, its control check and its record."""
    from dataclasses import replace

    from latentnav.measure.transforms import get_transform
    from latentnav.methods.trajectory.config import TrajectoryConfig, config_dict
    from latentnav.methods.trajectory.discover import discover as follow

    tf = get_transform(transform)
    config = replace(config or TrajectoryConfig(), **overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run says it once, from its own record
        direction, traj = follow(G, tf, config, space=space, progress=progress, return_trajectories=True)
    metrics = {k: direction.meta[k] for k in TRAJECTORY_METRICS if k in direction.meta}
    cfg = {"command": "discover", "model": G.name, "transform": tf.name, "method": "trajectory", "space": space,
           "device": str(G.device), "latentnav_version": __version__, "trajectory": config_dict(config),
           "processes": _processes()}  # fmt: skip
    max_t = config.resolved().max_t if config.resolved().max_t is not None else tf.default_max_t
    return Discovery(G, direction, cfg, metrics, trajectories=traj, max_t=max_t)


def _method_run(G, method: str, *, space: str, attribute, scorer, scorer_name: str, component: int,
                settings) -> Discovery:  # fmt: skip
    """A registered method through :func:`latentnav.methods.find.find_direction`, its control check and its record."""
    from latentnav.methods import MethodSettings
    from latentnav.methods.find import find_direction

    s = settings or MethodSettings()
    direction, candidates, info = find_direction(
        G, method, space=space, attribute=attribute, scorer=scorer, scorer_name=scorer_name, component=component,
        n_components=s.n_components, n_samples=s.samples, ratio=s.ratio, layers=s.layers, feature=s.feature,
        conditions=s.conditions, seed=s.seed)  # fmt: skip
    info["control"] = _meter_control(G, direction, attribute)
    if info["control"] is not None:
        direction.meta["control"] = info["control"]
    cfg = {"command": "discover", "model": G.name, "method": method, "space": space, "attribute": attribute,
           "scorer": scorer_name if scorer is not None else None, "component": component,
           "components": s.n_components, "samples": s.samples, "ratio": s.ratio,
           "layers": None if s.layers is None else list(s.layers), "feature": s.feature,
           "conditions": [c.meta.get("source", "") for c in s.conditions], "seed": s.seed, "device": str(G.device),
           "latentnav_version": __version__, "processes": _processes()}  # fmt: skip
    reach = _reach(direction) if direction.calibrated else None
    return Discovery(G, direction, cfg, info, candidates=candidates, max_t=reach)


def _reach(direction) -> float:
    """How far a meter-calibrated direction's pictures and control check move (its meter's units)."""
    return METER_REACH.get(direction.transform, DEFAULT_METER_REACH)


def _meter_control(G, direction, attribute: str | None) -> dict | None:
    """The achieved control of a meter-calibrated direction on fresh latents, or ``None`` (uncalibrated)."""
    if not direction.calibrated or attribute is None:
        return None
    from latentnav.measure import get_meter
    from latentnav.metrics.control import measure_control

    meter = get_meter(attribute, G)
    return measure_control(G, direction, meter=meter, max_t=METER_REACH.get(meter.name, DEFAULT_METER_REACH))


@dataclass(repr=False)
class DiscoveryBatch:
    """Several trajectory directions (``--transforms``, ``--classes``): one per job, written into DIR/<job>/.

    Attributes:
        jobs: the :class:`~latentnav.methods.trajectory.discover.Job` list.
        directions: one direction per job, in job order.
        config: ``config.json``.
        started: when the batch began.
    """

    jobs: list
    directions: list
    config: dict
    started: float = field(default_factory=time.perf_counter)

    def rows(self) -> list[dict]:
        """``jobs.json``: each job with its figures (the keys of a single discovery's ``metrics.json``)."""
        return [{"job": job.name, "transform": job.transform, "class_index": job.class_index,
                 **{k: d.meta[k] for k in TRAJECTORY_METRICS if k in d.meta}}
                for job, d in zip(self.jobs, self.directions)]  # fmt: skip

    def weak(self) -> list[str]:
        """The jobs whose control on fresh latents is weak."""
        return [row["job"] for row in self.rows() if (row.get("control") or {}).get("weak")]

    def write(self, folder: Path) -> None:
        """Write DIR/<job>/direction.safetensors per job, jobs.json and config.json into ``folder``."""
        folder = Path(folder)
        for job, d in zip(self.jobs, self.directions):
            (folder / job.name).mkdir()
            d.save(folder / job.name / "direction.safetensors")
        (folder / "jobs.json").write_text(json.dumps(self.rows(), indent=2))
        self.config["wall_seconds"] = round(time.perf_counter() - self.started, 3)
        (folder / "config.json").write_text(json.dumps(self.config, indent=2))

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        """Write the batch into the directory ``path`` (whole or not at all)."""
        from latentnav import io

        with io.RunDir(path, force=force, command="discover") as run:
            run.commit(self.write)
        return Path(path)


def discover_batch(G, transforms: Sequence[str], classes: Sequence[int] | None = None, config=None, *,
                   space: str = "z", progress: Callable | None = None) -> DiscoveryBatch:  # fmt: skip
    """One trajectory direction per (class, transform) job (:func:`latentnav.methods.trajectory.discover.discover_jobs`)."""
    from latentnav import distributed
    from latentnav.methods.trajectory.config import TrajectoryConfig, config_dict
    from latentnav.methods.trajectory.discover import Job, check_jobs, discover_jobs

    started = time.perf_counter()
    config = config or TrajectoryConfig()
    jobs = [Job(tf, c) for c in (classes if classes is not None else [None]) for tf in transforms]
    check_jobs(G, jobs)
    directions = discover_jobs(G, jobs, config, space=space, progress=progress)
    cfg = {"command": "discover", "model": G.name, "transforms": list(transforms),
           "classes": None if classes is None else list(classes), "method": "trajectory", "space": space,
           "device": str(G.device), "latentnav_version": __version__, "trajectory": config_dict(config),
           "processes": distributed.world().size}  # fmt: skip
    return DiscoveryBatch(jobs, directions, cfg, started)


# ------------------------------------------------------------------------------------------------ samples
def sample_images(G, seeds: Sequence[int], *, direction=None, t_of: Callable | None = None, chunk: int | None = None):
    """Images of ``seeds`` in chunks of ``chunk`` (default: the generator's batch size): ``(seeds, images)`` pairs.

    With ``direction`` and ``t_of`` (seeds -> [n] t values), each sample's factor is set to its t (absolute moves,
    the paper's output-distribution shaping). Memory does not grow with the number of seeds.
    """
    import torch

    space = direction.space if direction is not None else "z"
    block: list[int] = []
    for seed in [*seeds, None]:
        if seed is not None:
            block.append(seed)
        if block and (seed is None or len(block) == (chunk or G.batch_size)):
            z = G.sample_latent(block, space)
            if direction is not None:
                z = direction.move(z, t_of(block), "absolute")
            with torch.no_grad():
                yield block, G(z.view(-1, *G.latent_shape(space)), space=space)
            block = []


def write_samples(folder: Path, G, seeds: Sequence[int], *, progress: Callable[[int], None] | None = None, **kwargs) -> int:
    """One PNG per seed (``seed0042.png``) into ``folder``, rendered in chunks (:func:`sample_images`); the count."""
    from latentnav import viz

    count = 0
    for block, images in sample_images(G, seeds, **kwargs):
        viz.save_images(images, [Path(folder) / f"seed{s:04d}.png" for s in block])
        count += len(block)
        if progress is not None:
            progress(len(block))
    return count


def traversal(G, direction, seeds: Sequence[int], *, t: Sequence[float] | None = None, alpha: Sequence[float] | None = None,
              mode: str = "relative"):  # fmt: skip
    """A traversal of ``seeds`` along ``direction`` and its picture's captions: ``(images [T, N, C, H, W], column
    labels, row labels)``."""
    from latentnav.directions import traverse

    z = G.sample_latent(list(seeds), direction.space)
    if t is not None:
        images = traverse(G, direction, z, t=list(t), mode=mode)
        unit = "t" if mode == "relative" else "t ="
        columns = [f"{unit} {v:+.3g}" for v in t]
    else:
        images = traverse(G, direction, z, alpha=list(alpha))
        columns = [f"alpha {v:+.3g}" for v in alpha]
    return images, columns, [f"seed {s}" for s in seeds]


# ---------------------------------------------------------------------------------------------- correction
@dataclass(repr=False)
class CorrectionRun:
    """A finished correction with its three directions in the attribute's units and before/after grids.

    Attributes:
        result: the :class:`~latentnav.correction.correct.Correction` (``report``, ``samples``).
        corrected, projected, base: the corrected direction, InterFaceGAN's projection and the base direction, each
            calibrated in the attribute's units.
        grids: [T, 3N, C, H, W] traversals of the same latents along base, projection and corrected.
        attribute, against: what was corrected.
    """

    result: Any
    corrected: Any
    projected: Any
    base: Any
    grids: Any
    attribute: str
    against: list

    def write(self, paths: list[Path]) -> None:
        """Write OUT, OUT.projection.safetensors, OUT.report.json, OUT.grids.png, and the two directions' .json
        sidecars, at ``paths`` in that order."""
        from latentnav import viz

        for d, path, sidecar in ((self.corrected, paths[0], paths[4]), (self.projected, paths[1], paths[5])):
            d.save(path)  # writes its .json sidecar beside it
            path.with_suffix(".json").replace(sidecar)
        paths[2].write_text(json.dumps(self.result.report, indent=2, default=float))
        viz.save_image(viz.traversal_grid(self.grids, labels=self._t_labels()), paths[3])

    def summary(self) -> list[str]:
        """What ``latentnav correct`` prints: the leakage before and after (with its bootstrap interval), how well
        each direction does what it is asked in the attribute's units, every other attribute's change per unit of
        it, the cost (latent distance, lost images, latents beyond the prior), the re-fit's stop and the stages'
        times."""
        report = self.result.report
        ev = report["eval"]
        names = ("base", "projection", "corrected")

        def leak(k: str) -> str:
            lo, hi = max(ev[k]["leakage_interval"].values(), key=lambda iv: iv[1])
            return f"{ev[k]['leakage_max']:.3f} ({lo:.3f}-{hi:.3f})"

        lines = [(f"leakage into {', '.join(self.against)} per unit {self.attribute}: base {leak('base')}, projection "
                  f"{leak('projection')}, corrected {leak('corrected')} (5-95% bootstrap, {ev['n']} fresh latents); "
                  f"{report['low_density_kept']} of {report['low_density_made']} low-density samples kept")]  # fmt: skip
        t = max(ev["corrected"]["t"])
        lines.append(f"asked {self.attribute} -{t:g} .. +{t:g}, achieved slope / R^2: "
                     + ", ".join(f"{k} {ev[k]['steer']['slope']:.2f} / {ev[k]['steer']['r2']:.2f}" for k in names))
        for other in ev["corrected"]["changes"]:
            if other in self.against:
                continue
            lines.append(f"{other} change per unit {self.attribute}: "
                         + ", ".join(f"{k} {ev[k]['changes'][other]:+.3f}" for k in names))  # fmt: skip
        lines.append("latent distance for +0.1: " + ", ".join(f"{k} {ev[k]['distance_per_0.1']:.2f}" for k in names)
                     + "; moved images blank or lost: " + ", ".join(f"{k} {ev[k]['lost_share']:.1%}" for k in names)
                     + "; moved latents beyond the prior's 99th percentile norm: "
                     + ", ".join(f"{k} {ev[k].get('beyond_prior_99', float('nan')):.1%}" for k in names))  # fmt: skip
        if report.get("refit", {}).get("stopped") == "iteration limit":
            limit = report.get("config", {}).get("fit_iterations", "its")
            lines.append(f"the SLSQP re-fit stopped at its limit of {limit} iterations before converging (past about "
                         "20 it fits the noise of the scored latents; --fit-iterations sets the limit)")  # fmt: skip
        stages = report.get("stage_seconds", {})
        if stages:
            lines.append(f"{sum(stages.values()):.0f} s: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
        return lines

    @property
    def warning(self) -> str | None:
        """A sentence when the corrected direction removed less than half of the base's leakage into B (else None)."""
        report = self.result.report
        ev = report["eval"]
        base, after = ev["base"]["leakage_max"], ev["corrected"]["leakage_max"]
        if not all(math.isfinite(ev[k]["steer"]["r2"]) and math.isfinite(ev[k]["leakage_max"])
                   for k in ("base", "projection", "corrected")):  # fmt: skip
            return (f"the directions' effect on {self.attribute} could not be measured on all of the {ev['n']} "
                    f"evaluation latents' moves (too few kept a readable sprite): ask for more (--eval-n)")
        if not after > 0.5 * base:
            return None
        text = (f"the corrected direction still changes {', '.join(self.against)} by {after:.3f} per unit "
                f"{self.attribute} (base {base:.3f}): the correction removed less than half of it")
        held = [k for k in ev["corrected"]["changes"] if k not in self.against]
        if report.get("config", {}).get("hold_others") and held:
            text += (f"; holding {', '.join(held)} near the base's change (--hold-margin) may be what keeps it: "
                     f"--no-hold-others lets {', '.join(held)} move instead (their changes are above)")
        return text

    def picture(self, per_direction: int = 2):
        """The labelled before/after grid: the first ``per_direction`` latents moved along the base direction, the
        projection and the corrected direction (rows), over the report's t (columns), as a PIL image."""
        import torch

        from latentnav import viz
        from latentnav.seeds import EVAL_SEED

        n = self.grids.shape[1] // 3
        keep = min(per_direction, n)
        index = [k * n + j for k in range(3) for j in range(keep)]
        rows = [f"{name} {EVAL_SEED + j}" for name in ("base", "projection", "corrected") for j in range(keep)]
        return viz.traversal_grid(self.grids[:, torch.as_tensor(index)], labels=self._t_labels(), row_labels=rows)

    def _t_labels(self) -> list[str]:
        """The grids' column captions (``t -0.15`` .. ``t +0.15``; the float noise of linspace's middle step read as 0)."""
        return [f"t {round(v, 6) + 0.0:+.3g}" for v in self.result.report.get("grid_t", [])]

    def _repr_html_(self) -> str:
        """A notebook's summary: before / after figures and grids (:func:`latentnav.display.correction_html`)."""
        from latentnav.display import correction_html

        return correction_html(self, self.picture())


def correct_direction(G, direction, attribute: str, against: Sequence[str], config=None, *, eval_n: int = 500,
                      progress: bool = True) -> CorrectionRun:  # fmt: skip
    """:func:`latentnav.correction.correct.correct` (its three directions calibrated in the attribute's units), and
    their grids on six fresh latents (seeds from 50,000)."""
    import time

    import torch

    from latentnav.correction.config import CorrectConfig
    from latentnav.correction.correct import correct
    from latentnav.directions import traverse
    from latentnav.measure import get_meter
    from latentnav.seeds import EVAL_SEED

    meter = get_meter(attribute, G)
    held = [get_meter(name, G) for name in against]
    result = correct(G, direction, meter, held, config or CorrectConfig(), eval_n=eval_n, progress=progress)
    start = time.perf_counter()
    corrected, projected, base = result.direction, result.projection, result.base
    z = G.sample_latent(range(EVAL_SEED, EVAL_SEED + 6), corrected.space)
    t = torch.linspace(-0.15, 0.15, 7).tolist()
    result.report["grid_t"] = t
    grids = torch.cat([traverse(G, v, z, t=t, mode="relative") for v in (base, projected, corrected)], dim=1)
    result.report["stage_seconds"]["grids"] = round(time.perf_counter() - start, 3)
    run = CorrectionRun(result, corrected, projected, base, grids, attribute, list(against))
    if run.warning:
        warnings.warn(run.warning, stacklevel=2)
    return run


# ---------------------------------------------------------------------------------------------- comparison
class Comparison(list):
    """What :func:`compare` returns: the list of :class:`~latentnav.evaluate.MethodRun` (one per method, in order),
    which also keeps the generator and the target so that a notebook shows it as one table and one picture.

    Attributes:
        generator: the generator compared on (not saved).
        target: the attribute compared (a meter name).
    """

    def __init__(self, runs: Sequence, generator, target: str) -> None:
        super().__init__(runs)
        self.generator = generator
        self.target = target

    def picture(self, steps: int = 7):
        """One latent (seed 10,000) moved along each method's calibrated direction over the evaluation's t (rows:
        methods, columns: t), as a labelled PIL image; ``None`` when no method applied."""
        import numpy as np
        import torch

        from latentnav import viz
        from latentnav.directions import traverse

        done = [r for r in self if r.evaluation is not None]
        if not done:
            return None
        t = done[0].evaluation.t_values
        t = np.linspace(float(t.min()), float(t.max()), steps).tolist()
        z = self.generator.sample_latent([PICTURE_SEED], done[0].direction.space)
        images = torch.cat([traverse(self.generator, r.direction, z, t=t) for r in done], dim=1)
        return viz.traversal_grid(images, labels=[f"t {v:+.3g}" for v in t], row_labels=[r.method for r in done])

    def _repr_html_(self) -> str:
        """A notebook's summary: every method on one scale (:func:`latentnav.display.comparison_html`)."""
        from latentnav.display import comparison_html

        return comparison_html(self, self.target, self.picture())


def compare(G, target: str, **kwargs) -> Comparison:
    """:func:`latentnav.evaluate.compare` (every registered method on ``G`` for ``target``, evaluated on the same
    fresh latents; keyword arguments as there), returned as a :class:`Comparison` a notebook displays."""
    from latentnav.evaluate import compare as compare_methods
    from latentnav.measure import get_meter

    return Comparison(compare_methods(G, target, **kwargs), G, get_meter(target, G).name)
