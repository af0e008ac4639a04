"""Numbers as people read them, for the plain-language summaries tools return."""

from __future__ import annotations

import math


def readable(value: float) -> str:
    """A number in a sentence: 98,000 / 12.25 / 0.0341."""
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def signed(value: float, digits: int = 1) -> str:
    """A signed deviation: +1.8, -0.6."""
    return f"{value:+.{digits}f}"


def percent(share: float) -> str:
    """A share as a whole percentage: 0.312 -> 31%; a non-zero share never shows as 0%."""
    if 0 < share < 0.005:
        return "<1%"
    return f"{share * 100:.0f}%"


def round_significant(value: float, digits: int = 6) -> float:
    """`value` to `digits` significant digits: results stay short for a model to read."""
    if value == 0 or not math.isfinite(value):
        return float(value)
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))
