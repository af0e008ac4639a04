"""Pure status decisions: conditions and what a ToolService reports."""
