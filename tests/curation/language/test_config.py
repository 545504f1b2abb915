"""Language codes in the config: written as users write them (EN, en-US), and an unknown one is a config error
instead of a filter that silently drops every row."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import ValidationError

from curation.language.config import MODEL_LANGUAGES, LanguageConfig
from curation.language.detect import detect
from curation.language.model import UNDETERMINED, load_model
from curation.language.rules import verdicts

EN_Q = "Can you explain why the sky looks blue during the day and red at sunset?"
EN_A = ("Sunlight is scattered by the molecules of the air, and blue light is scattered much more than red "
        "light, so the sky looks blue. At sunset the light crosses more air and the blue is scattered away.")
CONV = pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))


def test_the_code_list_is_the_packaged_models_labels():
    assert MODEL_LANGUAGES == set(load_model().classes) - {UNDETERMINED}


@pytest.mark.parametrize("given", [["EN"], ["en-US"], ["en_GB"], [" En "]])
def test_case_and_region_subtags_are_read_as_the_models_code(given):
    cfg = LanguageConfig(enabled=True, allowed=given)
    assert cfg.allowed == ["en"]
    rows = pa.array([[{"from": "human", "value": EN_Q}, {"from": "gpt", "value": EN_A}]], CONV)
    reasons, _ = verdicts(detect(rows, cfg), rows, cfg)
    assert reasons == [None]  # an English row is kept, not dropped as outside `allowed`


@pytest.mark.parametrize("given", [["eng"], ["english"], ["en", "xx"], [""]])
def test_a_code_the_detector_never_gives_is_a_config_error_naming_it(given):
    with pytest.raises(ValidationError, match="is not a language the detector knows") as info:
        LanguageConfig(allowed=given)
    assert repr(given[-1]) in str(info.value)


def test_mismatch_groups_are_checked_the_same_way():
    assert LanguageConfig(mismatch={"same": [["DA", "no", "nn"]]}).mismatch.same == [["da", "no", "nn"]]
    with pytest.raises(ValidationError, match="'dk' is not a language"):
        LanguageConfig(mismatch={"same": [["dk", "no"]]})
