"""The ``latentnav`` command line: a thin layer that parses, calls the API and writes artifacts.

Errors a user can cause end with a one-line ``error: ...`` message and a non-zero exit
(2 for unknown names and bad usage, 1 otherwise).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from latentnav._version import __version__
from latentnav.errors import LatentnavError
from latentnav.methods import METHODS

if TYPE_CHECKING:
    import torch


#: the largest seed accepted (torch and numpy take 63-bit seeds)
MAX_SEED = 2**63 - 1


class Seeds(Sequence[int]):
    """Seeds as written (``0-7,12``): a few ranges, expanded only while they are iterated.

    ``--seeds 0-100000000`` costs three integers, not a list of a hundred million.
    """

    def __init__(self, ranges: Sequence[range]) -> None:
        self.ranges = tuple(ranges)

    def __len__(self) -> int:
        return sum(len(r) for r in self.ranges)

    def __iter__(self) -> Iterator[int]:
        for r in self.ranges:
            yield from r

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[k] for k in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        for r in self.ranges:
            if 0 <= index < len(r):
                return r[index]
            index -= len(r)
        raise IndexError("seed index out of range")

    def chunks(self, size: int) -> Iterator[list[int]]:
        """The seeds in lists of at most ``size``."""
        block: list[int] = []
        for s in self:
            block.append(s)
            if len(block) == size:
                yield block
                block = []
        if block:
            yield block

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Seeds):
            return self.ranges == other.ranges or list(self) == list(other)
        if isinstance(other, (list, tuple, range)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return ",".join(f"{r.start}-{r.stop - 1}" if len(r) > 1 else str(r.start) for r in self.ranges)


def parse_seeds(text: str, what: str = "seeds", param_hint: str = "--seeds") -> Seeds:
    """Parse ``"0-7,12"`` into :class:`Seeds` (0, 1, ..., 7, 12): non-negative integers and ranges LO-HI."""
    ranges = []
    example = "0-7,12" if what == "seeds" else "0-3,8"
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            shown = f"{text!r}" if text.strip() else "nothing"
            raise click.BadParameter(f"expected {what} as non-negative integers and ranges like {example}, got {shown}",
                                     param_hint=param_hint)  # fmt: skip
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            raise click.BadParameter(f"the range {part} runs backwards; write it as {b}-{a}", param_hint=param_hint)
        if b > MAX_SEED:
            raise click.BadParameter(f"{what} must be at most {MAX_SEED}, got {b}", param_hint=param_hint)
        ranges.append(range(a, b + 1))
    return Seeds(ranges)


def parse_t_dist(text: str) -> Callable[[Sequence[int]], torch.Tensor]:
    """``uniform:LO,HI`` or ``normal:MEAN,STD`` as a function of the seeds: one draw per seed, from that seed
    alone (so sample k gets the same value whatever else is drawn). ``draw.bounds``: the range the draws
    stay in (a normal's mean +- 3 std)."""
    kind, _, args = text.partition(":")
    try:
        a, b = (float(v) for v in args.split(","))
    except ValueError:
        raise click.BadParameter(f"expected uniform:LO,HI or normal:MEAN,STD, got {text!r}", param_hint="--t-dist") from None
    ok = math.isfinite(a) and math.isfinite(b) and ((kind == "uniform" and b > a) or (kind == "normal" and b > 0))
    if not ok:
        raise click.BadParameter(f"expected uniform:LO,HI with LO < HI or normal:MEAN,STD with STD > 0, got {text!r}",
                                 param_hint="--t-dist")  # fmt: skip

    def draw(seeds: Sequence[int]):
        import numpy as np
        import torch

        values = []
        for seed in seeds:  # the salt keeps this draw apart from the latent drawn from the same seed
            rng = np.random.default_rng([int(seed), 0x7D157])
            values.append(rng.uniform(a, b) if kind == "uniform" else rng.normal(a, b))
        return torch.tensor(values, dtype=torch.float32)

    draw.bounds = (a, b) if kind == "uniform" else (a - 3 * b, a + 3 * b)  # type: ignore[attr-defined]
    return draw


def parse_range(text: str, name: str) -> tuple[float, float]:
    """Parse ``"LO,HI"`` (finite numbers, LO < HI)."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LO,HI (e.g. -0.2,0.2), got {text!r}", param_hint=name) from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise click.BadParameter(f"expected finite LO < HI (e.g. -0.2,0.2), got {text!r}", param_hint=name)
    return lo, hi


class RegistryChoice(click.Choice):
    """A ``click.Choice`` of a registry's names, read when the command runs (so what a user registered counts)."""

    def __init__(self, registry) -> None:
        self.registry = registry
        super().__init__(list(registry))

    @property
    def choices(self):  # type: ignore[override]
        return tuple(self.registry)

    @choices.setter
    def choices(self, value) -> None:
        pass


class FloatRange(click.FloatRange):
    """click's ``FloatRange`` that also refuses NaN and infinities (which pass its comparisons)."""

    def convert(self, value, param, ctx):
        if isinstance(value, str) and not math.isfinite(float(value) if _is_float(value) else 0.0):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return super().convert(value, param, ctx)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


#: errors of the machine, not of latentnav, that a user fixes (disk full, read-only, permissions)
_ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


class _Group(click.Group):
    """Turns user errors raised inside commands into one line on stderr and an exit code.

    Only latentnav's own errors (:class:`~latentnav.errors.LatentnavError`), click's usage errors, a full or
    read-only disk and Ctrl-C (exit 130) become one line; anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as err:  # usage errors, BadParameter: one line, exit 2
            _fail(err.format_message(), err.exit_code)
        except LatentnavError as err:
            _fail(str(err), err.exit_code, reported_by_main=type(err).__name__ == "RankError")
        except KeyboardInterrupt:
            _fail("interrupted (Ctrl-C); nothing was written except what the lines above say", 130)
        except OSError as err:
            if err.errno not in _ENVIRONMENT_ERRNOS:
                raise
            _fail(f"{err.strerror}: {err.filename}" if err.filename else str(err), 1)
        finally:
            if "latentnav.distributed" in sys.modules:  # only commands that ran data-parallel imported it
                sys.modules["latentnav.distributed"].teardown()


def _fail(message: str, code: int, reported_by_main: bool = False) -> None:
    """Print ``error: message`` (once per run: an error every rank raised is printed by rank 0) and exit."""
    message = " ".join(str(message).split("\n")).strip() or "failed"
    w = sys.modules["latentnav.distributed"].world() if "latentnav.distributed" in sys.modules else None
    if w is None or not w.distributed:
        click.echo(f"error: {message}", err=True)
    elif reported_by_main:  # every rank raised it: rank 0 prints, and the others wait for that before exiting
        if w.is_main:
            click.echo(f"error: {message}", err=True)
        sys.modules["latentnav.distributed"].barrier()
    else:
        click.echo(f"error: rank {w.rank} of {w.size}: {message}", err=True)
    sys.exit(code)


def _warn(message: str) -> None:
    """A ``warning: ...`` line on stderr (a run that worked badly says so)."""
    click.echo(f"warning: {message}", err=True)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="latentnav")
def main() -> None:
    """latentnav: controllable directions in the latent spaces of pretrained generators."""


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def models(as_json: bool) -> None:
    """List the models in the registry (checkpoints.yaml) and whether their weights are here.

    \b
    Example:
      latentnav models
      latentnav models --json
    """
    from latentnav.generators import hub
    from latentnav.generators.registry import default_registry

    reg = default_registry()
    rows = []
    for spec in reg.values():
        rows.append({
            "name": spec.name, "aliases": ",".join(spec.aliases), "arch": spec.arch, "resolution": spec.img_resolution,
            "channels": spec.img_channels,
            "z_dim": spec.z_dim, "source": spec.source.describe(), "license": spec.license,
            "available": hub.is_available(spec), "description": spec.description,
        })  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    cols = ["name", "aliases", "arch", "resolution", "z_dim", "source", "license", "available"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols} if rows else {c: len(c) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(str("yes" if r[c] is True else "no" if r[c] is False else r[c]).ljust(widths[c]) for c in cols))


#: the most images one grid picture holds (more: write a folder, one PNG per seed)
MAX_GRID_IMAGES = 1024
#: the most pixels one grid picture holds after upscaling
MAX_GRID_PIXELS = 1 << 27


def _model_input(model: str) -> Path | None:
    """Check a model name before anything is loaded: a registry name (``None``) or an existing path (returned,
    as one of the run's inputs)."""
    from latentnav.generators.registry import default_registry

    registry = default_registry()
    if model in registry:
        return None
    path = Path(model).expanduser()
    if not path.exists():
        from latentnav.errors import UnknownNameError

        raise UnknownNameError("model", model, list(registry), " (or give the path of a checkpoint file or directory)")
    return path


def _check_grid(n_images: int, resolution: int | None = None, upscale: int = 2) -> None:
    """Refuse a grid picture too large to hold in memory or to look at (before anything is rendered)."""
    if n_images > MAX_GRID_IMAGES:
        raise click.UsageError(f"{n_images} images are too many for one grid picture (at most {MAX_GRID_IMAGES}); "
                               "write them to a folder instead (-o DIR/), one PNG per seed")  # fmt: skip
    if resolution is not None and n_images * (resolution * upscale) ** 2 > MAX_GRID_PIXELS:
        raise click.UsageError(f"a grid of {n_images} images of {resolution} px at --upscale {upscale} would have "
                               f"{n_images * (resolution * upscale) ** 2:,} pixels (at most {MAX_GRID_PIXELS:,}); "
                               "lower --upscale, use fewer seeds, or write a folder (-o DIR/)")  # fmt: skip


def _to_folder(output: str) -> bool:
    """Whether ``-o`` names a folder: it ends in ``/``, is an existing directory, or has no extension."""
    return output.endswith(("/", "\\")) or Path(output).is_dir() or Path(output).suffix == ""


@main.command()
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("-n", type=click.IntRange(1), default=16, help="Number of samples (seeds 0..n-1) unless --seeds.")
@click.option("--seeds", default=None, help="Seeds, e.g. 0-7,12 (one image per seed).")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--upscale", type=click.IntRange(1, 16), default=2, help="Nearest-neighbour upscaling of the grid.")
@click.option("--direction", type=click.Path(dir_okay=False), default=None,
              help="Shape the output distribution along this direction (with --t-dist).")
@click.option("--t-dist", default=None, help="Distribution of the factor: uniform:LO,HI or normal:MEAN,STD (transform units).")
@click.option("--extrapolate", is_flag=True, help="Allow --t-dist beyond the direction's documented range.")
@click.option("--force", is_flag=True, help="Replace an existing output.")
@click.option("-o", "--output", default="samples.png",
              help=f"A picture (.png, .jpg, ...) holding a grid of at most {MAX_GRID_IMAGES} images, or a folder "
                   "(ending in /, or without extension): one PNG per seed, rendered in chunks.")
def sample(model: str, n: int, seeds: str | None, device: str, upscale: int, direction: str | None,
           t_dist: str | None, extrapolate: bool, force: bool, output: str) -> None:  # fmt: skip
    """Sample images from a generator into a grid, or into a folder with one PNG per seed.

    With --direction and --t-dist, each sample's factor is set to a draw from the distribution (the
    paper's output-distribution shaping); each sample's draw comes from its own seed.

    \b
    Example:
      latentnav sample --model bvae-dsprites --seeds 0-15 -o samples.png
      latentnav sample --model dcgan-digiface -n 10000 -o faces/
      latentnav sample --model bvae-dsprites --direction run/direction.safetensors --t-dist uniform:-0.2,0.2
    """
    from latentnav import io

    seed_list = parse_seeds(seeds) if seeds is not None else Seeds([range(n)])
    if (direction is None) != (t_dist is None):
        raise click.UsageError("--direction and --t-dist go together")
    draw = parse_t_dist(t_dist) if t_dist is not None else None
    folder = _to_folder(output)
    if not folder:
        _check_grid(len(seed_list), upscale=upscale)
    model_input = _model_input(model)
    d = None
    if direction is not None:
        from latentnav.directions import load_direction

        d = load_direction(direction)
        if not d.calibrated:
            raise click.UsageError(f"{direction} has no calibration, so --t-dist has no units; calibrate it first "
                                   "(latentnav evaluate --target ...)")  # fmt: skip
        d.check_steps(t=draw.bounds, extrapolate=extrapolate)
    device = _device(device)
    inputs = [model_input, direction]
    out = (io.RunDir(output, force=force, inputs=inputs, command="sample") if folder
           else io.OutputFiles([output], force=force, inputs=inputs, suffixes=io.IMAGE_SUFFIXES, what="a grid"))  # fmt: skip
    with out:
        _sample_into(out, model, device, seed_list, d, draw, upscale, folder)
    click.echo(f"wrote {output} ({len(seed_list)} samples of {model})")


def _sample_into(out, model: str, device, seeds: Seeds, d, draw, upscale: int, folder: bool) -> None:
    """Render ``seeds`` in chunks of the generator's batch size into a grid picture or a folder of PNGs."""
    import torch
    from tqdm.auto import tqdm

    from latentnav import viz
    from latentnav.generators.registry import load_generator

    G = load_generator(model, device=device)
    space = "z"
    if d is not None:
        d.check_compatible(G)
        space = d.space
    if not folder:
        _check_grid(len(seeds), G.img_resolution, upscale)

    def render(chunk: list[int]) -> torch.Tensor:
        z = G.sample_latent(chunk, space)
        if d is not None:
            z = z + (d.alpha_for(draw(chunk)) - d.project(z))[:, None] * d.u
        with torch.no_grad():
            return G(z.view(-1, *G.latent_shape(space)), space=space)

    bar = tqdm(total=len(seeds), unit="image", desc="sampling", disable=len(seeds) <= 256)
    if folder:
        def write(tmp: Path) -> None:
            for chunk in seeds.chunks(G.batch_size):
                viz.save_images(render(chunk), [tmp / f"seed{s:04d}.png" for s in chunk])
                bar.update(len(chunk))

        out.commit(write)
    else:
        images = torch.cat([render(chunk) for chunk in seeds.chunks(G.batch_size)])
        out.commit(lambda paths: viz.save_image(viz.grid(images, upscale=upscale), paths[0]))
    bar.close()


@main.command()
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


def _launch(device: str):
    """Join a torchrun run if there is one (:func:`latentnav.distributed.setup`); the device this rank uses."""
    from latentnav import distributed

    return distributed.setup(device)


def _is_main() -> bool:
    from latentnav import distributed

    return distributed.world().is_main


def _device(device: str):
    """The device, checked before any work (one line when this machine does not have it)."""
    from latentnav.devices import resolve_device

    return resolve_device(device)


def _run_dir(path: str, force: bool, inputs, command: str):
    """The run directory, checked on rank 0 (its error raised on every rank); the other ranks write nothing."""
    from latentnav import distributed, io

    made: list = []
    distributed.on_main(lambda: made.append(io.RunDir(path, force=force, inputs=inputs, command=command)))
    return made[0] if made else io.RunDir(path, active=False)


def _output_files(paths, force: bool, inputs, **kwargs):
    """Single output files, checked on rank 0 (its error raised on every rank); the other ranks write nothing."""
    from latentnav import distributed, io

    made: list = []
    distributed.on_main(lambda: made.append(io.OutputFiles(paths, force=force, inputs=inputs, **kwargs)))
    return made[0] if made else io.OutputFiles(paths, active=False)


@main.command()
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--transform", "-t", "transform", default=None,
              help="shift-x, shift-y, zoom, zoom-object, rotate, brightness, contrast, hue (the trajectory method).")
@click.option("--method", type=RegistryChoice(METHODS), default="trajectory",
              help="How to find the direction.")
@click.option("--attribute", default=None,
              help="ganspace/sefa: pick the component that moves this meter (pos_x, pos_y, scale, brightness, hue, or a scorer module:function) "
                   "and calibrate it; interfacegan: the attribute to separate.")
@click.option("--scorer", default=None, help="interfacegan: your scorer module:function (images [N,C,H,W] -> [N]).")
@click.option("--component", type=click.IntRange(0), default=0, help="ganspace/sefa without --attribute: the component saved.")
@click.option("--components", type=click.IntRange(1), default=10, help="ganspace/sefa: components computed.")
@click.option("--samples", type=click.IntRange(2), default=10_000, help="ganspace/interfacegan: latents sampled.")
@click.option("--ratio", type=FloatRange(0, 0.5, min_open=True), default=0.02,
              help="interfacegan: top and bottom fraction of the samples used.")
@click.option("--layers", default=None, help="ganspace/sefa on StyleGAN2: W+ layers, e.g. 0-3.")
@click.option("--feature", default="auto", help="ganspace: module of G.net analysed ('latent' = the latent itself).")
@click.option("--condition", "conditions", multiple=True, type=click.Path(dir_okay=False),
              help="interfacegan: a direction file to keep unchanged (repeatable).")
@click.option("--transforms", default=None,
              help="Batch: several transforms, e.g. shift-x,zoom,brightness (one direction each, DIR/<transform>/).")
@click.option("--classes", default=None,
              help="Batch, class-conditional models: classes, e.g. 0-999 (one direction per class and transform).")
@click.option("--trajectories", type=click.IntRange(1), default=64, help="Number of starting latents.")
@click.option("--max-t", type=FloatRange(0, min_open=True), default=None, help="Largest |t| followed (default: the transform's range).")
@click.option("--steps", type=click.IntRange(1), default=4, help="Targets per sign between 0 and max-t.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=0.05, help="Adam learning rate on z.")
@click.option("--max-iters", type=click.IntRange(1), default=15, help="Iteration cap per target.")
@click.option("--sigma", type=FloatRange(0, min_open=True), default=None, help="Low-pass width of the Fourier loss in pixels (default 3 px at 128 px).")
@click.option("--loss", type=click.Choice(["fourier", "mse"]), default="fourier", help="Fit loss.")
@click.option("--schedule", type=click.Choice(["default", "paper"]), default="default",
              help="paper: the reference code's settings (overrides the optimiser flags).")
@click.option("--calibration", type=click.Choice(["achieved", "trajectories", "matched"]), default="achieved",
              help="Fit g on the trajectories with the t each fit reached (read back by matching), with the "
                   "requested t (paper eq. 6), or on renders along u matched to the transform.")
@click.option("--space", default="z", help="Latent space: z, or w / w+ for StyleGAN2 (see `latentnav models`).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="First seed of the starting latents.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def discover(model, transform, method, attribute, scorer, component, components, samples, ratio, layers, feature,
             conditions, transforms, classes, trajectories, max_t, steps, lr, max_iters, sigma, loss, schedule,
             calibration, space, seed, device, force, output) -> None:  # fmt: skip
    """Discover a direction: a calibrated one that performs an image transform (trajectory, Plumerault et al.
    2020), or with GANSpace, SeFa or InterFaceGAN.

    Writes DIR/direction.safetensors (+ .json), config.json, metrics.json, traverse.png and traverse.gif;
    the trajectory method adds trajectories.npz, GANSpace and SeFa add components/ (every component) and
    components.png. A batch (--transforms, --classes) writes DIR/<job>/direction.safetensors per job,
    DIR/jobs.json and DIR/config.json.

    Under torchrun the sampling-heavy stages run data-parallel (same result as one process); a batch
    spreads whole jobs over the processes. Only rank 0 writes files.

    \b
    Example:
      latentnav discover --model bvae-dsprites --transform shift-x -o runs/shift-x
      latentnav discover --model dcgan-digiface --transform zoom --schedule paper -o runs/zoom-paper
      latentnav discover --model stylegan2-ffhq-1024 --transform shift-x --space w --device cuda -o runs/ffhq-shift-x
      latentnav discover --method sefa --attribute pos_x -o runs/sefa-x
      latentnav discover --method ganspace --components 5 -o runs/ganspace
      latentnav discover --method interfacegan --attribute scale -o runs/ifg-scale
      latentnav discover --method interfacegan --scorer my_scorers:smile --model dcgan-digiface -o runs/smile
      latentnav discover --transforms shift-x,zoom,brightness -o runs/all
      torchrun --nproc_per_node=8 -m latentnav discover --model biggan-deep-128 --classes 0-999 --transform zoom -o runs/zoom
    """
    from latentnav.measure.transforms import get_transform
    from latentnav.methods.trajectory.optimizer import config_dict

    if method != "trajectory":
        if transforms is not None or classes is not None:
            raise click.UsageError(f"--transforms and --classes belong to --method trajectory, not {method}")
        if transform is not None:
            from latentnav.measure import TRANSFORM_ATTRIBUTE

            hint = f" (for the attribute it changes: --attribute {TRANSFORM_ATTRIBUTE[transform]})" if transform in TRANSFORM_ATTRIBUTE else ""
            raise click.UsageError(f"--transform belongs to --method trajectory, not {method}{hint}")
        _discover_with(method, model=model, attribute=attribute, scorer=scorer, component=component,
                       components=components, samples=samples, ratio=ratio, layers=layers, feature=feature,
                       conditions=conditions, space=space, seed=seed, device=device, force=force, output=output)  # fmt: skip
        return
    for flag, value in (("--attribute", attribute), ("--scorer", scorer), ("--condition", conditions or None)):
        if value is not None:
            raise click.UsageError(f"{flag} belongs to --method ganspace, sefa or interfacegan, not trajectory")
    config = _trajectory_config(trajectories=trajectories, max_t=max_t, n_steps=steps, lr=lr, max_iters=max_iters,
                                sigma=sigma, loss=loss, schedule=schedule, seed=seed, calibration=calibration)  # fmt: skip
    if transforms is not None or classes is not None:
        if transform is not None and transforms is not None:
            raise click.UsageError("give --transform or --transforms, not both")
        names = parse_names(transforms) if transforms is not None else [transform] if transform else []
        if not names:
            raise click.UsageError("a batch needs --transforms A,B (or --transform with --classes)")
        for name in names:
            get_transform(name)
        class_list = None if classes is None else parse_seeds(classes, "classes", "--classes")
        if class_list is not None and len(class_list) > 100_000:
            raise click.BadParameter(f"{len(class_list):,} classes are more than any model has", param_hint="--classes")
        _discover_batch(model=model, transforms=names, classes=None if class_list is None else list(class_list),
                        config=config, space=space, device=device, force=force, output=output)  # fmt: skip
        return
    if transform is None:
        raise click.UsageError("--method trajectory needs --transform (shift-x, shift-y, zoom, zoom-object, rotate, brightness, contrast, hue)")
    tf = get_transform(transform)
    if max_t is not None and max_t > tf.max_t:
        raise click.BadParameter(f"{tf.name}: max_t={max_t} is outside the transform's range (|t| <= {tf.max_t:.4g}, "
                                 f"{tf.unit})", param_hint="--max-t")  # fmt: skip
    import time

    t0 = time.perf_counter()
    model_input = _model_input(model)
    device = _launch(device)
    with _run_dir(output, force, [model_input], "discover") as run:
        G = _load_for(model, device, space)
        direction, traj = _discover_one(G, tf, config, space)
        metrics = _discovery_metrics(direction)
        run.commit(lambda tmp: _write_discovery(tmp, G, direction, traj, tf, config, {
            "command": "discover", "model": model, "transform": tf.name, "method": method, "space": space,
            "device": str(device), "latentnav_version": __version__, "trajectory": config_dict(config),
            "processes": _processes()}, metrics, t0))  # fmt: skip
    if _is_main():
        _report_discovery(output, metrics)


def _trajectory_config(trajectories: int, **fields):
    """A :class:`~latentnav.methods.trajectory.optimizer.TrajectoryConfig` from the CLI's flags (its complaints as usage errors)."""
    from latentnav.methods.trajectory.optimizer import TrajectoryConfig

    return TrajectoryConfig(n_trajectories=trajectories, **fields)


def _discover_one(G, tf, config, space):
    """:func:`latentnav.methods.trajectory.discover.discover` with the trajectories (warnings go to the CLI's own lines)."""
    import warnings

    from latentnav.methods.trajectory.discover import discover as run_discover

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CLI prints its own warning: line from meta["control"]
        return run_discover(G, tf, config, space=space, return_trajectories=True)


def _discovery_metrics(direction) -> dict:
    """What ``metrics.json`` records of a trajectory discovery (every key is documented in docs/outputs.md)."""
    keys = ("fit_r2", "calibration_r2", "achieved_over_requested", "generator_evals", "trajectory_seconds",
            "mean_final_loss", "fits", "fits_kept", "control")  # fmt: skip
    return {k: direction.meta[k] for k in keys if k in direction.meta}


def _write_discovery(tmp: Path, G, direction, traj, tf, config, cfg: dict, metrics: dict, t0: float) -> None:
    """Everything ``latentnav discover -o DIR`` writes, into ``tmp``."""
    import time

    import numpy as np

    from latentnav import viz
    from latentnav.directions import traverse

    direction.save(tmp / "direction.safetensors")
    np.savez(tmp / "trajectories.npz", **traj.to_numpy())
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2))
    max_show = config.max_t if config.max_t is not None else tf.default_max_t
    t_show = np.linspace(-max_show, max_show, 9)
    images = traverse(G, direction, G.sample_latent(range(10_000, 10_006), direction.space), t=t_show.tolist())
    viz.save_image(viz.traversal_grid(images), tmp / "traverse.png")
    viz.save_gif(images, tmp / "traverse.gif")
    metrics["wall_seconds"] = round(time.perf_counter() - t0, 3)
    (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))


