"""Vendor dialects: what each vendor accepts of a tool, and the exact forms that meet it."""
