"""The video-level attack: a video's K keyframes, batched, attacked against its true label.

A video's prediction is the mean softmax over its keyframes. Keyframes are resized to the
classifier's square input size exactly as they are stored and sent (``INTER_AREA``), so the
clean PNG is the clean input. The config is :class:`harlab.attacks.config.AttackConfig`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import torch

from harlab.attacks import get_attack, get_spec
from harlab.attacks.config import AttackConfig
from harlab.attacks.heatmaps import frame_delta
from harlab.data.ucf101 import VideoItem
from harlab.data.video import extract_keyframes
from harlab.errors import InputError
from harlab.train.checkpoint import LoadedClassifier, check_classes, load_classifier
from harlab.train.inference import device_of, predict_probs, to_images

TOPK = 5


# ---------------------------------------------------------------------------- one video
@dataclass
class VideoAttack:
    """One attacked video, as the Attack panel shows it.

    Shape:
        clean_frames, adv_frames: ``(K, S, S, 3)`` uint8 RGB (adv quantised, as stored).
        clean_probs, adv_probs: ``(K, num_classes)`` per-keyframe softmax; ``adv_probs`` are
        those of the quantised frames.
    """

    video: str
    true_index: int
    true_label: str
    keyframe_indices: list[int]
    timestamps_s: list[float]
    clean_frames: np.ndarray = field(repr=False)
    adv_frames: np.ndarray = field(repr=False)
    clean_probs: np.ndarray = field(repr=False)
    adv_probs: np.ndarray = field(repr=False)
    classes: list[str] = field(repr=False)
    attack: str = "fgsm"
    eps: float = 8 / 255

    @property
    def clean_pred(self) -> int:
        return int(self.clean_probs.mean(0).argmax())

    @property
    def adv_pred(self) -> int:
        return int(self.adv_probs.mean(0).argmax())

    @property
    def flipped(self) -> bool:
        """Correct before the attack and wrong after it."""
        return self.clean_pred == self.true_index != self.adv_pred

    def clean_top5(self, frame: int | None = None) -> list[tuple[str, float]]:
        return top5(self.clean_probs if frame is None else self.clean_probs[frame:frame + 1],
                    self.classes)

    def adv_top5(self, frame: int | None = None) -> list[tuple[str, float]]:
        return top5(self.adv_probs if frame is None else self.adv_probs[frame:frame + 1],
                    self.classes)

    @property
    def delta(self) -> np.ndarray:
        """``adv - clean`` on the ``[0, 1]`` scale, ``(K, S, S, 3)`` float32."""

        return frame_delta(self.clean_frames, self.adv_frames)


def top5(probs: np.ndarray, classes: Sequence[str]) -> list[tuple[str, float]]:
    """The five likeliest classes of the mean of ``probs`` ``(K, C)`` as (name, probability)."""
    mean = np.asarray(probs, dtype=np.float64).mean(0)
    order = np.argsort(-mean, kind="stable")[:TOPK]
    return [(classes[i], float(mean[i])) for i in order]


def load_keyframes(item: VideoItem, config: AttackConfig, size: int):
    """Keyframes of ``item`` resized to ``size x size`` (INTER_AREA, as training resizes).

    Returns ``(indices, timestamps_s, frames (K, size, size, 3) uint8)``.
    """


    kf = extract_keyframes(item.path, config.keyframes, config.keyframe_method)
    frames = np.stack([f if f.shape[:2] == (size, size)
                       else cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA)
                       for f in kf.frames])
    return [int(i) for i in kf.indices], [float(t) for t in kf.timestamps_s], frames


def attack_video(loaded: LoadedClassifier, item: VideoItem,
                 config: AttackConfig | None = None) -> VideoAttack:
    """Attack one video's keyframes (the panel's interactive re-run); ``adv_probs`` are those
    of the quantised frames that would be stored."""
    if config is None:

        config = AttackConfig()
    check_label(item.label, loaded.classes)
    batch = load_batch(loaded, [item], config)
    adv, adv_probs = attack_batch(loaded, batch, np.array([0]), config, quantised=True,
                                  crafter=load_surrogate(loaded, config))
    return VideoAttack(
        video=item.relpath, true_index=int(item.label), true_label=loaded.classes[item.label],
        keyframe_indices=batch.indices[0], timestamps_s=batch.stamps[0],
        clean_frames=batch.clean[0], adv_frames=adv[0], clean_probs=batch.clean_probs[0],
        adv_probs=adv_probs[0], classes=list(loaded.classes), attack=config.attack,
        eps=config.eps)


def check_label(label: int, classes: Sequence[str]) -> None:
    if not 0 <= int(label) < len(classes):
        raise InputError(f"video label {label} is outside the classifier's {len(classes)} "
                         "classes; use a checkpoint trained on this dataset.")


# ---------------------------------------------------------------------------- batches
@dataclass
class Batch:
    items: list[Any]
    indices: list[list[int]]
    stamps: list[list[float]]
    clean: np.ndarray            # (V, K, S, S, 3) uint8
    clean_probs: np.ndarray      # (V, K, C)


def load_batch(loaded: LoadedClassifier, items: list[Any], config: AttackConfig) -> Batch:
    size = int(loaded.image_size)
    loaded_frames = [load_keyframes(it, config, size) for it in items]
    clean = np.stack([f for _, _, f in loaded_frames])
    v, k = clean.shape[:2]
    probs = predict_probs(loaded.model, to_images(clean.reshape(v * k, size, size, 3),
                                            device_of(loaded.model)), config.batch_size)
    return Batch(items, [i for i, _, _ in loaded_frames], [t for _, t, _ in loaded_frames],
                  clean, probs.reshape(v, k, -1))


def load_surrogate(loaded: LoadedClassifier, config: AttackConfig) -> Any | None:
    """The model ``config.surrogate`` names, on the target's device; None without one.

    Raises:
        CheckpointError: the surrogate is missing or was trained on other classes.
    """
    if config.surrogate is None:
        return None
    surrogate = load_classifier(config.surrogate, device=str(device_of(loaded.model)))
    check_classes(config.surrogate, surrogate.classes, list(loaded.classes))
    return surrogate.model


def attack_batch(loaded: LoadedClassifier, batch: Batch, rows: np.ndarray,
                  config: AttackConfig, *, quantised: bool, crafter: Any | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Attack the videos at ``rows``; return (adv frames uint8 (R, K, S, S, 3), probs (R, K, C)).

    ``quantised=False`` classifies the attack's float output (the method as published);
    ``True`` classifies the uint8 frames. ``crafter`` (the transfer threat model's surrogate,
    from :func:`load_surrogate`) is attacked instead of the target; the target classifies.
    """

    device = device_of(loaded.model)
    attack = get_attack(config.attack)
    clean = batch.clean[rows]
    r, k = clean.shape[:2]
    flat = clean.reshape(r * k, *clean.shape[2:])
    labels = np.repeat([batch.items[i].label for i in rows], k)
    params = video_params(config, k)
    # whole videos per chunk: a sparse-frame attack picks k of each video's K keyframes
    step = max(k, config.batch_size // k * k)
    advs, probs = [], []
    for i in range(0, len(flat), step):
        x = to_images(flat[i:i + step], device)
        y = torch.as_tensor(labels[i:i + step], device=device)
        adv = attack(loaded.model if crafter is None else crafter, x, y, config.eps, **params)
        q = adv.mul(255.0).round_().to(torch.uint8)
        probs.append(predict_probs(loaded.model, q.float().div_(255.0) if quantised else adv,
                            config.batch_size))
        advs.append(q.permute(0, 2, 3, 1).cpu().numpy())
    return (np.concatenate(advs).reshape(r, k, *flat.shape[1:]),
            np.concatenate(probs).reshape(r, k, -1))


def video_params(config: AttackConfig, keyframes: int) -> dict[str, Any]:
    """The attack's keyword arguments for batches of whole videos of ``keyframes`` frames.

    A parameter named ``frames_per_video`` (the sparse-frame attack's) that the config leaves
    unset is the video's keyframe count, so ``k`` frames are chosen per video, not per batch.
    """
    params = dict(config.params)
    names = {p.name for p in get_spec(config.attack).params}
    if "frames_per_video" in names and params.get("frames_per_video") is None:
        params["frames_per_video"] = keyframes
    return params


def batches(items: Sequence[Any], config: AttackConfig):
    per = max(1, config.batch_size // config.keyframes)
    for i in range(0, len(items), per):
        yield items[i:i + per]
