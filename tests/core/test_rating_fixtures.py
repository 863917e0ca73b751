"""Tiny rating projects built by inserting rows directly (shared by the rating tests)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from harlab.store import Project

LABELS = ("BabyCrawling", "Biking", "CuttingInKitchen")


def add_answer(project: Project, sample_id: int, modality: str, variant: str, text: str,
               status: str = "ok") -> int:
    return project.insert(
        "llm_requests", cache_key=f"k{sample_id}{modality}{variant}{time.time_ns()}",
        sample_id=sample_id, modality=modality, variant=variant, provider="test",
        model="m", request_json="{}", response_text=text if status == "ok" else None,
        status=status, created_at=time.time())


def make_project(root: Path, n_samples: int = 3, modalities=("unimodal", "multimodal"),
                 frames: bool = False) -> Project:
    """``n_samples`` samples, each with ok original/attacked answers per modality."""
    project = Project.create(root)
    for n in range(n_samples):
        true = LABELS[n % len(LABELS)]
        paths = []
        if frames:
            import cv2
            import numpy as np

            for kind in ("clean", "adv"):
                path = project.frames_dir / f"s{n}_{kind}.png"
                cv2.imwrite(str(path), np.full((8, 8, 3), 40 * n, np.uint8))
                paths.append(project.relpath(path))
        sid = project.insert(
            "samples", video=f"{true}/v_{true}_g01_c0{n}.avi", true_label=true, true_index=n,
            keyframes_json="[0]", timestamps_json="[0.0]", attack="fgsm", eps=8 / 255,
            clean_pred=true, clean_conf=0.9, adv_pred="Drumming", adv_conf=0.7,
            clean_top5_json="[]", adv_top5_json="[]",
            clean_frames_json=json.dumps(paths[:1]), adv_frames_json=json.dumps(paths[1:]),
            created_at=time.time())
        for modality in modalities:
            add_answer(project, sid, modality, "original", f"{true} {modality}: all is fine.")
            add_answer(project, sid, modality, "attacked", f"{true} {modality}: drumming, so "
                                                           f"danger #{n}!")
    return project


def test_make_project_builds_rateable_items(tmp_path):
    from harlab.rating import items

    with make_project(tmp_path / "p", n_samples=2) as project:
        assert len(items(project)) == 4
