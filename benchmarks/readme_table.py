"""What the benchmark scripts that keep a results table in docs/ share: JSON results, the marked table written whole.

A table lives in one guide under docs/ between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``
(docs/benchmarks.md lists them all); each script names its guide. The module keeps its name from when the tables
lived in the README.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def write_json(path: Path, data: dict) -> None:
    """``data`` as indented JSON at ``path`` (a temporary name first, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text(json.dumps(data, indent=2, default=float))
    tmp.replace(path)


def add_update_flag(parser: argparse.ArgumentParser, doc: Path, what: str = "table") -> None:
    """Add ``--update-docs`` (``args.update_docs``; old name ``--update-readme``): rewrite ``what`` in ``doc``."""
    parser.add_argument("--update-docs", "--update-readme", dest="update_docs", action="store_true",
                        help=f"rewrite the {what} in {doc.relative_to(ROOT)} (--update-readme: the same, its old name)")


def find_block(name: str, text: str) -> tuple[int, int]:
    """Where the table between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` begins and ends in ``text``.

    Raises:
        ValueError: the markers are missing, repeated or out of order.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(end) < text.index(start):
        raise ValueError(f"expected one {start} followed by one {end}")
    return text.index(start) + len(start), text.index(end)


def update_doc(name: str, table: str, doc: Path) -> None:
    """Replace what lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in ``doc`` with ``table``."""
    text = doc.read_text()
    try:
        i, j = find_block(name, text)
    except ValueError as err:
        raise SystemExit(f"{doc}: {err}") from None
    tmp = doc.with_name(".tmp-" + doc.name)
    tmp.write_text(text[:i] + "\n" + table.rstrip("\n") + "\n" + text[j:])
    tmp.replace(doc)
    print(f"updated {doc}")
