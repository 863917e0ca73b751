"""Loss and learning rate per training step, thinned to a bounded number of points.

A long run has hundreds of thousands of steps; the stored curve keeps at most ``max_points``.
Points are evenly spaced every ``stride`` steps; when the buffer fills, neighbouring points
are merged pairwise (loss averaged, the later learning rate kept) and the stride doubles, so
the stored loss at a point is the mean over the steps since the previous point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_POINTS = 1000


@dataclass
class StepHistory:
    """The thinned per-step curve; ``to_dict`` / ``from_dict`` for checkpoints and runs."""

    max_points: int = MAX_POINTS
    stride: int = 1
    steps: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    pending: list[float] = field(default_factory=lambda: [0.0, 0.0])  # loss sum, steps

    def add(self, step: int, loss: float, lr: float) -> None:
        """Record training step ``step`` (1-based, counted over the whole run)."""
        self.pending[0] += float(loss)
        self.pending[1] += 1
        if step % self.stride:
            return
        self.steps.append(int(step))
        self.losses.append(self.pending[0] / self.pending[1])
        self.lrs.append(float(lr))
        self.pending = [0.0, 0.0]
        if len(self.steps) > self.max_points:
            self._halve()

    def _halve(self) -> None:
        odd = len(self.steps) % 2
        if odd:  # the last point waits for its partner in the pending sums
            self.pending = [self.pending[0] + self.losses[-1] * self.stride,
                            self.pending[1] + self.stride]
        n = len(self.steps) - odd
        self.losses = [(self.losses[i] + self.losses[i + 1]) / 2 for i in range(0, n, 2)]
        self.steps = self.steps[1:n:2]
        self.lrs = self.lrs[1:n:2]
        self.stride *= 2

    def __len__(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"stride": self.stride, "step": list(self.steps), "loss": list(self.losses),
                "lr": list(self.lrs), "pending": list(self.pending),
                "max_points": self.max_points}

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> StepHistory:
        """Rebuild from :meth:`to_dict` output; empty for None (runs of older releases)."""
        if not values:
            return cls()
        return cls(max_points=int(values.get("max_points", MAX_POINTS)),
                   stride=int(values.get("stride", 1)),
                   steps=[int(s) for s in values.get("step", [])],
                   losses=[float(v) for v in values.get("loss", [])],
                   lrs=[float(v) for v in values.get("lr", [])],
                   pending=[float(v) for v in values.get("pending", [0.0, 0.0])])
