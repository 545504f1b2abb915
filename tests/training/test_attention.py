"""training.attention: Unsloth's packed attention pointed at torch's varlen flash kernel where torch lacks the API."""

import sys
import types

import pytest

torch = pytest.importorskip("torch")

from training.attention import enable_varlen_flash  # noqa: E402


class FakeLean:
    calls: list = []

    @classmethod
    def apply(cls, *args):
        cls.calls.append(args)
        return "out"


def fake_dispatch(native=None) -> types.ModuleType:
    module = types.ModuleType("unsloth.utils.attention_dispatch")
    module._TORCH_VARLEN_ATTN = native
    module._LEAN_VARLEN = False
    module._LeanFlashVarlen = FakeLean
    module._varlen_attn_call = lambda *a, **k: None
    module._torch_varlen_takes = lambda *a, **k: False
    return module


@pytest.fixture
def dispatch(monkeypatch):
    module = fake_dispatch()
    utils = types.ModuleType("unsloth.utils")
    utils.attention_dispatch = module
    monkeypatch.setitem(sys.modules, "unsloth.utils", utils)
    monkeypatch.setitem(sys.modules, "unsloth.utils.attention_dispatch", module)
    monkeypatch.delenv("TOMECRAFT_VARLEN_FLASH", raising=False)
    FakeLean.calls = []
    return module


def gpu_like(monkeypatch, flash=True):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.backends.cuda, "is_flash_attention_available", lambda: flash, raising=False)


def test_off_cuda_nothing_changes(dispatch, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert enable_varlen_flash() == "unavailable: no CUDA device"
    assert dispatch._TORCH_VARLEN_ATTN is None and dispatch._LEAN_VARLEN is False


def test_native_api_is_left_alone(dispatch, monkeypatch):
    gpu_like(monkeypatch)
    native = object()
    dispatch._TORCH_VARLEN_ATTN = native
    assert enable_varlen_flash() == "native"
    assert dispatch._TORCH_VARLEN_ATTN is native


def test_no_flash_kernel_keeps_the_row_loop(dispatch, monkeypatch):
    gpu_like(monkeypatch, flash=False)
    assert enable_varlen_flash().startswith("unavailable: this torch build has no flash")
    assert dispatch._TORCH_VARLEN_ATTN is None


def test_switched_off_by_environment(dispatch, monkeypatch):
    gpu_like(monkeypatch)
    monkeypatch.setenv("TOMECRAFT_VARLEN_FLASH", "0")
    assert enable_varlen_flash().startswith("off")
    assert dispatch._TORCH_VARLEN_ATTN is None


def test_an_unsloth_without_the_lean_path_is_refused(dispatch, monkeypatch):
    gpu_like(monkeypatch)
    del dispatch._LeanFlashVarlen
    assert "_LeanFlashVarlen" in enable_varlen_flash()
    assert dispatch._TORCH_VARLEN_ATTN is None


def test_enabled_routes_varlen_calls_to_the_lean_flash_kernel(dispatch, monkeypatch):
    gpu_like(monkeypatch)
    assert enable_varlen_flash() == "enabled"
    assert dispatch._LEAN_VARLEN is True
    assert dispatch._varlen_can_use_cudnn("q", "k", "v", 8, [-1, 0], True) is False
    cu = object()
    # torch 2.12's varlen_attn signature, as Unsloth's dispatch calls it: causal self-attention, then a window
    assert dispatch._TORCH_VARLEN_ATTN("q", "k", "v", cu, cu, 7, 7, scale=0.125, window_size=(-1, 0), enable_gqa=True) == "out"
    dispatch._TORCH_VARLEN_ATTN("q", "k", "v", cu, cu, 7, 7, scale=None, window_size=[15, 0], enable_gqa=False)
    assert FakeLean.calls == [("q", "k", "v", cu, 7, True, 0.125, -1, 0), ("q", "k", "v", cu, 7, False, None, 15, 0)]
