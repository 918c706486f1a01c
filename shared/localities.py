"""GB/T 2260 locality scopes, used by every service to decide who covers what."""

from __future__ import annotations

PROVINCE = "370000"


def locality_covers(scope: str | None, locality_code: str | None) -> bool:
    """A locality scope covers itself; a city (xxxx00) covers its counties; the province all."""
    if not scope or not locality_code:
        return False
    if scope in (locality_code, PROVINCE):
        return True
    return scope.endswith("00") and locality_code[:4] == scope[:4]
