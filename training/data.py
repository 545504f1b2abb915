"""Curated rows -> chat messages -> the model's chat template -> token ids with assistant-only labels.

Masking is Unsloth's ``train_on_responses_only`` (the seed notebook's helper), used as a function over token ids:
every token outside an assistant turn gets label ``-100``. The helper has a known trap: when the response marker
does not occur in the rendered text (a template that does not match the markers) or when truncation at
``max_seq_length`` cuts the row before its first assistant token, a row is left with no trainable token at all,
and a batch made only of such rows gives a NaN or zero loss; TRL then drops those rows silently. Here every row is
checked before training: rows without trainable tokens are skipped and listed (or stop the run, per
``data.untrainable_rows``), and a marker that does not match stops the run with the rows it failed on, unless the
policy is ``skip_all`` (raw data: every such row is skipped and counted by reason, as a plain trainer would).
Rows that cannot be rendered at all (no turns, a role other than system/human/gpt, only blank replies, a value
that is not text, a row the template refuses) are skipped and counted the same way (:func:`row_problem`), a blank
reply among others is not labelled (:func:`unlabel_blank_replies`), and text inside a message that spells a special
token stays text (:func:`encode`), so it never opens a fake turn. A split is checked from its Parquet footers
(:func:`check_split`) before its rows are read, and a skipped row is named by the file that holds it.
"""

from __future__ import annotations

import hashlib
import json
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from curation.contract import output_paths, read_split, split_columns, unreadable_file
from tomecraft import chat_text
from tomecraft.errors import error_line

ROLE_MAP = {"system": "system", "human": "user", "gpt": "assistant"}
IGNORE_INDEX = -100

# Why a row has no trainable token, in the words the error and skipped_rows.jsonl use.
REASON_NO_ASSISTANT = "no_assistant_turn"
REASON_EMPTY_REPLY = "empty_assistant_reply"
REASON_TRUNCATED = "truncated_before_response"
REASON_MARKER = "response_marker_not_found"
REASON_MARKER_SPLIT = "response_marker_split_by_tokens"
REASON_UNKNOWN_ROLE = "unknown_role"
REASON_INVALID_TEXT = "invalid_text"
REASON_TEMPLATE_ERROR = "chat_template_error"
# Reasons that say the chat template and the markers disagree (a config error) rather than that the row is odd.
MARKER_REASONS = (REASON_MARKER, REASON_MARKER_SPLIT)
# data.untrainable_rows: what happens to rows left with no trainable token
UNTRAINABLE_POLICIES = ("skip", "skip_all", "error")


class MaskingError(ValueError):
    """Masking left rows (or the whole split) with nothing to train on; the message names rows and reasons."""


