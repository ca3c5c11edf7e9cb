"""``latentnav sample`` and ``latentnav traverse``: pictures from a generator, and along a direction."""

from __future__ import annotations

from pathlib import Path

import click

from latentnav.cli import common
from latentnav.cli.app import main
from latentnav.cli.options import (
    DIRECTION_HELP,
    device_option,
    direction_file_options,
    extrapolate_option,
    force_option,
    model_option,
)
from latentnav.cli.parse import Seeds, parse_range, parse_seeds, parse_t_dist

SAMPLE_HELP = """Sample images from a generator into a grid, or into a folder with one PNG per seed.

With --direction and --t-dist, each sample's factor is set to a draw from the distribution (the
paper's output-distribution shaping); each sample's draw comes from its own seed.

\b
Example:
  latentnav sample --model bvae-dsprites --seeds 0-15 -o samples.png
  latentnav sample --model dcgan-digiface -n 10000 -o faces/
  latentnav sample --direction runs/shift-x/direction.safetensors --t-dist uniform:-0.2,0.2 -o shaped.png
"""

TRAVERSE_HELP = """Images along a direction: one row per seed, one column per step (labelled with its t or alpha).

\b
Example:
  latentnav traverse --direction runs/shift-x/direction.safetensors --seeds 0-7 --t -0.2,0.2 -o grid.png
  latentnav traverse --direction boundary.npy --space z --alpha -3,3 -o grid.png
  latentnav traverse --direction ganspace.npz --space w --component 2 --alpha -3,3 -o grid.png
"""


@main.command(help=SAMPLE_HELP, short_help="Sample images into a grid or a folder of PNGs.")
@model_option()
@click.option("-n", type=click.IntRange(1), default=16, help="Number of samples (seeds 0..n-1) unless --seeds.")
@click.option("--seeds", default=None, help="Seeds, e.g. 0-7,12 (one image per seed).")
@device_option
@click.option("--upscale", type=click.IntRange(1, 16), default=2, help="Nearest-neighbour upscaling of the grid.")
@click.option("--direction", type=click.Path(dir_okay=False), default=None,
              help="Shape the output distribution along this calibrated direction (with --t-dist).")
@click.option("--t-dist", default=None, help="Distribution of the factor: uniform:LO,HI or normal:MEAN,STD (transform units).")
@direction_file_options
@extrapolate_option
@force_option("Replace an existing output.")
@click.option("-o", "--output", default="samples.png",
              help=f"A picture (.png, .jpg, ...) holding a grid of at most {common.MAX_GRID_IMAGES} images, or a folder "
                   "(ending in /, or without extension): one PNG per seed, rendered in chunks.")
def sample(model, n, seeds, device, upscale, direction, t_dist, space, component, extrapolate, force,
           output) -> None:  # fmt: skip
    from latentnav import io

    seed_list = parse_seeds(seeds) if seeds is not None else Seeds([range(n)])
    if (direction is None) != (t_dist is None):
        raise click.UsageError("--direction and --t-dist go together")
    draw = parse_t_dist(t_dist) if t_dist is not None else None
    folder = common.to_folder(output)
    if not folder:
        common.check_grid(len(seed_list), upscale=upscale)
    inputs = [common.model_input(model), direction]
    d = _shaping_direction(direction, space, component, draw, extrapolate)
    dev = common.device(device)
    out = (io.RunDir(output, force=force, inputs=inputs, command="sample") if folder
           else io.OutputFiles([output], force=force, inputs=inputs, suffixes=io.IMAGE_SUFFIXES, what="a grid"))  # fmt: skip
    with out:
        G = common.load(model, dev)
        if d is not None:
            d.check_compatible(G)
        _write_samples(out, G, seed_list, d, draw, upscale, folder)
    click.echo(f"wrote {output} ({len(seed_list)} samples of {model})")


def _shaping_direction(path: str | None, space: str | None, component: int | None, draw, extrapolate: bool):
    """The --direction of ``sample``, checked: calibrated, and --t-dist within its range."""
    if path is None:
        return None
    from latentnav.directions import load_direction

    d = load_direction(path, space=space, component=component)
    if not d.calibrated:
        raise click.UsageError(f"{path} has no calibration, so --t-dist has no units; calibrate it first "
                               "(latentnav evaluate --target ...)")  # fmt: skip
    d.check_steps(t=draw.bounds, extrapolate=extrapolate)
    return d


