"""How long a training recipe will take here, before it starts.

The rate (seconds per training frame at 224 px, validation included) comes from the project's
own finished runs on the same kind of device when there are any, else from a coarse default;
time scales with the number of frames and the pixels per frame. It is an estimate to warn with
("about 6 hours on this CPU"), not a promise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harlab.train.config import TrainConfig

# Seconds per frame at 224 px for ResNet-18, forward + backward: a small CPU and a GPU.
DEFAULT_RATE_S = {"cpu": 0.08, "cuda": 0.002, "mps": 0.01}
REFERENCE_PX = 224


@dataclass(frozen=True)
class TrainEstimate:
    seconds: float
    frames_per_epoch: int
    basis: str  # where the rate came from

    def describe(self) -> str:
        return f"about {format_duration(self.seconds)} ({self.basis})"


def format_duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _frames(config: Any, n_train_videos: int) -> float:
    fraction = 1.0 - float(config.get("val_fraction", 0.1) if isinstance(config, dict)
                           else config.val_fraction)
    fpv = config.get("frames_per_video", 50) if isinstance(config, dict) else \
        config.frames_per_video
    return max(1.0, n_train_videos * fraction * float(fpv))


def _scale(size: float) -> float:
    return (float(size) / REFERENCE_PX) ** 2


def estimate_training(config: TrainConfig, n_train_videos: int, device_type: str,
                      runs: Sequence[Any] = ()) -> TrainEstimate:
    """Estimate ``config``'s run on ``n_train_videos`` videos on a ``device_type`` device.

    ``runs`` are :class:`harlab.train.runs.TrainRun` of the same dataset, oldest first; the
    newest one with timed epochs on the same device type gives the rate.
    """
    frames = _frames(config, n_train_videos)
    for run in reversed(list(runs)):
        times = [float(h["time_s"]) for h in run.history if h.get("time_s")]
        if not times or run.config.get("device_type", device_type) != device_type:
            continue
        per_frame = (sum(times) / len(times)) / _frames(run.config, n_train_videos)
        rate = per_frame / _scale(run.config.get("image_size", REFERENCE_PX))
        basis = f"at the speed of run #{run.id} here"
        break
    else:
        rate = DEFAULT_RATE_S.get(device_type, DEFAULT_RATE_S["cpu"])
        basis = f"a rough rate for ResNet-18 on a {device_type.upper()}"
    seconds = rate * _scale(config.image_size) * frames * config.epochs
    return TrainEstimate(seconds, int(frames), basis)
