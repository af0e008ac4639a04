"""Records (JSON objects, one per customer or event) turned into numeric and categorical columns.

Both specialist services take their data the way a caller naturally has it, a
list of flat objects, and need columns: numbers for the numeric features, strings
for the categorical ones. This module does that conversion and is strict about
it: a value of the wrong type or a missing value is an error naming the exact
field (`records[3].annual_spend`), never a silent guess.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, WithJsonSchema

from toolfleet_service.errors import FieldProblem, ToolInputError

# A categorical feature with more distinct values than this is almost always an
# identifier or free text; one-hot encoding it would swamp every other feature.
MAX_CATEGORY_LEVELS = 50
# Problems reported per error: enough to fix a batch, not a wall of text.
_MAX_PROBLEMS = 10

Records = Annotated[
    list[dict[str, Any]],
    Field(
        min_length=1,
        description="The data: one flat JSON object per record, the same keys in each. "
        "Numbers are numeric features; strings and booleans are categorical.",
    ),
    WithJsonSchema({
        "type": "array",
        "minItems": 1,
        "items": {
            "type": "object",
            "additionalProperties": {"type": ["number", "string", "boolean", "null"]},
        },
    }),
]

FeatureNames = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=128)]],
    Field(max_length=200),
]


@dataclass(frozen=True)
class FeatureTable:
    """Columns taken from records: numbers as a float matrix, categories as strings."""

    numeric_names: list[str]
    categorical_names: list[str]
    numeric: NDArray[np.float64]  # rows x numeric features
    categorical: NDArray[np.str_]  # rows x categorical features
    ids: list[str | int | float | bool] | None  # the id_field of each record, if one was named

    @property
    def rows(self) -> int:
        """Number of records."""
        return int(self.numeric.shape[0])

    @property
    def feature_names(self) -> list[str]:
        """Every feature, numeric first."""
        return [*self.numeric_names, *self.categorical_names]


def build_feature_table(
    records: Sequence[Mapping[str, Any]],
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    id_field: str | None = None,
) -> FeatureTable:
    """Columns from `records`.

    With neither `numeric` nor `categorical` given, the features are every key
    seen in the records except `id_field`: numeric where most values are numbers,
    categorical otherwise. Given either, exactly the named features are used.
    """
    if numeric is None and categorical is None:
        numeric, categorical = _infer_features(records, id_field)
        numeric_field, categorical_field = "records", "records"
    else:
        numeric, categorical = list(numeric or []), list(categorical or [])
        numeric_field, categorical_field = "numeric_features", "categorical_features"
        _check_named_features(numeric, categorical, id_field)
    if not numeric and not categorical:
        raise ToolInputError.at(
            "records" if numeric_field == "records" else "numeric_features",
            "no features to use: name at least one in numeric_features or "
            "categorical_features, or send records with keys besides the id_field",
        )

    problems: list[FieldProblem] = []
    numbers = np.zeros((len(records), len(numeric)), dtype=np.float64)
    labels = np.empty((len(records), len(categorical)), dtype=object)
    ids: list[str | int | float | bool] | None = [] if id_field else None
    for row, record in enumerate(records):
        for column, name in enumerate(numeric):
            numbers[row, column] = _number(record, row, name, problems)
        for column, name in enumerate(categorical):
            labels[row, column] = _category(record, row, name, problems)
        if ids is not None and id_field is not None:
            identifier = _identifier(record, row, id_field, problems)
            if identifier is not None:
                ids.append(identifier)
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        raise ToolInputError(problems)

    _check_category_levels(labels, categorical, categorical_field)
    return FeatureTable(
        numeric_names=list(numeric),
        categorical_names=list(categorical),
        numeric=numbers,
        categorical=labels.astype(str),
        ids=ids,
    )


def _infer_features(
    records: Sequence[Mapping[str, Any]], id_field: str | None
) -> tuple[list[str], list[str]]:
    # A feature is numeric when most of its values are numbers: then a stray
    # "12.5" is reported as a misplaced string rather than turning the whole
    # column into categories.
    numbers: dict[str, int] = {}  # insertion order: first seen first
    others: dict[str, int] = {}
    for record in records:
        for key, value in record.items():
            if key == id_field:
                continue
            numbers.setdefault(key, 0)
            others.setdefault(key, 0)
            if value is None:
                continue
            if _is_number(value):
                numbers[key] += 1
            else:
                others[key] += 1
    numeric = [key for key in numbers if numbers[key] > others[key]]
    categorical = [key for key in numbers if numbers[key] <= others[key]]
    return numeric, categorical


def _check_named_features(
    numeric: Sequence[str], categorical: Sequence[str], id_field: str | None
) -> None:
    for field, names in (("numeric_features", numeric), ("categorical_features", categorical)):
        for index, name in enumerate(names):
            if name == id_field:
                raise ToolInputError.at(
                    f"{field}[{index}]", f"{name!r} is the id_field; it cannot also be a feature"
                )
            if list(names).count(name) > 1:
                raise ToolInputError.at(f"{field}[{index}]", f"{name!r} is named twice")
    for index, name in enumerate(categorical):
        if name in numeric:
            raise ToolInputError.at(
                f"categorical_features[{index}]",
                f"{name!r} is also in numeric_features; a feature is one or the other",
            )


def _is_number(value: Any) -> bool:
    # bool is an int in Python, but true/false is a category, not a quantity.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(
    record: Mapping[str, Any], row: int, name: str, problems: list[FieldProblem]
) -> float:
    field = f"records[{row}].{name}"
    if name not in record or record[name] is None:
        problems.append(FieldProblem(
            field, f"missing; every record needs a number for the numeric feature {name!r} "
            "(fill it in, or leave the feature out)", "missing",
        ))
        return 0.0
    value = record[name]
    if not _is_number(value):
        hint = "; send numbers unquoted" if isinstance(value, str) else ""
        problems.append(FieldProblem(
            field, f"expected a number for the numeric feature {name!r} "
            f"(got {type(value).__name__} {value!r:.40}){hint}", "number_type",
        ))
        return 0.0
    if not math.isfinite(value):
        problems.append(FieldProblem(field, f"must be a finite number (got {value})"))
        return 0.0
    return float(value)


def _identifier(
    record: Mapping[str, Any], row: int, id_field: str, problems: list[FieldProblem]
) -> str | int | float | bool | None:
    identifier = record.get(id_field)
    if identifier is None:
        problems.append(FieldProblem(
            f"records[{row}].{id_field}",
            f"missing; every record needs its id_field {id_field!r}", "missing",
        ))
        return None
    if isinstance(identifier, str | int | float | bool):
        return identifier
    problems.append(FieldProblem(
        f"records[{row}].{id_field}",
        f"an id must be a string or a number (got {type(identifier).__name__})",
    ))
    return None


def _check_category_levels(
    labels: NDArray[np.object_], categorical: Sequence[str], field: str
) -> None:
    for column, name in enumerate(categorical):
        levels = len(set(labels[:, column]))
        if levels > MAX_CATEGORY_LEVELS:
            raise ToolInputError.at(
                field,
                f"categorical feature {name!r} has {levels} distinct values (the limit is "
                f"{MAX_CATEGORY_LEVELS}); it looks like an identifier or free text: name it "
                "as id_field, or leave it out of the features",
                "too_many_categories",
            )


def _category(
    record: Mapping[str, Any], row: int, name: str, problems: list[FieldProblem]
) -> str:
    field = f"records[{row}].{name}"
    if name not in record or record[name] is None:
        problems.append(FieldProblem(
            field, f"missing; every record needs a value for the categorical feature {name!r} "
            "(fill it in, e.g. \"unknown\", or leave the feature out)", "missing",
        ))
        return ""
    value = record[name]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    problems.append(FieldProblem(
        field, f"expected a string, number or boolean for the categorical feature {name!r} "
        f"(got {type(value).__name__})", "category_type",
    ))
    return ""
