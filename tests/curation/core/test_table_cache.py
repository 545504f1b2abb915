"""Code point tables kept on disk between runs (:mod:`curation.core.table_cache`): the table read back is the
table built; a changed source, a damaged file or a folder that cannot be written never gives a wrong one."""

from __future__ import annotations

import numpy as np
import pytest

from curation.core import table_cache
from curation.minhash import shingles


def _builder(calls: list[int], value: int = 7):
    def build() -> np.ndarray:
        calls.append(1)
        return np.full(5, value, dtype=np.uint16)
    return build


@pytest.fixture
def source(tmp_path, monkeypatch):
    """A source file of its own, in a folder of its own; no fallback folder but one under tmp_path."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    path = tmp_path / "pkg" / "tables.py"
    path.parent.mkdir()
    path.write_text("# tables\n")
    return path


def test_a_table_is_built_once_then_read_back_the_same(source):
    calls: list[int] = []
    first = table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16)
    again = table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16)
    assert calls == [1]
    assert np.array_equal(first, again) and again.dtype == np.uint16
    assert not again.flags.writeable
    assert len(list((source.parent / "__pycache__").glob("t-py*.npy"))) == 1


def test_a_changed_source_builds_the_table_again_and_drops_the_old_file(source):
    calls: list[int] = []
    table_cache.cached_table("t", str(source), _builder(calls, 1), (5,), np.uint16)
    source.write_text("# tables, changed: another size\n")
    table = table_cache.cached_table("t", str(source), _builder(calls, 2), (5,), np.uint16)
    assert calls == [1, 1] and table.tolist() == [2] * 5
    assert len(list((source.parent / "__pycache__").glob("t-py*.npy"))) == 1


@pytest.mark.parametrize("damage", [b"", b"\x93NUMPY garbage", None])
def test_a_damaged_or_other_shape_file_is_built_again(source, damage):
    calls: list[int] = []
    table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16)
    (cached,) = (source.parent / "__pycache__").glob("t-py*.npy")
    if damage is None:
        np.save(cached, np.zeros(3, dtype=np.uint16))  # a table of another shape under the same name
    else:
        cached.write_bytes(damage)
    table = table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16)
    assert calls == [1, 1] and table.tolist() == [7] * 5
    assert table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16).tolist() == [7] * 5
    assert calls == [1, 1]


def test_a_package_folder_that_cannot_be_written_keeps_its_tables_in_the_user_cache(source, tmp_path):
    (source.parent / "__pycache__").write_text("a file where the folder would be: nothing is written under it")
    calls: list[int] = []
    table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16)
    assert table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16).tolist() == [7] * 5
    assert calls == [1]
    assert len(list((tmp_path / "user-cache" / "tomecraft").glob("t-py*.npy"))) == 1


def test_where_nothing_can_be_written_the_table_is_built_each_time(source, monkeypatch):
    monkeypatch.setattr(table_cache, "_folders", lambda beside: [source])  # a file, not a folder: no mkdir works
    calls: list[int] = []
    for _ in range(2):
        assert table_cache.cached_table("t", str(source), _builder(calls), (5,), np.uint16).tolist() == [7] * 5
    assert calls == [1, 1]


def test_the_shipped_tables_from_the_cache_equal_the_ones_built():
    """The word and lower-case tables the kernels read, as the cache gives them, are the ones built now."""
    assert np.array_equal(shingles.word_table(), shingles._build_word_table())
    assert np.array_equal(shingles.lower_table(), shingles._build_lower_table())
    shingles.word_table.cache_clear()
    shingles.lower_table.cache_clear()
    assert np.array_equal(shingles.word_table(), shingles._build_word_table())
    assert np.array_equal(shingles.lower_table(), shingles._build_lower_table())
