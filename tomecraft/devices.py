"""Whether a CUDA GPU is here, without requiring torch (a curation-only install has none)."""

from __future__ import annotations


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())
