"""Tests of the catalog core: operator/toolfleet/catalog."""
