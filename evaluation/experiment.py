"""The data-centric experiment in one call: curate, train the same model with the same budget on the raw and on
the curated data, then compare held-out loss on the curated test split and the automatic checks.

``out/`` ends up holding::

    curated/          the `tome curate` output (with report.html)
    raw/              the raw side (:mod:`evaluation.raw_folder`): every input row except the held-out ones
    runs/raw/         `tome train` run folder, trained on raw/
    runs/curated/     `tome train` run folder, trained on curated/ (same config: model, steps, batch, lr, seed)
    eval.json         every figure (answers, checks, losses, the runs' summaries, timings)
    eval.md, eval.html  the side-by-side tables

"Same budget" is the same training config for both runs, ``training.max_steps`` included: both take the same
number of optimizer steps over batches of the same size and sequence length, from the same seed. The raw run
skips and counts the rows that have nothing to learn (``data.untrainable_rows: skip_all``: a reply cut off by
``max_seq_length``, or one whose leading spaces merge with the response marker), as a plain trainer would; the
curated run keeps the default, which stops on a response-marker failure. A finished
run whose config and data did not change is reused when the command runs again, and an interrupted one resumes
from its newest checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Literal, Optional

import yaml
from pydantic import Field, model_validator

from curation.core.config_base import StrictModel
from evaluation.answers import GenerationSettings, answer_all
from evaluation.heldout import heldout_loss
from evaluation.models import ModelRef
from evaluation.prompt_sets import load_prompt_set
from evaluation.raw_folder import build_raw_folder
from evaluation.tables import EvalResults, write_results
from tomecraft.resources import config_dir, config_path

DEFAULT_EXPERIMENT_CONFIG = config_path("eval_experiment.yaml")
CPU_EXPERIMENT_CONFIG = config_path("eval_experiment_cpu.yaml")


class ExperimentError(RuntimeError):
    """The experiment cannot run as configured; the message names the file or folder in the way."""




class EvalSection(StrictModel):
    """How the trained models are compared."""

    prompts: Optional[str] = Field(None, description="prompt set YAML; null = the seed's three prompts")
    temperature: float = Field(0.0, ge=0.0, le=5.0, description="0 = greedy decoding")
    max_new_tokens: int = Field(512, ge=1)
    seed: int = Field(0, ge=0)
    n_ctx: int = Field(4096, ge=64)
    loss_split: Literal["train", "validation", "test"] = Field(
        "test", description="split of the curated folder the held-out loss is measured on")
    max_loss_rows: Optional[int] = Field(None, ge=1, description="score only the first N rows (null: all)")
    loss_max_seq_length: Optional[int] = Field(None, ge=8, description="null: the training config's max_seq_length")
    loss_batch_size: int = Field(4, ge=1)
    include_base: bool = Field(True, description="also evaluate the untrained base model")

    @model_validator(mode="after")
    def _room_for_a_prompt(self) -> "EvalSection":
        # checked here, not after the curation and both training runs, where the first answer refused it
        if self.max_new_tokens >= self.n_ctx:
            raise ValueError(f"max_new_tokens ({self.max_new_tokens}) must be below n_ctx ({self.n_ctx}): the prompt "
                             "and the answer share the context")
        return self


class ExperimentConfig(StrictModel):
    """Everything `tome eval experiment` does, as data (``configs/eval_experiment*.yaml``)."""

    input: Optional[str] = Field(None, description="what to curate (as `tome curate --input`); null = the embedded sample")
    curation_config: Optional[str] = Field(None, description="curation YAML (null: the defaults)")
    curation: dict[str, Any] = Field(default_factory=dict, description="curation overrides, e.g. {stages: {balance: {max_per_source: 500}}}")
    train_config: Optional[str] = Field(None, description="training YAML (null: configs/train.yaml with CUDA, configs/train_cpu.yaml without)")
    train: dict[str, Any] = Field(default_factory=dict, description="training overrides, e.g. {training: {max_steps: 300}}")
    eval: EvalSection = Field(default_factory=EvalSection)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def load_experiment_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """The experiment config in ``path`` (None: the defaults) with ``overrides`` on top, read and checked like every
    other config (:mod:`tomecraft.config_files`); its ``curation:`` and ``train:`` sections and its prompt set are
    validated here too, so that a bad key stops the command before anything runs."""
    from tomecraft.config_files import ConfigError, read_yaml_mapping, validate_model

    data: dict[str, Any] = {}
    where = "config"
    try:
        if path is not None:
            path = Path(path)
            where = str(path)
            data = read_yaml_mapping(path)
            for key in ("curation_config", "train_config"):  # relative: to the working folder, the file, or the repo
                value = data.get(key)
                if isinstance(value, str) and value and not Path(value).is_absolute() and not Path(value).exists():
                    found = next((b / value for b in (path.parent, config_dir().parent) if (b / value).exists()), None)
                    if found is None and Path(value).parts[:1] == ("configs",):  # an installed copy of configs/
                        found = next((p for p in [config_dir().joinpath(*Path(value).parts[1:])] if p.exists()), None)
                    if found is not None:
                        data[key] = str(found)
        cfg = validate_model(ExperimentConfig, data, where, overrides)
        _check_sections(cfg, data, where, overrides or {})
    except ConfigError as exc:
        raise ExperimentError(str(exc)) from None
    return cfg


def _section_label(section: str, data: dict[str, Any], where: str, overrides: dict[str, Any]) -> str:
    """Who gave the ``curation:`` / ``train:`` overrides: the experiment file, ``--set``, or both."""
    sources = [s for s, given in ((f"{where}: ", data.get(section)), ("--set ", overrides.get(section))) if given]
    return " + ".join(f"{s}{section}" for s in sources or [f"{where}: "])


def _check_sections(cfg: ExperimentConfig, data: dict[str, Any], where: str, overrides: dict[str, Any]) -> None:
    """Validate what the run would build from ``cfg``: the curation and training configs with the sections on top,
    and the prompt set (a :class:`~tomecraft.config_files.ConfigError` naming the file and key)."""
    from curation.config import config_model
    from evaluation.prompt_sets import PromptSetError
    from tomecraft.config_files import ConfigError, deep_merge, load_model_config, read_yaml_mapping, validate_model
    from training.config import TrainConfig, default_config_path

    for section, model, base in (("curation", config_model(), cfg.curation_config),
                                 ("train", TrainConfig, cfg.train_config or default_config_path())):
        given, set_ = data.get(section), overrides.get(section)
        if not (isinstance(given, dict) and isinstance(set_, dict)):
            load_model_config(model, base, getattr(cfg, section) or None, _section_label(section, data, where, overrides))
            continue
        # both the file and --set change the section: the file's part first, then --set's on top, so that a bad
        # value is blamed on the one that gave it (was: "FILE: train + --set train: training.learning_rate: ...")
        load_model_config(model, base, given or None, f"{where}: {section}")
        merged = deep_merge(read_yaml_mapping(base) if base is not None else {}, given)
        validate_model(model, merged, str(base) if base is not None else "config", set_, f"--set {section}")
    try:
        load_prompt_set(cfg.eval.prompts)
    except PromptSetError as exc:
        raise ConfigError(str(exc)) from None


def default_experiment_config() -> Path:
    from tomecraft.devices import cuda_available

    return DEFAULT_EXPERIMENT_CONFIG if cuda_available() else CPU_EXPERIMENT_CONFIG


def _train_config(cfg: ExperimentConfig):
    from training.config import default_config_path, load_config

    return load_config(cfg.train_config or default_config_path(), cfg.train or None)


def raw_train_config(train_cfg):
    """The raw side's config: the same, except that rows with nothing to learn are skipped and counted whatever the
    reason (``data.untrainable_rows: skip_all``), as a plain trainer would on raw data, instead of stopping."""
    return train_cfg.model_copy(update={"data": train_cfg.data.model_copy(update={"untrainable_rows": "skip_all"})})


def run_state(run_dir: Path, data_dir: Path, train_cfg) -> str:
    """``new``, ``finished`` (reused) or ``unfinished`` (resumed) for a run folder of this config on exactly these
    split files; raises :class:`ExperimentError` when the folder holds a run of another config or other data."""
    from training.run import run_paths, sha256_file

    paths = run_paths(run_dir)
    if not paths.config.exists():
        return "new"
    same_config = paths.config.read_text(encoding="utf-8") == train_cfg.to_yaml()
    try:
        stored = json.loads(paths.data_manifest.read_text(encoding="utf-8"))["files"]
        same_data = all(stored[name]["sha256"] == sha256_file(data_dir / f"{name}.parquet") for name in stored)
    except (OSError, KeyError, json.JSONDecodeError):
        same_data = False
    if same_config and same_data:
        return "finished" if paths.summary.exists() else "unfinished"
    raise ExperimentError(
        f"{run_dir}: holds a run of {'another config' if not same_config else 'other data'}; "
        "pass --overwrite or choose another --out"
    )


def base_model_spec(train_cfg) -> str:
    """The base model as a model argument, loaded the way the runs' adapters are: the offline SmolLM2 is
    training's converted float32 folder (the packaged GGUF, dequantized), so that base, raw and curated all
    answer through transformers from the same weights; any other base is its name."""
    from training.models import OFFLINE_SMOLLM2, resolve_model_source

    name = train_cfg.model.name
    return resolve_model_source(name) if name == OFFLINE_SMOLLM2 else name


def _tracker(progress: Any | None):
    """``track(items, total, description)`` drawing on a rich ``Progress`` (None: no bars)."""
    if progress is None:
        return None

    def track(items, total, description):  # noqa: ANN001
        task = progress.add_task(description, total=total or None)
        for item in items:
            yield item
            progress.advance(task)

    return track


def run_experiment(cfg: ExperimentConfig, out_dir: str | Path, *, overwrite: bool = False,
                   log: Callable[[str], None] = lambda msg: None, progress: Any | None = None) -> EvalResults:
    """Curate, train raw and curated with one config, evaluate base/raw/curated; write ``out_dir``."""
    import shutil

    from curation.config import load_config as load_curation_config
    from curation.pipeline import run_curation
    from training.run import train

    out = Path(out_dir)
    prompts = load_prompt_set(cfg.eval.prompts)
    train_cfg = _train_config(cfg)

    def make_folder() -> None:  # once the input is open: one that cannot be read leaves --out as it was
        if overwrite and out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "experiment.yaml").write_text(cfg.to_yaml(), encoding="utf-8")

    log("curating" + (f" {cfg.input}" if cfg.input else " the embedded sample"))
    curation_cfg = load_curation_config(cfg.curation_config, cfg.curation or None)
    curated_dir, raw_dir = out / "curated", out / "raw"
    curated = run_curation(cfg.input, curated_dir, curation_cfg, on_opened=make_folder)
    log("building the raw side (every input row but the held-out ones)")
    raw = build_raw_folder(curated_dir, raw_dir)

    summaries: dict[str, dict[str, Any]] = {}
    for name, data in (("raw", raw_dir), ("curated", curated_dir)):
        run_dir = out / "runs" / name
        side_cfg = raw_train_config(train_cfg) if name == "raw" else train_cfg
        state = run_state(run_dir, data, side_cfg)
        if state == "finished":
            log(f"training on {name}: reusing the finished run in {run_dir}")
        else:
            log(f"training on {name} data -> {run_dir}" + (" (resuming)" if state == "unfinished" else ""))
            train(data, side_cfg, run_dir, resume=state == "unfinished", progress=progress)
        summaries[name] = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        skipped = summaries[name].get("data", {}).get("train", {}).get("rows_skipped_by_reason") or {}
        if skipped:
            log(f"  {name}: skipped {sum(skipped.values())} row(s) with nothing to learn: "
                + ", ".join(f"{reason} {n}" for reason, n in skipped.items()))

    refs = [ModelRef("base", base_model_spec(train_cfg), train_cfg.model.name)] if cfg.eval.include_base else []
    refs += [ModelRef(name, str(out / "runs" / name), f"runs/{name}") for name in ("raw", "curated")]
    settings = GenerationSettings(cfg.eval.temperature, cfg.eval.max_new_tokens, cfg.eval.seed, cfg.eval.n_ctx)
    max_len = cfg.eval.loss_max_seq_length or train_cfg.model.max_seq_length
    losses = {}
    for ref in refs:
        log(f"held-out loss of {ref.label} on curated/{cfg.eval.loss_split}.parquet")
        losses[ref.label] = heldout_loss(ref.spec, curated_dir, cfg.eval.loss_split, max_len, cfg.eval.max_loss_rows,
                                         cfg.eval.loss_batch_size, progress=_tracker(progress))
    log(f"answers of {', '.join(r.label for r in refs)} to {len(prompts)} prompt(s)")
    answers = answer_all(refs, prompts, settings, on_answer=lambda ref, p, a: log(f"  {ref.label} / {p.id}: {a.passed}/{len(a.checks)} checks"))

    t = train_cfg.training
    budget = (f"{t.max_steps} optimizer steps" if t.max_steps else f"{t.num_epochs:g} epoch(s)")
    acc = curated.manifest["accounting"]
    preamble = [
        f"Curated **{acc['input_rows']:,}** input rows into {acc['in_splits']:,} kept rows "
        f"({curated.manifest['outputs']['train']['rows']:,} train); the raw side trains on **{raw.train_rows:,}** rows: every "
        f"input row except the {raw.held_out:,} held-out (validation + test) rows and {raw.duplicates_of_held_out:,} "
        "duplicate(s) of them.",
        f"Both runs: `{train_cfg.model.name}`, LoRA r={train_cfg.lora.r}, {budget} of batch "
        f"{t.per_device_batch_size}×{t.gradient_accumulation_steps}, lr {t.learning_rate:g}, max {train_cfg.model.max_seq_length} "
        f"tokens per row, seed {t.seed}. Tokens seen: raw {summaries['raw']['tokens_seen']:,}, curated "
        f"{summaries['curated']['tokens_seen']:,}.",
    ]
    for name in ("raw", "curated"):
        skipped = summaries[name].get("data", {}).get("train", {}).get("rows_skipped_by_reason") or {}
        if skipped:
            preamble.append(f"The {name} run skipped {sum(skipped.values()):,} training row(s) with nothing to learn ("
                            + ", ".join(f"{reason}: {n:,}" for reason, n in skipped.items()) + ").")
    results = EvalResults(
        prompts=prompts, settings=settings, models=answers, losses=losses, loss_data="curated/",
        title="Raw vs curated: the data-centric experiment", preamble=preamble,
        extra={"experiment": {"config": cfg.model_dump(mode="json"), "train_config": train_cfg.resolved(),
                              "raw": raw.as_dict(), "curation_accounting": acc, "runs": summaries}},
    )
    write_results(results, out)
    return results
