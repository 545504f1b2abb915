"""The shared thread helpers: ordered maps over the kernel pool."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from curation.parallel import in_order, ordered_map


def test_ordered_map_keeps_order_and_bounds_what_is_in_flight():
    running, most = 0, 0
    lock = threading.Lock()

    def slow_square(x):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.001 * (x % 3))  # later items often finish first
        with lock:
            running -= 1
        return x * x

    with ThreadPoolExecutor(4) as pool:
        assert list(ordered_map(pool, slow_square, range(50), window=3)) == [x * x for x in range(50)]
    assert most <= 3


def test_when_the_items_fail_the_results_before_come_out_first():
    def items():
        yield from range(5)
        raise ValueError("the stream broke")

    got = []
    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="the stream broke"):
        for value in ordered_map(pool, lambda x: x + 100, items(), window=4):
            got.append(value)
    assert got == [100, 101, 102, 103, 104]


@pytest.mark.parametrize("workers", [1, 2])
def test_in_order_is_map(workers):
    assert list(in_order(str, range(20), workers)) == [str(x) for x in range(20)]
