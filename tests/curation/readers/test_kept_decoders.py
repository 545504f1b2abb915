"""A bz2 or xz file's decoder kept between the looks at its head and its read within a run: each open gives the
file's bytes, as a fresh decoder gives them; the file is decoded once however often its head is looked at; a
decoder that broke or read past its record is not replayed; outside a run nothing is kept."""

from __future__ import annotations

import bz2
import lzma
from unittest import mock

import pytest

from curation.readers import kept_decoders
from curation.readers.kept_decoders import keeping
from curation.sources import DataFile, open_binary

DATA = b"".join(b'{"conversations": [{"from": "human", "value": "q %d"}, {"from": "gpt", "value": "a %d %s"}]}\n'
                % (i, i, b"x" * (i % 97)) for i in range(20_000))


@pytest.fixture(params=["bz2", "xz"])
def packed(request, tmp_path):
    codec = request.param
    path = tmp_path / f"rows.jsonl.{codec}"
    path.write_bytes(bz2.compress(DATA) if codec == "bz2" else lzma.compress(DATA))
    return DataFile(path, "jsonl", codec)


@pytest.fixture
def opened(monkeypatch):
    """The real decoders opened (``curation.sources._open_slow``'s calls), and each one's stream, to see it closed."""
    import curation.sources as sources

    real, streams = sources._open_slow, []

    def counted(file, buffer_size):
        streams.append(real(file, buffer_size))
        return streams[-1]

    monkeypatch.setattr(sources, "_open_slow", counted)
    return streams


def _read(file: DataFile, count: int = -1, piece: int = 65_536) -> bytes:
    with open_binary(file) as fh:
        if count >= 0:
            return fh.read(count)
        out = bytearray()
        while chunk := fh.read(piece):
            out += chunk
        return bytes(out)


def test_looks_and_the_read_share_one_decoder_and_give_the_files_bytes(packed, opened):
    with keeping():
        assert _read(packed, 1000) == DATA[:1000]  # a look at the head
        assert _read(packed, 300_000) == DATA[:300_000]  # a longer look: replayed, then decoded on
        assert _read(packed, 10) == DATA[:10]
        assert _read(packed) == DATA  # the read
    assert len(opened) == 1
    assert opened[0].closed  # kept after the read (all of it recorded), closed on leaving the run


def test_a_decoder_read_past_its_record_is_not_replayed(packed, opened, monkeypatch):
    monkeypatch.setattr(kept_decoders, "RECORDED_BYTES", 1_500_000)  # (an open reads 1 MB ahead)
    assert len(DATA) > 2_000_000
    with keeping():
        assert _read(packed, 1000) == DATA[:1000]
        assert _read(packed) == DATA  # past the record: closed when this open closes
        assert opened[0].closed
        assert _read(packed) == DATA
    assert len(opened) == 2


def test_outside_a_run_each_open_decodes_on_its_own(packed, opened):
    assert _read(packed, 1000) == DATA[:1000]
    assert _read(packed) == DATA
    assert len(opened) == 2 and all(s.closed for s in opened)


def test_a_decoder_that_broke_is_not_replayed(tmp_path, opened):
    """A truncated file's first open breaks where it ends; the next open starts a decoder of its own, which says so
    again after the same bytes (the reader's salvage reads up to the break anew)."""
    whole = lzma.compress(DATA)
    path = tmp_path / "cut.jsonl.xz"
    path.write_bytes(whole[: len(whole) // 2])
    file = DataFile(path, "jsonl", "xz")
    got = []
    with keeping():
        for _ in range(2):
            with open_binary(file) as fh, pytest.raises((EOFError, lzma.LZMAError, OSError)):
                out = bytearray()
                while chunk := fh.read(65_536):
                    out += chunk
            got.append(bytes(out))
    assert len(opened) == 2
    assert got[0] == got[1] and DATA.startswith(got[0]) and got[0]


def test_a_rewritten_file_is_not_replayed(packed, opened):
    """The same path written anew between two opens (another size or time): its own bytes, from a decoder of its own."""
    with keeping():
        assert _read(packed, 1000) == DATA[:1000]
        other = DATA[::-1] + b"\n"
        packed.path.write_bytes(bz2.compress(other) if packed.compression == "bz2" else lzma.compress(other))
        assert _read(packed) == other
    assert len(opened) == 2


def test_a_curate_run_decodes_a_compressed_input_once(packed, tmp_path):
    """The run looks at the file's format and first records before it reads it: one decoder serves the three."""
    import curation.sources as sources
    from curation.pipeline import run_curation

    real = sources._open_slow
    with mock.patch.object(sources, "_open_slow", side_effect=real) as slow:
        result = run_curation(str(packed.path), tmp_path / "out")
    assert slow.call_count == 1
    assert result.manifest["accounting"]["in_splits"] + result.manifest["accounting"]["removed"] == 20_000


def test_the_ray_driver_looks_at_a_compressed_input_with_one_decoder(packed, tmp_path):
    """The Ray engine's driver looks at the input's format and first records before its workers read it: one
    decoder serves both looks (the workers read their own units)."""
    import curation.sources as sources
    from curation.config import config_model
    from curation.engines import ray as ray_engine

    class Opened(Exception):
        pass

    real = sources._open_slow
    with mock.patch.object(sources, "_open_slow", side_effect=real) as slow, \
            mock.patch.object(ray_engine, "_import_ray"), \
            mock.patch.object(ray_engine, "build_plan", side_effect=Opened):  # stops the run after the looks
        with pytest.raises(Opened):
            ray_engine.run_curation_ray(str(packed.path), tmp_path / "out", config_model()())
    assert slow.call_count == 1
