"""Tests of the Helm chart: charts/toolfleet, rendered and linted without a cluster."""