def _report_discovery(output: str, metrics: dict) -> None:
    """The closing line of a discovery, and a ``warning:`` line when its control is weak."""
    control = metrics.get("control")
    said = f"fit R^2 {metrics['fit_r2']:.3f}" if "fit_r2" in metrics else ""
    if control is not None and control.get("r2") is not None:
        said += (f"{'; ' if said else ''}control on {control['n_latents']} fresh latents: R^2 {control['r2']:.3f}, "
                 f"slope {control['slope']:.2f}")  # fmt: skip
    click.echo(f"wrote {output.rstrip('/')}/ ({said}; {metrics['generator_evals']:,} generator evaluations, "
               f"{metrics['wall_seconds']:.1f} s)")  # fmt: skip
    if control is not None and control.get("warning"):
        _warn(f"{control['warning']} ({output.rstrip('/')}/traverse.png)")


def _processes() -> int:
    """How many processes the run had (1 without torchrun)."""
    from latentnav import distributed

    return distributed.world().size


def _load_for(model: str, device, space: str):
    """Load the generator and check it has ``space``."""
    from latentnav.generators.registry import load_generator

    G = load_generator(model, device=device)
    if space not in G.latent_spaces:
        from latentnav.errors import UnknownNameError

        raise UnknownNameError("latent space", space, G.latent_spaces, f" (of {G.name})")
    return G


