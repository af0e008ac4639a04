"""Tests of operator/toolfleet/runtime."""
