"""Whether a CUDA GPU is here, without requiring torch (a curation-only install has none)."""

from __future__ import annotations


def cuda_available() -> bool:
    """``torch.cuda.is_available()``; False where torch is not installed. A torch built without CUDA or ROCm (the CPU
    wheels) answers False without being imported (:func:`cpu_only_build`): its import takes over a second, which
    ``tome train --print-config`` would spend to learn that."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if cpu_only_build(spec):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cpu_only_build(spec) -> bool:
    """Whether the torch package ``spec`` finds says in its ``version.py`` (read, not imported) that it was built
    with neither CUDA nor ROCm (``cuda = None`` and ``hip = None``): ``torch.cuda.is_available()`` is then False
    whatever the machine holds. False (ask torch) where the file is missing or says anything else."""
    import ast
    from pathlib import Path

    if not spec.submodule_search_locations:
        return False
    try:
        source = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return False
    values: dict[str, object] = {}
    for node in tree.body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if isinstance(target, ast.Name) and value is not None:
            try:
                values[target.id] = ast.literal_eval(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                values[target.id] = value  # not a literal: not known
    return "cuda" in values and "hip" in values and values["cuda"] is None and values["hip"] is None
