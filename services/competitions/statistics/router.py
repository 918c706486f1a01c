"""Statistics endpoints of the competitions service's measures (`shared.stats.api`)."""

from shared.stats.api import statistics_router

router = statistics_router("competitions")
