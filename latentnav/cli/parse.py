"""Parsing what a user types: seed lists, ranges, distributions, name lists, and click types that check more."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import torch

#: the largest seed accepted (numpy's legacy seeds are 32-bit, and seeds take part in arithmetic)
MAX_SEED = 2**32 - 1
#: the largest |value| a range or distribution may name (beyond it, floats stop being steps)
MAX_MAGNITUDE = 1e6


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
        if not _ascii_digits(lo) or (sep and not _ascii_digits(hi)):
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


def _ascii_digits(text: str) -> bool:
    return bool(text) and all("0" <= c <= "9" for c in text)


def _number(text: str) -> float:
    """A finite float written plainly (``1e-3``, ``-0.2``; not ``0_1``, not ``nan``, within +-:data:`MAX_MAGNITUDE`)."""
    if "_" in text:
        raise ValueError(text)
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise ValueError(text)
    return value


def parse_t_dist(text: str) -> Callable[[Sequence[int]], torch.Tensor]:
    """``uniform:LO,HI`` or ``normal:MEAN,STD`` as a function of the seeds: one draw per seed, from that seed
    alone (so sample k gets the same value whatever else is drawn). ``draw.bounds``: the range the draws
    stay in (a normal's mean +- 3 std)."""
    kind, _, args = text.partition(":")
    try:
        a, b = (_number(v) for v in args.split(","))
    except ValueError:
        raise click.BadParameter(f"expected uniform:LO,HI or normal:MEAN,STD (finite numbers within +-{MAX_MAGNITUDE:g}), "
                                 f"got {text!r}", param_hint="--t-dist") from None
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
        lo, hi = (_number(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LO,HI, finite numbers within +-{MAX_MAGNITUDE:g} (e.g. -0.2,0.2), got {text!r}",
                                 param_hint=name) from None  # fmt: skip
    if not lo < hi:
        raise click.BadParameter(f"expected LO < HI (e.g. -0.2,0.2), got {text!r}", param_hint=name)
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

    def __init__(self, min=None, max=MAX_MAGNITUDE, **kwargs) -> None:  # noqa: A002 - click's names
        super().__init__(min, max, **kwargs)

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


def parse_layers(text: str | None) -> list[int] | None:
    """Parse ``"0-3,8"`` into ``[0, 1, 2, 3, 8]`` (``None`` stays ``None``)."""
    if text is None:
        return None
    layers = parse_seeds(text, "layers", "--layers")
    if len(layers) > 4096:
        raise click.BadParameter(f"{len(layers):,} layers are more than any model has", param_hint="--layers")
    return list(layers)


def parse_names(text: str | None) -> list[str] | None:
    """Parse ``"pos_x,pos_y"`` into a list (``None`` stays ``None``)."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


