"""Pure plans: from what was observed to what the handlers apply, per kind."""