def _discover_batch(*, model, transforms, classes, config, space, device, force, output) -> None:
    """``latentnav discover --transforms A,B --classes 0-999``: one direction per (class, transform) job."""
    import time

    from tqdm.auto import tqdm

    from latentnav import distributed
    from latentnav.methods.trajectory.discover import Job, check_jobs, discover_jobs
    from latentnav.methods.trajectory.optimizer import config_dict

    jobs = [Job(tf, c) for c in (classes if classes is not None else [None]) for tf in transforms]
    t0 = time.perf_counter()
    model_input = _model_input(model)
    device = _launch(device)
    with _run_dir(output, force, [model_input], "discover") as run:
        G = _load_for(model, device, space)
        check_jobs(G, jobs)
        w = distributed.world()
        bar = tqdm(total=len(distributed.shard(jobs, w)), disable=not w.is_main, unit="job",
                   desc="directions" + (f" (rank 0 of {w.size})" if w.distributed else ""))  # fmt: skip
        directions = discover_jobs(G, jobs, config, space=space, progress=lambda job: bar.update(1))
        bar.close()
        rows = [{"job": job.name, "transform": job.transform, "class_index": job.class_index,
                 **_discovery_metrics(d)} for job, d in zip(jobs, directions)]  # fmt: skip

        def write(tmp: Path) -> None:
            for job, d in zip(jobs, directions):
                (tmp / job.name).mkdir()
                d.save(tmp / job.name / "direction.safetensors")
            (tmp / "jobs.json").write_text(json.dumps(rows, indent=2))
            (tmp / "config.json").write_text(json.dumps({
                "command": "discover", "model": model, "transforms": transforms, "classes": classes,
                "method": "trajectory", "space": space, "device": str(device), "latentnav_version": __version__,
                "trajectory": config_dict(config), "processes": w.size,
                "wall_seconds": round(time.perf_counter() - t0, 3)}, indent=2))  # fmt: skip

        run.commit(write)
    if w.is_main:
        click.echo(f"wrote {output.rstrip('/')}/ ({len(jobs)} directions on {w.size} process{'es' if w.size > 1 else ''}, "
                   f"{time.perf_counter() - t0:.1f} s)")  # fmt: skip
        weak = [row["job"] for row in rows if (row.get("control") or {}).get("weak")]
        if weak:
            _warn(f"weak control (R^2 below 0.8 or slope far from 1 on fresh latents) in {len(weak)} of {len(rows)} "
                  f"directions: {', '.join(weak[:10])}{' ...' if len(weak) > 10 else ''}; see jobs.json")  # fmt: skip


