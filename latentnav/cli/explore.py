"""``latentnav explore``: a local page with one slider per direction; the image follows as a slider is dragged."""

from __future__ import annotations

import click

from latentnav.cli import common
from latentnav.cli.app import main, warn
from latentnav.cli.options import DIRECTION_HELP, device_option, direction_file_options, model_option

EXPLORE_HELP = """Serve a local page to explore a model: the image for a seed (type one, or "random"), one slider
per direction in its own units (t through the calibration g; alpha, raw steps along u, for a plain vector),
relative moves (by t) or absolute ones (to t), a reset, and the figures each direction's record measured.

It prints the page's address and serves until Ctrl-C. It listens on 127.0.0.1 (this machine only) unless
--host says otherwise; the page has no authentication, so give --host 0.0.0.0 (every interface) only on a
network you trust. Needs the explore extra: pip install 'latentnav[explore]'.

\b
Example:
  latentnav explore --direction runs/shift-x/direction.safetensors --direction runs/shift-y/direction.safetensors
  latentnav explore --model dcgan-digiface --direction ganspace.npz --space z --component 2 --port 8800
  latentnav explore --model bvae-dsprites
"""

#: what ``latentnav explore`` says when Starlette or uvicorn is missing
EXTRA_MISSING = "latentnav explore needs the explore extra: pip install 'latentnav[explore]'"


@main.command(help=EXPLORE_HELP, short_help="A local page with a slider per direction.")
@model_option()
@click.option("--direction", "directions", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help=DIRECTION_HELP + " Repeatable: one slider each.")  # fmt: skip
@direction_file_options
@click.option("--host", default="127.0.0.1",
              help="Address to listen on; any but a loopback one (127.0.0.1, ::1, localhost) serves the page, without "
                   "authentication, to the network.")  # fmt: skip
@click.option("--port", type=click.IntRange(0, 65535), default=8765, help="Port to listen on (0: a free one).")
@device_option
@click.option("--threads", type=click.IntRange(1, 256), default=1,
              help="CPU threads for torch: one image at a time answers fastest with one on a busy machine; more for a "
                   "large model.")  # fmt: skip
def explore(model, directions, space, component, host, port, device, threads) -> None:  # fmt: skip
    _require_extra()
    from latentnav.directions import load_direction
    from latentnav.explore import explorer, serve

    common.model_input(model)
    loaded = [load_direction(path, space=space, component=component) for path in directions]
    named = dict(zip(explorer.direction_names(directions), loaded))
    explorer.check_made_for(named, model)
    latent_space = explorer.latent_space(loaded)
    dev = common.device(device)
    sock = serve.bind(host, port)
    _set_threads(threads)
    with sock:
        if serve.is_public(sock):
            warn(f"listening on {host}, beyond this machine: the page has no authentication; anyone who can reach "
                 f"{serve.url(sock)} can use it")  # fmt: skip
        app = _app(model, dev, latent_space, named, sock)
        click.echo(f"latentnav explore: {serve.url(sock)} ({model}, {len(loaded)} direction"
                   f"{'s' if len(loaded) != 1 else ''}; Ctrl-C stops it)")  # fmt: skip
        stopped = serve.serve(app, sock)
    click.echo(f"stopped ({stopped or 'shut down'})")


def _app(model: str, dev, space: str, directions: dict, sock):
    """Load the generator and build the app (its directions checked against it)."""
    from latentnav.explore import serve
    from latentnav.explore.app import make_app

    G = common.load(model, dev, space)
    return make_app(G, directions, public=serve.is_public(sock))


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _require_extra() -> None:
    """One line when the explore extra (Starlette, uvicorn) is not installed."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise click.UsageError(EXTRA_MISSING) from None
