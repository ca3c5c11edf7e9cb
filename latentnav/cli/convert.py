"""``latentnav convert``: a StyleGAN2 checkpoint as model.safetensors + config.json."""

from __future__ import annotations

import click

from latentnav.cli.app import main
from latentnav.cli.options import force_option, model_option, out_dir_option

CONVERT_HELP = """Convert a StyleGAN2 checkpoint into model.safetensors + config.json (fast, safe reloading).

Reads NVlabs pickles (without running their code), NVlabs-named state dicts with config.json and
rosinality .pt files; the output loads with --model DIR.

\b
Example:
  latentnav convert --model stylegan2-ffhq-1024 -o models/ffhq-1024
  latentnav convert --model network-snapshot-001000.pkl -o models/mine
  latentnav discover --model models/mine --transform zoom --space w -o runs/zoom
"""


@main.command(help=CONVERT_HELP, short_help="Convert a StyleGAN2 checkpoint into safetensors + config.json.")
@model_option(None, "Registry name or a StyleGAN2 file (.pkl, .pt, .safetensors + config.json).")
@force_option("Replace an earlier output of latentnav convert.")
@out_dir_option()
def convert(model: str, force: bool, output: str) -> None:
    from latentnav import io
    from latentnav.generators import stylegan2

    source = stylegan2.convert_source(model)
    with io.RunDir(output, force=force, inputs=[source.path], command="convert") as run:
        run.commit(lambda tmp: stylegan2.convert(source.fetch(), tmp, name=model))
    click.echo(f"wrote {output.rstrip('/')}/model.safetensors and {output.rstrip('/')}/config.json")
