"""Training checkpoints: everything needed to continue a run exactly, written atomically, read without unpickling.

A checkpoint is a directory ``CHECKPOINTS/step-000200/`` holding ``state.safetensors`` (every tensor: weights,
optimizer moments, replay buffer, random generator state) and ``state.json`` (everything else, with the nested
structure of the state and the names of its tensors). It is written under a temporary name and renamed when
complete, so a crash leaves either the new checkpoint or none; the newest ``keep`` complete checkpoints are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from neurot.io import read_json, read_tensors, write_json, write_tensors

STATE_TENSORS = "state.safetensors"
STATE_JSON = "state.json"
FORMAT = 1
_NAME = re.compile(r"^step-(\d+)$")


def flatten(tree: Any, tensors: dict[str, torch.Tensor] | None = None, prefix: str = "") -> tuple[Any, dict]:
    """Split a nested ``state_dict``-like tree into a JSON value and a flat ``{name: tensor}`` dict.

    Tensors are replaced by ``{"tensor": name}``; dicts by ``{"dict": [[key, value], ...]}`` (so integer keys, as in
    ``Optimizer.state_dict()``, survive), tuples by ``{"tuple": [...]}``. Inverse: :func:`unflatten`.
    """
    tensors = {} if tensors is None else tensors
    if isinstance(tree, torch.Tensor):
        tensors[prefix] = tree
        return {"tensor": prefix}, tensors
    if isinstance(tree, dict):
        items = [[key, flatten(value, tensors, f"{prefix}/{key}")[0]] for key, value in tree.items()]
        return {"dict": items}, tensors
    if isinstance(tree, (list, tuple)):
        values = [flatten(value, tensors, f"{prefix}/{i}")[0] for i, value in enumerate(tree)]
        return ({"tuple": values} if isinstance(tree, tuple) else {"list": values}), tensors
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return {"value": tree}, tensors
    raise TypeError(f"cannot checkpoint a {type(tree).__name__} at {prefix or 'the top level'}")


def unflatten(node: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild the tree written by :func:`flatten`; a missing tensor or an unknown node raises ``ValueError``."""
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"malformed checkpoint state node {node!r:.80}")
    (kind, value), = node.items()
    if kind == "tensor":
        if value not in tensors:
            raise ValueError(f"checkpoint state names a tensor {value!r} that the tensor file does not hold")
        return tensors[value]
    if kind == "dict":
        return {key: unflatten(item, tensors) for key, item in value}
    if kind in ("list", "tuple"):
        items = [unflatten(item, tensors) for item in value]
        return tuple(items) if kind == "tuple" else items
    if kind == "value":
        return value
    raise ValueError(f"malformed checkpoint state node kind {kind!r}")


def checkpoint_steps(directory: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``directory`` as ``(step, path)``, oldest first (temporary ones are ignored)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return sorted(found)


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The newest complete checkpoint in ``directory``, or None."""
    found = checkpoint_steps(directory)
    return found[-1][1] if found else None


def remove_checkpoints(directory: str | Path) -> None:
    """Delete the checkpoints (complete or not) in ``directory``: a fresh run must not resume another's."""
    directory = Path(directory)
    if directory.is_dir():
        for path in directory.iterdir():
            if path.is_dir() and path.name.startswith("step-"):
                shutil.rmtree(path, ignore_errors=True)


def write_checkpoint(
    directory: str | Path, step: int, tensors: dict[str, torch.Tensor], meta: dict[str, Any], keep: int = 2
) -> Path:
    """Write ``directory/step-XXXXXX/`` atomically (temporary directory, fsync, rename), then prune old ones.

    ``meta`` must be JSON-serialisable. Returns the checkpoint's path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"step-{step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f"{final.name}.", suffix=".tmp", dir=directory))
    try:
        write_tensors(tmp / STATE_TENSORS, tensors)
        write_json(tmp / STATE_JSON, {"format": FORMAT, **meta})
        for name in (STATE_TENSORS, STATE_JSON):
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for _, old in checkpoint_steps(directory)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_checkpoint(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Read a checkpoint directory: the state tree (tensors on the CPU) and its JSON metadata.

    A truncated or corrupt checkpoint raises ``ValueError`` naming it and the previous checkpoint, which stays on disk.
    """
    path = Path(path)
    try:
        meta = read_json(path / STATE_JSON)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or "state" not in meta:
            raise ValueError(f"{path / STATE_JSON} is not a neurot checkpoint (format {FORMAT})")
        state = unflatten(meta["state"], read_tensors(path / STATE_TENSORS))
    except (ValueError, FileNotFoundError) as error:
        older = [p for _, p in checkpoint_steps(path.parent) if p != path and p.name < path.name]
        fallback = f"; the previous checkpoint {older[-1]} is kept: delete {path} to resume from it" if older else ""
        raise ValueError(f"checkpoint {path} is truncated or corrupt ({error}){fallback}") from error
    return state, meta
