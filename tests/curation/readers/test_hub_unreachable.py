"""A hub dataset that cannot be reached ends in one error line: the warnings ``huggingface_hub`` logs while it
retries (a line per try, a dozen before the error when the network is down) are not shown beside it; and where
one request finds the hub unreachable, the load runs in offline mode (the local cache, no retries) instead of
retrying for ~23 s."""

from __future__ import annotations

import logging

import pytest

from curation import readers
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
    monkeypatch.setattr(readers, "_hub_unreachable", lambda timeout=5.0: None)  # the probe answered; the load did not
    level = logging.getLogger("huggingface_hub").level
    with pytest.raises(InputError, match=r"^org/ds: cannot load from the Hugging Face hub.*Couldn't reach"):
        open_input("org/ds")
    captured = capfd.readouterr()
    assert "Retrying" not in captured.err + captured.out and "thrown while requesting" not in captured.err
    assert logging.getLogger("huggingface_hub").level == level  # given back once the load is over


def _offline_flags() -> tuple[bool, bool]:
    import datasets.config
    from huggingface_hub import constants

    return constants.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE


def test_an_unreachable_hub_loads_in_offline_mode_and_says_the_dataset_is_not_cached(monkeypatch):
    import datasets

    seen = []

    def load(name, split=None, streaming=False):
        seen.append(_offline_flags())
        raise ConnectionError("Couldn't reach 'org/ds' on the Hub (OfflineModeIsEnabled)")

    before = _offline_flags()
    monkeypatch.setattr(datasets, "load_dataset", load)
    monkeypatch.setattr(readers, "_hub_unreachable", lambda timeout=5.0: "[Errno -2] Name or service not known")
    with pytest.raises(InputError, match=r"^org/ds: cannot load from the Hugging Face hub: it cannot be reached "
                                         r"\(\[Errno -2\] Name or service not known\) and the dataset is not in the local cache$"):
        open_input("org/ds")
    assert seen == [(True, True)]  # loaded in offline mode: no retries
    assert _offline_flags() == before  # given back after the load


def test_an_unreachable_hub_still_loads_a_cached_dataset(monkeypatch):
    import datasets

    rows = datasets.Dataset.from_list([{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}])
    seen = []

    def load(name, split=None, streaming=False):
        seen.append(_offline_flags())
        return rows

    monkeypatch.setattr(datasets, "load_dataset", load)
    monkeypatch.setattr(readers, "_hub_unreachable", lambda timeout=5.0: "timed out")
    source = open_input("org/ds")
    assert seen == [(True, True)] and source.kind == "hub"
    assert len(source.records[0][1]) == 1


def test_a_reachable_hub_loads_online(monkeypatch):
    import datasets

    seen = []

    def load(name, split=None, streaming=False):
        seen.append(_offline_flags())
        raise FileNotFoundError("Dataset 'org/ds' doesn't exist on the Hub")

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):  # (the test session's own setting)
        monkeypatch.delenv(var, raising=False)
    before = _offline_flags()
    monkeypatch.setattr(datasets, "load_dataset", load)
    monkeypatch.setattr(readers, "_hub_unreachable", lambda timeout=5.0: None)
    with pytest.raises(InputError, match=r"^org/ds: cannot load from the Hugging Face hub: Dataset 'org/ds' doesn't exist"):
        open_input("org/ds")
    assert seen == [before]


def test_the_probe_is_one_request_that_names_why(monkeypatch):
    from huggingface_hub import constants
    import huggingface_hub.utils as hub_utils

    calls = []

    class Session:
        def __init__(self, fail):
            self.fail = fail

        def head(self, url, timeout=None):
            calls.append((url, timeout))
            if self.fail:
                raise OSError("[Errno -2] Name or service not known")
            return object()

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_utils, "get_session", lambda: Session(True))
    assert readers._hub_unreachable(timeout=2) == "[Errno -2] Name or service not known"
    assert calls == [(constants.ENDPOINT, 2)]
    monkeypatch.setattr(hub_utils, "get_session", lambda: Session(False))
    assert readers._hub_unreachable() is None
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # offline mode set by the user: no request at all
    calls.clear()
    assert readers._hub_unreachable() is None and calls == []


# -- a hub dataset's subset (configuration) ---------------------------------------------------------------------------

def _hub_rows():
    import datasets

    return datasets.Dataset.from_list([{"conversations": [{"from": "human", "value": "Why is the sky blue?"},
                                                          {"from": "gpt", "value": "Air scatters blue light most."}]}])


