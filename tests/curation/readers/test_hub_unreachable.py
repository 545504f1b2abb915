"""A hub dataset that cannot be reached ends in one error line: the warnings ``huggingface_hub`` logs while it
retries (a line per try, a dozen before the error when the network is down) are not shown beside it."""

from __future__ import annotations

import logging

import pytest

from curation.readers import InputError, open_input


def test_an_unreachable_hub_dataset_is_one_error_line_without_the_retry_warnings(monkeypatch, capfd):
    import datasets
    from huggingface_hub.utils import logging as hub_logging

    hub_logging.get_logger()  # the library's own handler on its root logger, as in a real run

    def unreachable(name, split=None, streaming=False):
        retrying = logging.getLogger("huggingface_hub.utils._http")
        for attempt in range(1, 3):
            retrying.warning("'[Errno -2] Name or service not known' thrown while requesting HEAD https://hf.co/x")
            retrying.warning(f"Retrying in {attempt}s [Retry {attempt}/5].")
        raise ConnectionError("Couldn't reach 'org/ds' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    level = logging.getLogger("huggingface_hub").level
    with pytest.raises(InputError, match=r"^org/ds: cannot load from the Hugging Face hub.*Couldn't reach"):
        open_input("org/ds")
    captured = capfd.readouterr()
    assert "Retrying" not in captured.err + captured.out and "thrown while requesting" not in captured.err
    assert logging.getLogger("huggingface_hub").level == level  # given back once the load is over
