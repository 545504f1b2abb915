"""Packed rows' attention in one kernel call per layer on torch builds that lack the varlen API Unsloth looks for.

Unsloth computes a packed batch's attention with one varlen flash call per layer when flash-attn or xformers is
installed, or when torch has ``torch.nn.attention.varlen.varlen_attn`` with ``window_size`` and ``enable_gqa``
(torch 2.12+). Otherwise it loops over the rows of the pack: one SDPA call per row and layer (on the mixed-length
benchmark, 224 attention backward calls a step instead of 16, and the GPU idle half of the step).

The kernel Unsloth's own lean varlen path calls, ``torch.ops.aten._flash_attention_forward`` / ``_backward`` with
cumulative sequence lengths (the FlashAttention-2 port inside torch, which takes fewer key/value heads than query
heads), is in the older builds too. :func:`enable_varlen_flash` points Unsloth's dispatch at it, so the rows of a
pack go through one call per layer, each attending to itself only: the same computation as the per-row loop.
Nothing changes where torch already has the API, off CUDA, on ROCm, or without torch's flash kernel.
``TOMECRAFT_VARLEN_FLASH=0`` turns it off.
"""

from __future__ import annotations

import os
from typing import Any

OFF_VALUES = ("0", "false", "no", "off")


def enable_varlen_flash() -> str:
    """Route Unsloth's packed attention through torch's varlen flash kernel; return what was done, in words.

    ``"native"``: torch has the API, Unsloth uses it already. ``"enabled"``: routed here. Anything else says why
    the per-row path stays.
    """
    if os.environ.get("TOMECRAFT_VARLEN_FLASH", "1").lower() in OFF_VALUES:
        return "off (TOMECRAFT_VARLEN_FLASH=0)"
    try:
        import torch
        from unsloth.utils import attention_dispatch as dispatch
    except Exception as exc:  # noqa: BLE001 - no Unsloth (or a build without this module): nothing to route
        return f"unavailable: {type(exc).__name__}"
    if getattr(dispatch, "_TORCH_VARLEN_ATTN", None) is not None:
        return "native"
    reason = _unsupported(torch, dispatch)
    if reason:
        return f"unavailable: {reason}"
    lean = dispatch._LeanFlashVarlen

    def varlen_attn(query, key, value, cu_q, cu_k, max_q, max_k, *, scale=None, window_size=(-1, -1),
                    enable_gqa=False):  # noqa: ANN001, ARG001 - the signature of torch.nn.attention.varlen.varlen_attn
        """Same arguments as torch 2.12's ``varlen_attn`` for the self-attention Unsloth asks for (cu_q is cu_k)."""
        return lean.apply(query, key, value, cu_q, max_q, tuple(window_size) == (-1, 0), scale,
                          window_size[0], window_size[1])

    dispatch._TORCH_VARLEN_ATTN = varlen_attn
    dispatch._LEAN_VARLEN = True
    # cuDNN's ragged path is what torch 2.12's varlen_attn may choose; this build has no such entry point.
    dispatch._varlen_can_use_cudnn = lambda *args, **kwargs: False
    return "enabled"


def _unsupported(torch: Any, dispatch: Any) -> str:
    if not torch.cuda.is_available():
        return "no CUDA device"
    if torch.version.hip is not None:
        return "ROCm build"
    if not getattr(torch.backends.cuda, "is_flash_attention_available", lambda: False)():
        return "this torch build has no flash attention kernel"
    for name in ("_flash_attention_forward", "_flash_attention_backward"):  # called with window sizes
        op = getattr(torch.ops.aten, name, None)
        if op is None or "window_size_left" not in str(op.default._schema):
            return f"this torch has no aten.{name} taking window sizes"
    for name in ("_LeanFlashVarlen", "_varlen_attn_call", "_torch_varlen_takes"):
        if not hasattr(dispatch, name):
            return f"this Unsloth has no attention_dispatch.{name}"
    return ""
