"""Packing: several tokenized rows laid end to end in one ``max_seq_length`` sequence, each still its own sequence.

Rows are binned by TRL's ``pack_dataset(strategy="bfd")`` (best fit decreasing; a row never splits across two
sequences). A packed sequence keeps the length of each row in it (``seq_lengths``); from those the collator
(TRL's ``DataCollatorForLanguageModeling(padding_free=True)``, the one ``SFTTrainer`` builds) restarts the
position ids at 0 for every row and drops the label of each row's first token, so no row is ever the target of
the row before it. On GPU, Unsloth hands the same lengths to a varlen (flash) attention kernel, so a token attends
only to earlier tokens of its own row.

The contract, checked by ``tests/training/test_packing.py`` token by token and again on the trainer's own collator
before the first step (:func:`check_collator`): a packed batch holds exactly the rows' tokens, position ids and
loss targets, concatenated; the loss mask of the batch is the concatenation of the unpacked rows' loss masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

IGNORE_INDEX = -100


class PackingError(RuntimeError):
    """A packed batch is not the concatenation of its rows (positions, labels or lengths differ)."""


@dataclass
class PackedRows:
    """Packed training sequences and, for each one, the rows it holds (positions in the unpacked split)."""

    max_seq_length: int
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    seq_lengths: list[list[int]] = field(default_factory=list)
    rows: list[list[int]] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(ids) for ids in self.input_ids)

    @property
    def slots(self) -> int:
        return len(self.input_ids) * self.max_seq_length

    def stats(self) -> dict[str, Any]:
        return {
            "sequences": len(self.input_ids),
            "rows": sum(len(r) for r in self.rows),
            "tokens": self.tokens,
            "slots": self.slots,
            "efficiency": round(self.tokens / self.slots, 4) if self.slots else 0.0,  # real tokens / slots
        }

    def to_dataset(self):
        from datasets import Dataset

        return Dataset.from_dict({"input_ids": self.input_ids, "labels": self.labels, "seq_lengths": self.seq_lengths})


def pack_rows(input_ids: Sequence[Sequence[int]], labels: Sequence[Sequence[int]], max_seq_length: int) -> PackedRows:
    """Best-fit-decreasing packing of already truncated rows (TRL ``pack_dataset``, one bin pass over all rows)."""
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    if not input_ids:  # nothing to pack (TRL's packer fails on an empty table)
        return PackedRows(max_seq_length=max_seq_length)
    too_long = [i for i, ids in enumerate(input_ids) if len(ids) > max_seq_length]
    if too_long:
        raise PackingError(f"rows {too_long[:5]} are longer than max_seq_length {max_seq_length}; truncate before packing")
    # a per-token row index travels with the tokens, so each packed sequence says which rows it holds
    table = Dataset.from_dict({
        "input_ids": [list(ids) for ids in input_ids],
        "labels": [list(lab) for lab in labels],
        "row": [[i] * len(ids) for i, ids in enumerate(input_ids)],
    })
    packed = pack_dataset(table, max_seq_length, strategy="bfd", map_kwargs={"batch_size": None})
    out = PackedRows(max_seq_length=max_seq_length)
    for example in packed:
        out.input_ids.append(example["input_ids"])
        out.labels.append(example["labels"])
        out.seq_lengths.append(example["seq_lengths"])
        rows, start = [], 0
        for length in example["seq_lengths"]:
            rows.append(example["row"][start])
            start += length
        out.rows.append(rows)
    return out


def attest_truncated(dataset: Any, max_seq_length: int) -> Any:
    """Tell Unsloth's SFTTrainer that every row of ``dataset`` is at most ``max_seq_length`` tokens (its own
    ``_unsloth_truncated_to`` claim). Without it, Unsloth cannot cut a packed split itself (cutting would break
    ``seq_lengths``) and turns padding-free batches off, which packed rows need; :func:`check_collator` then sees it."""
    dataset._unsloth_truncated_to = int(max_seq_length)
    return dataset


def row_loss_mask(labels: Sequence[int]) -> list[bool]:
    """The tokens of one unpacked row that are loss targets: a label, and a token before it in the row to predict it."""
    return [i > 0 and label != IGNORE_INDEX for i, label in enumerate(labels)]


def expected_batch(examples: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """What a padding-free batch of packed examples must hold: the rows' ids, positions and targets, end to end."""
    ids: list[int] = []
    positions: list[int] = []
    targets: list[int] = []
    for example in examples:
        start = 0
        for length in example["seq_lengths"]:
            row_ids = example["input_ids"][start:start + length]
            row_labels = example["labels"][start:start + length]
            ids += row_ids
            positions += list(range(length))
            targets += [label if keep else IGNORE_INDEX for label, keep in zip(row_labels, row_loss_mask(row_labels))]
            start += length
    return {"input_ids": ids, "position_ids": positions, "labels": targets}


def loss_mask(batch: dict[str, Any]) -> list[bool]:
    """The loss targets of a collated padding-free batch (one flattened row): a label that is not ignored."""
    labels = batch["labels"]
    flat = labels.reshape(-1).tolist() if hasattr(labels, "reshape") else list(labels)
    return [x != IGNORE_INDEX for x in flat]


def padding_free_collator(pad_token_id: int):
    """The collator ``SFTTrainer`` builds for padding-free batches (TRL's own class)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(pad_token_id=pad_token_id, padding_free=True)


def collates_packed(collator: Any) -> bool:
    """Does this collator keep packed rows apart (restart positions from ``seq_lengths``, no attention mask)?"""
    return bool(getattr(collator, "padding_free", False))


def check_collator(collator: Any, examples: Sequence[dict[str, Any]]) -> None:
    """Collate packed examples with the trainer's collator and compare with :func:`expected_batch`, token by token.

    Raises :class:`PackingError` on the first difference: packed rows would then attend across their boundaries
    or be trained on the wrong targets.
    """
    batch = collator([dict(e) for e in examples])
    want = expected_batch(examples)
    n = len(want["input_ids"])
    if "attention_mask" in batch:
        raise PackingError("the collator returns an attention mask, so the packed rows would attend to each other")
    if "position_ids" not in batch:
        raise PackingError("the collator returns no position ids, so packed rows would not restart at position 0")
    for key in ("input_ids", "position_ids", "labels"):
        got = batch[key].reshape(-1).tolist()
        tail = got[n:]  # padding to a multiple, if any: position 0 and no target
        if got[:n] != want[key] or (key == "labels" and any(x != IGNORE_INDEX for x in tail)):
            first = next((i for i, (a, b) in enumerate(zip(got, want[key])) if a != b), min(len(got), n))
            raise PackingError(f"packed batch {key} differ from the rows' at token {first} of {n}")
    lengths = batch.get("packed_seq_lengths")  # what Unsloth hands its varlen attention
    if lengths is not None:
        want_lengths = [int(x) for e in examples for x in e["seq_lengths"]]
        if lengths.reshape(-1).tolist() != want_lengths:
            raise PackingError(f"packed_seq_lengths {lengths.tolist()} differ from the rows' lengths {want_lengths}")
