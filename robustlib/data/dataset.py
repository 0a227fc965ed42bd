"""The in-memory text-classification dataset that every other module consumes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Taxonomy:
    """Position of each class in a category tree.

    Attributes:
        paths: One tuple per class, from the root to the class itself, for example
            ``("banking", "transfer")``. Every path has at least two levels and ends with the
            class name; the entry before it is the class's parent.
    """

    paths: tuple[tuple[str, ...], ...]

    @property
    def parents(self) -> tuple[str, ...]:
        """The parent of each class: the full path above it, joined with " > "."""
        return tuple(" > ".join(path[:-1]) for path in self.paths)


@dataclass(frozen=True, eq=False)
class TextDataset:
    """Texts with integer labels, class names and, where known, a taxonomy.

    Attributes:
        name: Dataset name, for logs and result folders.
        texts: ``N`` non-empty strings.
        labels: ``(N,)`` int64 class index in ``[0, C)``; for AlleNoise the human-verified label.
        ids: ``(N,)`` int64 stable id of each example, unique, unchanged by splitting and
            shuffling.
        class_names: ``C`` names; ``class_names[k]`` is the name of label ``k``.
        taxonomy: Path of each class in a category tree, or None.
        noisy_labels: ``(N,)`` int64 labels with the dataset's own (real) noise, or None.
        checksum: sha256 of the source file(s), recorded in each run's provenance.
    """

    name: str
    texts: list[str]
    labels: np.ndarray
    ids: np.ndarray
    class_names: tuple[str, ...]
    taxonomy: Taxonomy | None = None
    noisy_labels: np.ndarray | None = None
    checksum: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, positions: np.ndarray) -> "TextDataset":
        """Return the examples at ``positions`` (int array), keeping their ids and the class list."""
        positions = np.asarray(positions, dtype=np.int64)
        return TextDataset(
            name=self.name,
            texts=[self.texts[i] for i in positions],
            labels=self.labels[positions],
            ids=self.ids[positions],
            class_names=self.class_names,
            taxonomy=self.taxonomy,
            noisy_labels=None if self.noisy_labels is None else self.noisy_labels[positions],
            checksum=self.checksum,
            extra=dict(self.extra),
        )