def parse_layers(text: str | None) -> list[int] | None:
    """Parse ``"0-3,8"`` into ``[0, 1, 2, 3, 8]`` (``None`` stays ``None``)."""
    if text is None:
        return None
    layers = parse_seeds(text, "layers", "--layers")
    if len(layers) > 4096:
        raise click.BadParameter(f"{len(layers):,} layers are more than any model has", param_hint="--layers")
    return list(layers)


def _discover_with(method, *, model, attribute, scorer, component, components, samples, ratio, layers, feature,
                   conditions, space, seed, device, force, output) -> None:  # fmt: skip
    """``latentnav discover --method ganspace|sefa|interfacegan``."""
    import time

    from latentnav.directions import load_direction
    from latentnav.measure import get_meter, load_scorer
    from latentnav.methods.find import find_direction

    t0 = time.perf_counter()
    scorer_fn = load_scorer(scorer) if scorer else None
    if attribute is not None:
        get_meter(attribute)  # the name, before any loading
    layer_list = parse_layers(layers)
    conds = [load_direction(c) for c in conditions]
    model_input = _model_input(model)
    device = _launch(device)
    with _run_dir(output, force, [model_input, *conditions], "discover") as run:
        G = _load_for(model, device, space)
        if attribute is not None:
            get_meter(attribute, G)
        for c in conds:
            c.check_compatible(G, space)
        direction, candidates, info = find_direction(
            G, method, space=space, attribute=attribute, scorer=scorer_fn, scorer_name=scorer or "scorer",
            component=component, n_components=components, n_samples=samples, ratio=ratio, layers=layer_list,
            feature=None if feature == "latent" else feature, conditions=conds, seed=seed)  # fmt: skip
        info["control"] = _method_control(G, direction, attribute)
        if info["control"] is not None:
            direction.meta["control"] = info["control"]
        config = {"command": "discover", "model": model, "method": method, "space": space, "attribute": attribute,
                  "scorer": scorer, "component": component, "components": components, "samples": samples,
                  "ratio": ratio, "layers": layers, "feature": feature, "conditions": list(conditions), "seed": seed,
                  "device": str(device), "latentnav_version": __version__, "processes": _processes()}  # fmt: skip
        run.commit(lambda tmp: _write_method_run(tmp, G, direction, candidates, info, config, t0))
    if not _is_main():
        return
    what = f"{method} direction" + (f" for {info['attribute']}" if info.get("attribute") else f" (component {info.get('choice', 0)})")
    control = info["control"]
    said = (f"control on {control['n_latents']} fresh latents: R^2 {control['r2']:.3f}, slope {control['slope']:.2f}; "
            if control and control.get("r2") is not None else "")  # fmt: skip
    click.echo(f"wrote {output.rstrip('/')}/ ({what}, {said}{info['generator_evals']:,} generator evaluations, "
               f"{info['seconds']:.1f} s)")  # fmt: skip
    if control is None:
        _warn("this direction is uncalibrated (raw steps along a component): its control was not measured; give "
              "--attribute NAME to pick and calibrate a component, or measure it with latentnav evaluate")  # fmt: skip
    elif control.get("warning"):
        _warn(f"{control['warning']} ({output.rstrip('/')}/traverse.png)")


