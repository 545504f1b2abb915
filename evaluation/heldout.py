"""Held-out loss and perplexity of a model on a split of a curation output folder.

The rows are prepared exactly as training prepares its eval split (:mod:`training.data`: the chat template,
assistant-only labels by Unsloth's ``train_on_responses_only``, truncation at ``max_seq_length``, rows left
with no trainable token skipped), so the figure is comparable with a run's ``eval_loss``. The loss is the
mean negative log-likelihood per trainable (assistant) token over the whole split, and the perplexity its
exponential.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from evaluation.models import ScoringModel, load_for_scoring


@dataclass(frozen=True)
class LossResult:
    split: str
    loss: float
    perplexity: float
    rows: int  # rows scored
    rows_skipped: int  # no trainable token after masking / truncation
    tokens: int  # trainable tokens scored
    max_seq_length: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def prepare_rows(curated_dir: str | Path, split: str, tokenizer: Any, max_seq_length: int,
                 max_rows: int | None = None, progress: Callable | None = None,
                 parts: tuple[str, str] | None = None, chat_template: str | None = None):
    """Token ids and assistant-only labels of the first ``max_rows`` rows, with training's own functions.

    ``parts`` are the (user, assistant) turn openers the labels are cut at: a run's own (from its summary), else
    what training would pick for ``chat_template`` / detect from the tokenizer's template.
    """
    from training.models import import_unsloth

    import_unsloth()  # training's masking helper lives in unsloth_zoo, which needs unsloth imported (first, ideally)
    from training.data import prepare_split, read_rows, response_masker, template_parts

    if parts is None:
        parts = template_parts(tokenizer, chat_template=chat_template, instruction_part=None, response_part=None)
    instruction_part, response_part = parts
    mask = response_masker(tokenizer, instruction_part, response_part)
    rows = read_rows(curated_dir, split, max_rows)
    return prepare_split(rows, split, tokenizer, mask, max_seq_length, response_part, progress)


def score(model: Any, input_ids: list[list[int]], labels: list[list[int]], pad_id: int, batch_size: int = 4,
          progress: Callable[[Iterable[Any], int, str], Iterator[Any]] | None = None) -> tuple[float, int]:
    """(summed NLL over label tokens, number of label tokens); labels are shifted as in causal LM training."""
    import torch

    device = next(model.parameters()).device
    decoder, head = _split_head(model)
    order = sorted(range(len(input_ids)), key=lambda i: (-len(input_ids[i]), i))  # similar lengths per batch
    batches: Iterable[list[int]] = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if progress is not None:
        batches = progress(batches, len(batches), "held-out loss")  # type: ignore[arg-type]
    total, count = 0.0, 0
    with torch.inference_mode():
        for batch in batches:
            width = max(len(input_ids[i]) for i in batch)
            ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            lab = torch.full((len(batch), width), -100, dtype=torch.long)
            attn = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                n = len(input_ids[i])
                ids[row, :n] = torch.tensor(input_ids[i])
                lab[row, :n] = torch.tensor(labels[i])
                attn[row, :n] = 1
            ids, attn = ids.to(device), attn.to(device)
            target = lab[:, 1:].to(device)  # position t predicts token t + 1
            keep = target != -100
            if head is not None:  # logits only where a label is scored: far less memory than (batch, length, vocab)
                hidden = decoder(input_ids=ids, attention_mask=attn).last_hidden_state[:, :-1, :]
                logits = head(hidden[keep]).float()
            else:
                logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1, :][keep].float()
            total += float(torch.nn.functional.cross_entropy(logits, target[keep], reduction="sum"))
            count += int(keep.sum())
    return total, count


def _split_head(model: Any) -> tuple[Any, Any]:
    """(decoder, output head) of a causal LM whose logits are a plain projection of the last hidden state, else
    (None, None) and the full forward is used (models with logit soft-capping or scaling, for instance)."""
    import torch

    config = getattr(model, "config", None)
    if any(getattr(config, k, None) for k in ("final_logit_softcapping", "logit_scale", "logits_scaling")):
        return None, None
    try:
        decoder, head = model.get_decoder(), model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        return None, None
    if decoder is None or head is None or not isinstance(head, torch.nn.Linear):
        return None, None
    return decoder, head


def check_heldout_split(curated_dir: str | Path, split: str) -> int:
    """The rows of ``split``, from the Parquet footers; ``ValueError`` (one line, naming the folder) for a split
    that is no split, or missing, unreadable or empty: before the model loads (seconds, and Unsloth's banners)."""
    from curation.contract import SPLITS
    from training.data import check_split

    if split not in SPLITS:
        raise ValueError(f"{curated_dir}: no split {split!r} to measure the loss on; expected one of {', '.join(SPLITS)}")
    rows = sum(n for _, n in check_split(curated_dir, split))
    if rows == 0:
        raise ValueError(f"{curated_dir}: the {split} split has no rows, so there is no held-out loss to measure; "
                         "choose another split")
    return rows


def heldout_loss(model: str | None | ScoringModel, curated_dir: str | Path, split: str = "test",
                 max_seq_length: int = 1024, max_rows: int | None = None, batch_size: int = 4,
                 progress: Callable | None = None) -> LossResult:
    """Mean assistant-token loss of ``model`` (a model argument or an already loaded one) on ``split``."""
    from training.models import import_unsloth

    check_heldout_split(curated_dir, split)
    import_unsloth()  # before transformers loads anything: Unsloth patches it on import (as training does)
    loaded = model if isinstance(model, ScoringModel) else load_for_scoring(model)
    prepared = prepare_rows(curated_dir, split, loaded.tokenizer, max_seq_length, max_rows, progress,
                            parts=loaded.parts, chat_template=loaded.chat_template)
    if not prepared.input_ids:
        raise ValueError(f"{curated_dir}: no row of the {split} split has an assistant token to score within its "
                         f"first {max_seq_length} tokens (--max-seq-length)")
    pad = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    total, count = score(loaded.model, prepared.input_ids, prepared.labels, pad, batch_size, progress)
    loss = total / count
    return LossResult(split=split, loss=round(loss, 6), perplexity=round(math.exp(loss), 4), rows=len(prepared.input_ids),
                      rows_skipped=len(prepared.skipped), tokens=count, max_seq_length=max_seq_length)
