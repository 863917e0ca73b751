"""``harlab attack --param NAME=VALUE``, the deprecated flags and the L2 budget."""

from __future__ import annotations

import math

import pytest

from harlab.attacks.config import AttackConfig, describe_eps, parse_budget
from harlab.cli import build_parser
from harlab.cli.attack import config_from_args, parse_params
from harlab.errors import InputError


def _config(*argv: str) -> AttackConfig:
    args = build_parser().parse_args(["attack", "--project", "P", *argv])
    return config_from_args(args)


def test_param_flags_are_typed_by_the_attack_signature():
    config = _config("--attack", "pgd", "--param", "steps=20", "--param", "alpha=2/255",
                     "--param", "random_start=false")
    assert config.params == {"steps": 20, "alpha": pytest.approx(2 / 255),
                             "random_start": False}


def test_deprecated_flags_still_work_with_a_warning(capsys):
    config = _config("--attack", "mifgsm", "--steps", "3", "--decay", "0.5")
    assert config.params == {"steps": 3, "decay": 0.5}
    assert "--steps is deprecated; use --param steps=3" in capsys.readouterr().err


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(InputError, match="valid parameters: steps, alpha, random_start"):
        _config("--attack", "pgd", "--param", "decay=1")


def test_unknown_attack_lists_the_valid_ones():
    with pytest.raises(InputError, match="valid attacks: fgsm, bim"):
        parse_params("cw", ["c=1"])


def test_param_without_equals_says_the_form():
    with pytest.raises(InputError, match="NAME=VALUE.*steps, alpha"):
        parse_params("bim", ["steps"])


def test_wrong_type_names_the_parameter():
    with pytest.raises(InputError, match="'steps' must be a whole number"):
        parse_params("pgd", ["steps=2.5"])


def test_sparse_takes_its_base_attack_and_k():
    config = _config("--attack", "sparse", "--param", "k=2", "--param", "base=fgsm")
    assert config.params == {"k": 2, "base": "fgsm"}


def test_help_lists_every_attack_and_its_parameters(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["attack", "--help"])
    out = capsys.readouterr().out
    assert "cw_l2       l2" in out and "steps=10, alpha=None, random_start=True" in out


def test_l2_attacks_take_a_radius_above_one():
    config = _config("--attack", "deepfool", "--eps", "2.5")
    assert config.eps == 2.5 and config.norm == "l2"
    assert config.describe().startswith("deepfool L2 radius=2.5")
    assert AttackConfig(attack="cw_l2", eps="inf").eps == math.inf


def test_l2_radius_errors_say_l2_radius():
    with pytest.raises(InputError, match="L2 radius"):
        AttackConfig(attack="deepfool", eps=-0.5)
    with pytest.raises(InputError, match="L2 radius.*such as 0.5"):
        parse_budget("lots", "l2")


def test_linf_attacks_keep_the_unit_interval():
    with pytest.raises(InputError, match="did you mean 8/255"):
        AttackConfig(attack="pgd", eps=8)
    assert describe_eps(8 / 255, "linf") == "eps=8/255"


def test_sparse_attack_batch_perturbs_k_frames_of_every_video(monkeypatch):
    """Chunks hold whole videos (batch_size 4 with K=3 gives chunks of 3), and k is per video."""
    import numpy as np
    import torch
    from torch import nn

    import harlab.attacks.video as video_attack
    from harlab.train.checkpoint import LoadedClassifier

    class Mean(nn.Module):
        def forward(self, x):
            return torch.stack([-x.mean((1, 2, 3)), x.mean((1, 2, 3))], 1) * 10

    loaded = LoadedClassifier(model=Mean(), classes=["Dark", "Bright"], image_size=4, config={})
    clean = np.full((2, 3, 4, 4, 3), 100, np.uint8)
    clean[1, 1] = 110  # one keyframe differs, so the picks are not a tie in the second video
    batch = video_attack.Batch([type("I", (), {"label": 0})()] * 2, [[0, 1, 2]] * 2,
                               [[0.0, 0.1, 0.2]] * 2, clean, np.zeros((2, 3, 2)))
    config = AttackConfig(attack="sparse", eps=8 / 255, keyframes=3, batch_size=4,
                          params={"k": 1, "base": "fgsm"})
    adv, probs = video_attack.attack_batch(loaded, batch, np.array([0, 1]), config,
                                           quantised=True)
    changed = (adv != clean).reshape(2, 3, -1).any(-1)
    assert changed.sum(1).tolist() == [1, 1]
    assert probs.shape == (2, 3, 2)
