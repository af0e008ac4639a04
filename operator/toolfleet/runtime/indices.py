"""Reading kopf indices from threads other than the watches that fill them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def index_get(index: Mapping[Any, Iterable[Any]], key: Any) -> list[Any]:
    """The values of one key of a kopf index (none when absent), copied likewise."""
    for _ in range(10):
        try:
            return list(index.get(key, ()))
        except RuntimeError:  # changed size during iteration: take it again
            continue
    return list(index.get(key, ()))


def index_values(index: Mapping[Any, Iterable[Any]]) -> list[Any]:
    """Every value of a kopf index, copied while its watch may change it."""
    for _ in range(10):
        try:
            return [value for values in list(index.values()) for value in list(values)]
        except RuntimeError:  # changed size during iteration: take it again
            continue
    return [value for values in list(index.values()) for value in list(values)]
