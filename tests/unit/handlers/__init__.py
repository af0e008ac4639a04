"""Tests of operator/toolfleet/handlers."""
