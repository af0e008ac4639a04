"""JSON Schema (2020-12) mechanics, each in one place.

- `walker`: which keywords hold subschemas, and walking them;
- `refs`: the one resolver of local `$ref`s;
- `paths`: places in a schema and how messages name them;
- `canonical`: canonical JSON and the content hashes taken over it;
- `compat`: whether a new revision's tool schemas still serve the old one's callers.
"""
