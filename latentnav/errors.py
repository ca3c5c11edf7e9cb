"""Errors a user can cause. The CLI turns each into a one-line message and a non-zero exit.

Only these classes (and click's usage errors) become one-liners: any other exception is a bug in latentnav
and keeps its traceback. Every class also derives from the built-in exception a Python caller would expect
(``ValueError``, ``FileNotFoundError``, ...), so ``except ValueError`` in a notebook keeps working.

Exit codes: 2 for bad usage (unknown names, malformed values, refused outputs), 1 for everything else,
130 for Ctrl-C.
"""

from __future__ import annotations


class LatentnavError(Exception):
    """Base class of latentnav's user-facing errors."""

    exit_code = 1


class BadInputError(LatentnavError, ValueError):
    """A value a user gave that latentnav cannot use (a malformed seed list, a t out of range, ...)."""

    exit_code = 2


class UnknownNameError(LatentnavError, ValueError):
    """A model, architecture, transform or factor name that latentnav does not know (lists the known ones)."""

    exit_code = 2

    def __init__(self, kind: str, name: str, known: list[str] | tuple[str, ...], hint: str = "") -> None:
        self.kind, self.name, self.known = kind, name, list(known)
        super().__init__(f"unknown {kind} {name!r}; known: {', '.join(sorted(self.known)) or '(none)'}{hint}")


class DeviceUnavailableError(LatentnavError, ValueError):
    """A device that does not exist here (``--device cuda`` without CUDA, a malformed device name)."""

    exit_code = 2


class RegistryError(LatentnavError, ValueError):
    """A ``checkpoints.yaml`` latentnav cannot read (not YAML, unknown keys, missing fields)."""


class ChecksumError(LatentnavError):
    """A weight file whose sha256 differs from the registry's: it is not loaded."""


class WeightsNotFoundError(LatentnavError, FileNotFoundError):
    """A weight file that is not on this machine and cannot be fetched now."""


class CheckpointError(LatentnavError, ValueError):
    """A weight file latentnav cannot read: truncated, corrupted, unsafe, or not of the expected layout."""


class DirectionFileError(LatentnavError, ValueError):
    """A direction file latentnav cannot use: not found, corrupted, truncated, or with inconsistent contents."""


class MethodNotApplicableError(LatentnavError, ValueError):
    """A direction-finding method that does not apply to this generator (e.g. SeFa without a first linear layer)."""

    exit_code = 2


class AttributeNotMeasurableError(LatentnavError, ValueError):
    """An attribute that cannot be measured on this model's images (e.g. hue on a one-channel model)."""

    exit_code = 2


class ScorerError(LatentnavError, ValueError):
    """A user scorer that cannot be loaded, or returned scores of the wrong shape, type or with NaN."""

    exit_code = 2


class ConditionVanishedError(LatentnavError, ValueError):
    """A conditional direction that vanishes: the primal direction lies in the span of its conditions."""


class OutputError(LatentnavError, OSError):
    """An output latentnav refuses to write: its parent is a file or not writable, an extension it cannot
    write, a path that holds the run's own inputs, or a directory it did not make."""

    exit_code = 2


class OutputExistsError(OutputError):
    """An output that exists and is not empty, without ``--force``."""


class OutputBusyError(OutputError):
    """An output another latentnav run is writing right now."""


class TrainingDivergedError(LatentnavError):
    """A training loss that became NaN or infinite: training stops and the last good checkpoint is kept."""


class TrainingInterrupted(LatentnavError):
    """Training stopped by Ctrl-C after writing a checkpoint it can resume from."""

    exit_code = 130


class BadSpecError(LatentnavError, ValueError):
    """A malformed specification a user wrote (a code spec such as ``cat:0``, a factor a data set lacks)."""

    exit_code = 2
