"""Pure builders: from a ToolService to the child objects the operator applies."""
