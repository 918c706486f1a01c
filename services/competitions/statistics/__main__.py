"""`python -m services.competitions.statistics rebuild|check`: see `shared/stats/rebuild.py`."""

from shared.stats.rebuild import main

if __name__ == "__main__":
    main("competitions")
