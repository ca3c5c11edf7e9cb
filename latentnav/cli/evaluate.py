"""``latentnav evaluate``, ``compare`` and ``evaluate-model``: how good a direction, the methods, a model are."""

from __future__ import annotations

import json

import click

from latentnav.cli import common
from latentnav.cli.app import main, warn
from latentnav.cli.options import (
    DIRECTION_HELP,
    device_option,
    direction_file_options,
    extrapolate_option,
    force_option,
    model_option,
    out_dir_option,
    seed_option,
)
from latentnav.cli.parse import parse_names, parse_range
from latentnav.seeds import EVAL_SEED

EVALUATE_HELP = """Measure how well a direction controls its attribute and what else it moves.

Steerability (achieved vs requested change: R^2, slope, usable range, spread per step), the leakage
row (change of every attribute per unit change of the target), MI control metrics and the control
report (relative and absolute mode). A direction without a calibration in the target's units is first
calibrated with the target's meter. Writes DIR/metrics.json, report.md, steerability.png, leakage.png.

\b
Example:
  latentnav evaluate --direction runs/shift-x/direction.safetensors -o runs/shift-x-eval
  latentnav evaluate --direction runs/sefa/direction.safetensors --target scale -o runs/sefa-eval
  latentnav evaluate --direction boundary.npy --space z --target pos_x --attributes pos_x,pos_y -o runs/npy-eval
  latentnav evaluate --direction factor.pt --space w --component 1 --target pos_x -o runs/sefa-pt-eval
  latentnav evaluate --model infogan-dsprites --code cont0 --target pos_x -o runs/code-eval
"""

COMPARE_HELP = """Run every method that applies, pick each one's best direction for the target, and compare them.

GANSpace and SeFa offer several directions: the one that moves the target most consistently and
exclusively is picked; every direction is calibrated in the target's units (the trajectory method
by its own g, the others with the target's meter) and evaluated on the same fresh latents. Prints one
table (control, spread, leakage, generator evaluations, wall time) and writes DIR/compare.md,
compare.json, METHOD.safetensors, steerability.png and leakage.png.

\b
Example:
  latentnav compare --model bvae-dsprites-b4 --target shift-x -o runs/compare-x
  latentnav compare --model bvae-dsprites-b4 --target scale --methods sefa,ganspace -o runs/compare-scale
"""

EVALUATE_MODEL_HELP = """Disentanglement metrics of a model with known factors: BetaVAE, FactorVAE, MIG, SAP, DCI, total correlation.

Codes are a VAE's encoder means (the two-code VAE: z1 and z2 together) or an InfoGAN's Q read-out of
renders of the dSprites grid at the model's resolution (colour dSprites, with colour as a factor, for
RGB models); the definitions and default sample counts are disentanglement_lib's (see docs/evaluate.md,
"Metrics: what each number means"). The default preset takes about 6 minutes per model on a 2-core CPU
(DCI's gradient-boosted trees about 3 of them; --dci-estimator forest about 10 s); --preset fast under
a minute (50 s for bvae-dsprites-b4). Each metric's time is printed as it finishes.

\b
Example:
  latentnav evaluate-model --model bvae-dsprites-b4 --preset fast
  latentnav evaluate-model --model bvae-dsprites-b1 --preset fast -o b1-metrics.json
  latentnav evaluate-model --model infogan-dsprites --preset fast
"""


@main.command("evaluate", help=EVALUATE_HELP, short_help="Measure a direction's control and leakage on fresh latents.")
@model_option()
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), default=None,
              help=DIRECTION_HELP)
