"""Input validation in one place: every public entry point checks its arguments here, before any work."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch


def check_positive(name: str, value: Any, *, allow_none: bool = False) -> None:
    """Raise unless ``value`` is a finite number > 0 (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_int(name: str, value: Any, *, minimum: int = 1, allow_none: bool = False) -> None:
    """Raise unless ``value`` is an int >= ``minimum`` (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")


def check_bool(name: str, value: Any) -> None:
    """Raise TypeError unless ``value`` is True or False."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false, got {type(value).__name__}")


def check_probability(name: str, value: Any) -> None:
    """Raise unless ``value`` is a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1], got {type(value).__name__}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")


def check_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    choices = sorted(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def check_activation(name: str, value: Any) -> None:
    """Raise unless ``value`` names an activation of the networks (:data:`neurot.nn.mlp.ACTIVATIONS`)."""
    from neurot.nn.mlp import ACTIVATIONS

    check_choice(name, value, ACTIVATIONS)


def check_widths(name: str, value: Any) -> tuple[int, ...]:
    """``value`` (a non-empty sequence of positive ints, the widths of a network's layers) as a tuple."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of layer widths such as [128, 128], got {value!r}")
    widths = tuple(value)
    if not widths or any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in widths):
        raise ValueError(f"{name} must be a non-empty list of positive ints, got {list(widths)!r}")
    return tuple(int(w) for w in widths)


def check_nonnegative(name: str, value: Any) -> None:
    """Raise unless ``value`` is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def check_keys(name: str, given: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Reject unknown option names, listing the ones that exist."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {name}: {unknown}; expected some of {sorted(allowed)}")


#: The shape of one data point: ``D`` for vectors ``[N, D]``, a tuple such as ``(C, H, W)`` for images.
PointShape = int | tuple[int, ...]


def shape_tuple(dim: PointShape) -> tuple[int, ...]:
    """A point shape as a tuple: ``D -> (D,)``, tuples unchanged."""
    return (dim,) if isinstance(dim, int) else tuple(dim)


def as_points(
    name: str, data: Any, *, dim: PointShape | None = None, dtype: torch.dtype = torch.float32, flat: bool = True
) -> torch.Tensor:
    """Convert an array-like of points to a finite float tensor of shape ``[N, D]`` (``flat=False``: ``[N, ...]``).

    ``dim`` is the required shape of one point: an int ``D`` (``[N, D]``) or a tuple (``[N, *dim]``).
    Raises ``TypeError`` for non-numeric input and ``ValueError`` for the wrong number of axes, an empty array,
    a point shape other than ``dim``, or NaN/Inf entries.
    """
    if isinstance(data, torch.Tensor):
        tensor = data.detach()
    else:
        try:
            array = np.asarray(data)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a tensor or array of shape [N, D], got {type(data).__name__}") from error
        except MemoryError as error:
            raise ValueError(f"{name} ({type(data).__name__}) does not fit in memory as an array") from error
        if array.dtype == object or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {tensor.dtype}")
    if flat and tensor.ndim != 2:
        raise ValueError(f"{name} must have shape [N, D] (2 axes), got shape {list(tensor.shape)}")
    if tensor.ndim < 2:
        raise ValueError(f"{name} must have shape [N, D] or [N, C, H, W] (>= 2 axes), got shape {list(tensor.shape)}")
    if tensor.numel() == 0:
        raise ValueError(f"{name} must hold at least one point of dimension >= 1, got shape {list(tensor.shape)}")
    if isinstance(dim, int) and tensor.shape[1:] != (dim,):
        if tensor.ndim != 2:
            raise ValueError(f"{name} must have shape [N, D] with D = {dim}, got shape {list(tensor.shape)}")
        raise ValueError(f"{name} must have dimension D = {dim}, got shape {list(tensor.shape)}")
    if isinstance(dim, tuple) and tensor.shape[1:] != dim:
        raise ValueError(f"{name} must have shape [N, {', '.join(map(str, dim))}], got shape {list(tensor.shape)}")
    tensor = tensor.to(dtype)
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or Inf entries")
    return tensor


def check_device(name: str, device: Any) -> torch.device:
    """Resolve ``device`` (None, ``"auto"``, a str or a torch.device) and check it is usable here.

    None is the CPU; ``"auto"`` is CUDA when available, else the CPU. A CUDA device without an index gets the
    current one (``cuda`` -> ``cuda:0``), so that tensors, generators and the solver name their device alike.
    """
    if device is None:
        return torch.device("cpu")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"{name} must name a torch device such as 'cpu', 'cuda' or 'auto', got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={device!r} but CUDA is not available on this machine")
    if resolved.type == "cuda" and resolved.index is None:
        return torch.device("cuda", torch.cuda.current_device())
    return resolved
