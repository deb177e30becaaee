"""The identity cache answers for the very object it was given, never for a look-alike."""

from __future__ import annotations

from baton._identity import IdentityCache


def test_equal_but_distinct_objects_do_not_share_an_entry() -> None:
    cache: IdentityCache[dict[str, int], str] = IdentityCache(size=2)
    first, twin = {"a": 1}, {"a": 1}
    assert cache.get(first, lambda d: "made for first") == "made for first"
    assert cache.find(first) == "made for first"
    assert cache.find(twin) is None
    assert cache.get(twin, lambda d: "made for twin") == "made for twin"


def test_a_full_cache_starts_over_and_still_answers() -> None:
    cache: IdentityCache[object, int] = IdentityCache(size=2)
    keys = [object() for _ in range(5)]
    for n, key in enumerate(keys):
        cache.put(key, n)
    assert cache.find(keys[-1]) == 4
    assert cache.find(keys[0]) is None
    assert cache.get(keys[0], lambda k: 10) == 10
