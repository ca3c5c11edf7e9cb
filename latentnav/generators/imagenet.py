"""ImageNet-1k class names for class-conditional generators (BigGAN-deep), shipped as package data.

The table ``imagenet_classes.tsv`` lists the 1000 ILSVRC-2012 classes in generator order with their
WordNet synset ids and lemmas, so ``"golden retriever"``, ``"Golden_Retriever"``, ``"n02099601"`` and
``207`` all name the same class. It is read on first use; nothing here touches the network.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from latentnav.errors import BadInputError, UnknownNameError

NUM_CLASSES = 1000


@dataclass(frozen=True)
class ImageNetClass:
    """One ImageNet-1k class: its index, WordNet synset id and lemmas (the first is its usual name)."""

    index: int
    synset: str
    lemmas: tuple[str, ...]

    @property
    def name(self) -> str:
        """The first lemma, e.g. ``"golden retriever"``."""
        return self.lemmas[0]


class UnknownClassError(UnknownNameError):
    """A class name that is not an ImageNet-1k class (the message suggests close names, not all 1000)."""

    def __init__(self, name: str, close: list[str]) -> None:
        self.kind, self.name, self.known = "ImageNet class", name, close
        hint = f"; close names: {', '.join(close)}" if close else "; see latentnav.generators.imagenet.classes()"
        Exception.__init__(self, f"unknown ImageNet class {name!r}{hint}")


def _normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


@lru_cache(maxsize=1)
def classes() -> tuple[ImageNetClass, ...]:
    """The 1000 classes in index order."""
    text = (resources.files("latentnav.generators") / "imagenet_classes.tsv").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            index, synset, lemmas = line.split("\t")
            rows.append(ImageNetClass(int(index), synset, tuple(lemma.strip() for lemma in lemmas.split(","))))
    if [c.index for c in rows] != list(range(NUM_CLASSES)):
        raise RuntimeError("imagenet_classes.tsv is damaged: expected the indices 0..999 in order; reinstall latentnav")
    return tuple(rows)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, tuple[int, ...]]:
    """Normalised lemma or synset id -> class indices (a few lemmas, e.g. "crane", name two classes)."""
    table: dict[str, list[int]] = {}
    for c in classes():
        for key in {_normalise(lemma) for lemma in c.lemmas} | {c.synset.lower()}:
            table.setdefault(key, []).append(c.index)
    return {k: tuple(v) for k, v in table.items()}


def class_index(name: str) -> int:
    """The index 0..999 of an ImageNet class given by name or synset id (case and ``_`` do not matter).

    Args:
        name: any lemma of the class (``"golden retriever"``, ``"tench"``, ``"Tinca tinca"``) or its
            synset id (``"n02099601"``).

    Raises:
        UnknownClassError: not a class name; the message suggests close names.
        BadInputError: the name belongs to two classes (e.g. ``"crane"``, the bird and the machine).
    """
    key = _normalise(name)
    hits = _by_name().get(key)
    if hits is None:
        close = difflib.get_close_matches(key, list(_by_name()), n=5, cutoff=0.6)
        raise UnknownClassError(name, close)
    if len(hits) > 1:
        options = "; ".join(f"{i} ({', '.join(classes()[i].lemmas[:3])})" for i in hits)
        raise BadInputError(f"ImageNet class name {name!r} is ambiguous: it names classes {options}; give the index")
    return hits[0]


def class_name(index: int) -> str:
    """The usual name (first lemma) of class ``index``."""
    if not 0 <= index < NUM_CLASSES:
        raise BadInputError(f"ImageNet class index must lie in 0..{NUM_CLASSES - 1}, got {index}")
    return classes()[index].name
