"""``correct``: the five steps in order (the API behind ``latentnav correct``)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentnav.correction.config import CorrectConfig
from latentnav.correction.evaluation import EVAL_T, judged, prior_norm_quantile, user_effect
from latentnav.correction.fit import fit_on_meters, refit
from latentnav.correction.steps import (
    density_percentile,
    fit_set,
    holding_step,
    landed,
    linear_gradients,
    low_density_targets,
    pick_donors,
    score_latents,
    synthesize_and_invert,
)
from latentnav.directions import Direction, identity_direction
from latentnav.errors import BadInputError, LatentnavError
from latentnav.evaluate import calibrate_direction, default_attributes, in_units_of, read_latents
from latentnav.measure import MeterSpec, get_meter
from latentnav.methods.interfacegan import project_orthogonal, train_boundary
from latentnav.methods.layers import layer_indices
from latentnav.seeds import EVAL_SEED

#: positions along each direction its calibration reads (``calibrate_direction``'s 41 cost a third of the run)
CALIB_GRID = 21


# ------------------------------------------------------------------------------------------- the job
@dataclass
class Correction:
    """The result of :func:`correct`: the corrected direction, InterFaceGAN's projection, and a report.

    ``samples`` holds the working data: the scored latents and scores (``z``, ``scores``), the synthesized
    samples (``index``, ``delta_a``, ``images``, ``donors``), their inversions and re-scores (``z_inverted``,
    ``rescored``, ``kept``), the oriented base direction (``base_u``) and what the re-fit fitted on
    (``refit_z``, ``refit_scores``: the scored latents plus the kept inversions).
    """

    direction: Direction
    projection: Direction
    report: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, Any] = field(default_factory=dict)
    base: Direction | None = None


class StageClock:
    """Wall seconds per stage (``seconds``; ``cpu_seconds``: this process's CPU time, which another job on the same
    cores does not inflate), with a progress bar per stage when ``progress``."""

    def __init__(self, progress: bool = False) -> None:
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self.cpu_seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, total: int | None = None, unit: str = "image") -> Iterator[tqdm]:
        """Time the block as stage ``name`` (added up when entered again) and yield its bar."""
        bar = tqdm(total=total, desc=name, unit=unit, disable=not self.progress, leave=False)
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield bar
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)
            self.cpu_seconds[name] = round(self.cpu_seconds.get(name, 0.0) + time.process_time() - cpu, 3)
            bar.close()


def _oriented(u: np.ndarray | torch.Tensor, grad_a: np.ndarray) -> torch.Tensor:
    u = torch.as_tensor(np.asarray(u, dtype=np.float64)).float()
    return u if float(u.double().numpy() @ grad_a) >= 0 else -u


def correct(G, direction: Direction | torch.Tensor, attribute: str | MeterSpec, against: Sequence[str | MeterSpec],
            config: CorrectConfig = CorrectConfig(), *, space: str | None = None, eval_n: int = 500,
            eval_seed: int = EVAL_SEED, also: Sequence[str | MeterSpec] | None = None,
            progress: bool = False) -> Correction:  # fmt: skip
    """Remove from ``direction`` what it does to the ``against`` attributes (SC2GAN-style; see the package docstring).

    Args:
        G: the generator.
        direction: the base direction (a :class:`Direction` or a plain [D] vector).
        attribute: A, the attribute the direction should change (a meter name or spec).
        against: B, the attributes it should leave alone.
        config: see :class:`CorrectConfig`.
        space: latent space (default: the direction's, or ``"z"`` for a plain vector).
        eval_n, eval_seed: fresh latents on which the report judges base, projection and corrected directions, each
            calibrated in A's units and moved by ``EVAL_T`` of A (:func:`~latentnav.correction.evaluation.user_effect`).
        also: further meters the report reads (default: the testbed's attributes that ``G`` can carry,
            :func:`latentnav.evaluate.default_attributes`, other than A and B).
        progress: a progress bar per stage; each stage's seconds go into ``report["stage_seconds"]``.

    Returns:
        A :class:`Correction`; its directions are oriented to make A grow and calibrated in A's units (``u`` is the
        unit vector; ``base`` is the base direction calibrated the same way).
    """
    space, base_u, base_method, meters = _inputs(G, direction, attribute, against, config, space)
    cfg, meter_a, meters_b = config, meters[0], meters[1:]
    others = _also_read(G, meters, also)
    clock = StageClock(progress)
    # 1. scores
    with clock.stage("scoring", cfg.n_samples) as bar:
        z, scores = score_latents(G, meters, cfg.n_samples, space=space, seed=cfg.seed, bar=bar)
        grads = linear_gradients(z, scores)
        u = _oriented(base_u, grads[0])
    # 2. where to go, 3. synthesis and 4. inversion (split over the ranks of a distributed run), re-scoring
    made = _synthesized(G, z, scores, u, grads, meters, cfg, space, clock)
    # 5. re-fit on both together (the meter fit starts from InterFaceGAN's projection, the first-order answer)
    with clock.stage("refit", None, "step") as bar:
        boundaries = [train_boundary(z, scores[:, k], ratio=0.1, seed=cfg.seed).normal for k in range(1, scores.shape[1])]
        projected = _oriented(project_orthogonal(u, boundaries), grads[0])
        union_z, union_s = fit_set(z, scores, made["z_inverted"], made["rescored"], made["kept"], cfg.fit_latents, cfg.seed)
        if cfg.refit == "meters":
            bounded = others if cfg.hold_others else []
            fit_base = union_s if not bounded else read_latents(G, union_z, space, [*meters, *bounded]).T
            new_u, fit = fit_on_meters(G, union_z, u, meter_a, meters_b, steps=cfg.fit_limit, keep=cfg.fit_keep,
                                       optimizer=cfg.fit_optimizer, batch=None if cfg.fit_optimizer == "slsqp" else 128,
                                       start=projected, base=fit_base, space=space, seed=cfg.seed, bounded=bounded,
                                       margin=cfg.hold_margin, progress=progress)  # fmt: skip
        else:
            new_u, fit = refit(union_z, union_s, max_weight=cfg.max_weight, seed=cfg.seed)
        corrected = _oriented(new_u, grads[0])
    # judged in A's units: each direction calibrated, moved by t of A from fresh latents, every meter read
    out_dir, proj_dir = _directions(G, space, base_method, corrected, projected, meters)
    with clock.stage("calibration", 3, "direction") as bar:
        given = isinstance(direction, Direction) and in_units_of(direction, meter_a)
        base_dir = direction if given else identity_direction(u, space, model=G.name, method=base_method)
        calibrated = {}
        for name, d in (("base", base_dir), ("projection", proj_dir), ("corrected", out_dir)):
            calibrated[name] = d if in_units_of(d, meter_a) else calibrate_direction(G, d, meter_a, grid=CALIB_GRID)
            bar.update()
    with clock.stage("evaluation", 3 * len(EVAL_T) * eval_n) as bar:
        z_eval = G.sample_latent(range(eval_seed, eval_seed + eval_n), space)
        norm99 = prior_norm_quantile(z)
        with torch.no_grad():  # the same starts for the three directions: rendered once
            start = G(z_eval.to(G.device).view(-1, *G.latent_shape(space)), space=space).cpu()
        measured = {name: judged(user_effect(G, d, meter_a, [*meters_b, *others], z_eval, norm99=norm99, start=start,
                                             space=space, bar=bar), [m.name for m in meters_b])
                    for name, d in calibrated.items()}  # fmt: skip
    report = _report(cfg, meters, base_method, z, scores, made, fit, u, projected, corrected, measured, eval_n, eval_seed)
    report["also_read"] = [m.name for m in others]
    report["prior_norm_99"] = norm99
    report["stage_seconds"] = clock.seconds
    report["stage_cpu_seconds"] = clock.cpu_seconds
    _record(calibrated["corrected"], report, measured)
    samples = {"z": z, "scores": scores, "base_u": u, "refit_z": union_z, "refit_scores": union_s,
               **{k: made[k] for k in ("index", "delta_a", "z_inverted", "rescored", "kept", "images", "donors")}}  # fmt: skip
    return Correction(calibrated["corrected"], calibrated["projection"], report, samples, base=calibrated["base"])


def _inputs(G, direction, attribute, against, cfg: CorrectConfig, space: str | None):
    """The space, the base vector and its method, and the meters [A, *B] of a correction, checked."""
    if isinstance(direction, Direction):
        direction.check_compatible(G, space)
        space, base_u, base_method = direction.space, direction.u, direction.method
    else:
        space, base_u, base_method = space or "z", torch.as_tensor(direction).flatten().float(), "vector"
        base_u = base_u / base_u.norm()
    meter_a = get_meter(attribute, G) if isinstance(attribute, str) else attribute
    meters_b = [get_meter(b, G) if isinstance(b, str) else b for b in against]
    if not meters_b:
        raise BadInputError("give at least one attribute to correct against (--against)")
    if meter_a.name in {m.name for m in meters_b}:
        raise BadInputError(f"the target {meter_a.name!r} cannot also be an attribute to hold")
    if cfg.layers is not None:
        if space != "w+":
            raise BadInputError(f"layer mixing (--layers) needs a direction in StyleGAN2's W+ space; this one is in {space!r}")
        layer_indices(cfg.layers, G.latent_shape(space)[0])
    return space, base_u, base_method, [meter_a, *meters_b]


def _synthesized(G, z, scores, u, grads, meters, cfg: CorrectConfig, space: str, clock: StageClock) -> dict:
    """Steps 2-4: low-density targets, synthesized and inverted, re-scored; which of them landed (``kept``)."""
    with clock.stage("low_density", None, "step"):
        index, delta_a = low_density_targets(scores, cfg.n_low, cfg.offset, cfg.seed)
        step = holding_step(u.double().numpy(), grads)
        donors = None if cfg.layers is None else pick_donors(scores, index, delta_a, seed=cfg.seed)
    images, z_inv, inv_loss = synthesize_and_invert(G, z[index], delta_a, step, scores[index, 1:], meters[1:], cfg,
                                                    space=space, donors=None if donors is None else z[donors],
                                                    progress=clock.progress, stage=clock.stage)  # fmt: skip
    # an inversion that diverged (non-finite latent or loss) is reported and its sample dropped, never kept
    diverged = ~(torch.isfinite(inv_loss) & torch.isfinite(z_inv).all(dim=1))
    if diverged.any():
        z_inv = torch.where(diverged[:, None], z[index], z_inv)  # placeholder rows, dropped below
        tqdm.write(f"{int(diverged.sum())} of {len(index)} inversions diverged (non-finite); their samples are dropped")
    with clock.stage("inversion"):
        rescored = read_latents(G, z_inv, space, meters).T
    rescored[diverged.numpy()] = np.nan
    kept = landed(scores[index], rescored, delta_a, scores, cfg.keep) & ~diverged.numpy()
    if kept.sum() < 5:
        raise LatentnavError(
            f"only {int(kept.sum())} of {len(index)} synthesized samples landed off the diagonal after inversion "
            f"({int(diverged.sum())} inversions diverged): the generator does not draw those combinations, or the "
            "inversion falls back onto the diagonal; ask for a smaller move (--offset), more samples (--samples) "
            "or more inversion steps (--invert-steps), or correct a weaker correlation"
        )
    return {"index": index, "delta_a": delta_a, "images": images, "donors": donors, "z_inverted": z_inv,
            "inversion_loss": inv_loss, "diverged": diverged, "rescored": rescored, "kept": kept}  # fmt: skip


def _report(cfg, meters, base_method, z, scores, made, fit, u, projected, corrected, measured, eval_n, eval_seed) -> dict:
    """The correction's report (``OUT.report.json``)."""
    index, kept, diverged, inv_loss = made["index"], made["kept"], made["diverged"], made["inversion_loss"]
    asked = scores[index].copy()
    asked[:, 0] += made["delta_a"]
    return {
        "attribute": meters[0].name, "against": [m.name for m in meters[1:]], "config": asdict(cfg),
        "base_method": base_method, "samples_scored": len(z),
        "correlation": [float(np.corrcoef(scores[:, 0], scores[:, k])[0, 1]) for k in range(1, scores.shape[1])],
        "synthesis": "linear move" if cfg.layers is None else f"W+ layer mixing (layers {list(cfg.layers)})",
        "low_density_made": len(index), "low_density_kept": int(kept.sum()),
        "target_density_percentile": density_percentile(scores, asked),
        "inversion_diverged": int(diverged.sum()), "inversion_loss_mean": float(inv_loss[~diverged].mean()),
        "inversion_loss_kept": float(inv_loss[torch.as_tensor(kept)].mean()),
        "refit": fit, "cos_base_corrected": float(u @ corrected), "cos_base_projection": float(u @ projected),
        "eval": {"n": eval_n, "seed": eval_seed, **measured},
    }  # fmt: skip


