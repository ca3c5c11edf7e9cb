"""``latentnav discover``: a direction by the trajectory method or any registered method, written as a run."""

from __future__ import annotations

import time
import warnings

import click

from latentnav.cli import common
from latentnav.cli.app import main, warn
from latentnav.cli.options import (
    device_option,
    force_option,
    method_options,
    model_option,
    out_dir_option,
    seed_option,  # fmt: skip
    take,
    trajectory_options,
)
from latentnav.cli.parse import RegistryChoice, parse_layers, parse_names, parse_seeds
from latentnav.methods import METHODS

DISCOVER_HELP = """Discover a direction: a calibrated one that performs an image transform (trajectory, Plumerault et al.
2020), or with GANSpace, SeFa, InterFaceGAN or a method you registered.

Writes DIR/direction.safetensors (+ .json), config.json, metrics.json, traverse.png and traverse.gif;
the trajectory method adds trajectories.npz, GANSpace and SeFa add components/ (every component) and
components.png. A batch (--transforms, --classes) writes DIR/<job>/direction.safetensors per job,
DIR/jobs.json and DIR/config.json. Every discovery measures its control on fresh latents and says so in a
warning: line when it is weak (docs/outputs.md).

Under torchrun the sampling-heavy stages run data-parallel (same result as one process); a batch
spreads whole jobs over the processes. Only rank 0 writes files.

\b
Example:
  latentnav discover --model bvae-dsprites --transform shift-x -o runs/shift-x
  latentnav discover --model dcgan-digiface --transform zoom --schedule paper -o runs/zoom-paper
  latentnav discover --model stylegan2 --transform shift-x --space w --device cuda -o runs/ffhq-shift-x
  latentnav discover --method sefa --attribute pos_x -o runs/sefa-x
  latentnav discover --method ganspace --components 5 -o runs/ganspace
  latentnav discover --method interfacegan --scorer my_scorers:smile --model dcgan-digiface -o runs/smile
  latentnav discover --transforms shift-x,zoom,brightness -o runs/all
  torchrun --nproc_per_node=8 -m latentnav discover --model biggan --classes 0-999 --transform zoom -o runs/zoom
"""


@main.command(help=DISCOVER_HELP, short_help="Find a calibrated direction (trajectory, GANSpace, SeFa, InterFaceGAN).")
@model_option()
@click.option("--transform", "-t", "transform", default=None,
              help="shift-x, shift-y, zoom, zoom-object, rotate, brightness, contrast, hue (the trajectory method).")
@click.option("--method", type=RegistryChoice(METHODS), default="trajectory", help="How to find the direction.")
@method_options
@click.option("--transforms", default=None,
              help="Batch: several transforms, e.g. shift-x,zoom,brightness (one direction each, DIR/<transform>/).")
@click.option("--classes", default=None,
              help="Batch, class-conditional models: classes, e.g. 0-999 (one direction per class and transform).")
@trajectory_options
@click.option("--space", default="z", help="Latent space: z, or w / w+ for StyleGAN2 (see `latentnav models`).")
@seed_option(0, "First seed of the starting latents (and of the other methods' samples).")
@device_option
@force_option()
@out_dir_option()
def discover(model, transform, method, transforms, classes, space, seed, device, force, output, **options) -> None:
    started = time.perf_counter()
    _check_combination(method, transform, transforms, classes, options)
    if method != "trajectory":
        return _with_method(method, model, space, seed, device, force, output, options, started)
    config = take(options, _trajectory_config_class(), seed=seed)
    if transforms is not None or classes is not None:
        return _batch(model, transform, transforms, classes, config, space, device, force, output)
    tf = _checked_transform(transform, config)
    inputs = [common.model_input(model)]
    common.check_transforms_fit(model, [tf.name])
    dev = common.launch(device)
    with common.run_dir(output, force, inputs, "discover") as out:
        G = common.load(model, dev, space)
        run = _quietly(lambda: _runs().discover(G, tf, config, space=space))
        run.started = started
        out.commit(run.write)
    if common.is_main():
        _report(output, run)


