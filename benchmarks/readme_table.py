"""What the benchmark scripts that keep a README table share: JSON results and the marked table, written whole."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_json(path: Path, data: dict) -> None:
    """``data`` as indented JSON at ``path`` (a temporary name first, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text(json.dumps(data, indent=2, default=float))
    tmp.replace(path)


def update_readme(name: str, table: str, readme: Path = ROOT / "README.md") -> None:
    """Replace what lies between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` in the README with ``table``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = readme.read_text()
    i, j = text.index(start) + len(start), text.index(end)
    tmp = readme.with_name(".tmp-" + readme.name)
    tmp.write_text(text[:i] + "\n" + table.rstrip("\n") + "\n" + text[j:])
    tmp.replace(readme)
    print(f"updated {readme}")
