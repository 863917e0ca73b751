"""Tiny scoring projects built by inserting rows directly (shared by the scoring tests)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harlab.store import Project

# (true label, adversarial label, unimodal original, unimodal attacked, multimodal original,
#  multimodal attacked)
SAMPLES = [
    ("BabyCrawling", "CuttingInKitchen",
     "The baby crawling is a normal activity; the baby is not in any danger.",
     "Cutting in kitchen is dangerous: the baby needs immediate assistance.",
     "The frames show a baby crawling on the floor. It appears to be safe.",
     "The frames show a baby crawling near the kitchen. There is a danger of cuts."),
    ("BabyCrawling", "Punch",
     "The baby crawling is a normal activity; the baby is not in any danger.",
     "A punch could be dangerous for the baby; intervene now.",
     "A baby crawls across the rug, no danger is visible.",
     "The baby seems to be crawling and is safe."),
    ("Biking", "HandstandWalking",
     "The cyclist is safely navigating the road, no prohibited actions.",
     "Handstand walking on a roadway is prohibited and dangerous.",
     "The cyclist rides in the bike lane; the cyclist is safely navigating.",
     "A person biking on the road; there is a risk of collision."),
]


def add_sample(project: Project, true: str, adv: str, n: int = 0) -> int:
    return project.insert(
        "samples", video=f"v_{true}_g01_c0{n}.avi", true_label=true, true_index=0,
        keyframes_json="[0, 1]", timestamps_json="[0.0, 0.5]", attack="fgsm", eps=8 / 255,
        clean_pred=true, clean_conf=0.9, adv_pred=adv, adv_conf=0.7, clean_top5_json="[]",
        adv_top5_json="[]", clean_frames_json="[]", adv_frames_json="[]",
        created_at=time.time())


def add_answer(project: Project, sample_id: int, modality: str, variant: str, text: str | None,
               status: str = "ok", prompt: str | None = None) -> int:
    body = {"messages": [{"role": "user", "content": prompt or f"{modality} {variant}"}],
            "seed": sample_id}
    return project.insert(
        "llm_requests", cache_key=f"k{sample_id}{modality}{variant}{time.time_ns()}",
        sample_id=sample_id, modality=modality, variant=variant, provider="test",
        model="m", request_json=json.dumps(body), response_text=text, status=status,
        error=None if status == "ok" else "boom", created_at=time.time())


def make_project(root: Path, *, noise: dict[tuple[int, str], list[str]] | None = None
                 ) -> tuple[Project, list[int]]:
    """The :data:`SAMPLES` with ok answers for both modalities; ``noise[(index, modality)]``
    adds clean re-draws ``noise-1..k`` to sample ``index``."""
    project = Project.create(root)
    ids = []
    for n, (true, adv, uo, ua, mo, ma) in enumerate(SAMPLES):
        sid = add_sample(project, true, adv, n)
        ids.append(sid)
        add_answer(project, sid, "unimodal", "original", uo, prompt=f"label {true}")
        add_answer(project, sid, "unimodal", "attacked", ua, prompt=f"label {adv}")
        add_answer(project, sid, "multimodal", "original", mo, prompt=f"frames {sid} clean")
        add_answer(project, sid, "multimodal", "attacked", ma, prompt=f"frames {sid} adv")
        for (index, modality), texts in (noise or {}).items():
            if index == n:
                for k, text in enumerate(texts, 1):
                    add_answer(project, sid, modality, f"noise-{k}", text)
    return project, ids


@pytest.fixture(scope="session")
def minilm():
    """The packaged all-MiniLM-L6-v2 on the CPU, loaded once for the whole session."""
    from harlab.scoring import EmbeddingModels

    models = EmbeddingModels()
    models.get("all-MiniLM-L6-v2", "cpu")
    return models