def _runs():
    from latentnav import runs

    return runs


def _trajectory_config_class():
    from latentnav.methods.trajectory.config import TrajectoryConfig

    return TrajectoryConfig


def _quietly(fn):
    """``fn()`` with Python warnings off: the command prints its own ``warning:`` lines."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _report(output: str, run) -> None:
    """The closing line, and a ``warning:`` line when the run's control is weak."""
    click.echo(f"wrote {output.rstrip('/')}/ ({run.summary()})")
    if run.warning:
        warn(f"{run.warning}" + (f" ({output.rstrip('/')}/traverse.png)" if run.control else ""))


def _check_combination(method: str, transform, transforms, classes, options: dict) -> None:
    """Flags that belong to another method are usage errors (before anything is loaded)."""
    if method != "trajectory":
        if transforms is not None or classes is not None:
            raise click.UsageError(f"--transforms and --classes belong to --method trajectory, not {method}")
        if transform is not None:
            from latentnav.measure import TRANSFORM_ATTRIBUTE

            hint = f" (for the attribute it changes: --attribute {TRANSFORM_ATTRIBUTE[transform]})" if transform in TRANSFORM_ATTRIBUTE else ""
            raise click.UsageError(f"--transform belongs to --method trajectory, not {method}{hint}")
        _check_method_flags(method, options)
        for flag in ("max_t", "sigma"):
            if options.get(flag) is not None:
                raise click.UsageError(f"--{flag.replace('_', '-')} belongs to --method trajectory, not {method}")
        return
    given = {flag for flag, key in _METHOD_FLAGS.items() if _given(options, key)}
    if method == "trajectory" and given:
        raise click.UsageError(f"{', '.join(sorted(given))} belong{'s' if len(given) == 1 else ''} to the other methods "
                               "(--method ganspace, sefa or interfacegan), not trajectory")  # fmt: skip
    if method == "trajectory" and options.get("sigma") is not None and options.get("loss") == "mse":
        raise click.UsageError("--sigma is the width of the Fourier loss's low-pass; --loss mse has none")


#: flags of the other methods, and the methods each belongs to
_METHOD_FLAGS = {"--attribute": "attribute", "--scorer": "scorer", "--condition": "conditions", "--component": "component",
                 "--components": "n_components", "--samples": "samples", "--ratio": "ratio", "--feature": "feature",
                 "--layers": "layers"}  # fmt: skip
_ONLY = {"--scorer": ("interfacegan",), "--condition": ("interfacegan",), "--ratio": ("interfacegan",),
         "--feature": ("ganspace",), "--component": ("ganspace", "sefa"), "--components": ("ganspace", "sefa"),
         "--layers": ("ganspace", "sefa"), "--samples": ("ganspace", "interfacegan")}  # fmt: skip
_DEFAULTS = {"attribute": None, "scorer": None, "conditions": (), "component": 0, "n_components": 10, "samples": 10_000,
             "ratio": 0.02, "feature": "auto", "layers": None}  # fmt: skip


def _given(options: dict, key: str) -> bool:
    """Whether an option differs from its default (the user set it)."""
    return key in options and options[key] != _DEFAULTS[key]


def _check_method_flags(method: str, options: dict) -> None:
    """A flag of another built-in method is a usage error, not silently dropped."""
    wrong = sorted(flag for flag, methods in _ONLY.items() if method in ("ganspace", "sefa", "interfacegan")
                   and method not in methods and _given(options, _METHOD_FLAGS[flag]))  # fmt: skip
    if wrong:
        raise click.UsageError(f"{', '.join(wrong)} do{'es' if len(wrong) == 1 else ''} not apply to --method {method}")


def _checked_transform(transform: str | None, config):
    """The trajectory method's transform, checked with its --max-t (before anything is loaded)."""
    from latentnav.measure.transforms import get_transform

    if transform is None:
        raise click.UsageError("--method trajectory needs --transform (shift-x, shift-y, zoom, zoom-object, rotate, "
                               "brightness, contrast, hue)")  # fmt: skip
    tf = get_transform(transform)
    if config.max_t is not None and config.max_t > tf.max_t:
        raise click.BadParameter(f"{tf.name}: max_t={config.max_t} is outside the transform's range (|t| <= "
                                 f"{tf.max_t:.4g}, {tf.unit})", param_hint="--max-t")  # fmt: skip
    return tf


