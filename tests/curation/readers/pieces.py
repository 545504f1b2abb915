"""What a reader of a decompressed stream gets, for the decoders' tests."""

from __future__ import annotations


def read_in_pieces(stream, piece: int = 1 << 16) -> tuple[bytes, str | None]:
    """What a reader gets in ``piece``-byte reads (64 kB), and the error that stopped it (``type: message``) or None."""
    out, buffer = bytearray(), bytearray(piece)
    with stream:
        while True:
            try:
                got = stream.readinto(buffer)
            except Exception as exc:  # noqa: BLE001 - the error is what is compared
                return bytes(out), f"{type(exc).__name__}: {exc}"
            if not got:
                return bytes(out), None
            out += buffer[:got]