def to_messages(conversations: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """FineTome turns (``from``: human/gpt/system, ``value``) -> chat messages (``role``, ``content``)."""
    messages = []
    for turn in conversations:
        role = ROLE_MAP.get(turn.get("from"))
        if role is None:
            raise ValueError(f"unknown role {turn.get('from')!r}; expected one of {', '.join(ROLE_MAP)}")
        messages.append({"role": role, "content": turn.get("value") or ""})
    return messages


@dataclass
class UntrainableRow:
    split: str
    row: int  # position in the split (all its files, in order)
    id: str | None
    reason: str
    detail: str
    file: str | None = None  # the Parquet file that holds the row (a shard of a split written in parts), if known
    file_row: int | None = None  # ... and its position in that file

    def as_record(self) -> dict[str, Any]:
        return {"split": self.split, "row": self.row, "id": self.id, "reason": self.reason, "detail": self.detail,
                "file": self.file, "file_row": self.file_row}

    def describe(self) -> str:
        where = f"{self.file} row {self.file_row}" if self.file else f"{self.split}.parquet row {self.row}"
        return f"{where} (id {self.id}): {self.reason}: {self.detail}"


class SplitRows(list):
    """The rows of a split (:func:`read_rows`), and the Parquet files they came from, so that a skipped row is
    named by its file and its row in that file (``train/part-00001.parquet row 4`` in a folder written in parts by
    ``tome curate --engine ray``, not a ``train.parquet`` that does not exist)."""

    def __init__(self, rows: Iterable[dict[str, Any]], files: Sequence[tuple[str, int]] = ()):
        super().__init__(rows)
        self.files = tuple(files)  # (path, rows) of each file, in row order

    def locate(self, position: int) -> tuple[str | None, int | None]:
        """The file holding the split's row ``position`` and the row's position in it; (None, None) if unknown."""
        for path, n in self.files:
            if position < n:
                return path, position
            position -= n
        return None, None


@dataclass
class PreparedSplit:
    """A tokenized split ready for the trainer, and what was left out of it."""

    name: str
    input_ids: list[list[int]] = field(default_factory=list)
    labels: list[list[int]] = field(default_factory=list)
    row_positions: list[int] = field(default_factory=list)  # split-file row of each kept example
    skipped: list[UntrainableRow] = field(default_factory=list)
    truncated_rows: int = 0
    rows_read: int = 0

    @property
    def tokens(self) -> int:
        return sum(len(ids) for ids in self.input_ids)

    @property
    def trainable_tokens(self) -> int:
        return sum(sum(1 for x in labels if x != IGNORE_INDEX) for labels in self.labels)

    def to_dataset(self):
        from datasets import Dataset

        return Dataset.from_dict({"input_ids": self.input_ids, "labels": self.labels})

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.skipped:
            counts[row.reason] = counts.get(row.reason, 0) + 1
        return dict(sorted(counts.items()))

    def stats(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_used": len(self.input_ids),
            "rows_skipped": len(self.skipped),
            "rows_skipped_by_reason": self.skipped_by_reason(),
            "rows_truncated": self.truncated_rows,
            "tokens": self.tokens,
            "trainable_tokens": self.trainable_tokens,
            "loss_mask_share": round(self.trainable_tokens / self.tokens, 4) if self.tokens else 0.0,  # trainable / tokens
        }


def template_parts(
    tokenizer: Any, chat_template: str | None, instruction_part: str | None, response_part: str | None
) -> tuple[str, str]:
    """The user/assistant turn openers: as configured, else known for the Unsloth template, else detected."""
    if instruction_part is not None and response_part is not None:
        return instruction_part, response_part
    if (instruction_part is None) != (response_part is None):
        raise ValueError("set both model.instruction_part and model.response_part, or neither")
    from training.config import TEMPLATE_PARTS

    if chat_template in TEMPLATE_PARTS:
        return TEMPLATE_PARTS[chat_template]
    from training.models import import_unsloth

    import_unsloth()
    from unsloth_zoo.dataset_utils import get_chat_template_parts

    try:
        return get_chat_template_parts(tokenizer)
    except ValueError as exc:
        raise MaskingError(
            f"cannot tell user and assistant turns apart in this chat template ({exc}); set model.instruction_part "
            "and model.response_part to the text that opens each turn"
        ) from None


def response_masker(tokenizer: Any, instruction_part: str, response_part: str) -> Callable[[list[int]], list[int]]:
    """``ids -> labels``: Unsloth's ``train_on_responses_only`` applied to one row of token ids."""
    from training.models import import_unsloth

    import_unsloth()
    from unsloth_zoo.dataset_utils import train_on_responses_only

    batched = train_on_responses_only(
        None,
        instruction_part=instruction_part,
        response_part=response_part,
        tokenizer=tokenizer,
        return_function=True,
    )
    def mask(ids: list[int]) -> list[int]:
        return batched({"input_ids": [ids]})["labels"][0]

    mask.markers = (instruction_part, response_part)  # part of a tokenized split's cache key
    return mask


def render(tokenizer: Any, conversations: Sequence[dict[str, Any]]) -> str:
    return tokenizer.apply_chat_template(to_messages(conversations), tokenize=False)


def row_problem(conversations: Any) -> tuple[str, str] | None:
    """Why a row cannot be trained on, seen before it is rendered (reason, detail); None when it can be rendered.

    Rows with no turns or no ``gpt`` turn, a role the template does not know (``tool``, ``function``), a value
    that is not text (or not valid Unicode: a lone surrogate; or turns that are not a list: a JSON string), or
    only blank replies: each is skipped and counted by its reason, never a traceback and never a row trained on
    an empty reply (which only teaches the end-of-turn token)."""
    if conversations is not None and not isinstance(conversations, (list, tuple)):
        return REASON_INVALID_TEXT, f"conversations holds a {type(conversations).__name__}, not a list of turns"
    if not conversations:
        return REASON_NO_ASSISTANT, "the conversation has no turns"
    for number, turn in enumerate(conversations):
        role = turn.get("from") if isinstance(turn, dict) else None
        if role not in ROLE_MAP:
            return REASON_UNKNOWN_ROLE, f"turn {number} has role {role!r}; expected one of {', '.join(ROLE_MAP)}"
        value = turn.get("value")
        if value is not None and not isinstance(value, str):
            return REASON_INVALID_TEXT, f"turn {number} holds a {type(value).__name__}, not text"
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError:
            return REASON_INVALID_TEXT, f"turn {number} holds text that is not valid Unicode (a lone surrogate)"
    replies = [t for t in conversations if t.get("from") == "gpt"]
    if not replies:
        return REASON_NO_ASSISTANT, "the conversation has no gpt turn"
    if not any((t.get("value") or "").strip() for t in replies):
        return REASON_EMPTY_REPLY, "every gpt turn is empty"
    return None


def special_token_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    """A regex for the tokenizer's special tokens as text (``<|im_start|>``, ``<|eot_id|>``, ...), longest first."""
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    names = {t.content for t in added.values() if getattr(t, "special", False)}
    names.update(getattr(tokenizer, "all_special_tokens", None) or [])
    return chat_text.special_token_pattern(names)


TemplateTextError = chat_text.TemplateTextError


def encode(tokenizer: Any, messages: list[dict[str, str]], specials: re.Pattern[str] | None) -> tuple[str, list[int]]:
    """The rendered chat template and its token ids, where text *inside* a message is always text.

    Tokenizing the rendered string whole turns a reply or prompt that contains a special token's spelling (a
    row about chat templates: ``<|im_start|>assistant``, ``<|im_end|>``, ``<|eot_id|>``) into that special
    token: a fake turn the masker then trains on (labels on a user's prompt) or a reply cut short. Here such
    spellings are tokenized as plain text (``split_special_tokens``; :func:`tomecraft.chat_text.prompt_segments`
    finds them); the template's own markers stay special. Rows without such text are tokenized whole, exactly as
    before. ``specials``: :func:`special_token_pattern`.
    """
    pieces = chat_text.prompt_segments(lambda m: tokenizer.apply_chat_template(m, tokenize=False), messages, specials)
    text = "".join(piece for piece, _ in pieces)
    ids: list[int] = []
    for piece, literal in pieces:
        ids += tokenizer(piece, add_special_tokens=False, split_special_tokens=literal, verbose=False)["input_ids"]
    return text, ids


_TOKENIZED: dict[tuple, PreparedSplit] | None = None  # see tokenization_cache()


@contextmanager
def tokenization_cache() -> Iterator[None]:
    """Within the block, a split already tokenized with the same tokenizer, template, markers and
    ``max_seq_length`` is not tokenized again (many runs on the same data in one process: `tome sweep`)."""
    global _TOKENIZED
    outer = _TOKENIZED
    _TOKENIZED = {} if outer is None else outer
    try:
        yield
    finally:
        _TOKENIZED = outer


def _cache_key(rows: Sequence[dict[str, Any]], name: str, tokenizer: Any, mask: Any, max_seq_length: int,
               response_part: str) -> tuple:
    digest = hashlib.sha256()
    for row in rows:  # surrogatepass: a row with a lone surrogate is hashed (then skipped as invalid_text), not a crash
        text = json.dumps([row.get("id"), row.get("conversations")], sort_keys=True, ensure_ascii=False, default=repr)
        digest.update(text.encode("utf-8", "surrogatepass"))
    template = getattr(tokenizer, "chat_template", None) or ""
    return (name, getattr(tokenizer, "name_or_path", ""), len(tokenizer), hashlib.sha256(str(template).encode()).hexdigest(),
            max_seq_length, response_part, getattr(mask, "markers", id(mask)), digest.hexdigest(),
            getattr(rows, "files", ()))  # where skipped rows are said to be


def prepare_split(
    rows: Sequence[dict[str, Any]],
    name: str,
    tokenizer: Any,
    mask: Callable[[list[int]], list[int]],
    max_seq_length: int,
    response_part: str,
    progress: Callable[[Iterable[Any], int, str], Iterator[Any]] | None = None,
) -> PreparedSplit:
    """Tokenize and mask each row; classify every row left with no trainable token."""
    if _TOKENIZED is not None:
        key = _cache_key(rows, name, tokenizer, mask, max_seq_length, response_part)
        if key not in _TOKENIZED:
            _TOKENIZED[key] = _prepare_split(rows, name, tokenizer, mask, max_seq_length, response_part, progress)
        return _TOKENIZED[key]
    return _prepare_split(rows, name, tokenizer, mask, max_seq_length, response_part, progress)


def _prepare_split(
    rows: Sequence[dict[str, Any]],
    name: str,
    tokenizer: Any,
    mask: Callable[[list[int]], list[int]],
    max_seq_length: int,
    response_part: str,
    progress: Callable[[Iterable[Any], int, str], Iterator[Any]] | None = None,
) -> PreparedSplit:
    out = PreparedSplit(name=name)
    items: Iterable[Any] = enumerate(rows)
    if progress is not None:
        items = progress(items, len(rows), f"tokenize {name}")
    specials = special_token_pattern(tokenizer)
    locate = rows.locate if isinstance(rows, SplitRows) else lambda position: (None, None)
    for position, row in items:
        out.rows_read += 1
        conversations = row.get("conversations")
        problem = row_problem(conversations)
        if problem is None:
            try:
                # tokenized whole, then cut: the untruncated labels tell why a row has nothing left to train on
                text, full_ids = encode(tokenizer, to_messages(conversations), specials)
            except TemplateTextError as exc:
                problem = REASON_TEMPLATE_ERROR, str(exc)
            except Exception as exc:  # noqa: BLE001  the template's raise_exception (roles must alternate, ...)
                if not _is_template_error(exc):
                    raise
                problem = REASON_TEMPLATE_ERROR, f"the chat template refused the row: {error_line(exc)}"
        if problem is not None:
            out.skipped.append(UntrainableRow(name, position, row.get("id"), *problem, *locate(position)))
            continue
        full_labels = unlabel_blank_replies(mask(full_ids), conversations)
        ids, labels = full_ids[:max_seq_length], full_labels[:max_seq_length]
        if len(full_ids) > max_seq_length:
            out.truncated_rows += 1
        if any(x != IGNORE_INDEX for x in labels):
            out.input_ids.append(ids)
            out.labels.append(labels)
            out.row_positions.append(position)
            continue
        reason, detail = _why_untrainable(text, full_ids, full_labels, max_seq_length, response_part)
        out.skipped.append(UntrainableRow(name, position, row.get("id"), reason, detail, *locate(position)))
    return out


def unlabel_blank_replies(labels: list[int], conversations: Sequence[dict[str, Any]]) -> list[int]:
    """``labels`` with the span of each blank ``gpt`` turn ignored, in a row that has other replies.

    The masker labels a blank reply's end-of-turn token (and any whitespace before it), which teaches the model to
    answer that prompt with nothing: the reason rows whose replies are all blank are skipped (:func:`row_problem`).
    Spans are matched to ``gpt`` turns in order; where their numbers differ the labels are left as they are."""
    blank = [not (t.get("value") or "").strip() for t in conversations if t.get("from") == "gpt"]
    if not any(blank):
        return labels
    spans: list[list[int]] = []
    for i, label in enumerate(labels):
        if label == IGNORE_INDEX:
            continue
        if spans and spans[-1][1] == i:
            spans[-1][1] = i + 1
        else:
            spans.append([i, i + 1])
    if len(spans) != len(blank):
        return labels
    out = list(labels)
    for (start, end), is_blank in zip(spans, blank):
        if is_blank:
            out[start:end] = [IGNORE_INDEX] * (end - start)
    return out


def _why_untrainable(
    text: str, full_ids: list[int], full_labels: list[int], max_seq_length: int, response_part: str
) -> tuple[str, str]:
    """Why a rendered row (one :func:`row_problem` let through) has no trainable token left."""
    first = next((i for i, x in enumerate(full_labels) if x != IGNORE_INDEX), None)
    if first is not None:
        return (
            REASON_TRUNCATED,
            f"{len(full_ids)} tokens; the first assistant token is at position {first}, past max_seq_length {max_seq_length}",
        )
    if response_part in text:
        return (
            REASON_MARKER_SPLIT,
            f"the response marker {response_part!r} is in the rendered text, but the tokenizer merged its last token "
            "with the start of the reply (e.g. a reply that begins with spaces), so every token is masked",
        )
    return (
        REASON_MARKER,
        f"the response marker {response_part!r} was not found in the rendered chat template, so every token is masked",
    )


def _is_template_error(exc: Exception) -> bool:
    """An error the chat template raised for this row (jinja's ``raise_exception``, an empty conversation)."""
    from jinja2 import TemplateError

    return isinstance(exc, (TemplateError, ValueError))


def check_trainable(split: PreparedSplit, policy: str, shown: int = 5) -> None:
    """Stop when nothing is left to train on, when policy is ``error``, or (policy ``skip``) when the response
    marker failed on some row, which usually means the chat template and the markers disagree.

    ``skip_all`` is how a plain trainer treats raw data: every row with nothing to learn is skipped and counted by
    its reason (:meth:`PreparedSplit.skipped_by_reason`), whatever the reason; only an empty split stops.
    """
    if policy not in UNTRAINABLE_POLICIES:
        raise ValueError(f"untrainable_rows={policy!r}: expected one of {', '.join(UNTRAINABLE_POLICIES)}")
    if not split.skipped:
        return
    marker = [s for s in split.skipped if s.reason in MARKER_REASONS]
    if marker and (policy != "skip_all" or not split.input_ids):
        listing = "\n".join("  " + s.describe() for s in marker[:shown])
        more = f"\n  ... and {len(marker) - shown} more" if len(marker) > shown else ""
        raise MaskingError(
            f"{split.name}: {len(marker)} of {split.rows_read} rows have no trainable token because the response marker "
            "does not occur in the tokens the chat template renders (model.chat_template does not match "
            "model.response_part / model.instruction_part, or the reply starts with text that merges with the marker); "
            "on raw data, set data.untrainable_rows=skip_all (tome train --skip-untrainable) to skip and count them:\n"
            + listing + more
        )
    listing = "\n".join("  " + s.describe() for s in split.skipped[:shown])
    more = f"\n  ... and {len(split.skipped) - shown} more" if len(split.skipped) > shown else ""
    if not split.input_ids:
        raise MaskingError(
            f"{split.name}: no row has a trainable (assistant) token after masking and truncation to "
            f"max_seq_length; all {split.rows_read} rows would give a zero/NaN loss:\n" + listing + more
        )
    if policy == "error":
        raise MaskingError(
            f"{split.name}: {len(split.skipped)} of {split.rows_read} rows have no trainable token after masking "
            "(data.untrainable_rows=error; set it to skip to train without them):\n" + listing + more
        )


def check_split(curated_dir: str | Path, split: str) -> list[tuple[str, int]]:
    """Each Parquet file of a split and its row count, from the footers (no row is read); an
    :class:`~curation.contract.OutputFolderError` naming the file when training cannot read the split: a folder of
    shards without a shard, a damaged file, no ``id`` or ``conversations`` column, or ``conversations`` that are
    not a list of ``{from, value}`` turns (a JSON string, OpenAI ``messages`` renamed). Cheap enough to run before
    the model loads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = output_paths(curated_dir)
    path = paths.split(split)
    files = paths.files(path)
    if path.is_dir() and not files:
        raise unreadable_file(curated_dir, path, "a folder of split shards without a part-*.parquet file")
    if not path.exists():
        raise unreadable_file(curated_dir, path, f"no such file: the {split} split is missing")
    columns = split_columns(curated_dir, split)
    if "conversations" not in columns:
        raise unreadable_file(
            curated_dir, files[0], f"no 'conversations' column (found {', '.join(columns)}); training and evaluation "
            "read the FineTome splits `tome curate` writes (with --format messages too, next to its messages/ folder)"
        )
    counts = []
    for file in files:
        parquet = pq.ParquetFile(file)  # split_columns opened it already
        kind = parquet.schema_arrow.field("conversations").type
        turn = kind.value_type if pa.types.is_list(kind) or pa.types.is_large_list(kind) else None
        if turn is None or not pa.types.is_struct(turn) or {"from", "value"} - {f.name for f in turn}:
            raise unreadable_file(
                curated_dir, file, f"the 'conversations' column is {kind}, not a list of {{from, value}} turns"
            )
        counts.append((str(file), parquet.metadata.num_rows))
    return counts


def read_rows(curated_dir: str | Path, split: str, limit: int | None = None) -> SplitRows:
    """The first ``limit`` rows of a split (only the columns training reads), through the curation contract,
    with the files they came from (:class:`SplitRows`); :func:`check_split` first."""
    files = check_split(curated_dir, split)
    table = read_split(curated_dir, split)
    if sum(n for _, n in files) != table.num_rows:  # the folder holds Parquet files besides part-*.parquet
        files = []
    if limit is not None:
        table = table.slice(0, limit)
    columns = [c for c in ("id", "conversations") if c in table.column_names]
    return SplitRows(table.select(columns).to_pylist(), files)