def _method_control(G, direction, attribute: str | None) -> dict | None:
    """The achieved control of a meter-calibrated direction on fresh latents, or ``None`` (uncalibrated)."""
    if not direction.calibrated or attribute is None:
        return None
    from latentnav.measure import get_meter
    from latentnav.metrics.control import measure_control

    meter = get_meter(attribute, G)
    reach = 30.0 if meter.name == "hue" else 0.15
    return measure_control(G, direction, meter=meter, max_t=reach)


def _write_method_run(tmp: Path, G, direction, candidates, info: dict, config: dict, t0: float) -> None:
    """Everything ``latentnav discover --method ganspace|sefa|interfacegan -o DIR`` writes, into ``tmp``."""
    import time

    import numpy as np
    import torch

    from latentnav import viz
    from latentnav.directions import traverse

    direction.save(tmp / "direction.safetensors")
    (tmp / "config.json").write_text(json.dumps(config, indent=2))
    seeds = G.sample_latent(range(10_000, 10_006), direction.space)
    if direction.calibrated:
        reach = 30.0 if direction.transform == "hue" else 0.15
        images = traverse(G, direction, seeds, t=np.linspace(-reach, reach, 9).tolist())
    else:
        images = traverse(G, direction, seeds, alpha=np.linspace(-3, 3, 9).tolist())
    viz.save_image(viz.traversal_grid(images), tmp / "traverse.png")
    viz.save_gif(images, tmp / "traverse.gif")
    if candidates:
        (tmp / "components").mkdir()
        rows = []
        for k, d in enumerate(candidates):
            d.save(tmp / "components" / f"{k:02d}.safetensors")
            rows.append(traverse(G, d, seeds[:1], alpha=np.linspace(-3, 3, 9).tolist())[:, 0])
        viz.save_image(viz.traversal_grid(torch.stack(rows, dim=1)), tmp / "components.png")
    info["wall_seconds"] = round(time.perf_counter() - t0, 3)
    (tmp / "metrics.json").write_text(json.dumps(info, indent=2, default=float))


@main.command("traverse")
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True,
              help="A direction file (.safetensors, or .npy with --space).")
@click.option("--seeds", default="0-7", help="Seeds of the starting latents, e.g. 0-7,12.")
@click.option("--t", "t_range", default=None, help="LO,HI in transform units (through g).")
@click.option("--alpha", "alpha_range", default=None, help="LO,HI raw steps along u (instead of --t).")
@click.option("--steps", type=click.IntRange(2, 256), default=9, help="Steps between LO and HI.")
@click.option("--mode", type=click.Choice(["relative", "absolute"]), default="relative",
              help="relative: move each image by t; absolute: set the factor to t.")
@click.option("--space", default=None, help="Latent space of a .npy direction.")
@click.option("--extrapolate", is_flag=True,
              help="Allow t beyond the transform's documented range, or raw steps far beyond the prior.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--gif", type=click.Path(dir_okay=False), default=None, help="Also write an animated GIF.")
