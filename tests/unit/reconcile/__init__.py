"""Tests of operator/toolfleet/reconcile."""