def _batch(model, transform, transforms, classes, config, space, device, force, output) -> None:
    """``--transforms A,B`` / ``--classes 0-999``: one direction per (class, transform) job."""
    from tqdm.auto import tqdm

    from latentnav import distributed
    from latentnav.measure.transforms import get_transform

    if transform is not None and transforms is not None:
        raise click.UsageError("give --transform or --transforms, not both")
    names = list(dict.fromkeys(parse_names(transforms) if transforms is not None else [transform] if transform else []))
    if not names:
        raise click.UsageError("a batch needs --transforms A,B (or --transform with --classes)")
    for name in names:
        get_transform(name)
    class_list = None if classes is None else list(_checked_classes(classes))
    inputs = [common.model_input(model)]
    common.check_transforms_fit(model, names)
    dev = common.launch(device)
    with common.run_dir(output, force, inputs, "discover") as out:
        G = common.load(model, dev, space)
        w = distributed.world()
        n_jobs = len(distributed.shard(list(range(len(names) * len(class_list or [None]))), w))
        bars: list = []  # made at the first job, so that a refused batch shows no empty bar

        def tick(job) -> None:
            bars or bars.append(tqdm(total=n_jobs, disable=not w.is_main, unit="job", desc="directions"))
            bars[0].update(1)

        batch = _quietly(lambda: _runs().discover_batch(G, names, class_list, config, space=space, progress=tick))
        [bar.close() for bar in bars]
        out.commit(batch.write)
    if w.is_main:
        click.echo(f"wrote {output.rstrip('/')}/ ({len(batch.jobs)} directions on {w.size} process"
                   f"{'es' if w.size > 1 else ''}, {time.perf_counter() - batch.started:.1f} s)")  # fmt: skip
        if batch.weak():
            weak = batch.weak()
            warn(f"weak control (R^2 below 0.8 or slope far from 1 on fresh latents) in {len(weak)} of {len(batch.jobs)} "
                 f"directions: {', '.join(weak[:10])}{' ...' if len(weak) > 10 else ''}; see jobs.json")  # fmt: skip


def _checked_classes(text: str):
    classes = parse_seeds(text, "classes", "--classes")
    if len(classes) > 100_000:
        raise click.BadParameter(f"{len(classes):,} classes are more than any model has", param_hint="--classes")
    return classes


def _with_method(method, model, space, seed, device, force, output, options: dict, started: float) -> None:
    """``--method ganspace|sefa|interfacegan|...``."""
    from latentnav.directions import load_direction
    from latentnav.measure import get_meter, load_scorer
    from latentnav.methods import MethodSettings

    attribute, scorer, component = options.pop("attribute"), options.pop("scorer"), options.pop("component")
    paths = options.pop("conditions")
    scorer_fn = load_scorer(scorer) if scorer else None
    if attribute is not None:
        get_meter(attribute)  # the name, before any loading
    feature = options.pop("feature")
    settings = take(options, MethodSettings, seed=seed, layers=_tuple(parse_layers(options.pop("layers"))),
                    feature=None if feature == "latent" else feature, conditions=tuple(load_direction(c) for c in paths))  # fmt: skip
    inputs, dev = [common.model_input(model), *paths], common.launch(device)
    with common.run_dir(output, force, inputs, "discover") as out:
        G = common.load(model, dev, space)
        for c in settings.conditions:
            c.check_compatible(G, space)
        run = _quietly(lambda: _runs().discover(G, method=method, space=space, attribute=attribute, scorer=scorer_fn,
                                                scorer_name=scorer or "scorer", component=component, settings=settings))  # fmt: skip
        run.started = started
        run.config.update(conditions=list(paths), feature=feature)
        out.commit(run.write)
    if common.is_main():
        _report(output, run)


def _tuple(values):
    return None if values is None else tuple(values)
