"""Class-incremental continual learning: splitting the labels into a sequence of tasks."""

from __future__ import annotations

from qembed.arguments import check_int
from qembed.data.dataset import PolysemyDataset


def split_labels(num_labels: int, num_tasks: int) -> list[tuple[int, ...]]:
    """Split label ids ``0 .. num_labels - 1`` into ``num_tasks`` groups of consecutive ids.

    Sizes are as equal as possible, the larger groups first: 8 labels in 3 tasks give
    ``[(0, 1, 2), (3, 4, 5), (6, 7)]``. ``num_tasks`` must be in ``[1, num_labels]``.
    """
    check_int("num_labels", num_labels, minimum=1)
    check_int("num_tasks", num_tasks, minimum=1, maximum=num_labels)
    size, extra = divmod(num_labels, num_tasks)
    groups: list[tuple[int, ...]] = []
    start = 0
    for task in range(num_tasks):
        stop = start + size + (1 if task < extra else 0)
        groups.append(tuple(range(start, stop)))
        start = stop
    return groups


def task_splits(
    splits: dict[str, PolysemyDataset], groups: list[tuple[int, ...]]
) -> list[dict[str, PolysemyDataset]]:
    """For each label group, each split restricted to the sentences with a label in that group."""
    return [{name: dataset.with_labels(group) for name, dataset in splits.items()} for group in groups]
