"""Every custom resource toolfleet defines, with what its CRD needs."""

from __future__ import annotations

from toolfleet.api import toolservice
from toolfleet.api.crd import CrdSpec

TOOLSERVICE = CrdSpec(
    kind=toolservice.KIND,
    plural=toolservice.PLURAL,
    singular=toolservice.SINGULAR,
    spec_model=toolservice.ToolServiceSpec,
    status_model=toolservice.ToolServiceStatus,
    description="A specialist model service and the function-calling tools it offers. "
    "toolfleet runs it as an autoscaled, GPU-aware Deployment and lists its tools in the "
    "tool catalog.",
    short_names=toolservice.SHORT_NAMES,
    categories=toolservice.CATEGORIES,
    printer_columns=toolservice.PRINTER_COLUMNS,
)

ALL = [TOOLSERVICE]
