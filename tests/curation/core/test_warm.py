"""The warm-up (curation.core.warm): what it loads is what the run then calls, and it changes nothing."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curation.contract import ROW_SCHEMA
from curation.core.warm import sample_rows

REPO = Path(__file__).resolve().parents[3]


def test_sample_rows_have_the_row_schema():
    batch = sample_rows()
    assert batch.schema == ROW_SCHEMA
    assert batch.num_rows == 2 and batch.column("conversations").null_count == 0


SCRIPT = textwrap.dedent("""
    import json, sys
    from curation.config import config_model
    from curation.engines.plan import build_plan
    from curation.core.jit import Kernel
    from curation.pipeline import open_source, run_curation

    def kernels():
        found = {}
        for name, module in list(sys.modules.items()):
            if name.startswith("curation"):
                for attr, value in list(vars(module).items()):
                    if isinstance(value, Kernel):  # the ones compiled so far (curation.core.jit)
                        found[f"{name}.{attr}"] = {str(s) for s in value.loaded.signatures} if value.loaded else set()
        return found

    config = config_model()(stages={"against": {"path": sys.argv[1]}})
    source, config = open_source(None, config)
    for planned in build_plan(config, source.fingerprint):
        if planned.enabled:
            planned.stage.warm_up()
    warmed = {k: v for k, v in kernels().items() if v}
    run_curation(None, sys.argv[2], config)
    after = kernels()
    print(json.dumps({"warmed": sorted(warmed), "new": {k: sorted(after[k] - v) for k, v in warmed.items() if after[k] - v}}))
""")


@pytest.mark.slow  # (3-7 s: the fast lane stays under 3 minutes; the full suite runs it)
def test_warm_up_loads_the_kernel_variants_a_run_calls(tmp_path):
    """In a fresh process: the default stages' warm-up loads their kernels, and a real run over the embedded
    sample then calls no other variant of them (a warm-up typed differently would load the wrong ones)."""
    existing = tmp_path / "existing.jsonl"
    existing.write_text(json.dumps({"conversations": [{"from": "human", "value": "hi there"},
                                                      {"from": "gpt", "value": "hello, how can I help?"}]}) + "\n")
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(existing), str(tmp_path / "out")], cwd=REPO,
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    warmed = set(result["warmed"])
    assert "curation.normalize._needs_work" in warmed
    assert any(k.startswith("curation.minhash.") for k in warmed)  # near dedup and --against's signatures
    assert {"curation.repetition.word_counts", "curation.repetition.repetition_measures"} <= warmed  # filters
    assert result["new"] == {}


def test_what_the_imports_and_kernels_made_is_kept_from_the_collectors_full_passes():
    import gc

    from curation.core import warm

    gc.unfreeze()
    before = gc.get_freeze_count()
    warm.start([]).join()
    try:
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()


SKIP_PROBE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import pyarrow as pa
    from curation.core.warm import load_numba_target, skip_pandas_probe

    skip_pandas_probe()
    pa.array([1, 2]); pa.array(np.zeros(2)); pa.table({"a": ["x"]})
    converted_without_pandas = "pandas" not in sys.modules
    frame = pa.table({"a": [1, 2]}).to_pandas()  # pyarrow looks again where it needs pandas
    back = pa.Table.from_pandas(frame).column("a").to_pylist()

    load_numba_target()
    target_without_scipy = "scipy.linalg" not in sys.modules
    from curation.core.jit import njit

    dot = njit(lambda a, b: np.dot(a, b))  # np.dot still finds its BLAS when compiled
    print(json.dumps({"without": converted_without_pandas, "back": back, "dot": float(dot(np.ones(3), np.ones(3))),
                      "target_without_scipy": target_without_scipy}))
""")


def test_start_up_skips_pandas_and_the_blas_probe_and_both_still_work_where_used(tmp_path):
    """In a fresh process: pyarrow converts values without importing pandas after the skipped probe, yet
    converts to and from pandas when asked; numba's target loads without importing SciPy's linear algebra,
    yet ``np.dot`` compiles."""
    done = subprocess.run([sys.executable, "-c", SKIP_PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["without"] is True
    assert result["back"] == [1, 2]
    assert result["target_without_scipy"] is True
    assert result["dot"] == 3.0
