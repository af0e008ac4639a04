"""Tests of the pure status decisions: operator/toolfleet/status."""
