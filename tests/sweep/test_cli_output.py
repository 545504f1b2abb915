"""`tome sweep` prints what a user gave (paths, variant and sweep names, log lines) as given: no markup, no emoji
codes; and its own table headers (`... [range]`) are not read as markup either. Piped, its tables are printed whole;
an --out it cannot write is one error line, the dry run's too."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from tomecraft.cli import app

REPO = Path(__file__).resolve().parents[2]
CPU_CONFIG = REPO / "configs" / "sweep_cpu.yaml"
ODD = "[bold]x[/]:train:"  # markup tags, a closing tag with nothing open, an emoji code


def _flat(text: str) -> str:
    """Without line breaks or spacing: a long line, table cell or title wraps."""
    return "".join(text.split())


def test_a_dry_run_prints_the_config_as_given(tmp_path, monkeypatch):
    import sweep.cli

    data = yaml.safe_load(CPU_CONFIG.read_text(encoding="utf-8"))
    data["train_config"] = str(REPO / "configs" / "train_cpu.yaml")
    config = tmp_path / f"c{ODD}.yaml"  # `[/]` makes a folder `c[bold]x[`
    config.parent.mkdir()
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(sweep.cli, "_default_config", lambda: config)
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["sweep", "--dry-run", "-o", str(tmp_path / f"o{ODD}"), "--tokens-per-s", "100"])
    assert result.exit_code == 0, result.output
    assert _flat(f"config: {config}") in _flat(result.output) and "the plan, in run order" in result.output
    assert not (tmp_path / f"o{ODD}").exists()


def test_a_run_prints_its_log_results_verdicts_and_files_as_given(tmp_path, monkeypatch):
    import sweep.runner

    out = tmp_path / f"o{ODD}"
    spread = {"n": 2, "mean": 1.5, "sd": 0.1, "min": 1.4, "max": 1.6}
    results = {"name": f"n{ODD}", "finished": 1, "planned": 2, "verdicts": [{"line": f"data: {ODD} wins"}],
               "groups": [{"group": f"g{ODD}", "seeds": [1, 2], "heldout_loss": spread, "checks_passed": spread,
                           "tokens_per_second": {"mean": 10.0}, "tokens_seen": {"mean": 100}, "peak_memory_gb": {}}]}

    def fake_run_sweep(cfg, out_, stop_after, tokens_per_s, log, progress):
        log(f"cell 1: training into {out_ / 'cells'}")
        return SimpleNamespace(results=results, not_started=["a"])

    monkeypatch.setattr(sweep.runner, "run_sweep", fake_run_sweep)
    monkeypatch.setenv("COLUMNS", "300")
    result = CliRunner().invoke(app, ["sweep", "-q", "-c", str(CPU_CONFIG), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _flat(result.output)
    for shown in (f"sweep cell 1: training into {out / 'cells'}", f"tome sweep n{ODD}: 1 of 2 cells", f"g{ODD}",
                  "held-out loss mean ± sd [range]", "checks passed mean [range]", "1.5000 ± 0.1000 [1.4000, 1.6000]",
                  f"data: {ODD} wins", "1 cell(s) not started (--stop-after)", str(out / "results.md"),
                  str(out / "results.json")):
        assert _flat(shown) in text, shown


def test_out_under_a_file_is_refused_by_the_dry_run_too(tmp_path):
    """The dry run printed a plan for a folder the run could not create (the run then stopped on `[Errno 20] Not a
    directory`)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    for extra in (["--dry-run"], ["-q"]):
        result = CliRunner().invoke(app, ["sweep", "-c", str(CPU_CONFIG), "-o", str(afile / "sweep"), *extra])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert result.output == f"error: --out {afile / 'sweep'}: cannot write the sweep folder here ({afile} is a file)\n"


def test_a_curation_output_for_out_is_refused_by_the_dry_run_too(tmp_path):
    """`--out CURATED` (a `tome curate` output: manifest.json beside its splits) was accepted, the dry run's too: the
    sweep wrote sweep.yaml, data/, cells/ and its results among the splits (`tome train --run` refuses it)."""
    from sweep.config import load_sweep_config
    from sweep.runner import SweepError, run_sweep
    from training.curated_folder import write_curated_folder

    rows = [{"conversations": [{"from": "human", "value": f"What is {i} plus 1?"},
                               {"from": "gpt", "value": f"{i + 1}."}]} for i in range(20)]
    data = write_curated_folder(rows, tmp_path / "curated")
    before = sorted(p.name for p in data.iterdir())
    line = (f"error: {data}: a `tome curate` output folder (manifest.json); the sweep would write its files among "
            "the splits; choose another --out")
    for extra in (["--dry-run"], ["-q"]):
        result = CliRunner().invoke(app, ["sweep", "-c", str(CPU_CONFIG), "-o", str(data), *extra])
        assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
        assert _flat(result.output) == _flat(line)
    with pytest.raises(SweepError, match="a `tome curate` output folder"):  # called as a library, too
        run_sweep(load_sweep_config(CPU_CONFIG), data)
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_piped_plan_shows_every_cell_id_whole(tmp_path, monkeypatch):
    """Piped, rich assumes 80 columns: the plan cut cell ids short (`curated__learning_rate-0.0001__seed…`)."""
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["sweep", "--dry-run", "-c", str(CPU_CONFIG), "-o", str(tmp_path / "s"),
                                      "--tokens-per-s", "100"])
    assert result.exit_code == 0, result.output
    assert "curated__learning_rate-0.0001__seed-1 " in result.output and "…" not in result.output


def test_the_help_shows_the_default_out(monkeypatch):
    """`sweeps/<config name>` was read as a markup tag and printed as `sweeps/.`"""
    monkeypatch.setenv("COLUMNS", "300")
    text = " ".join(CliRunner().invoke(app, ["sweep", "--help"]).output.split())
    assert "Default: sweeps/CONFIG, CONFIG the config file's name without .yaml, e.g. sweeps/sweep_cpu." in text
