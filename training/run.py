"""One training run: curated splits in, a run folder out.

A run folder (``--run``) holds:

``config.yaml``          the resolved training config
``data_manifest.json``   the curation output it trained on: folder, its manifest, SHA-256 of the split files
``skipped_rows.jsonl``   rows left out because masking left them nothing to train on (with the reason)
``metrics.jsonl``        one line per train log / eval / end event (step, loss, eval_loss, learning rate, ...)
``checkpoints/``         ``checkpoint-N`` every ``save_steps`` (adapter, optimizer, scheduler, RNG, trainer state)
``adapter/``             the final LoRA adapter and tokenizer (what ``tome export`` reads)
``summary.json``         tokens seen, tokens/s, peak memory, losses, data counts, versions

``train(curated_dir, config, run_dir)`` is the Python entry point (``tome train`` calls it); ``resume=True``
continues from the newest complete checkpoint with the same optimizer, scheduler, RNG and data order.
"""

from __future__ import annotations

import hashlib
import json
import platform
import resource
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterable

from curation.contract import SPLITS, output_paths, read_manifest, require_output_folder, split_columns
from tomecraft.errors import error_line
from training.config import TrainConfig, config_differences, load_config

PACKAGES = ("tomecraft", "torch", "transformers", "trl", "peft", "accelerate", "bitsandbytes", "unsloth", "unsloth_zoo", "datasets")
CHECKPOINT_PREFIX = "checkpoint-"
_CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")
# what a resume hands to torch.load (zip archives, as torch.save writes them): a damaged one ended the resume in a
# torch traceback after the model had loaded
_TORCH_STATE_FILES = ("optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth")


ADAPTER_CONFIG = "adapter_config.json"  # what peft saves beside the LoRA weights (in checkpoints and adapter/)
ADAPTER_WEIGHTS = "adapter_model.safetensors"


class RunError(RuntimeError):
    """The run cannot start or resume; the message says which file or setting is in the way."""


class TrainerConfigError(ValueError):
    """transformers / TRL refused the config's values as the trainer config (``SFTConfig``) was built."""