@click.option("--code", default=None, help="Instead of a file: one of the model's own codes, z<k> (latent axis k) or an InfoGAN code (cont0).")
@click.option("--target", default=None, help="Attribute it should change: a meter name or your scorer module:function (default: the one its transform changes).")
@click.option("--attributes", default=None, help="Attributes measured for leakage, e.g. pos_x,pos_y,scale or my_scorers:smile (default: all that apply).")
@click.option("--t", "t_range", default=None, help="LO,HI requested change in the target's units (default -0.15,0.15; hue -30,30).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("-n", type=click.IntRange(2, 100_000), default=50, help="Fresh latents.")
@seed_option(EVAL_SEED, "First seed of the fresh latents.")
@direction_file_options
@extrapolate_option
@device_option
@force_option()
@out_dir_option()
def evaluate_cmd(model, direction_path, code, target, attributes, t_range, steps, n, seed, space, component, extrapolate,
                 device, force, output) -> None:  # fmt: skip
    from latentnav.evaluate import evaluate_direction, write_evaluation

    if (direction_path is None) == (code is None):
        raise click.UsageError("give either --direction FILE or --code NAME")
    t_values = _t_values(t_range, steps)
    names = _checked_names(target, parse_names(attributes))
    inputs = [common.model_input(model), direction_path]
    d = _checked_direction(direction_path, (space, component), target, t_values, extrapolate)
    dev = common.launch(device)
    with common.run_dir(output, force, inputs, "evaluate") as out:
        G = common.load(model, dev)
        d = d if d is not None else _code_direction(G, code)
        ev = evaluate_direction(G, d, target=target, attributes=names, t_values=t_values, n=n, seed=seed)
        out.commit(lambda tmp: write_evaluation(ev, tmp))
    if common.is_main():
        click.echo(f"wrote {output.rstrip('/')}/ ({ev.summary()})")
        if ev.warning:
            warn(ev.warning)


def _t_values(t_range: str | None, steps: int):
    import numpy as np

    return None if t_range is None else np.linspace(*parse_range(t_range, "--t"), steps)


def _checked_names(target: str | None, names: list[str] | None) -> list[str] | None:
    """Meter names and scorer modules, checked before any loading."""
    from latentnav.measure import get_meter

    for name in [target, *(names or [])]:
        if name is not None:
            get_meter(name)
    return names


def _checked_direction(path: str | None, where: tuple[str | None, int | None], target: str | None, t_values,
                       extrapolate: bool):
    """The direction file (``where`` = its --space and --component), and --t within its transform's range when --t
    is in its units."""
    if path is None:
        return None
    from latentnav.directions import load_direction
    from latentnav.evaluate import in_units_of
    from latentnav.measure import get_meter

    d = load_direction(path, space=where[0], component=where[1])
    same = d.calibrated and (target is None or in_units_of(d, get_meter(target)))
    if t_values is not None and same:
        d.check_steps(t=(float(t_values[0]), float(t_values[-1])), extrapolate=extrapolate)
    return d


def _check_target_range(target: str, t_values, extrapolate: bool) -> None:
    """--t within the range of the transform the target's meter reads, unless --extrapolate."""
    if t_values is None or extrapolate:
        return
    from latentnav.measure import get_meter
    from latentnav.measure.transforms import TRANSFORMS

    tf = TRANSFORMS.get(get_meter(target).transform or "")
    reach = float(max(abs(t_values[0]), abs(t_values[-1])))
    if tf is not None and reach > tf.max_t:
        raise click.BadParameter(f"t={reach:g} is beyond the range of {tf.name} (|t| <= {tf.max_t:.4g}, {tf.unit}); "
                                 "--extrapolate allows it", param_hint="--t")  # fmt: skip


def _code_direction(G, code: str):
    from latentnav.directions import code_direction

    return code_direction(G, code)


@main.command("compare", help=COMPARE_HELP, short_help="Run every method for one target and compare them on one scale.")
@model_option()
@click.option("--target", required=True, help="A transform (shift-x, shift-y, zoom, brightness, hue), the attribute it changes, or your scorer module:function.")
@click.option("--methods", default=None, help="Comma-separated subset of the registered methods (default: all; see discover --method).")
@click.option("--attributes", default=None, help="Attributes measured for leakage: meter names or module:function scorers (default: all that apply).")
@click.option("--t", "t_range", default=None, help="LO,HI requested change (default -0.15,0.15; hue -30,30).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("-n", type=click.IntRange(2, 100_000), default=50, help="Fresh latents for the evaluation.")
@click.option("--candidates", type=click.IntRange(1, 4096), default=10, help="GANSpace/SeFa components considered.")
@click.option("--samples", type=click.IntRange(2, 10_000_000), default=10_000, help="GANSpace/InterFaceGAN latents sampled.")
@click.option("--trajectories", type=click.IntRange(1, 100_000), default=64, help="Trajectory method: starting latents.")
@extrapolate_option
@device_option
@force_option()
@out_dir_option()
def compare_cmd(model, target, methods, attributes, t_range, steps, n, candidates, samples, trajectories, extrapolate,
                device, force, output) -> None:  # fmt: skip
    from latentnav.evaluate import compare, write_comparison
    from latentnav.measure import get_meter
    from latentnav.methods import get_method
    from latentnav.methods.trajectory.config import TrajectoryConfig

    chosen = parse_names(methods)
    for name in chosen if chosen is not None else []:
        get_method(name)
    if chosen == []:
        get_method("")
    t_values = _t_values(t_range, steps)
    names = _checked_names(target, parse_names(attributes))
    _check_target_range(target, t_values, extrapolate)
    inputs, dev = [common.model_input(model)], common.launch(device)
    with common.run_dir(output, force, inputs, "compare") as out:
        G = common.load(model, dev)
        name = get_meter(target, G).name
        say = (lambda line: click.echo(line, err=True)) if common.is_main() else None
        runs = compare(G, name, methods=chosen, attributes=names, t_values=t_values, n_eval=n, progress=say,
                       n_candidates=candidates, samples=samples, trajectory_config=TrajectoryConfig(n_trajectories=trajectories))  # fmt: skip
        table = out.commit(lambda tmp: write_comparison(runs, name, tmp))
    if common.is_main():
        click.echo(table, nl=False)
        click.echo(f"wrote {output.rstrip('/')}/")


@main.command("evaluate-model", help=EVALUATE_MODEL_HELP, short_help="Disentanglement metrics of a testbed model.")
@model_option(help="A testbed model that reads its codes back from images: the VAEs (encoder), the InfoGANs (Q).")
@click.option("--preset", type=click.Choice(["default", "fast"]), default="default",
              help="default: disentanglement_lib's sample counts; fast: 5-20x fewer, under a minute.")
@seed_option(0, "Seed of the metrics' samples.")
@click.option("--dci-estimator", type=click.Choice(["gbt", "forest"]), default="gbt", show_default=True,
              help="DCI's importance estimator: gbt = disentanglement_lib's gradient-boosted trees (the reference); "
                   "forest = a random forest, tens of times faster (values differ: docs/evaluate.md).")  # fmt: skip
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Processes for DCI's per-factor classifiers [default: the CPU cores].")
@device_option
@force_option("Replace an existing JSON output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON here.")
def evaluate_model_cmd(model, preset, seed, dci_estimator, jobs, device, force, output) -> None:
    import contextlib

    from latentnav import io
    from latentnav._version import __version__
    from latentnav.metrics.disentanglement import evaluate_model, metrics_markdown

    inputs = [common.model_input(model)]
    dev = common.device(device)
    out = (io.OutputFiles([output], force=force, inputs=inputs, suffixes=(".json",), what="the figures")
           if output is not None else contextlib.nullcontext())  # fmt: skip
    with out:
        G = common.load(model, dev)
        result = evaluate_model(G, preset=preset, seed=seed, dci_estimator=dci_estimator, n_jobs=jobs,
                                progress=lambda message: click.echo(message, err=True))  # fmt: skip
        if output is not None:
            record = {"model": G.name, "preset": preset, "seed": seed, "dci_estimator": dci_estimator,
                      "latentnav_version": __version__, **result}  # fmt: skip
            out.commit(lambda paths: paths[0].write_text(json.dumps(record, indent=2, default=float)))
    click.echo(metrics_markdown({model: result}), nl=False)
