"""`make bench`: our figures next to bare baselines measured in the same run (DESIGN.md 7)."""
