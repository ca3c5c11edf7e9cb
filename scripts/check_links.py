"""Check the README and the guides in docs/: every relative link and image resolves, every anchor names a heading.

    python scripts/check_links.py [FILE.md ...]

Without arguments it reads README.md and docs/*.md. A link's target is a path relative to the file that holds
it; ``#anchor`` must be the GitHub id of one of the target's headings (lower case, punctuation dropped, spaces
to hyphens, ``-1``, ``-2`` for repeats). Links to other sites (``http:``, ``https:``, ``mailto:``) are not
fetched. It also checks the results-table markers the benchmark scripts rewrite: every
``<!-- NAME:start -->`` has its ``<!-- NAME:end -->`` after it in the same file, and no NAME is in two places.
Prints one line per problem and exits 1 if there is any.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
MARKER = re.compile(r"<!-- ([A-Za-z0-9_-]+):(start|end) -->")


def prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(path: Path) -> set[str]:
    """GitHub's ids for the headings of the Markdown file ``path``."""
    seen: Counter[str] = Counter()
    ids = set()
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.MULTILINE | re.DOTALL)
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).lower()).replace(" ", "-")
        ids.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return ids


def check_links(path: Path) -> list[str]:
    """One message per link in ``path`` whose file or anchor does not exist."""
    problems = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where}: no heading with id #{anchor} in {dest.relative_to(ROOT)}")
    return problems


def check_markers(paths: list[Path]) -> list[str]:
    """One message per results-table marker that is unpaired or appears in more than one place."""
    problems, places = [], Counter()
    for path in paths:
        found = [(m.group(1), m.group(2), m.start()) for m in MARKER.finditer(path.read_text())]
        for name in {n for n, _, _ in found}:
            starts = [p for n, k, p in found if n == name and k == "start"]
            ends = [p for n, k, p in found if n == name and k == "end"]
            places[name] += len(starts)
            if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
                problems.append(f"{path.relative_to(ROOT)}: marker {name}: {len(starts)} start(s), {len(ends)} end(s)")
    problems += [f"marker {name} is in {n} places" for name, n in places.items() if n > 1]
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(a).resolve() for a in argv] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    problems = [p for path in paths for p in check_links(path)] + check_markers(paths)
    for p in problems:
        print(p)
    print(f"{len(paths)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
