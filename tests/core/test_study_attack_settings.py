"""A study config carries the attack's parameters and the transfer threat model (issue 22):
sparse frames, steps, a surrogate checkpoint, all from YAML, checked, and in summary.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from harlab.study import runner
from harlab.study.config import StudyConfig, StudyConfigError


def test_sparse_attack_and_surrogate_from_yaml(tmp_path: Path):
    path = tmp_path / "study.yaml"
    path.write_text("attack: sparse\neps: 8/255\nattack_params: {k: 1, base: fgsm}\n"
                    "surrogate: other/best.pt\n", encoding="utf-8")
    config = StudyConfig.load(path)
    attack = config.attack_config()
    assert attack.attack == "sparse" and attack.params["k"] == 1
    assert attack.params["base"] == "fgsm" and attack.surrogate == "other/best.pt"
    chosen = config.chosen_settings()["eps"]
    assert "attack sparse, base=fgsm, k=1" in chosen and "surrogate other/best.pt" in chosen


def test_l2_attack_budget_is_called_a_radius():
    config = StudyConfig(attack="deepfool", eps=0.5)
    assert config.chosen_settings()["eps"].startswith("0.5 (L2 radius")


def test_bad_attack_parameter_names_the_valid_ones(tmp_path: Path):
    path = tmp_path / "study.yaml"
    path.write_text("attack: pgd\nattack_params: {stepz: 3}\n", encoding="utf-8")
    with pytest.raises(StudyConfigError, match=r"stepz.*steps"):
        StudyConfig.load(path)


def test_new_settings_leave_finished_studies_fresh():
    """A study run before attack_params and surrogate existed keeps its fingerprints."""
    plain = StudyConfig()
    keys = [k for k in runner._DEPENDS["samples"] if k not in ("attack_params", "surrogate")]
    before = plain.fingerprint(*dict.fromkeys(
        k for s in runner.STEPS[:runner.STEPS.index("samples") + 1] for k in runner._DEPENDS[s]
        if k in keys or s != "samples"))
    assert runner._fingerprint(plain, "samples") == before
    assert runner._fingerprint(StudyConfig(attack_params={"steps": 3}, attack="pgd"),
                               "samples") != runner._fingerprint(StudyConfig(attack="pgd"),
                                                                 "samples")


def test_a_setting_added_later_counts_only_once_it_is_set():
    """Settings marked added_later (StudyConfig field metadata) are left out of a fingerprint
    at their defaults and in it once given, whichever stage asks."""
    import dataclasses
    import hashlib
    import json

    later = [f.name for f in dataclasses.fields(StudyConfig) if f.metadata.get("added_later")]
    assert later == ["attack_params", "surrogate"]
    plain = StudyConfig()
    by_hand = hashlib.sha256(json.dumps({"attack": "fgsm"}, sort_keys=True).encode()
                             ).hexdigest()[:16]  # what a study recorded before they existed
    assert plain.fingerprint("attack", *later) == plain.fingerprint("attack") == by_hand
    assert StudyConfig(surrogate="s.pt").fingerprint("attack", *later) != by_hand
