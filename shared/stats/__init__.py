"""Programme statistics kit (DESIGN.md section 11), shared by the three services.

- `vocabulary`: the one documented vocabulary of dimensions and measures; each measure names
  the service that owns it and the summary table it is read from.
- `periods`: calendar periods (year, quarter, month) and their parsing.
- `suppression`: primary and complementary suppression of small cells (the method is in its
  docstring).
- `engine`: turns a figure request into one GROUP BY over a summary table, assembles the table
  with its margins, suppresses, slices and shapes the answer.
- `schemas`: the response shapes; `render`: XLSX with native charts, PNG and SVG charts.

Each service keeps its summary tables current in the transactions that change its data
(statement-level triggers, migration 0054) and exposes the figures it owns under
`/v1/statistics/...` through its `statistics/` area.
"""
