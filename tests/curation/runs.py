"""Helpers the curation tests share: a curation run with its accounting checked, rows read, compressed files."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pyarrow as pa


def curate(spec, out) -> dict:
    """``tome curate`` of ``spec`` into ``out`` (report and checkpoints off); its manifest, every row accounted for."""
    from curation.config import load_config
    from curation.contract import read_manifest
    from curation.pipeline import run_curation

    run_curation(spec, out, load_config(None, {"report": False, "checkpoint": False}))
    manifest = read_manifest(out)
    assert manifest["accounting"]["balanced"]
    return manifest


def rows_read(spec: str) -> int:
    from curation.readers import open_input

    return sum(b.num_rows for b in open_input(spec).batches())


def write_compressed(path: Path, data: bytes) -> Path:
    """``data`` at ``path``, compressed as its suffix says (.gz, .bz2, .xz, .zst; anything else as it is)."""
    suffix = path.suffix
    if suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif suffix == ".bz2":
        path.write_bytes(bz2.compress(data))
    elif suffix == ".xz":
        path.write_bytes(lzma.compress(data))
    elif suffix == ".zst":
        with pa.output_stream(str(path), compression="zstd") as out:
            out.write(data)
    else:
        path.write_bytes(data)
    return path


def xz_of_blocks(chunks: list[bytes], check: int = lzma.CHECK_CRC64, preset: int = 6) -> bytes:
    """One xz stream of a block per (non-empty) chunk, as ``xz -T`` writes a large file: each chunk compressed on its
    own, its block taken out of that stream, the blocks put in one stream under one index."""
    import io
    import zlib

    from curation.readers.xz_blocks import _encode_varint, _stream_before

    stored, records, header = [], b"", b""
    for chunk in filter(None, chunks):
        one = lzma.compress(chunk, check=check, preset=preset)
        header = one[:12]
        [block] = _stream_before(io.BytesIO(one), len(one))[1]
        stored.append(one[block.offset : block.offset + block.stored])
        records += _encode_varint(block.unpadded) + _encode_varint(block.size)
    if not stored:
        return lzma.compress(b"", check=check)
    index = b"\0" + _encode_varint(len(stored)) + records
    index += b"\0" * (-len(index) % 4)
    index += zlib.crc32(index).to_bytes(4, "little")
    backward, flags = (len(index) // 4 - 1).to_bytes(4, "little"), header[6:8]
    footer = zlib.crc32(backward + flags).to_bytes(4, "little") + backward + flags + b"YZ"
    return header + b"".join(stored) + index + footer


def invoke(*args) -> tuple[int, str]:
    """``tome ARGS`` in this process (typer's runner): its exit code and output."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def one_error_line(output: str) -> str:
    """The command's output is one line, ``error: ...``; return it."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert "Traceback" not in output, output
    assert len(lines) == 1 and lines[0].startswith("error: "), output
    return lines[0]


def curate_command(*args: str):
    """``tome curate -q --set report=false ARGS`` in this process (typer's runner): its result."""
    from typer.testing import CliRunner

    from tomecraft.cli import app

    return CliRunner().invoke(app, ["curate", "-q", "--set", "report=false", *args])


def sft_trainer_step(dataset, tmp_path: Path) -> int:
    """One TRL ``SFTTrainer`` step on ``dataset`` as it is (its own data preparation: from/value turns converted,
    chat template, tokenizing), with a tiny random Llama and a word tokenizer; the steps it took."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
    from trl import SFTConfig, SFTTrainer

    words = ["<unk>", "<pad>", "<eos>", "system", "user", "assistant", ":", "Be", "brief", "."]
    words += [f"{p}{i}" for p in "qa" for i in range(5)]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} {% endfor %}<eos>"
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64))
    args = SFTConfig(output_dir=str(tmp_path / "sft-run"), max_steps=1, per_device_train_batch_size=2, report_to=[],
                     use_cpu=True, save_strategy="no", logging_steps=1, max_length=64)
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    return trainer.train().global_step