@click.option("--force", is_flag=True, help="Replace existing output files.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="traverse.png", help="Output picture (.png, .jpg, ...).")
def traverse_cmd(model, direction_path, seeds, t_range, alpha_range, steps, mode, space, extrapolate, device, gif, force,
                 output) -> None:  # fmt: skip
    """Images along a direction: one row per seed, one column per step.

    \b
    Example:
      latentnav traverse --direction runs/shift-x/direction.safetensors --seeds 0-7 --t -0.2,0.2 -o grid.png
      latentnav traverse --direction boundary.npy --space z --alpha -3,3 -o grid.png
    """
    import numpy as np

    from latentnav import io, viz
    from latentnav.directions import load_direction, traverse

    if t_range is not None and alpha_range is not None:
        raise click.UsageError("give --t or --alpha, not both")
    seed_list = parse_seeds(seeds)
    _check_grid(len(seed_list) * steps)
    t_lohi = parse_range(t_range, "--t") if t_range is not None else None
    alpha_lohi = parse_range(alpha_range, "--alpha") if alpha_range is not None else None
    if gif:
        io.check_suffix(Path(gif), (".gif",), "the animation")
    model_input = _model_input(model)
    d = load_direction(direction_path, space=space)
    if t_lohi is None and alpha_lohi is None:
        if not d.calibrated:
            raise click.UsageError("this direction has no calibration: give --alpha LO,HI")
        t_lohi = (-0.2, 0.2)
    if t_lohi is not None and not d.calibrated:
        raise click.UsageError("this direction has no calibration (a plain vector): give --alpha LO,HI raw steps")
    d.check_steps(t=t_lohi, alpha=alpha_lohi, extrapolate=extrapolate)
    device = _device(device)
    with io.OutputFiles([output, *([gif] if gif else [])], force=force, inputs=[model_input, direction_path],
                        suffixes=None, what="the grid") as out:  # fmt: skip
        from latentnav.generators.registry import load_generator

        G = load_generator(model, device=device)
        d.check_compatible(G)
        _check_grid(len(seed_list) * steps, G.img_resolution)
        z = G.sample_latent(list(seed_list), d.space)
        if t_lohi is not None:
            images = traverse(G, d, z, t=np.linspace(*t_lohi, steps).tolist(), mode=mode)
        else:
            images = traverse(G, d, z, alpha=np.linspace(*alpha_lohi, steps).tolist())

        def write(paths: list[Path]) -> None:
            viz.save_image(viz.traversal_grid(images), paths[0])
            if gif:
                viz.save_gif(images, paths[1])

        out.commit(write)
    click.echo(f"wrote {output}" + (f" and {gif}" if gif else ""))


@main.command()
@click.option("--model", "-m", required=True, help="Registry name or a StyleGAN2 file (.pkl, .pt, .safetensors + config.json).")
@click.option("--force", is_flag=True, help="Replace an earlier output of latentnav convert.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def convert(model: str, force: bool, output: str) -> None:
    """Convert a StyleGAN2 checkpoint into model.safetensors + config.json (fast, safe reloading).

    Reads NVlabs pickles (without running their code), NVlabs-named state dicts with config.json and
    rosinality .pt files; the output loads with --model DIR.

    \b
    Example:
      latentnav convert --model stylegan2-ffhq-1024 -o models/ffhq-1024
      latentnav convert --model network-snapshot-001000.pkl -o models/mine
      latentnav discover --model models/mine --transform zoom --space w -o runs/zoom
    """
    from latentnav import io
    from latentnav.generators import hub, stylegan2
    from latentnav.generators.registry import default_registry

    reg = default_registry()
    if model in reg:
        spec = reg[model]
        if spec.arch != stylegan2.ARCH:
            raise click.UsageError(f"latentnav convert reads StyleGAN2 models; {model} is a {spec.arch} model")
        path = None
    else:
        path = Path(model).expanduser()
        if not path.exists():
            from latentnav.errors import UnknownNameError

            known = [n for n, s in reg.items() if s.arch == stylegan2.ARCH]
            raise UnknownNameError("model", model, known, " (or give the path of a StyleGAN2 file)")
    with io.RunDir(output, force=force, inputs=[path], command="convert") as run:
        if path is None:
            (path,) = hub.fetch(spec)
        run.commit(lambda tmp: stylegan2.convert(path, tmp, name=model))
    click.echo(f"wrote {output.rstrip('/')}/model.safetensors and {output.rstrip('/')}/config.json")


def parse_names(text: str | None) -> list[str] | None:
    """Parse ``"pos_x,pos_y"`` into a list (``None`` stays ``None``)."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


@main.command("evaluate")
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), default=None,
              help="A direction file (.safetensors, or .npy with --space).")
@click.option("--code", default=None, help="Instead of a file: one of the model's own codes, z<k> (latent axis k) or an InfoGAN code (cont0).")
@click.option("--target", default=None, help="Attribute it should change: a meter name or your scorer module:function (default: the one its transform changes).")
@click.option("--attributes", default=None, help="Attributes measured for leakage, e.g. pos_x,pos_y,scale or my_scorers:smile (default: all that apply).")
@click.option("--t", "t_range", default=None, help="LO,HI requested change in the target's units (default -0.15,0.15; hue -30,30).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("-n", type=click.IntRange(2), default=50, help="Fresh latents.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=50_000, help="First seed of the fresh latents.")
@click.option("--space", default=None, help="Latent space of a .npy direction.")
@click.option("--extrapolate", is_flag=True, help="Allow --t beyond the transform's documented range.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an earlier latentnav run directory there.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def evaluate_cmd(model, direction_path, code, target, attributes, t_range, steps, n, seed, space, extrapolate, device,
                 force, output) -> None:  # fmt: skip
    """Measure how well a direction controls its attribute and what else it moves.

    Steerability (achieved vs requested change: R^2, slope, usable range, spread per step), the leakage
    row (change of every attribute per unit change of the target), MI control metrics and the control
    report (relative and absolute mode). A direction without a calibration in the target's units is first
    calibrated with the target's meter. Writes DIR/metrics.json, report.md, steerability.png, leakage.png.

    \b
    Example:
      latentnav evaluate --direction runs/shift-x/direction.safetensors -o runs/shift-x-eval
      latentnav evaluate --direction runs/sefa/direction.safetensors --target scale -o runs/sefa-eval
      latentnav evaluate --direction boundary.npy --space z --target pos_x --attributes pos_x,pos_y -o runs/npy-eval
      latentnav evaluate --model infogan-dsprites --code cont0 --target pos_x -o runs/code-eval
    """
    import numpy as np

    from latentnav.directions import code_direction, load_direction
    from latentnav.evaluate import evaluate_direction, write_evaluation
    from latentnav.measure import get_meter

    if (direction_path is None) == (code is None):
        raise click.UsageError("give either --direction FILE or --code NAME")
    t_values = None
    if t_range is not None:
        t_values = np.linspace(*parse_range(t_range, "--t"), steps)
    names = parse_names(attributes)
    for name in [target, *(names or [])]:
        if name is not None:
            get_meter(name)  # unknown names and scorer modules, before any loading
    model_input = _model_input(model)
    d = load_direction(direction_path, space=space) if direction_path is not None else None
    if d is not None and t_values is not None and d.calibrated and (target is None or _same_units(d, target)):
        d.check_steps(t=(float(t_values[0]), float(t_values[-1])), extrapolate=extrapolate)
    device = _launch(device)
    with _run_dir(output, force, [model_input, direction_path], "evaluate") as run:
        from latentnav.generators.registry import load_generator

        G = load_generator(model, device=device)
        if d is None:
            d = code_direction(G, code)
        ev = evaluate_direction(G, d, target=target, attributes=names, t_values=t_values, n=n, seed=seed)
        run.commit(lambda tmp: write_evaluation(ev, tmp))
    if not _is_main():
        return
    s = ev.metrics["steerability"]
    click.echo(f"wrote {output.rstrip('/')}/ ({ev.target}: R^2 {s['r2']:.3f}, slope {s['slope']:.3f}, spread {s['spread']:.4f}, "
               f"MI {ev.metrics['mi']['mi_target']:.2f}; {n} fresh latents from seed {seed})")  # fmt: skip
    from latentnav.metrics.control import MIN_R2, SLOPE_RANGE

    if not (s["r2"] >= MIN_R2 and SLOPE_RANGE[0] <= s["slope"] <= SLOPE_RANGE[1]):
        _warn(f"weak control of {ev.target}: R^2 {s['r2']:.2f}, slope {s['slope']:.2f} of what was asked (weak: R^2 "
              f"below {MIN_R2} or a slope outside {SLOPE_RANGE[0]}-{SLOPE_RANGE[1]}); see report.md")  # fmt: skip


def _same_units(d, target: str) -> bool:
    """Whether ``target`` is the attribute ``d``'s calibration already measures (so --t is in its units)."""
    from latentnav.measure import TRANSFORM_ATTRIBUTE

    return TRANSFORM_ATTRIBUTE.get(target, target) == TRANSFORM_ATTRIBUTE.get(d.transform, d.transform)


@main.command("compare")
@click.option("--model", "-m", default="bvae-dsprites", help="Registry name or checkpoint path.")
@click.option("--target", required=True, help="A transform (shift-x, shift-y, zoom, brightness, hue), the attribute it changes, or your scorer module:function.")
@click.option("--methods", default=None, help="Comma-separated subset of trajectory,ganspace,sefa,interfacegan (default: all).")
@click.option("--attributes", default=None, help="Attributes measured for leakage: meter names or module:function scorers (default: all that apply).")
@click.option("--t", "t_range", default=None, help="LO,HI requested change (default -0.15,0.15; hue -30,30).")
@click.option("--steps", type=click.IntRange(2), default=9, help="Steps between LO and HI.")
@click.option("-n", type=click.IntRange(2), default=50, help="Fresh latents for the evaluation.")
@click.option("--candidates", type=click.IntRange(1), default=10, help="GANSpace/SeFa components considered.")
@click.option("--samples", type=click.IntRange(2), default=10_000, help="GANSpace/InterFaceGAN latents sampled.")
@click.option("--trajectories", type=click.IntRange(1), default=64, help="Trajectory method: starting latents.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing output directory.")
@click.option("-o", "--output", type=click.Path(file_okay=False), required=True, help="Output directory.")
def compare_cmd(model, target, methods, attributes, t_range, steps, n, candidates, samples, trajectories, device, force,
                output) -> None:  # fmt: skip
    """Run every method that applies, pick each one's best direction for the target, and compare them.

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
    import numpy as np

    from latentnav.evaluate import compare, write_comparison
    from latentnav.measure import get_meter
    from latentnav.methods import METHODS
    from latentnav.methods.trajectory.optimizer import TrajectoryConfig

    chosen = parse_names(methods)
    if chosen is not None:
        unknown = [m for m in chosen if m not in METHODS]
        if unknown or not chosen:
            from latentnav.errors import UnknownNameError

            raise UnknownNameError("method", unknown[0] if unknown else "", METHODS)
    t_values = None
    if t_range is not None:
        t_values = np.linspace(*parse_range(t_range, "--t"), steps)
    names = parse_names(attributes)
    get_meter(target)
    for name in names or []:
        get_meter(name)
    model_input = _model_input(model)
    device = _launch(device)
    with _run_dir(output, force, [model_input], "compare") as run:
        from latentnav.generators.registry import load_generator

        G = load_generator(model, device=device)
        meter = get_meter(target, G)
        say = (lambda line: click.echo(line, err=True)) if _is_main() else None
        runs = compare(G, meter.name, methods=chosen, attributes=names, t_values=t_values, n_eval=n,
                       progress=say, n_candidates=candidates, ganspace_samples=samples, interfacegan_samples=samples,
                       trajectory_config=TrajectoryConfig(n_trajectories=trajectories))  # fmt: skip
        table = run.commit(lambda tmp: write_comparison(runs, meter.name, tmp))
    if not _is_main():
        return
    click.echo(table, nl=False)
    click.echo(f"wrote {output.rstrip('/')}/")


@main.command("evaluate-model")
@click.option("--model", "-m", default="bvae-dsprites",
              help="A testbed model that reads its codes back from images: the VAEs (encoder), the InfoGANs (Q).")
@click.option("--preset", type=click.Choice(["default", "fast"]), default="default",
              help="default: disentanglement_lib's sample counts; fast: about 10x fewer.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the metrics' samples.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace an existing JSON output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Also write the figures as JSON here.")
def evaluate_model_cmd(model, preset, seed, device, force, output) -> None:
    """Disentanglement metrics of a model with known factors: BetaVAE, FactorVAE, MIG, SAP, DCI, total correlation.

    Codes are a VAE's encoder means (the two-code VAE: z1 and z2 together) or an InfoGAN's Q read-out of
    renders of the dSprites grid at the model's resolution (colour dSprites, with colour as a factor, for
    RGB models); the definitions and default sample counts are disentanglement_lib's (see docs/evaluate.md,
    "Metrics: what each number means"). Takes several minutes per model with the default preset on a CPU.

    \b
    Example:
      latentnav evaluate-model --model bvae-dsprites-b4
      latentnav evaluate-model --model bvae-dsprites-b1 --preset fast -o b1-metrics.json
      latentnav evaluate-model --model infogan-dsprites --preset fast
    """
    import contextlib

    from latentnav import io
    from latentnav.generators.registry import load_generator
    from latentnav.metrics.disentanglement import evaluate_model, metrics_markdown

    model_input = _model_input(model)
    device = _device(device)
    out = (io.OutputFiles([output], force=force, inputs=[model_input], suffixes=(".json",), what="the figures")
           if output is not None else contextlib.nullcontext())  # fmt: skip
    with out:
        G = load_generator(model, device=device)
        result = evaluate_model(G, preset=preset, seed=seed, progress=lambda name: click.echo(f"{name} ...", err=True))
        if output is not None:
            record = {"model": model, "preset": preset, "seed": seed, "latentnav_version": __version__, **result}
            out.commit(lambda paths: paths[0].write_text(json.dumps(record, indent=2, default=float)))
    click.echo(metrics_markdown({model: result}), nl=False)


@main.group()
def train() -> None:
    """Train the generators latentnav ships (beta-VAE family)."""


@train.command("bvae")
@click.option("--beta", type=FloatRange(0), default=4.0, help="KL weight (beta-VAE objective).")
@click.option("--steps", type=click.IntRange(1), default=30000, help="Optimizer steps.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Images per step.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@click.option("--z-dim", type=click.IntRange(1), default=10, help="Number of latents.")
@click.option("--correlate", default=None, help="Couple two factors in the training data, A:B:RHO (e.g. pos_x:pos_y:0.8).")
@click.option("--capacity", type=FloatRange(0), default=None, help="Capacity objective: target KL in nats (Burgess et al.).")
@click.option("--capacity-steps", type=click.IntRange(1), default=20000, help="Steps over which the capacity grows.")
@click.option("--gamma", type=FloatRange(0), default=100.0, help="Weight of |KL - C| (capacity objective).")
@click.option("--tc-weight", type=FloatRange(0), default=None,
              help="Weight of the total correlation (beta-TCVAE: loss = recon + beta (KL - TC) + tc_weight TC).")
@click.option("--tc-warmup", type=click.IntRange(0), default=0, help="Steps over which the TC weight rises from beta to --tc-weight.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--force", is_flag=True, help="Start afresh, replacing an existing model there (and its config, checkpoint, log).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_bvae(threads: int | None, force: bool, output: str, **fields) -> None:
    """Train a beta-VAE on procedurally rendered dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train bvae --beta 4 --steps 30000 --seed 0 -o bvae.safetensors
      latentnav train bvae --correlate pos_x:pos_y:0.8 -o bvae-corr.safetensors
      latentnav train bvae --beta 1 --tc-weight 6 --tc-warmup 2000 --steps 10000 -o tcvae.safetensors   # beta-TCVAE
    """
    from latentnav.train.bvae import RESUMABLE_CHANGES, BVAEConfig
    from latentnav.train.bvae import train as run

    _run_training("train bvae", BVAEConfig(**fields), run, RESUMABLE_CHANGES, output, threads, force)


@train.command("cmivae")
@click.option("--specified", default="colour", help="The factor z2 carries (colour, shape, scale, orientation, pos_x, pos_y).")
@click.option("--z1-dim", type=click.IntRange(1), default=8, help="Coordinates of the complementary code z1.")
@click.option("--z2-dim", type=click.IntRange(1), default=3, help="Coordinates of the specified code z2.")
@click.option("--beta", type=FloatRange(0), default=1.0, help="KL weight of both codes.")
@click.option("--mi-weight", type=FloatRange(0), default=10.0, help="Weight of the conditional-MI lower bounds.")
@click.option("--mi-warmup", type=click.IntRange(0), default=1000, help="Steps over which the MI weight rises from 0.")
@click.option("--label-weight", type=FloatRange(0), default=200.0, help="Weight of the specified factor's likelihood from z2.")
@click.option("--steps", type=click.IntRange(1), default=3000, help="Optimizer steps.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Images per step.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=1e-3, help="Adam learning rate.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--force", is_flag=True, help="Start afresh, replacing an existing model there (and its config, checkpoint, log).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_cmivae(threads: int | None, force: bool, output: str, **fields) -> None:
    """Train a two-code VAE with conditional-MI bounds on colour dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train cmivae --specified colour --steps 3000 -o cmivae-colour.safetensors
    """
    from latentnav.train.cmivae import RESUMABLE_CHANGES, CMIVAEConfig
    from latentnav.train.cmivae import train as run

    _run_training("train cmivae", CMIVAEConfig(**fields), run, RESUMABLE_CHANGES, output, threads, force)



@train.command("infogan")
@click.option("--codes", default="cat:3,cont:4", help="Control codes: cat:K (K values) and cont:N (N continuous), comma-separated.")
@click.option("--data", default="dsprites", help="Training data: dsprites (1 channel) or colour (colour dSprites, 3 channels).")
@click.option("--noise-dim", type=click.IntRange(1), default=8, help="Incompressible noise coordinates.")
@click.option("--info-weight", type=FloatRange(0), default=1.0, help="Weight of the codes' NLL under Q (InfoGAN's lambda).")
@click.option("--resolution", type=click.Choice(["32", "64"]), default="32", help="Image side in pixels.")
@click.option("--steps", type=click.IntRange(1), default=4000, help="Steps (one D and one G update each).")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="Seed of the weights and the data stream.")
@click.option("--batch-size", type=click.IntRange(1), default=64, help="Real and fake images per step.")
@click.option("--lr", type=FloatRange(0, min_open=True), default=2e-4, help="Adam learning rate.")
@click.option("--checkpoint-every", type=click.IntRange(1), default=500, help="Steps between checkpoints.")
@click.option("--threads", type=click.IntRange(1), default=None, help="CPU threads for torch (default: torch's choice).")
@click.option("--force", is_flag=True, help="Start afresh, replacing an existing model there (and its config, checkpoint, log).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Output .safetensors.")
def train_infogan(threads: int | None, force: bool, output: str, resolution: str, **fields) -> None:
    """Train a style-based InfoGAN on procedural dSprites or colour dSprites (resumes if interrupted).

    \b
    Example:
      latentnav train infogan --codes cat:3,cont:4 --steps 4000 -o infogan-dsprites.safetensors
      latentnav train infogan --data colour --codes cat:6,cont:4 -o infogan-colour.safetensors
    """
    from latentnav.train.infogan import RESUMABLE_CHANGES, InfoGANConfig
    from latentnav.train.infogan import train as run

    _run_training("train infogan", InfoGANConfig(resolution=int(resolution), **fields), run, RESUMABLE_CHANGES, output,
                  threads, force)  # fmt: skip

def _run_training(command: str, config, run, resumable, output: str, threads: int | None, force: bool) -> None:
    """Train into ``output`` without losing anything the user owns.

    Checked before anything is written: the name ends in .safetensors and its folder is writable; a training
    checkpoint there (``OUT.ckpt.pt``) is resumed only when it was written with the same settings (a refused
    resume changes no file); without a checkpoint, an existing model, config or log is replaced only with
    --force, which starts afresh. Another training into the same output at the same time is refused. Ctrl-C
    writes a checkpoint and says how to resume (exit 130).
    """
    import shlex

    import torch

    from latentnav import io
    from latentnav.errors import OutputError, OutputExistsError, TrainingInterrupted
    from latentnav.train import common

    out = Path(output).expanduser()
    io.check_suffix(out, (".safetensors",), "a model")
    io.check_writable_parent(out)
    cfg_path = out.with_name(out.stem + ".config.json")
    ours = [out, cfg_path, common.checkpoint_path(out), common.log_path(out)]
    for path in ours:
        if path.is_dir():
            raise OutputError(f"{path} is a directory; choose another -o")
    if force:
        resuming = False
    else:
        resuming = common.load_checkpoint(out, config, resumable) is not None
        if not resuming:
            there = [str(p) for p in ours if p.exists()]
            if there:
                raise OutputExistsError(f"{', '.join(there)} exist{'s' if len(there) == 1 else ''} (and no training "
                                        "checkpoint to resume); choose another -o or pass --force to start afresh")  # fmt: skip
    with io.exclusive(out):
        if force:
            for path in ours[2:]:  # the old run's training state and log: a fresh run starts from nothing
                path.unlink(missing_ok=True)
        if threads:
            torch.set_num_threads(threads)
        io.write_text(cfg_path, json.dumps({"command": command, **dataclasses.asdict(config)}, indent=2))
        try:
            path = run(config, out)
        except TrainingInterrupted as err:
            args = ["latentnav", *(a for a in sys.argv[1:] if a != "--force")]
            raise TrainingInterrupted(f"{err}: {shlex.join(args)}") from None
    click.echo(f"{'resumed and ' if resuming else ''}wrote {path}")


@main.command("correct")
@click.option("--model", "-m", default="bvae-dsprites-corr", help="Registry name or checkpoint path.")
@click.option("--direction", "direction_path", type=click.Path(dir_okay=False), required=True,
              help="The direction to correct (.safetensors, or .npy with --space).")
@click.option("--attribute", required=True,
              help="The attribute the direction should change: a meter name (e.g. pos_x) or your scorer module:function.")
@click.option("--against", multiple=True, required=True,
              help="An attribute it should leave alone: a meter name or module:function (repeatable).")
@click.option("--samples", type=click.IntRange(1), default=500, help="Low-density samples synthesized (at most).")
@click.option("--scored", type=click.IntRange(10), default=2000, help="Latents scored to estimate the joint density.")
@click.option("--offset", type=FloatRange(0, min_open=True), default=1.0,
              help="How far each is moved against the correlation, in standard deviations of the attribute.")
@click.option("--invert-steps", type=click.IntRange(1), default=150, help="Optimisation steps of the inversion.")
@click.option("--refit", type=click.Choice(["meters", "logistic"]), default="meters", show_default=True,
              help="Re-fit through the meters (moves A, holds B on all samples) or by a balanced logistic regression.")
@click.option("--fit-steps", type=click.IntRange(0), default=150, show_default=True,
              help="Optimisation steps of the Adam re-fit.")
@click.option("--fit-iterations", type=click.IntRange(0), default=20, show_default=True,
              help="Iteration limit of the SLSQP re-fit (the report says whether it converged or stopped there).")
@click.option("--fit-optimizer", type=click.Choice(["adam", "slsqp"]), default="slsqp", show_default=True,
              help="Meter re-fit: Adam on minibatches, or SLSQP on all latents at once (the leakage alone, subject to --keep).")
@click.option("--keep", "fit_keep", type=FloatRange(0, 1), default=0.5, show_default=True,
              help="Fraction of the base direction's change per unit step the meter re-fit must keep (it starts from "
                   "the projection when that keeps as much, else from the nearest mix of projection and base that "
                   "does (SLSQP) or from the base direction (Adam)).")
@click.option("--layers", default=None,
              help="StyleGAN2 W+ directions: synthesize by taking these layers (e.g. 0-3) from samples that carry the "
                   "wanted attribute (SC2GAN's layer mixing) instead of the linear move.")  # fmt: skip
@click.option("--eval-n", type=click.IntRange(2), default=50, show_default=True,
              help="Fresh latents (seeds from 50,000) the report measures base, projection and corrected on.")
@click.option("--space", default=None, help="Latent space of a .npy direction.")
@click.option("--seed", type=click.IntRange(0, MAX_SEED), default=0, help="First seed of the scored latents.")
@click.option("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
@click.option("--force", is_flag=True, help="Replace existing output files (never the input direction).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Corrected direction (.safetensors).")
def correct_cmd(model, direction_path, attribute, against, samples, scored, offset, invert_steps, refit, fit_steps,
                fit_iterations, fit_optimizer, fit_keep, layers, eval_n, space, seed, device, force, output) -> None:  # fmt: skip
    """Remove what a direction drags along (SC2GAN-style): synthesize rare combinations, invert, re-fit.

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
      latentnav correct --model my-stylegan2 --direction runs/x-wplus/direction.safetensors \
          --attribute pos_x --against pos_y --layers 0-3 -o runs/x-wplus-corrected.safetensors
    """
    import torch

    from latentnav import io, viz
    from latentnav.correction.config import CorrectConfig
    from latentnav.correction.correct import correct
    from latentnav.directions import load_direction, traverse
    from latentnav.evaluate import calibrate_direction, in_units_of
    from latentnav.generators.registry import load_generator
    from latentnav.measure import get_meter

    out = Path(output)
    io.check_suffix(out, (".safetensors",), "the corrected direction")
    extras = [out.with_name(out.stem + suffix) for suffix in (".projection.safetensors", ".report.json", ".grids.png")]
    for name in (attribute, *against):
        get_meter(name)  # unknown names and scorer modules, before any loading
    config = CorrectConfig(n_samples=scored, n_low=samples, offset=offset, invert_steps=invert_steps, refit=refit,
                           fit_steps=fit_steps, fit_iterations=fit_iterations, fit_keep=fit_keep,
                           fit_optimizer=fit_optimizer, layers=parse_layers(layers), seed=seed)  # fmt: skip
    model_input = _model_input(model)
    d = load_direction(direction_path, space=space)
    device = _launch(device)
    sidecars = [p.with_suffix(".json") for p in (out, extras[0])]  # Direction.save writes a .json beside each
    with _output_files([out, *extras, *sidecars], force, [model_input, direction_path, Path(direction_path).with_suffix(".json")],
                       suffixes=None, what="the corrected direction") as files:  # fmt: skip
        G = load_generator(model, device=device)
        meter = get_meter(attribute, G)
        held = [get_meter(name, G) for name in against]
        result = correct(G, d, meter, held, config, eval_n=eval_n, progress=True)
        corrected = calibrate_direction(G, result.direction, meter)
        projected = calibrate_direction(G, result.projection, meter)
        base = d if in_units_of(d, meter) else calibrate_direction(G, d, meter)
        if not _is_main():  # after the last collective: rank 0 draws the grids and writes
            return
        z = G.sample_latent(range(50_000, 50_006), corrected.space)
        t = torch.linspace(-0.15, 0.15, 7).tolist()
        grids = torch.cat([traverse(G, v, z, t=t, mode="relative") for v in (base, projected, corrected)], dim=1)

        def write(paths: list[Path]) -> None:
            for direction, path, sidecar in ((corrected, paths[0], paths[4]), (projected, paths[1], paths[5])):
                direction.save(path)  # writes its .json sidecar beside it
                path.with_suffix(".json").replace(sidecar)
            paths[2].write_text(json.dumps(result.report, indent=2, default=float))
            viz.save_image(viz.traversal_grid(grids), paths[3])

        files.commit(write)
    ev = result.report["eval"]
    click.echo(f"wrote {out} (leakage into {', '.join(against)}: base {ev['base']['leakage_max']:.3f}, projection "
               f"{ev['projection']['leakage_max']:.3f}, corrected {ev['corrected']['leakage_max']:.3f}; "
               f"{result.report['low_density_kept']} of {result.report['low_density_made']} low-density samples kept)")  # fmt: skip
    if ev["base"]["on_target"] > 0:  # the base moves the attribute (else there is no share to state)
        share = {k: ev[k]["on_target"] / ev["base"]["on_target"] for k in ("projection", "corrected")}
        asked = f" (--keep asks for at least {fit_keep:.0%} on the fitted latents)" if refit == "meters" else ""
        click.echo(f"{attribute} change per unit step, against the base direction's: projection {share['projection']:.0%}, "
                   f"corrected {share['corrected']:.0%}{asked}")  # fmt: skip
    if result.report.get("refit", {}).get("stopped") == "iteration limit":
        click.echo(f"the SLSQP re-fit stopped at its limit of {fit_iterations} iterations before converging "
                   "(past about 20 it fits the noise of the scored latents; --fit-iterations sets the limit)")  # fmt: skip


def entry() -> None:
    """The ``latentnav`` program: :func:`main`, and exit code 130 after Ctrl-C whatever CPython would do.

    A Ctrl-C that lands inside C code run through ``PyRun_*`` (pybind11's exec, in torch) leaves CPython's
    "unhandled KeyboardInterrupt" flag set even though latentnav handled it, and the interpreter would then end
    by killing itself with SIGINT instead of exiting 130. Everything the run owns is cleaned up by then.
    """
    try:
        main()
    except SystemExit as done:
        if done.code == 130:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise


if __name__ == "__main__":
    entry()
