"""Pairwise judging (CrowdBT) for large innovation contests: judges compare two of their
entries at a time instead of marking aspects; a Bradley-Terry model with per-judge reliability
ranks the entries."""
