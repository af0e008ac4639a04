"""The tool catalog's pure core: from observed ToolServices to published documents.

source    ToolService objects read into ServiceEntry (endpoints, canary weights, readiness)
selection which entries a catalog takes: label and namespace selectors, exposure
validate  problems of tools and specs, errors and per-vendor warnings
build     the canonical Catalog: selection, exclusions, collision resolution, hash
model     the canonical document and its hash
schema    walking JSON Schemas keyword by keyword
openai, anthropic, gemini, mcp   one rendering each
render    every format as deterministic JSON bytes
"""
