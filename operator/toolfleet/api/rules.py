"""The API's cross-field rules in Python: the checks the CRDs' CEL rules make.

The API server enforces each model's `x-kubernetes-validations` (CEL) at
`kubectl apply` time. Offline tools (`toolfleet validate`, `toolfleet render`)
have no API server, so every CEL rule has a Python twin here, keyed by the
model and the rule's exact text. Messages and field paths are read from the
models, so an offline refusal says what `kubectl apply` would say; a unit test
fails when a CEL rule lacks its twin, or a twin outlives its rule.
"""

from __future__ import annotations

import itertools
import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from toolfleet.api.scheduling import LABEL_KEY_PATTERN, NODE_SELECTOR_KEYS_CEL, Toleration
from toolfleet.api.toolservice import GPU, Autoscaling, EnvVar, Rollout, ToolServiceSpec

Check = Callable[[Any], bool]


def _weights_rise(rollout: Rollout) -> bool:
    weights = [step.weight for step in rollout.steps]
    return all(earlier < later for earlier, later in itertools.pairwise(weights))


def _tool_names_unique(spec: ToolServiceSpec) -> bool:
    names = [tool.name for tool in spec.tools]
    return len(names) == len(set(names))


_LABEL_KEY = re.compile(LABEL_KEY_PATTERN)

# (model, CEL rule text) -> whether a parsed object satisfies the rule.
CHECKS: dict[tuple[type[BaseModel], str], Check] = {
    (EnvVar, "has(self.value) != has(self.secretKeyRef)"):
        lambda env: (env.value is not None) != (env.secret_key_ref is not None),
    (GPU, "(self.sharing == 'mig') == has(self.migProfile)"):
        lambda gpu: (gpu.sharing == "mig") == (gpu.mig_profile is not None),
    (GPU, "self.sharing != 'mig' || self.count == 1"):
        lambda gpu: gpu.sharing != "mig" or gpu.count == 1,
    (Autoscaling, "self.minReplicas <= self.maxReplicas"):
        lambda scaling: scaling.min_replicas <= scaling.max_replicas,
    (Rollout, "self.steps.map(s, s.weight).isSorted() && "
              "self.steps.all(s, self.steps.exists_one(t, t.weight == s.weight))"):
        _weights_rise,
    (Rollout, "self.trafficRouting != 'gatewayAPI' || has(self.gatewayRef)"):
        lambda rollout: rollout.traffic_routing != "gatewayAPI" or rollout.gateway_ref is not None,
    (ToolServiceSpec, "self.tools.all(t, self.tools.exists_one(u, u.name == t.name))"):
        _tool_names_unique,
    (ToolServiceSpec, NODE_SELECTOR_KEYS_CEL):
        lambda spec: all(_LABEL_KEY.match(key) for key in spec.node_selector),
    (Toleration, "!has(self.operator) || self.operator != 'Exists' || !has(self.value)"):
        lambda toleration: toleration.operator != "Exists" or toleration.value is None,
    (Toleration, "has(self.key) || (has(self.operator) && self.operator == 'Exists')"):
        lambda toleration: toleration.key is not None or toleration.operator == "Exists",
    (Toleration, "!has(self.tolerationSeconds) || (has(self.effect) && "
                 "self.effect == 'NoExecute')"):
        lambda toleration: (toleration.toleration_seconds is None
                            or toleration.effect == "NoExecute"),
}


_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

# Rules on a whole object (CrdSpec.root_validations): the only ones that see
# metadata.name. CEL rule text -> whether a name satisfies it.
NAME_CHECKS: dict[str, Callable[[str], bool]] = {
    "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && "
    "size(self.metadata.name) <= 52":
        lambda name: bool(_DNS_1035.match(name)) and len(name) <= 52,
    "!self.metadata.name.endsWith('-canary') && "
    "!self.metadata.name.endsWith('-stable') && "
    "!self.metadata.name.endsWith('-revisions')":
        lambda name: not name.endswith(("-canary", "-stable", "-revisions")),
    "self.metadata.name != 'default'": lambda name: name != "default",
}


@dataclass(frozen=True)
class Violation:
    """A broken rule: the field the API server would name, and the rule's message."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def name_violations(root_rules: list[dict[str, Any]], name: str) -> list[Violation]:
    """The root rules (see CrdSpec.root_validations) that `name` breaks, as metadata.name."""
    found = []
    for rule in root_rules:
        check = NAME_CHECKS.get(rule["rule"])
        if check is None:
            raise LookupError(f"the root CEL rule {rule['rule']!r} has no Python twin; add one "
                              "to toolfleet.api.rules.NAME_CHECKS")
        if not check(name):
            found.append(Violation("metadata.name", rule["message"]))
    return found


def cel_rules(model: type[BaseModel]) -> list[dict[str, str]]:
    """The `x-kubernetes-validations` entries a model declares for its CRD schema."""
    extra = model.model_config.get("json_schema_extra")
    if not isinstance(extra, Mapping):
        return []
    declared = extra.get("x-kubernetes-validations")
    if not isinstance(declared, list):
        return []
    return [{str(k): str(v) for k, v in rule.items()} for rule in declared
            if isinstance(rule, Mapping)]


def nested_models(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    """The model and every model reachable through its fields, each once."""
    seen: set[type[BaseModel]] = set()
    pending = [model]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        for info in current.model_fields.values():
            child, _ = _field_model(info.annotation)
            if child is not None:
                pending.append(child)


def violations(model: type[BaseModel], data: Any, path: str = "spec") -> list[Violation]:
    """Every CEL rule of `model`, and of the models nested in it, that `data` breaks.

    `data` is the object as a user wrote it (camelCase). A rule is checked
    where its object parses: its inputs (minReplicas, a GPU's sharing) must be
    well-typed first, and the pydantic errors say what is wrong otherwise.
    Omitted objects are skipped: the API server fills them with defaults that
    satisfy every rule.
    """
    found: list[Violation] = []
    _walk(model, data, path, found)
    return found


def _walk(model: type[BaseModel], data: Any, path: str, found: list[Violation]) -> None:
    if not isinstance(data, Mapping):
        return
    found.extend(_broken_rules(model, data, path))
    for name, info in model.model_fields.items():
        key = info.alias or name
        child, is_list = _field_model(info.annotation)
        if child is None or key not in data:
            continue
        value = data[key]
        if is_list:
            if isinstance(value, list):
                for index, item in enumerate(value):
                    _walk(child, item, f"{path}.{key}[{index}]", found)
        else:
            _walk(child, value, f"{path}.{key}", found)


def _broken_rules(model: type[BaseModel], data: Mapping[str, Any], path: str) -> list[Violation]:
    """The CEL rules of `model` itself that `data` breaks; none when `data` does not parse."""
    rules = cel_rules(model)
    if not rules:
        return []
    try:
        parsed = model.model_validate(data)
    except ValidationError:
        return []
    broken = []
    for rule in rules:
        check = CHECKS.get((model, rule["rule"]))
        if check is None:
            raise LookupError(f"{model.__name__} has the CEL rule {rule['rule']!r} "
                              "but no Python twin; add one to toolfleet.api.rules.CHECKS")
        if not check(parsed):
            broken.append(Violation(path + rule.get("fieldPath", ""), rule["message"]))
    return broken


def _field_model(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model a field holds (directly, optionally, or as list items), and whether a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args:
        child, _ = _field_model(args[0])
        return child, child is not None
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            child, is_list = _field_model(arg)
            if child is not None:
                return child, is_list
    return None, False
