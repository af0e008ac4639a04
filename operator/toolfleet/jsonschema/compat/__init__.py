"""Whether a new revision's tool schemas still serve the callers of the stable one.

Two directions, because a tool's two schemas face callers differently:

- **input** (`inputSchema`): the caller writes, the tool reads. The change is
  breaking when the new schema rejects some value the old one accepted: a new
  required property, a narrowed type or enum, a tightened bound, a closed
  `additionalProperties`, a removed `anyOf` branch. The check asks: is every
  value valid under the old schema valid under the new one?
- **output** (`outputSchema`): the tool writes, the caller reads. The change is
  breaking when a caller may lose something it reads or meet something it did
  not expect: a removed property, a required property made optional, a widened
  type, bound or enum. The check asks the same question the other way round
  (is every value the new schema allows valid under the old one?), and in
  addition reports every output property the old schema declared and the new
  one no longer does.

One deliberate leniency: a property that an *open* schema (no
`additionalProperties`) did not declare is not part of the contract, so
declaring it later is not a break. Without it every added optional input
property would count as breaking, which no tool author expects.

The checker is sound where it can be and honest where it cannot: keywords whose
effect it cannot compare (`not`, `if`/`then`/`else`, `dependentSchemas`,
`$dynamicRef`, `unevaluatedProperties`, ...) are reported as possible breaks
with `proven=False` when they differ, and so are changed `oneOf` sets whose
branches might overlap. Enumerated values (`enum`, `const`, `boolean`, `null`)
are decided exactly, by validating each old value against the new schema.
Local `$ref`s (`#/$defs/...`, `#/definitions/...`, `#`) are resolved by
`toolfleet.jsonschema.refs`, recursion included; other references are
reported as unprovable.

Keywords mean what JSON Schema 2020-12 says: the applicators of Core §10 and
the validation keywords of Validation §6; each module cites the sections it
relies on. A set of values "valid under a schema" is the set that validation
(as `jsonschema.Draft202012Validator` performs it) accepts.

Modules, from the API down:

- `compare`: the public functions and tool-level rules (a removed tool, a removed
  output schema), and the Incompatibility records they return;
- `checker`: the comparison of two schemas, with `unions` (anyOf/oneOf) and
  `keywords` (one keyword family at a time);
- `sets`: references, allOf folding and merging, disjointness;
- `values`: types, bounds and counts read from keywords;
- `messages`: how a difference reads; `differences`: what the checker records.
"""

from __future__ import annotations

from toolfleet.jsonschema.compat.compare import (
    Incompatibility,
    SchemaKind,
    compare_input_schema,
    compare_output_schema,
    compare_tool_schemas,
    is_compatible,
)
from toolfleet.jsonschema.compat.sets import MAX_DEPTH
from toolfleet.jsonschema.compat.values import Schema

__all__ = [
    "MAX_DEPTH",
    "Incompatibility",
    "Schema",
    "SchemaKind",
    "compare_input_schema",
    "compare_output_schema",
    "compare_tool_schemas",
    "is_compatible",
]
