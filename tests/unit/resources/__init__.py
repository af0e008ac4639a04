"""Tests of the pure builders of a ToolService's children: operator/toolfleet/resources."""
