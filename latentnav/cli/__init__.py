"""The ``latentnav`` command line: each command parses, calls the library, and says what it wrote.

One module per command group: :mod:`~latentnav.cli.models` (models, env), :mod:`~latentnav.cli.pictures`
(sample, traverse), :mod:`~latentnav.cli.discover`, :mod:`~latentnav.cli.evaluate` (evaluate, compare,
evaluate-model), :mod:`~latentnav.cli.correct`, :mod:`~latentnav.cli.train`, :mod:`~latentnav.cli.convert`,
:mod:`~latentnav.cli.export`, :mod:`~latentnav.cli.explore`;
shared options in :mod:`~latentnav.cli.options`, parsing in :mod:`~latentnav.cli.parse`, the checks every
command runs before the work in :mod:`~latentnav.cli.common`, the group and its one-line errors in
:mod:`~latentnav.cli.app`.
"""

from latentnav.cli import convert, correct, discover, evaluate, explore, export, models, pictures, train  # noqa: F401 - commands
from latentnav.cli.app import entry, main
from latentnav.cli.parse import Seeds, parse_layers, parse_names, parse_range, parse_seeds, parse_t_dist

__all__ = ["Seeds", "entry", "main", "parse_layers", "parse_names", "parse_range", "parse_seeds", "parse_t_dist"]
