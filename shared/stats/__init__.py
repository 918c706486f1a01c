"""Programme statistics kit (DESIGN.md section 11), shared by the three services.

- `vocabulary`: the one documented vocabulary of dimensions and measures; each measure names
  the service that owns it and the summary table it is read from.
- `periods`: calendar periods (year, quarter, month) and their parsing.
- `suppression`: primary and complementary suppression of small cells (the method is in its
  docstring).
- `engine`: turns a figure request into one GROUP BY over a summary table, assembles the table
  with its margins, suppresses, slices and shapes the answer.
- `schemas`: the response shapes; `render`: XLSX with native charts, PNG and SVG charts.

Each service's statement-level triggers (migration 0054) append every change's grouped deltas
to `<summary>_pending` in the transaction that makes it; readers add them to the summary (exact
at commit), and the service's folder (`fold.py`) moves them into the summary every second.
Each service exposes the figures it owns under `/v1/statistics/...` (its `statistics/` area);
`rebuild.py` is the rebuild/check command.
"""
