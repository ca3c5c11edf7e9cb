"""What several commands do before the work: check a model name, the device, the outputs; join a torchrun run."""

from __future__ import annotations

from pathlib import Path

import click

#: the most images one grid picture holds (more: write a folder, one PNG per seed)
MAX_GRID_IMAGES = 1024
#: the most pixels one grid picture holds after upscaling
MAX_GRID_PIXELS = 1 << 27


def model_input(model: str) -> Path | None:
    """Check a model name before anything is loaded: a registry name or alias (``None``) or an existing path
    (returned, as one of the run's inputs).

    Raises:
        UnknownNameError: neither (lists the known names).
    """
    from latentnav.generators.registry import default_registry

    registry = default_registry()
    if model in registry:
        return None
    path = Path(model).expanduser()
    if not model.strip() or not path.exists():
        from latentnav.errors import UnknownNameError

        raise UnknownNameError("model", model, list(registry), " (or give the path of a checkpoint file or directory)")
    return path


def check_grid(n_images: int, resolution: int | None = None, upscale: int = 2) -> None:
    """Refuse a grid picture too large to hold in memory or to look at (before anything is rendered)."""
    if n_images > MAX_GRID_IMAGES:
        raise click.UsageError(f"{n_images} images are too many for one grid picture (at most {MAX_GRID_IMAGES}); "
                               "write them to a folder instead (-o DIR/), one PNG per seed")  # fmt: skip
    if resolution is not None and n_images * (resolution * upscale) ** 2 > MAX_GRID_PIXELS:
        raise click.UsageError(f"a grid of {n_images} images of {resolution} px at --upscale {upscale} would have "
                               f"{n_images * (resolution * upscale) ** 2:,} pixels (at most {MAX_GRID_PIXELS:,}); "
                               "lower --upscale, use fewer seeds, or write a folder (-o DIR/)")  # fmt: skip


def to_folder(output: str) -> bool:
    """Whether ``-o`` names a folder: it ends in ``/``, is an existing directory, or has no extension."""
    return output.endswith(("/", "\\")) or Path(output).is_dir() or Path(output).suffix == ""


def device(name: str):
    """The device, checked before any work (one line when this machine does not have it)."""
    from latentnav.devices import resolve_device

    return resolve_device(name)


def launch(name: str):
    """Join a torchrun run if there is one (:func:`latentnav.distributed.setup`); the device this rank uses."""
    from latentnav import distributed

    return distributed.setup(name)


def is_main() -> bool:
    """Whether this process writes (rank 0, or the only process)."""
    from latentnav import distributed

    return distributed.world().is_main


def run_dir(path: str, force: bool, inputs, command: str):
    """The run directory, checked on rank 0 (its error raised on every rank); the other ranks write nothing."""
    from latentnav import distributed, io

    made: list = []
    distributed.on_main(lambda: made.append(io.RunDir(path, force=force, inputs=inputs, command=command)))
    return made[0] if made else io.RunDir(path, active=False)


def output_files(paths, force: bool, inputs, **kwargs):
    """Single output files, checked on rank 0 (its error raised on every rank); the other ranks write nothing."""
    from latentnav import distributed, io

    made: list = []
    distributed.on_main(lambda: made.append(io.OutputFiles(paths, force=force, inputs=inputs, **kwargs)))
    return made[0] if made else io.OutputFiles(paths, active=False)


def load(model: str, dev, space: str = "z"):
    """Load the generator and check it has ``space``."""
    from latentnav.generators.registry import load_generator

    G = load_generator(model, device=dev)
    if space not in G.latent_spaces:
        from latentnav.errors import UnknownNameError

        raise UnknownNameError("latent space", space, G.latent_spaces, f" (of {G.name})")
    return G


def check_transforms_fit(model: str, names) -> None:
    """Refuse colour-only transforms on a registry model of grey images before it is loaded (the registry knows
    its channels; a model given by path is checked once loaded)."""
    from latentnav.generators.registry import default_registry
    from latentnav.measure.transforms import get_transform

    registry = default_registry()
    if model not in registry:
        return
    spec = registry[model]
    for name in names:
        tf = get_transform(name)
        if tf.rgb_only and spec.img_channels != 3:
            from latentnav.errors import BadInputError

            raise BadInputError(f"{tf.name} needs RGB images; {spec.name} makes {spec.img_channels}-channel ones")
