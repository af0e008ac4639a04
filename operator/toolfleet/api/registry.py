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
    root_validations=toolservice.NAME_RULES,
)

ALL = [TOOLSERVICE]

# Appended rather than folded into the list above so each kind's registration
# stays one self-contained block.
from toolfleet.api import toolcatalog  # noqa: E402

TOOLCATALOG = CrdSpec(
    kind=toolcatalog.KIND,
    plural=toolcatalog.PLURAL,
    singular=toolcatalog.SINGULAR,
    spec_model=toolcatalog.ToolCatalogSpec,
    status_model=toolcatalog.ToolCatalogStatus,
    description="A tool catalog: the tools of the ToolServices it selects (by labels, "
    "namespaces and exposure), published as ConfigMaps and on the catalog endpoint in the "
    "formats LLM routers read.",
    short_names=toolcatalog.SHORT_NAMES,
    categories=toolcatalog.CATEGORIES,
    printer_columns=toolcatalog.PRINTER_COLUMNS,
    root_validations=toolcatalog.NAME_RULES,
)

ALL.append(TOOLCATALOG)
