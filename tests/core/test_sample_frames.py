"""Frame names as stored, read by the one sample reader (the bundle checks them unresolved)."""

from __future__ import annotations

import json
import time

import pytest

from harlab.attacks.samples import frame_names, get_sample, stored_frame_names
from harlab.errors import InputError
from harlab.store import Project
from harlab.study.verify import stored_frames


def _add(project: Project, clean: list[str], adv: list[str], selected: bool = True) -> int:
    return project.insert(
        "samples", video="v_A_g01_c01.avi", true_label="A", true_index=0, keyframes_json="[0]",
        timestamps_json="[0.0]", attack="fgsm", eps=8 / 255, clean_pred="A", clean_conf=0.9,
        adv_pred="B", adv_conf=0.7, clean_top5_json="[]", adv_top5_json="[]",
        clean_frames_json=json.dumps(clean), adv_frames_json=json.dumps(adv),
        selected=int(selected), created_at=time.time())


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p") as project:
        yield project


def test_names_are_returned_as_stored_in_id_order(project):
    first = _add(project, ["frames/1/clean_00.png"], ["frames/1/adv_00.png"])
    dropped = _add(project, ["frames/2/clean_00.png"], ["frames/2/adv_00.png"], selected=False)
    odd = _add(project, ["../outside.png"], ["/abs/adv.png"])
    got = stored_frame_names(project, selected=True)
    assert [(s.id, s.clean, s.adv) for s in got] == [
        (first, ["frames/1/clean_00.png"], ["frames/1/adv_00.png"]),
        (odd, ["../outside.png"], ["/abs/adv.png"])]  # unresolved: a bundle checks them
    assert [s.id for s in stored_frame_names(project, selected=False)] == [dropped]
    assert [s.id for s in stored_frame_names(project)] == [first, dropped, odd]


def test_the_full_sample_resolves_the_same_names(project):
    sid = _add(project, ["frames/1/clean_00.png", "frames/1/clean_01.png"],
               ["frames/1/adv_00.png"])
    sample = get_sample(project, sid)
    (stored,) = stored_frame_names(project)
    assert sample.clean_frames == [project.abspath(n) for n in stored.clean]
    assert sample.frames("adv") == [project.abspath(n) for n in stored.adv]


def test_a_bundle_sees_each_frame_of_the_study_with_its_first_sample(project):
    first = _add(project, ["frames/shared.png"], ["frames/1/adv.png"])
    second = _add(project, ["frames/2/clean.png"], ["frames/shared.png"])
    _add(project, ["frames/out.png"], ["frames/out_adv.png"], selected=False)
    assert stored_frames(project) == {"frames/shared.png": first, "frames/1/adv.png": first,
                                      "frames/2/clean.png": second}


def test_an_unknown_variant_is_refused_with_the_valid_ones(project):
    _add(project, [], [])
    row = project.query_one("SELECT * FROM samples")
    assert frame_names(row, "clean") == []
    with pytest.raises(InputError, match=r"one of clean, adv, got 'noisy'"):
        frame_names(row, "noisy")
