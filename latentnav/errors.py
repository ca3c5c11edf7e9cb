"""Errors a user can cause. The CLI turns each into a one-line message and a non-zero exit."""

from __future__ import annotations


class LatentnavError(Exception):
    """Base class of latentnav's user-facing errors."""

    exit_code = 1


class UnknownNameError(LatentnavError, ValueError):
    """A model, architecture, transform or factor name that latentnav does not know (lists the known ones)."""

    exit_code = 2

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...], hint: str = "") -> None:
        self.kind, self.name, self.known = kind, name, list(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(sorted(self.known)) or '(none)'}{hint}")


class ChecksumError(LatentnavError):
    """A weight file whose sha256 differs from the registry's: it is not loaded."""


class WeightsNotFoundError(LatentnavError, FileNotFoundError):
    """A weight file that is not on this machine and cannot be fetched now."""


class CheckpointError(LatentnavError, ValueError):
    """A weight file latentnav cannot read: truncated, corrupted, unsafe, or not of the expected layout."""


class MethodNotApplicableError(LatentnavError, ValueError):
    """A direction-finding method that does not apply to this generator (e.g. SeFa without a first linear layer)."""


class AttributeNotMeasurableError(LatentnavError, ValueError):
    """An attribute that cannot be measured on this model's images (e.g. hue on a one-channel model)."""


class ScorerError(LatentnavError, ValueError):
    """A user scorer that cannot be loaded, or returned scores of the wrong shape, type or with NaN."""


class ConditionVanishedError(LatentnavError, ValueError):
    """A conditional direction that vanishes: the primal direction lies in the span of its conditions."""


class OutputExistsError(LatentnavError):
    """An output directory that exists and is not empty, without ``--force``."""

    exit_code = 2


class TrainingDivergedError(LatentnavError):
    """A training loss that became NaN or infinite: training stops and the last good checkpoint is kept."""


class BadSpecError(LatentnavError, ValueError):
    """A malformed specification a user wrote (a code spec such as ``cat:0``, a factor a data set lacks)."""

    exit_code = 2
