"""Tests of operator/toolfleet/catalog/formats."""
