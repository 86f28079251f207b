"""A fixed-size replay buffer of chain states as a tensor ring buffer (O(batch) per push and per draw)."""

from __future__ import annotations

import torch


class ReplayBuffer:
    """Holds up to ``capacity`` rows of several aligned tensors (e.g. ``x [n, D]`` and ``y [n, D]``).

    ``push`` overwrites the oldest rows; ``sample`` draws rows uniformly with replacement. Storage is allocated on
    the first push, with the shapes, dtypes and device of what is pushed.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.storage: list[torch.Tensor] = []
        self.position = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def push(self, *rows: torch.Tensor) -> None:
        """Append aligned batches ``[n, ...]``; when ``n > capacity`` only the last ``capacity`` rows are kept."""
        n = len(rows[0])
        if any(len(r) != n for r in rows):
            raise ValueError("all tensors pushed together must have the same number of rows")
        if not self.storage:
            self.storage = [torch.empty((self.capacity, *r.shape[1:]), dtype=r.dtype, device=r.device) for r in rows]
        rows = tuple(r[-self.capacity :].detach() for r in rows)
        n = len(rows[0])
        index = (self.position + torch.arange(n, device=rows[0].device)) % self.capacity
        for store, r in zip(self.storage, rows, strict=True):
            store[index] = r
        self.position = (self.position + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """Draw ``n`` rows (with replacement) of every stored tensor."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        index = torch.randint(self.size, (n,), generator=generator, device=self.storage[0].device)
        return tuple(store[index] for store in self.storage)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Tensors that restore the buffer exactly (for checkpoints)."""
        state = {f"row{i}": store[: self.size] for i, store in enumerate(self.storage)}
        state["meta"] = torch.tensor([self.position, self.size, self.capacity])
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`state_dict`."""
        position, size, capacity = (int(v) for v in state["meta"])
        self.capacity, self.position, self.size = capacity, position, size
        rows = [state[f"row{i}"] for i in range(len(state) - 1)]
        self.storage = []
        for r in rows:
            store = torch.empty((capacity, *r.shape[1:]), dtype=r.dtype, device=r.device)
            store[:size] = r
            self.storage.append(store)
