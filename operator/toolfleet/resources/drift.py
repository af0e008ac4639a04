"""Drift: where a live child no longer holds what the operator applied to it.

`drift(desired, live)` compares only the fields `desired` sets, which are the
fields the operator owns under server-side apply: a field another writer or
the API server added (defaults, status, the autoscaler's replicas of a
Deployment whose replicas the operator leaves unset) is not drift. What the
API server rewrites in a canonical form is read back as equal:

- resource quantities ("0.5" and "500m", "1024Mi" and "1Gi", 1 and "1");
- an empty object or list, or null, sets nothing: whatever live holds there
  (the server omits empty values; a LimitRange may fill resources in).

Lists are compared element by element in order (the lists a child carries,
containers, ports, env, rules, keep the order they were applied in); a list
of another length has drifted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_SUFFIX = {
    None: Decimal(1), "m": Decimal("0.001"),
    "k": Decimal(10) ** 3, "M": Decimal(10) ** 6, "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12, "P": Decimal(10) ** 15, "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40, "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60,
}


def drift(desired: Any, live: Any, path: str = "") -> list[str]:
    """The paths (`.spec.replicas`, `.spec.ports[0].port`) where `live` differs from
    `desired`, for the fields `desired` sets; empty when live holds all of them."""
    if _empty(desired):
        # Setting nothing there owns nothing there (a LimitRange may fill it in).
        return []
    if isinstance(desired, Mapping):
        if not isinstance(live, Mapping):
            return [path or "."]
        found: list[str] = []
        for key, value in desired.items():
            found += drift(value, live.get(key), f"{path}.{key}")
        return found
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [path or "."]
        found = []
        for index, (want, have) in enumerate(zip(desired, live, strict=True)):
            found += drift(want, have, f"{path}[{index}]")
        return found
    return [] if _same_scalar(desired, live) else [path or "."]


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes resource quantity as a number ("500m" -> 0.5); None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    match = _QUANTITY.match(str(value))
    if match is None:
        return None
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2)]
    except InvalidOperation:
        return None


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (Mapping, list)) and not value)


def _same_scalar(desired: Any, live: Any) -> bool:
    if desired == live and type(desired) is type(live):
        return True
    if isinstance(desired, bool) or isinstance(live, bool):
        return False
    left, right = quantity(desired), quantity(live)
    return left is not None and left == right