def _write_samples(out, G, seeds: Seeds, d, draw, upscale: int, folder: bool) -> None:
    """Render into a folder of PNGs (in chunks) or one grid picture."""
    import torch
    from tqdm.auto import tqdm

    from latentnav import runs, viz

    if folder:
        bar = tqdm(total=len(seeds), unit="image", desc="sampling", disable=len(seeds) <= 256)
        out.commit(lambda tmp: runs.write_samples(tmp, G, seeds, direction=d, t_of=draw, progress=bar.update))
        bar.close()
        return
    common.check_grid(len(seeds), G.img_resolution, upscale)
    images = torch.cat([im for _, im in runs.sample_images(G, seeds, direction=d, t_of=draw)])
    out.commit(lambda paths: viz.save_image(viz.grid(images, upscale=upscale), paths[0]))


@main.command("traverse", help=TRAVERSE_HELP, short_help="Images along a direction, one row per seed.")
@model_option()
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True,
              help=DIRECTION_HELP)
@click.option("--seeds", default="0-7", help="Seeds of the starting latents, e.g. 0-7,12.")
@click.option("--t", "t_range", default=None, help="LO,HI in transform units (through g).")
@click.option("--alpha", "alpha_range", default=None, help="LO,HI raw steps along u (instead of --t).")
@click.option("--steps", type=click.IntRange(2, 256), default=9, help="Steps between LO and HI.")
@click.option("--mode", type=click.Choice(["relative", "absolute"]), default="relative",
              help="relative: move each image by t; absolute: set the factor to t.")
@direction_file_options
@extrapolate_option
@device_option
@click.option("--gif", type=click.Path(dir_okay=False), default=None, help="Also write an animated GIF.")
@force_option("Replace existing output files.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="traverse.png", help="Output picture (.png, .jpg, ...).")
def traverse_cmd(model, direction_path, seeds, t_range, alpha_range, steps, mode, space, component, extrapolate, device,
                 gif, force, output) -> None:  # fmt: skip
    import numpy as np

    from latentnav import io, runs, viz

    if t_range is not None and alpha_range is not None:
        raise click.UsageError("give --t or --alpha, not both")
    if mode == "absolute" and alpha_range is not None:
        raise click.UsageError("--mode absolute sets the factor to t: give --t, not --alpha (raw steps are relative)")
    seed_list = parse_seeds(seeds)
    common.check_grid(len(seed_list) * steps)
    io.check_suffix(Path(output), io.IMAGE_SUFFIXES, "the grid")
    if gif:
        io.check_suffix(Path(gif), (".gif",), "the animation")
    inputs = [common.model_input(model), direction_path]
    d, t_lohi, alpha_lohi = _checked_steps(direction_path, (space, component), t_range, alpha_range, extrapolate)
    dev = common.device(device)
    with io.OutputFiles([output, *([gif] if gif else [])], force=force, inputs=inputs, what="the grid") as out:
        G = common.load(model, dev)
        d.check_compatible(G)
        common.check_grid(len(seed_list) * steps, G.img_resolution)
        t = np.linspace(*t_lohi, steps).tolist() if t_lohi else None
        alpha = np.linspace(*alpha_lohi, steps).tolist() if alpha_lohi else None
        images, columns, rows = runs.traversal(G, d, seed_list, t=t, alpha=alpha, mode=mode)
        out.commit(lambda paths: (viz.save_image(viz.traversal_grid(images, labels=columns, row_labels=rows), paths[0]),
                                  gif and viz.save_gif(images, paths[1])))  # fmt: skip
    click.echo(f"wrote {output}" + (f" and {gif}" if gif else ""))


def _checked_steps(path: str, where: tuple[str | None, int | None], t_range, alpha_range, extrapolate: bool):
    """The direction (``where`` = its --space and --component) and its steps (t or alpha), checked against its
    calibration and range."""
    from latentnav.directions import load_direction

    t_lohi = parse_range(t_range, "--t") if t_range is not None else None
    alpha_lohi = parse_range(alpha_range, "--alpha") if alpha_range is not None else None
    d = load_direction(path, space=where[0], component=where[1])
    if t_lohi is None and alpha_lohi is None:
        if not d.calibrated:
            raise click.UsageError("this direction has no calibration: give --alpha LO,HI")
        t_lohi = (-0.2, 0.2)
    if t_lohi is not None and not d.calibrated:
        raise click.UsageError("this direction has no calibration (a plain vector): give --alpha LO,HI raw steps")
    d.check_steps(t=t_lohi, alpha=alpha_lohi, extrapolate=extrapolate)
    return d, t_lohi, alpha_lohi