def test_an_inputs_subset_is_the_configuration_the_hub_dataset_loads(monkeypatch, tmp_path):
    """``subset: all`` loads ``load_dataset(name, "all", split=...)``: a dataset of several configurations
    (HuggingFaceTB/smoltalk) could not be read at all ("Config name is missing")."""
    import datasets

    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation

    calls = []

    def load(path, name=None, split=None, streaming=False):
        calls.append((path, name, split))
        return _hub_rows()

    monkeypatch.setattr(datasets, "load_dataset", load)
    monkeypatch.setattr(readers, "_hub_unreachable", lambda timeout=5.0: None)
    out = tmp_path / "out"
    run_curation(None, out, load_config(None, {"report": False, "checkpoint": False, "inputs": [
        {"path": "org/ds", "subset": "all", "split": "test", "name": "chat"}]}))
    assert calls == [("org/ds", "all", "test")]
    manifest = read_manifest(out)
    assert manifest["accounting"]["input_rows"] == 1 and manifest["config"]["inputs"][0]["subset"] == "all"
    source = open_input("org/ds", subset="all")
    assert source.records[0][0] == "org/ds:all:train" and "org/ds:all:train" in source.fingerprint
    assert open_input("org/ds").fingerprint != source.fingerprint


def _needs_a_subset(monkeypatch) -> list:
    """A hub dataset of several configurations (loaded without one: "Config name is missing"), online; the
    ``(path, name)`` of each load."""
    import datasets

    calls = []

    def load(path, name=None, split=None, streaming=False):
        calls.append((path, name))
        if name is None:
            raise ValueError("Config name is missing.\nPlease pick one among the available configs: ['all', 'smol']")
        return _hub_rows()

    monkeypatch.setattr(datasets, "load_dataset", load)
    monkeypatch.setattr(readers, "_hub_unreachable", lambda timeout=5.0: None)
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    return calls


def test_a_dataset_that_needs_a_subset_says_where_to_give_it(monkeypatch):
    _needs_a_subset(monkeypatch)
    with pytest.raises(InputError, match=r"^org/ds: cannot load from the Hugging Face hub \(give this input a "
                                         r"`subset:` in the config's inputs list\): Config name is missing"):
        open_input("org/ds")


@pytest.mark.parametrize("path", ["sample", "{tmp}/rows.jsonl", "./data"])
def test_a_subset_of_a_local_input_is_one_clear_error(tmp_path, path):
    (tmp_path / "rows.jsonl").write_text("{}\n")
    spec = None if path == "sample" else path.format(tmp=tmp_path)
    with pytest.raises(InputError, match=r"subset 'all' is given, but only a hub dataset has subsets"):
        open_input(spec, subset="all")


def test_an_empty_subset_is_refused_by_the_config():
    from curation.inputs import InputConfig

    with pytest.raises(ValueError, match="subset"):
        InputConfig(path="org/ds", subset="")


def _run_against(tmp_path, against: dict):
    from curation.config import load_config
    from curation.pipeline import run_curation

    (tmp_path / "new.jsonl").write_text(
        '{"conversations": [{"from": "human", "value": "Why is the sky blue?"}, '
        '{"from": "gpt", "value": "Air scatters blue light most."}]}\n'
        '{"conversations": [{"from": "human", "value": "What is rain made of?"}, '
        '{"from": "gpt", "value": "Drops of water that fall from clouds."}]}\n')
    return run_curation(str(tmp_path / "new.jsonl"), tmp_path / "out", load_config(None, {
        "report": False, "checkpoint": False, "stages": {"against": against}}))


def test_against_a_hub_dataset_takes_its_subset(monkeypatch, tmp_path):
    """``stages.against.subset`` is the configuration the existing hub set loads; without it a dataset of several
    configurations could not be the existing set at all, and the hint named an input's `subset:`."""
    from curation.contract import read_manifest

    calls = _needs_a_subset(monkeypatch)
    with pytest.raises(Exception, match=r"^--against org/ds: cannot load from the Hugging Face hub \(give the set a "
                                        r"subset: stages.against.subset in the config\)"):
        _run_against(tmp_path, {"path": "org/ds"})
    _run_against(tmp_path, {"path": "org/ds", "subset": "all"})
    assert ("org/ds", "all") in calls
    manifest = read_manifest(tmp_path / "out")
    assert manifest["removed_by_reason"] == {"duplicate_of_existing": 1}
    assert manifest["config"]["stages"]["against"]["subset"] == "all"


def test_a_subset_for_a_curated_existing_folder_is_one_clear_error(tmp_path):
    from curation.config import load_config
    from curation.pipeline import run_curation

    run_curation(None, tmp_path / "old", load_config(None, {"report": False, "checkpoint": False}))
    with pytest.raises(Exception, match=r"^--against .*old: a subset \('all'\) is a hub dataset's configuration; this "
                                        r"is a curated folder"):
        _run_against(tmp_path, {"path": str(tmp_path / "old"), "subset": "all"})