def _also_read(G, meters: Sequence[MeterSpec], also) -> list[MeterSpec]:
    """The further meters the report reads: ``also``, or the testbed's attributes ``G`` carries, less A and B."""
    names = {m.name for m in meters}
    wanted = default_attributes(G) if also is None else list(also)
    out = [get_meter(m, G) if isinstance(m, str) else m for m in wanted]
    return [m for m in out if m.name not in names]


def _directions(G, space: str, base_method: str, corrected, projected, meters: Sequence[MeterSpec]):
    """The corrected direction and the projection as (uncalibrated) :class:`Direction` objects with their record."""
    out_dir = identity_direction(corrected, space, model=G.name, method=f"corrected:{base_method}")
    proj_dir = identity_direction(projected, space, model=G.name, method=f"projected:{base_method}")
    for d in (out_dir, proj_dir):
        d.meta = {"attribute": meters[0].name, "against": [m.name for m in meters[1:]], "base_method": base_method}
    return out_dir, proj_dir


def _record(corrected: Direction, report: dict, measured: dict) -> None:
    """What the corrected direction's file records of its correction (``meta``)."""
    corrected.meta.update(low_density_kept=report["low_density_kept"],
                          leakage_before=measured["base"]["leakage_max"],
                          leakage_after=measured["corrected"]["leakage_max"])  # fmt: skip
