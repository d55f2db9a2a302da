"""Features: what the models may look at (registry) and how it is computed (computation)."""
