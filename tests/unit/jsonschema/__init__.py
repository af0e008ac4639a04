"""Tests of operator/toolfleet/jsonschema."""
