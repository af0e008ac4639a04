"""The toolfleet API: typed models of each custom resource, and their CRDs."""
