"""``latentnav export``: a direction as a plain ``.npy`` vector for other tools."""

from __future__ import annotations

import click

from latentnav.cli.app import main
from latentnav.cli.options import DIRECTION_HELP, direction_file_options, force_option

EXPORT_HELP = """Write a direction's unit vector u as a plain .npy file (float32, [D]) for other tools.

The .npy holds u only: the model, latent space and calibration stay in latentnav's own file. Any
direction latentnav reads can be exported, GANSpace and closed-form components included. Read it
back with --direction OUT.npy --space SPACE.

\b
Example:
  latentnav export --direction runs/shift-x/direction.safetensors -o shift-x.npy
  latentnav export --direction ganspace.npz --space w --component 3 -o pc3.npy
"""


@main.command(help=EXPORT_HELP, short_help="Write a direction as a plain .npy vector for other tools.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True, help=DIRECTION_HELP)
@direction_file_options
@force_option("Replace an existing output file (never the input direction).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output vector (.npy).")
def export(direction_path: str, space: str | None, component: int | None, force: bool, output: str) -> None:
    from pathlib import Path

    from latentnav import io
    from latentnav.directions import export_npy, load_direction

    io.check_suffix(Path(output), (".npy",), "the exported vector")
    d = load_direction(direction_path, space=space, component=component)
    export_npy(d, output, force=force, inputs=[direction_path])
    note = "; its calibration g is not in a .npy" if d.calibrated else ""
    click.echo(f"wrote {output} (u of {d.space}[{d.dim}]{note})")
