"""``latentnav models`` and ``latentnav env``: what is installed, and where it would run."""

from __future__ import annotations

import json
import platform

import click

from latentnav._version import __version__
from latentnav.cli.app import main

MODELS_HELP = """List the models in the registry (checkpoints.yaml), their aliases, and whether their weights are here.

\b
Example:
  latentnav models
  latentnav models --json
"""


@main.command(help=MODELS_HELP, short_help="List the models, their aliases, and whether their weights are here.")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def models(as_json: bool) -> None:
    from latentnav.generators.registry import model_rows

    rows = model_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    cols = ["name", "aliases", "arch", "resolution", "z_dim", "source", "license", "available"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols} if rows else {c: len(c) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str("yes" if r[c] is True else "no" if r[c] is False else r[c]).ljust(widths[c]) for c in cols))


@main.command(short_help="Print versions and the device latentnav would use.")
@click.option("--device", default="auto", help="Device to resolve.")
def env(device: str) -> None:
    """Print versions and the device latentnav would use."""
    import numpy
    import torch

    from latentnav.devices import resolve_device

    lines = {
        "latentnav": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "torch": torch.__version__, "numpy": numpy.__version__, "cuda available": torch.cuda.is_available(),
        "device": str(resolve_device(device)), "threads": torch.get_num_threads(),
    }  # fmt: skip
    for k, v in lines.items():
        click.echo(f"{k:15s} {v}")
