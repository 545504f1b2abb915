"""curation.core.columns: constants built at import."""

from curation.core.columns import WHITESPACE


def test_whitespace_is_every_space_code_point():
    assert WHITESPACE == "".join(chr(c) for c in range(0x110000) if chr(c).isspace())
