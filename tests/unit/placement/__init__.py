"""Tests of GPU placement: operator/toolfleet/placement."""
