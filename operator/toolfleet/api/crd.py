"""Generate CustomResourceDefinitions from the API models.

Kubernetes wants a *structural* OpenAPI v3 schema: every node typed, no `$ref`,
no `additionalProperties: false`, free-form JSON marked
`x-kubernetes-preserve-unknown-fields`. Pydantic emits JSON Schema; this module
closes the gap, so the models stay the one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from toolfleet.api.common import GROUP, VERSION
from toolfleet.jsonschema.refs import inline_ref

# Keys of pydantic's JSON Schema that mean nothing to the API server.
_DROPPED_KEYS = {"title", "$defs", "additionalProperties", "const", "examples"}


@dataclass(frozen=True)
class CrdSpec:
    """What a CRD needs beyond its spec and status models."""

    kind: str
    plural: str
    singular: str
    spec_model: type[BaseModel]
    status_model: type[BaseModel]
    description: str
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    # CEL rules on the whole object (the only place that can see metadata.name).
    root_validations: list[dict[str, Any]] = field(default_factory=list)


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model as a structural schema the API server accepts."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = raw.get("$defs", {})
    return _convert(raw, defs, model)


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    return inline_ref(node, {"$defs": defs})


def _model_for(node: dict[str, Any], owner: type[BaseModel] | None,
               prop: str) -> type[BaseModel] | None:
    """The pydantic model class behind property `prop` of `owner`, if it is one."""
    if owner is None:
        return None
    for name, info in owner.model_fields.items():
        if (info.alias or name) != prop:
            continue
        return _first_model(info.annotation)
    return None


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _convert(node: dict[str, Any], defs: dict[str, Any],
             model: type[BaseModel] | None) -> dict[str, Any]:
    node = _without_null_option(_resolve(node, defs), defs)
    out: dict[str, Any] = {}
    if "const" in node:
        out["enum"] = [node["const"]]
    for key, value in node.items():
        if key in _DROPPED_KEYS or key == "anyOf":
            continue
        if key == "default" and value is None:
            continue
        if key == "properties":
            out["properties"] = {
                prop: _convert(sub, defs, _model_for(sub, model, prop))
                for prop, sub in value.items()
            }
        elif key == "items":
            # For list[Model] the owner lookup already unwrapped the list to Model.
            out["items"] = _convert(value, defs, model)
        else:
            out[key] = value
    additional = node.get("additionalProperties")
    if node.get("type") == "object" and "properties" not in node:
        if isinstance(additional, dict):
            out["additionalProperties"] = _convert(additional, defs, None)
        else:
            # dict[str, Any]: arbitrary JSON, such as a tool's output schema.
            out["x-kubernetes-preserve-unknown-fields"] = True
    if model is not None:
        _add_factory_defaults(out, model)
    return out


def _without_null_option(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """`node` with Optional[X] (anyOf [X, null]) replaced by X.

    The API server expresses optional by leaving the property out of `required`,
    so X alone is kept.
    """
    if "anyOf" not in node:
        return node
    options = [o for o in node["anyOf"] if o.get("type") != "null"]
    if len(options) != 1:
        return node
    rest = {k: v for k, v in node.items() if k != "anyOf"}
    return {**_resolve(options[0], defs), **rest}


def _add_factory_defaults(out: dict[str, Any], model: type[BaseModel]) -> None:
    """Default an omitted nested object to its fully defaulted value.

    Not `default: {}`: the API server checks a default against the object's CEL
    rules before nested defaults apply, so it must be complete.
    """
    props = out.get("properties", {})
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in props or info.default_factory is None:
            continue
        produced = info.default_factory()  # type: ignore[call-arg]
        if isinstance(produced, BaseModel):
            props[key].setdefault("default", produced.model_dump(
                by_alias=True, exclude_none=True, mode="json"))
        elif isinstance(produced, list) and produced:
            props[key].setdefault("default", [
                item.model_dump(by_alias=True, exclude_none=True, mode="json")
                if isinstance(item, BaseModel) else item
                for item in produced
            ])


def build_crd(spec: CrdSpec) -> dict[str, Any]:
    """The whole CustomResourceDefinition object for one kind."""
    spec_schema = structural_schema(spec.spec_model)
    status_schema = structural_schema(spec.status_model)
    root: dict[str, Any] = {
        "type": "object",
        "description": spec.description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec_schema,
            "status": status_schema,
        },
        "required": ["spec"],
    }
    if spec.root_validations:
        root["x-kubernetes-validations"] = spec.root_validations
    names: dict[str, Any] = {
        "kind": spec.kind,
        "listKind": f"{spec.kind}List",
        "plural": spec.plural,
        "singular": spec.singular,
    }
    if spec.short_names:
        names["shortNames"] = spec.short_names
    if spec.categories:
        names["categories"] = spec.categories
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": root},
        "subresources": {"status": {}},
    }
    if spec.printer_columns:
        version["additionalPrinterColumns"] = spec.printer_columns
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{spec.plural}.{GROUP}",
            "labels": {"app.kubernetes.io/name": "toolfleet",
                       "app.kubernetes.io/component": "crd"},
        },
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced",
            "versions": [version],
        },
    }