@dataclass(frozen=True)
class RunPaths:
    """Where each file of a run folder lives."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def data_manifest(self) -> Path:
        return self.root / "data_manifest.json"

    @property
    def skipped(self) -> Path:
        return self.root / "skipped_rows.jsonl"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def export(self) -> Path:
        return self.root / "export"


@dataclass
class RunSummary:
    """What a finished run reports (also written as ``summary.json``)."""

    run_dir: str
    model: str
    device: str
    global_step: int
    epoch: float
    resumed_from_step: int | None
    tokens_seen: int  # non-padding input tokens over the whole run (resumed runs included)
    session_tokens: int  # ... in this process
    train_seconds: float  # inside optimizer steps, this process
    tokens_per_second: float  # session_tokens / train_seconds
    wall_seconds: float
    peak_memory_bytes: int
    peak_memory_kind: str  # cuda_reserved | cpu_max_rss
    train_loss_first: float | None
    train_loss_last: float | None
    eval_loss_first: float | None
    eval_loss_last: float | None
    eval_loss_best: float | None
    eval_losses: list[list[float]] = field(default_factory=list)  # [step, eval_loss]
    data: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_paths(root: str | Path) -> RunPaths:
    return RunPaths(Path(root))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shards_digest(named: Iterable[tuple[str, str]]) -> str:
    """One SHA-256 of a split written in shards: over ``name:sha256`` lines of its files, in name order."""
    return hashlib.sha256("".join(f"{name}:{digest}\n" for name, digest in sorted(named)).encode()).hexdigest()


def data_record(curated_dir: Path, config: TrainConfig) -> dict[str, Any]:
    """What the run trains on, so a model traces back to its data."""
    paths = require_output_folder(curated_dir)
    splits = [config.data.train_split] + ([config.data.eval_split] if config.data.eval_split else [])
    files = {}
    for name in dict.fromkeys(splits):
        path = paths.split(name)
        shards = paths.files(path)  # one file, or the part-*.parquet shards of `tome curate --engine ray`
        digest = sha256_file(shards[0]) if shards == [path] else shards_digest((p.name, sha256_file(p)) for p in shards)
        files[name] = {"path": str(path.resolve()), "sha256": digest}
    return {"curated_dir": str(paths.root.resolve()), "files": files, "manifest": read_manifest(paths.root)}


def check_manifest_agrees(curated: Path, record: dict[str, Any]) -> None:
    """Refuse (:class:`OutputFolderError`, naming the file) a split the run reads that is not the one the folder's
    ``manifest.json`` lists: other rows than it counts (:func:`curation.contract.check_row_counts`, from the Parquet
    footers), or other bytes than its SHA-256 (a split replaced or edited after the run). The run trained on such
    a folder without a word and recorded the stale manifest in ``data_manifest.json`` as its data, where `tome
    report` and `tome review` refuse it. ``record``: :func:`data_record` of the folder, whose digests are reused.
    Only the splits the run reads are checked: a deleted ``removed.parquet`` or test split changes no training."""
    from curation.contract import check_row_counts, unreadable_file

    outputs = record["manifest"].get("outputs")
    outputs = outputs if isinstance(outputs, dict) else {}
    listed = {name: outputs[name] for name in record["files"] if isinstance(outputs.get(name), dict)}
    check_row_counts(curated, {"outputs": listed})
    paths = output_paths(curated)
    for name, entry in listed.items():
        digest, files = entry.get("sha256"), entry.get("files")
        if isinstance(digest, list) and isinstance(files, list) and len(files) == len(digest):  # shards
            digest = shards_digest(zip(files, digest))
        if isinstance(digest, str) and digest != record["files"][name]["sha256"]:
            raise unreadable_file(curated, paths.split(name), "its SHA-256 is not the one manifest.json lists (changed "
                                  "after the run? run tome curate again)")


def checkpoint_step(path: Path) -> int:
    return int(path.name[len(CHECKPOINT_PREFIX):])


def is_complete_checkpoint(path: Path) -> bool:
    """The trainer writes ``trainer_state.json`` last; a run killed mid-save leaves a folder without it. A checkpoint
    whose state or adapter weights cannot be read (a file cut short, a disk error) is not complete either, so a
    resume takes the one before it instead of failing as it loads."""
    if not all((path / name).exists() for name in _CHECKPOINT_FILES):
        return False
    try:
        json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        adapter = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # the run's model is a LoRA adapter: a checkpoint without its weights (or their config) was taken as complete,
    # and the resume ended in transformers' "Can't find a valid checkpoint" traceback after the model had loaded
    weights = path / ADAPTER_WEIGHTS
    if not isinstance(adapter, dict) or not (weights.exists() or (path / "adapter_model.bin").exists()):
        return False
    if weights.exists():
        from safetensors import safe_open

        try:
            with safe_open(str(weights), "pt") as f:
                f.keys()
        except Exception:  # noqa: BLE001 - safetensors raises its own error types for a damaged header
            return False
    return True


def checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and p.name[len(CHECKPOINT_PREFIX):].isdigit()]
    return sorted(found, key=checkpoint_step)


def newest_checkpoint(root: Path) -> Path | None:
    complete = [p for p in checkpoints(root) if is_complete_checkpoint(p)]
    return complete[-1] if complete else None


def checkpoint_problem(path: Path) -> str | None:
    """Why a resume cannot continue from this checkpoint (None: it can): :func:`is_complete_checkpoint`, then its
    trainer state is a JSON object, and each optimizer / scheduler / RNG file a resume loads opens as the zip
    archive ``torch.save`` writes (one cut short or overwritten ended the resume in a torch traceback, after the
    model had loaded)."""
    import zipfile

    if not is_complete_checkpoint(path):
        return "incomplete or damaged (a save cut short)"
    if not isinstance(json.loads((path / "trainer_state.json").read_text(encoding="utf-8")), dict):
        return "trainer_state.json is not a JSON object"
    for file in [path / name for name in _TORCH_STATE_FILES] + sorted(path.glob("rng_state_*.pth")):
        if not file.exists():
            continue
        try:
            with zipfile.ZipFile(file) as archive:
                archive.namelist()
        except (OSError, zipfile.BadZipFile, ValueError):
            return f"{file.name} is damaged (not a file torch.save wrote)"
    return None


def check_checkpoint_fits(checkpoint: Path, config: TrainConfig, config_path: Path) -> None:
    """Refuse (:class:`RunError`) to resume from a checkpoint whose LoRA adapter was saved with other settings than
    the run's config (a checkpoint copied from another run, a config.yaml edited): the adapter loaded into a model
    of another shape after the model had loaded, in torch's "size mismatch" traceback (lora.r, target modules), or
    trained on with another scale without a word (lora.alpha). Read from its ``adapter_config.json``; what the base
    model's own shapes decide is checked once it has loaded (:func:`check_checkpoint_shapes`)."""
    saved = json.loads((checkpoint / ADAPTER_CONFIG).read_text(encoding="utf-8"))  # (is_complete_checkpoint read it)
    lora = config.lora
    pairs = [("lora.r", lora.r, saved.get("r")), ("lora.alpha", lora.alpha, saved.get("lora_alpha")),
             ("lora.use_rslora", lora.use_rslora, saved.get("use_rslora"))]
    if isinstance(saved.get("target_modules"), list):  # (peft saves them as a set: any order)
        pairs.append(("lora.target_modules", sorted(set(lora.target_modules)), sorted(saved["target_modules"])))
    diffs = [f"{key} {theirs!r} (the config: {ours!r})" for key, ours, theirs in pairs
             if theirs is not None and theirs != ours]
    if diffs:
        raise RunError(f"{checkpoint}: saved with {', '.join(diffs)}, not this run's config ({config_path}); resume "
                       "with the config it was trained with, or start a new run")


