"""The built-in offline emulated model: deterministic replies composed from the prompt."""
