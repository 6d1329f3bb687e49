"""LRUCache: least recently used entries go first; hits, misses, put and pop."""

from __future__ import annotations

import threading

from audiosoup_widgets.services import LRUCache


def test_least_recently_used_entry_is_dropped_first():
    cache: LRUCache[int] = LRUCache(2)
    assert cache.get("a", lambda: 1) == 1 and cache.get("b", lambda: 2) == 2
    assert cache.get("a", lambda: 99) == 1  # a hit refreshes "a"
    cache.get("c", lambda: 3)
    assert "a" in cache and "c" in cache and "b" not in cache and len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 3)


def test_put_replaces_and_pop_forgets():
    cache: LRUCache[int] = LRUCache(4)
    cache.put("k", 1)
    cache.put("k", 2)
    assert cache.get("k", lambda: 0) == 2
    cache.pop("k")
    cache.pop("absent")  # forgetting what is not there is fine
    assert "k" not in cache
    cache.put("x", 1)
    cache.clear()
    assert len(cache) == 0


def test_concurrent_use_keeps_the_size_bound():
    cache: LRUCache[int] = LRUCache(8)

    def work(offset: int) -> None:
        for i in range(200):
            cache.get((offset, i % 16), lambda i=i: i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) <= 8
