"""One module per vendor rendering of a catalog."""