def check_checkpoint_shapes(checkpoint: Path, expected: dict[str, tuple[int, ...]], model_name: str) -> None:
    """Refuse (:class:`RunError`) a checkpoint whose adapter weights are not the tensors of the adapter just built
    (``expected``: name -> shape, peft's ``get_peft_model_state_dict`` of the loaded model): one saved on another
    base model ended the resume in torch's "size mismatch" traceback. Only the safetensors header is read."""
    weights = checkpoint / ADAPTER_WEIGHTS
    if not weights.exists():  # (adapter_model.bin: transformers reads and checks it)
        return
    from safetensors import safe_open

    with safe_open(str(weights), "pt") as f:
        saved = {key: tuple(f.get_slice(key).get_shape()) for key in f.keys()}
    # (a name missing on either side only warns as peft loads: the shapes are what end the resume, and no name in
    # common is a model of other layers)
    odd = next((k for k in sorted(saved) if k in expected and saved[k] != expected[k]), None)
    if odd is None and (set(saved) & set(expected) or not saved):
        return
    shown = (f"{odd} is {list(saved[odd])}, here {list(expected[odd])}" if odd is not None
             else "no tensor name in common")
    base = json.loads((checkpoint / ADAPTER_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    raise RunError(f"{checkpoint}: its LoRA weights do not fit the adapter on model.name {model_name} ({shown}; saved "
                   f"on {base}); resume with the model it was trained on, or start a new run")


def resumable_checkpoint(root: Path) -> tuple[Path | None, dict[Path, str]]:
    """The newest checkpoint a resume can continue from, and each newer one with why it cannot."""
    skipped: dict[Path, str] = {}
    for path in reversed(checkpoints(root)):
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped[path] = problem
    return None, skipped


def packages() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file the run appends to (``metrics.jsonl``). A last line cut short, with no line feed
    after it (the process killed as it appended), is left out: it ended the ``--resume`` of that run in a
    JSONDecodeError traceback, and the resume drops what the killed process logged after its checkpoint anyway.
    A line before it that is no JSON object is a :class:`RunError` naming the file and line."""
    if not path.exists():
        return []
    lines = path.read_bytes().split(b"\n")  # (line feeds only; the last piece: what follows the last line feed)
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            record, problem = None, error_line(exc)
        else:
            problem = f"a JSON {type(record).__name__}, not an object"
        if isinstance(record, dict):
            records.append(record)
        elif number < len(lines):
            raise RunError(f"{path}: line {number}: {problem}; the file is damaged (remove that line to go on)")
    return records


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in records), encoding="utf-8")


# what a run writes into its folder, and whether each is a folder
_RUN_ENTRIES = {"config.yaml": False, "data_manifest.json": False, "skipped_rows.jsonl": False, "metrics.jsonl": False,
                "checkpoints": True, "adapter": True, "summary.json": False}


def is_run_folder(paths: RunPaths) -> bool:
    """Was ``paths.root`` written by `tome train`: it holds the run's ``data_manifest.json``, or a ``config.yaml``
    that is a training config (a run killed between writing the two)."""
    if paths.data_manifest.is_file():
        return True
    if not paths.config.is_file():
        return False
    try:
        load_config(paths.config)
    except ValueError:  # ConfigError: some other tool's config.yaml
        return False
    return True


def check_run_folder(paths: RunPaths) -> None:
    """Refuse, before the data and the model are read, a ``--run`` folder the run would damage: a name the run
    writes a file under that is a folder (or the reverse: a ``checkpoints`` file ended the run in a traceback after
    the model had loaded), or a folder that is no run of `tome train` holding a file or folder the run would
    replace or delete (its ``config.yaml``, ``metrics.jsonl``, ``summary.json``, ``adapter/``...). Other files in
    the folder are left alone."""
    root = paths.root
    if not root.is_dir():
        return
    if output_paths(root).manifest.exists() and not is_run_folder(paths):
        raise RunError(f"{root}: a `tome curate` output folder (manifest.json); the run would write its files among the "
                       "splits; choose another --run")
    for name, is_folder in _RUN_ENTRIES.items():
        entry = root / name
        if entry.exists() and entry.is_dir() != is_folder:
            want, found = ("folder", "file") if is_folder else ("file", "folder")
            raise RunError(f"{entry}: the run writes a {want} here, and it is a {found}; move it or choose another --run")
    if is_run_folder(paths):
        return
    foreign = next((root / name for name in _RUN_ENTRIES if (root / name).exists()), None)
    if foreign is not None:
        raise RunError(
            f"{foreign}: --run {root} is not a `tome train` run folder (no data_manifest.json) and the run would "
            f"replace this {'folder' if foreign.is_dir() else 'file'}; move it or choose another --run"
        )


def read_data_record(paths: RunPaths) -> dict[str, Any]:
    """The run's ``data_manifest.json`` (:func:`data_record`); :class:`RunError` when it is missing or is not one
    (the resume cannot then check that it continues on the same data)."""
    path = paths.data_manifest
    advice = "the data this run started on is unknown, so it cannot be resumed; start a new run"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: missing; {advice}") from None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError, JSONDecodeError
        raise RunError(f"{path}: cannot be read ({error_line(exc)}); {advice}") from None
    files = record.get("files") if isinstance(record, dict) else None
    if not (isinstance(record, dict) and isinstance(record.get("curated_dir"), str) and isinstance(files, dict)
            and all(isinstance(f, dict) for f in files.values())):
        raise RunError(f"{path}: not the data record `tome train` writes (curated_dir, files); {advice}")
    return record


def nothing_to_resume(paths: RunPaths) -> RunError:
    return RunError(f"{paths.root}: nothing to resume (no config.yaml); give the --run folder of a started `tome train`")


def recorded_data_folder(run_dir: str | Path) -> Path:
    """The curation output folder a run started on (its ``data_manifest.json``): what ``--resume`` trains on when
    no ``--data`` is given (not ``out/``, which may hold other data or nothing)."""
    paths = run_paths(run_dir)
    if not paths.config.exists():
        raise nothing_to_resume(paths)
    folder = Path(read_data_record(paths)["curated_dir"])
    if not folder.is_dir():
        raise RunError(
            f"{folder}: the curation output this run started on ({paths.data_manifest}) is not a folder any more; "
            "give the folder that holds the same splits with --data"
        )
    return folder


def _prepare_run_folder(paths: RunPaths, curated: Path, config: TrainConfig | None, resume: bool) -> tuple[TrainConfig, Path | None]:
    """Create (or check, on resume) the run folder; the config to use and the checkpoint to resume from."""
    exists = paths.config.exists()
    if resume:
        if not exists:
            raise nothing_to_resume(paths)
        saved = load_config(paths.config)
        if config is None:
            config = saved
        diffs = config_differences(saved.resolved(), config.resolved())
        if diffs:
            raise RunError(f"{paths.config}: --resume with a different config: " + "; ".join(diffs))
        stored = read_data_record(paths)
        now = data_record(curated, config)
        changed = [n for n, f in now["files"].items() if stored["files"].get(n, {}).get("sha256") != f["sha256"]]
        if changed:
            raise RunError(
                f"{curated}: the {', '.join(changed)} split(s) differ from the data this run started on "
                f"({paths.data_manifest}); resume with the same curation output or start a new run"
            )
        checkpoint, unusable = resumable_checkpoint(paths.checkpoints)
        if checkpoint is None and paths.summary.exists():
            raise RunError(
                f"{paths.root}: the run finished (summary.json) and has no checkpoint left to continue from; its "
                "adapter/ is the result (tome export); start a new run to train more"
            )
        finished_at = _finished_step(paths.summary)
        if checkpoint is not None and finished_at is not None and checkpoint_step(checkpoint) <= finished_at:
            # the run ended after this checkpoint: "resuming" loaded the model to change nothing, and rewrote
            # summary.json with the throughput of no work (tokens/s 0) over the run's own
            raise RunError(
                f"{paths.root}: the run finished at step {finished_at} (summary.json); --resume continues a stopped "
                "run: its adapter/ is the result (tome export); start a new run to train more"
            )
        _require_rows(curated, config.data.train_split, config.data.eval_split)
        check_manifest_agrees(curated, now)
        if checkpoint is not None:  # (before the stale saves are removed: nothing changes on a wrong checkpoint)
            check_checkpoint_fits(checkpoint, config, paths.config)
        for stale in checkpoints(paths.checkpoints):  # half-written or damaged saves of the killed run
            if checkpoint is None or checkpoint_step(stale) > checkpoint_step(checkpoint):
                print(f"--resume: {stale}: {unusable.get(stale, 'incomplete')}; removed", file=sys.stderr)
                shutil.rmtree(stale)
        if checkpoint is None:  # (also when it stopped before its first: that resume was silent about it)
            print(f"--resume: {paths.root}: no checkpoint to continue from; the run starts again at step 0",
                  file=sys.stderr)
        # Steps after the checkpoint are trained again: drop what the killed process logged for them.
        done = checkpoint_step(checkpoint) if checkpoint else None
        _write_jsonl(paths.metrics, [r for r in _read_jsonl(paths.metrics) if done is not None and r["step"] <= done])
        return config, checkpoint
    if exists and (checkpoints(paths.checkpoints) or paths.summary.exists()):
        raise RunError(
            f"{paths.root}: already holds a run (config.yaml); continue it with --resume or choose another --run folder"
        )
    # a folder whose run stopped before its first checkpoint (e.g. on a masking error) is simply started over
    config = config or load_config(None)
    record = data_record(curated, config)  # before anything is written: a folder it fails on is left as it was
    _require_rows(curated, config.data.train_split, config.data.eval_split)  # (no run folder for an empty split)
    check_manifest_agrees(curated, record)
    paths.root.mkdir(parents=True, exist_ok=True)
    paths.config.write_text(config.to_yaml(), encoding="utf-8")
    paths.data_manifest.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for stale in (paths.metrics, paths.skipped, paths.summary):
        stale.unlink(missing_ok=True)
    return config, None


def _finished_step(summary: Path) -> int | None:
    """The last step of a finished run (its readable ``summary.json``), or None: no summary, or one cut short by a
    kill (which a resume rewrites)."""
    try:
        step = json.loads(summary.read_text(encoding="utf-8")).get("global_step")
    except (OSError, ValueError, AttributeError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def _require_rows(curated: Path, split: str, eval_split: str | None = None) -> bool:
    """Stop before the model loads when a split to read cannot be trained on (:func:`training.data.check_split`,
    from the footers: damaged, no ``conversations`` column, conversations that are not turns, a shard folder
    without shards) or the split to train on holds no row (the trainer would fail on it). Returns whether the
    eval split has rows; when it has none, says so (the run then has no validation loss)."""
    from training.data import check_split  # light imports only: safe before Unsloth

    counts = {name: check_split(curated, name) for name in dict.fromkeys([split] + ([eval_split] if eval_split else []))}
    path = output_paths(curated).split(split)
    if sum(rows for _, rows in counts[split]) == 0:
        raise RunError(
            f"{path}: the {split} split has no rows, nothing to train on (see the curation report in {curated} "
            "for why rows were removed)"
        )
    if eval_split and sum(rows for _, rows in counts[eval_split]) == 0:
        print(f"data.eval_split: {output_paths(curated).split(eval_split)} has no rows; the run has no validation "
              "loss", file=sys.stderr)
        return False
    return bool(eval_split)


def _require_curated_folder(curated: Path) -> None:
    """:func:`require_output_folder`, saying so when ``curated`` is the ``messages/`` folder inside one (`tome curate
    --format messages|both`), whose parent is the folder to train on, or a run folder of `tome train` (``--data``
    and ``--run`` swapped)."""
    from curation.card import MESSAGES_DIR

    if curated.is_dir() and not output_paths(curated).manifest.exists() and is_run_folder(run_paths(curated)):
        raise RunError(f"{curated}: a `tome train` run folder, not a curation output; give it with --run, and the "
                       "curation output folder with --data")
    if curated.name == MESSAGES_DIR and curated.is_dir() and output_paths(curated.parent).manifest.exists():
        raise RunError(
            f"{curated}: the messages/ copy of a curation output folder; train on the folder itself: "
            f"--data {curated.parent}"
        )
    messages = curated / MESSAGES_DIR
    if (curated.is_dir() and messages.is_dir() and not any(output_paths(curated).split(s).exists() for s in SPLITS)
            and any(output_paths(messages).split(s).exists() for s in SPLITS)):
        # (was: "missing train.parquet, validation.parquet, test.parquet", with the splits in plain sight)
        raise RunError(
            f"{curated}: holds only the messages/ copy of the splits; `tome train` reads the FineTome splits beside "
            f"it (train.parquet, validation.parquet, test.parquet), which every `tome curate --format` writes: "
            f"curate again into {curated}"
        )
    require_output_folder(curated)


def _reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_memory(device: str) -> tuple[int, str]:
    if device == "cuda":
        import torch

        return int(torch.cuda.max_memory_reserved()), "cuda_reserved"
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss_kb * (1 if sys.platform == "darwin" else 1024)), "cpu_max_rss"


def build_sft_config(
    config: TrainConfig, paths: RunPaths, has_eval: bool, resume: bool, bf16: bool, packed: bool = False,
    gradient_checkpointing: bool | str | None = None,
):
    """TRL ``SFTConfig`` for a run (import Unsloth first so that its patched class is used on GPU).

    ``packed``: the train rows arrive already packed (:mod:`training.packing`), so TRL neither packs nor truncates
    them again; padding-free batches are what keep the packed rows apart. ``gradient_checkpointing``: what
    ``lora.gradient_checkpointing`` resolved to when the model was loaded (``LoadedModel.gradient_checkpointing``).
    """
    from trl import SFTConfig

    t = config.training
    extra = batching_options(config, packed, gradient_checkpointing)
    return SFTConfig(
        output_dir=str(paths.checkpoints),
        per_device_train_batch_size=t.per_device_batch_size,
        per_device_eval_batch_size=t.eval_batch_size or t.per_device_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        num_train_epochs=t.num_epochs,
        max_steps=t.max_steps or -1,  # a training.max_tokens budget sets it once the rows are known (train())
        warmup_steps=t.warmup_steps,
        optim=t.optim,
        weight_decay=t.weight_decay,
        lr_scheduler_type=t.lr_scheduler,
        max_grad_norm=t.max_grad_norm,
        seed=t.seed,
        data_seed=t.seed,
        bf16=bf16,
        fp16=not bf16,
        logging_steps=t.logging_steps,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=t.eval_steps,
        eval_on_start=bool(has_eval and t.eval_on_start and not resume),
        prediction_loss_only=True,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        report_to="none",
        disable_tqdm=True,
        packing=False,  # packing happens before the trainer (training.packing), where it is checked
        include_num_input_tokens_seen="non_padding",
        dataloader_num_workers=0,
        **extra,
    )


def batching_options(config: TrainConfig, packed: bool, gradient_checkpointing: bool | str | None = None) -> dict[str, Any]:
    """The ``SFTConfig`` options that decide how rows become batches (and whether TRL checkpoints)."""
    t, lora = config.training, config.lora
    options: dict[str, Any] = {"max_length": config.model.max_seq_length}
    if packed:
        options["padding_free"] = True  # what keeps packed rows apart
        options["max_length"] = None  # packed rows are cut to max_seq_length already
        options["dataset_kwargs"] = {"skip_prepare_dataset": True}  # rows are final: tokenized, masked, cut, packed
    elif t.padding_free is not None:
        options["padding_free"] = t.padding_free
    checkpointing = lora.gradient_checkpointing if gradient_checkpointing is None else gradient_checkpointing
    if checkpointing is False:
        options["gradient_checkpointing"] = False  # TRL defaults it on; Unsloth decides for "unsloth" / true
    return options


def train(
    curated_dir: str | Path | None,
    config: TrainConfig | str | Path | dict[str, Any] | None,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: Any | None = None,
) -> RunSummary:
    """Fine-tune on a curation output folder; returns (and writes) the run summary.

    ``curated_dir`` None: ``out/``, or on resume the folder the run started on (:func:`recorded_data_folder`).

    ``config`` is a :class:`TrainConfig`, a YAML path, a dict, or None (the CPU/GPU default; on resume, the
    run's own config). ``progress`` is an optional ``rich.progress.Progress`` to draw the step bar on.
    """
    started = time.perf_counter()
    paths = run_paths(run_dir)
    if resume and not paths.config.exists():  # before the data is checked: --data is not what is wrong
        raise nothing_to_resume(paths)
    check_run_folder(paths)
    if curated_dir is None:  # on resume, the folder the run started on
        curated = recorded_data_folder(paths.root) if resume else Path("out")
    else:
        curated = Path(curated_dir)
    _require_curated_folder(curated)
    if config is not None and not isinstance(config, TrainConfig):
        config = load_config(config)
    if config is None and not resume:
        from training.config import default_config_path

        config = load_config(default_config_path())
    from training.config import check_optimizer_package
    from training.models import check_chat_template, check_model_source, import_unsloth, load_for_training

    if config is not None:  # before the run folder is written: a model that cannot be had left one behind
        check_model_source(config.model.name)
        check_optimizer_package(config.training.optim)
    config, checkpoint = _prepare_run_folder(paths, curated, config, resume)
    check_model_source(config.model.name)  # (on resume: the run's own config, read just now)
    check_optimizer_package(config.training.optim)
    import_unsloth()
    check_chat_template(config.model.chat_template)  # before transformers / TRL are imported below
    _reset_peak_memory()  # several runs in one process (`tome sweep`): each summary reports its own peak
    from training.callbacks import MetricsLogger, ProgressBar, StepTimer
    from training.data import check_trainable, prepare_split, read_rows, response_masker, template_parts
    from training.packing import pack_rows

    loaded = load_for_training(config)
    if checkpoint is not None:
        from peft import get_peft_model_state_dict

        shapes = {k: tuple(v.shape) for k, v in get_peft_model_state_dict(loaded.model).items()}
        check_checkpoint_shapes(checkpoint, shapes, config.model.name)
    tokenizer = loaded.tokenizer
    m = config.model
    instruction_part, response_part = template_parts(tokenizer, m.chat_template, m.instruction_part, m.response_part)
    mask = response_masker(tokenizer, instruction_part, response_part)
    track = _tracker(progress)
    train_split = prepare_split(
        read_rows(curated, config.data.train_split, config.data.max_train_rows),
        config.data.train_split, tokenizer, mask, config.model.max_seq_length, response_part, track,
    )
    check_trainable(train_split, config.data.untrainable_rows)
    eval_split = None
    if config.data.eval_split:
        eval_split = prepare_split(
            read_rows(curated, config.data.eval_split, config.data.max_eval_rows),
            config.data.eval_split, tokenizer, mask, config.model.max_seq_length, response_part, track,
        )
        if eval_split.rows_read:
            check_trainable(eval_split, config.data.untrainable_rows)
        if not eval_split.input_ids:
            eval_split = None
    skipped = train_split.skipped + (eval_split.skipped if eval_split else [])
    _write_jsonl(paths.skipped, [s.as_record() for s in skipped])

    import unsloth
    from datasets.utils.logging import disable_progress_bar
    from trl import SFTTrainer

    disable_progress_bar()  # TRL's dataset passes over already-prepared rows; our own bars show the work
    packed = pack_rows(train_split.input_ids, train_split.labels, m.max_seq_length) if config.training.packing else None
    bf16 = bool(unsloth.is_bfloat16_supported())
    try:
        args = build_sft_config(config, paths, eval_split is not None, checkpoint is not None, bf16,
                                packed=packed is not None, gradient_checkpointing=loaded.gradient_checkpointing)
    except ValueError as exc:  # a value transformers / TRL refuse (SFTConfig checks its options as it is built)
        raise TrainerConfigError(" ".join(str(exc).split())) from exc
    timer = StepTimer()
    callbacks = [MetricsLogger(paths.metrics), timer]
    if progress is not None:
        callbacks.append(ProgressBar(progress))
    from transformers.trainer_callback import PrinterCallback

    train_data, eval_data = trainer_datasets(train_split, eval_split, packed, m.max_seq_length)
    trainer = SFTTrainer(
        model=loaded.model,
        args=args,
        train_dataset=train_data,
        eval_dataset=eval_data,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # logs go to metrics.jsonl and the progress bar
    packing = settle_packing(trainer, packed, train_split)
    budget = None
    if config.training.max_tokens is not None:  # steps from what each batch element is: a packed sequence or a row
        from training.budget import steps_for_tokens

        lengths = [len(ids) for ids in (packed.input_ids if packing.get("active") else train_split.input_ids)]
        budget = steps_for_tokens(config, lengths)
        trainer.args.max_steps = budget.steps
    start_tokens = 0
    if checkpoint is not None:
        start_tokens = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")).get("num_input_tokens_seen", 0)
    if checkpoint is not None and _reached_max_steps(checkpoint, trainer.args.max_steps):
        restore_finished_checkpoint(trainer, checkpoint)
    else:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    state = trainer.state
    logged_evals = {r["step"] for r in _read_jsonl(paths.metrics) if r.get("kind") == "eval"}
    if eval_split is not None and state.global_step not in logged_evals and not any(
        h.get("step") == state.global_step and "eval_loss" in h for h in state.log_history
    ):
        trainer.evaluate()  # the last step was not an eval step: one more, so the summary ends on the final model

    loaded.model.save_pretrained(str(paths.adapter))
    tokenizer.save_pretrained(str(paths.adapter))

    metrics = _read_jsonl(paths.metrics)
    train_losses = [r["loss"] for r in metrics if r["kind"] == "train" and "loss" in r]
    evals = [[r["step"], r["eval_loss"]] for r in metrics if r["kind"] == "eval" and "eval_loss" in r]
    session_tokens = int(state.num_input_tokens_seen) - int(start_tokens)
    peak, peak_kind = _peak_memory(loaded.device)
    from curation.token_lengths.stage import tokens_per_split

    # tokens per split as curation counted them (token_lengths stage), to read the run's length in epochs
    curated_tokens = tokens_per_split(read_manifest(curated))
    summary = RunSummary(
        run_dir=str(paths.root),
        model=config.model.name,
        device=_device_name(loaded.device),
        global_step=int(state.global_step),
        epoch=round(float(state.epoch or 0.0), 6),
        resumed_from_step=checkpoint_step(checkpoint) if checkpoint else None,
        tokens_seen=int(state.num_input_tokens_seen),
        session_tokens=session_tokens,
        train_seconds=round(timer.seconds, 3),
        tokens_per_second=round(session_tokens / timer.seconds, 1) if timer.seconds else 0.0,
        wall_seconds=round(time.perf_counter() - started, 3),
        peak_memory_bytes=peak,
        peak_memory_kind=peak_kind,
        train_loss_first=train_losses[0] if train_losses else None,
        train_loss_last=train_losses[-1] if train_losses else None,
        eval_loss_first=evals[0][1] if evals else None,
        eval_loss_last=evals[-1][1] if evals else None,
        eval_loss_best=min(e[1] for e in evals) if evals else None,
        eval_losses=evals,
        data={
            "train": train_split.stats(),
            **({"eval": eval_split.stats()} if eval_split else {}),
            **({"budget": budget.as_dict()} if budget else {}),
            "packing": packing,
            "instruction_part": instruction_part,
            "response_part": response_part,
            **({"curated_tokens": curated_tokens} if curated_tokens else {}),
        },
        packages=packages(),
    )
    paths.summary.write_text(json.dumps(summary.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def _reached_max_steps(checkpoint: Path, max_steps: int) -> bool:
    """Did the run save this checkpoint at its last step (killed before its summary, or resumed once finished)?"""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return max_steps > 0 and int(state.get("global_step", 0)) >= max_steps


def restore_finished_checkpoint(trainer: Any, checkpoint: Path) -> None:
    """The trainer's model and state as saved at the run's last step, without training.

    transformers' resume checks ``max_steps`` only after a step, so resuming from the final checkpoint trained one
    step past ``training.max_steps`` (and overwrote the adapter and summary with that model)."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file
    from transformers import TrainerState

    weights = checkpoint / "adapter_model.safetensors"
    if not weights.exists():
        raise RunError(f"{checkpoint}: no adapter_model.safetensors to finish the run from; start a new run")
    set_peft_model_state_dict(trainer.model, load_file(str(weights)))
    trainer.state = TrainerState.load_from_json(str(checkpoint / "trainer_state.json"))


def trainer_datasets(train_split: Any, eval_split: Any | None, packed: Any | None, max_seq_length: int) -> tuple[Any, Any]:
    """The train and eval datasets handed to ``SFTTrainer``; packed runs attest that every row fits max_seq_length."""
    from training.packing import attest_truncated

    train = packed.to_dataset() if packed is not None else train_split.to_dataset()
    evaluation = eval_split.to_dataset() if eval_split is not None else None
    if packed is not None:
        for dataset in (train, evaluation):
            if dataset is not None:
                attest_truncated(dataset, max_seq_length)
    return train, evaluation


def settle_packing(trainer: Any, packed: Any | None, unpacked: Any) -> dict[str, Any]:
    """Keep packed rows only where the trainer's collator keeps them apart; what the summary says about packing.

    The collator is checked on the first packed sequences, token by token (:func:`training.packing.check_collator`).
    Where Unsloth keeps padded batches (its CPU path), packed rows would attend to each other: the run then trains
    on the unpacked rows and says why.
    """
    from training.packing import check_collator, collates_packed

    if packed is None:
        return {"requested": False, "active": False}
    if not collates_packed(trainer.data_collator):
        trainer.train_dataset = unpacked.to_dataset()
        reason = "the trainer keeps padded batches here (no padding-free path), so the rows train unpacked"
        print(f"training.packing: {reason}", file=sys.stderr)
        return {"requested": True, "active": False, "reason": reason}
    dataset = trainer.train_dataset
    check_collator(trainer.data_collator, [dataset[i] for i in range(min(2, len(dataset)))])
    from training import models

    return {"requested": True, "active": True, **packed.stats(), "attention": models.PACKED_ATTENTION}


def _tracker(progress: Any | None):
    if progress is None:
        return None

    def track(items, total, description):  # noqa: ANN001
        task = progress.add_task(description, total=total or None)
        for item in items:
            yield item
            progress.advance(task)

    return track


def _device_name(device: str) -> str:
    if device == "cuda":
        import torch

        return f"cuda:{torch.cuda.get_device_name(0)}"
    return f"cpu:{platform.machine()}"
