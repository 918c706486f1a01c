"""Programme statistics of the judging service: the figures it owns (`shared/stats`), read from
the summaries its triggers keep (migration 0054)."""
