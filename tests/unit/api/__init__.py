"""Tests of the typed API and its generated CRDs: operator/toolfleet/api."""
