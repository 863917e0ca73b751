"""The Attack panel's jobs: they take the classifier from the context's cache (job thread)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harlab import stages
from harlab.attacks.heatmaps import grad_cam_frames
from harlab.attacks.selection import load_sample
from harlab.attacks.video import attack_video
from harlab.jobs import Job, Progress


@dataclass
class AttackView:
    """What the right-hand side shows: an attacked video and its Grad-CAMs."""

    attack: Any                    # harlab.attacks.video.VideoAttack
    cam_clean: np.ndarray          # (K, S, S)
    cam_adv: np.ndarray
    source: str                    # "live" or "sample #N"


def _with_cams(loaded, attack, source: str) -> AttackView:
    return AttackView(attack, grad_cam_frames(loaded.model, attack.clean_frames),
                      grad_cam_frames(loaded.model, attack.adv_frames), source)


def live_job(classifiers, checkpoint: str, item, config) -> Job[AttackView]:
    yield Progress(0, 2, "loading the classifier")
    loaded = classifiers.get(checkpoint, config.device)
    yield Progress(1, 2, f"{config.describe()} on {item.relpath}")
    return _with_cams(loaded, attack_video(loaded, item, config), "live")


def sample_job(classifiers, checkpoint: str, project, sample_id: int,
               device: str) -> Job[AttackView]:
    yield Progress(0, 2, "loading the classifier")
    loaded = classifiers.get(checkpoint, device)
    yield Progress(1, 2, f"sample #{sample_id}")
    return _with_cams(loaded, load_sample(project, sample_id, loaded), f"sample #{sample_id}")


def find_job(classifiers, project, config, checkpoint: str, root: str, dataset) -> Job[Any]:
    yield Progress(0, 0, "loading the classifier")
    loaded = classifiers.get(checkpoint, config.device)
    return (yield from stages.find_samples(project, config, checkpoint=checkpoint,
                                           dataset_root=root, loaded=loaded, dataset=dataset))


def sweep_job(classifiers, project, config, dataset) -> Job[Any]:
    yield Progress(0, 0, "loading the classifier")
    loaded = classifiers.get(config.checkpoint, config.attack.device)
    return (yield from stages.sweep_eps(project, config, loaded=loaded, dataset=dataset))
