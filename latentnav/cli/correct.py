"""``latentnav correct``: remove what a direction drags along (SC2GAN-style)."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from latentnav.cli import common
from latentnav.cli.app import main, warn
from latentnav.cli.options import (
    DIRECTION_HELP,
    correct_options,
    device_option,
    direction_file_options,
    force_option,
    model_option,
    seed_option,
    take,
)
from latentnav.cli.parse import parse_layers

CORRECT_HELP = """Remove what a direction drags along (SC2GAN-style): synthesize rare combinations, invert, re-fit.

Writes OUT (the corrected direction, calibrated in the attribute's units), OUT's .json sidecar,
OUT.projection.safetensors (InterFaceGAN's orthogonal projection, the baseline), OUT.report.json
(before / projection / after: attribute change per unit step and leakage; samples made and kept;
inversion error) and OUT.grids.png (rows: base, projection, corrected).

Under torchrun each process synthesizes and inverts its block of the low-density samples (same result
as one process); only rank 0 writes files.

\b
Example:
  latentnav discover --model bvae-dsprites-corr --transform shift-x -o runs/x
  latentnav correct --model bvae-dsprites-corr --direction runs/x/direction.safetensors \\
      --attribute pos_x --against pos_y -o runs/x-corrected.safetensors
  torchrun --nproc_per_node=8 -m latentnav correct --model bvae-dsprites-corr \\
      --direction runs/x/direction.safetensors --attribute pos_x --against pos_y -o runs/x-corrected.safetensors
  latentnav correct --model my-stylegan2 --direction runs/x-wplus/direction.safetensors \\
      --attribute pos_x --against pos_y --layers 0-3 -o runs/x-wplus-corrected.safetensors
"""


@main.command("correct", help=CORRECT_HELP, short_help="Remove what a direction drags along (SC2GAN-style).")
@model_option()
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True,
              help="The direction to correct. " + DIRECTION_HELP)
@click.option("--attribute", required=True,
              help="The attribute the direction should change: a meter name (e.g. pos_x) or your scorer module:function.")
@click.option("--against", multiple=True, required=True,
              help="An attribute it should leave alone: a meter name or module:function (repeatable).")
@correct_options
@click.option("--layers", default=None,
              help="StyleGAN2 W+ directions: synthesize by taking these layers (e.g. 0-3) from samples that carry the "
                   "wanted attribute (SC2GAN's layer mixing) instead of the linear move.")  # fmt: skip
@click.option("--eval-n", type=click.IntRange(2, 100_000), default=500,
              help="Fresh latents (seeds from 50,000) on which the report judges base, projection and corrected, each "
                   "calibrated and moved by -0.1 .. +0.1 of the attribute.")  # fmt: skip
@direction_file_options
@seed_option(0, "First seed of the scored latents.")
@device_option
@force_option("Replace existing output files (never the input direction).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Corrected direction (.safetensors).")
def correct_cmd(model, direction_path, attribute, against, layers, eval_n, space, component, seed, device, force, output,
                **options) -> None:  # fmt: skip
    from latentnav import io, runs
    from latentnav.correction.config import CorrectConfig
    from latentnav.directions import load_direction
    from latentnav.measure import get_meter

    out = Path(output)
    io.check_suffix(out, (".safetensors",), "the corrected direction")
    for name in (attribute, *against):
        get_meter(name)  # unknown names and scorer modules, before any loading
    config = take(options, CorrectConfig, layers=parse_layers(layers), seed=seed)
    inputs = [common.model_input(model), direction_path, Path(direction_path).with_suffix(".json")]
    d = load_direction(direction_path, space=space, component=component)
    dev = common.launch(device)
    with common.output_files(_outputs(out), force, inputs, what="the corrected direction") as files:
        G = common.load(model, dev)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the command prints its own warning: line
            run = runs.correct_direction(G, d, attribute, against, config, eval_n=eval_n)
        if common.is_main():  # after the last collective: rank 0 writes
            files.commit(run.write)
    if common.is_main():
        lines = run.summary()
        click.echo(f"wrote {output} ({lines[0]})")
        for line in lines[1:]:
            click.echo(line)
        if run.warning:
            warn(run.warning)


def _outputs(out: Path) -> list[Path]:
    """OUT, OUT.projection.safetensors, OUT.report.json, OUT.grids.png, and the two directions' .json sidecars."""
    extras = [out.with_name(out.stem + suffix) for suffix in (".projection.safetensors", ".report.json", ".grids.png")]
    return [out, *extras, out.with_suffix(".json"), extras[0].with_suffix(".json")]
