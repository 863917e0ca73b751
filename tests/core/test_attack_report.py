"""Accuracy under attack: clean and robust top-1 per point, Wilson CIs, the CLI's config."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import harlab.attacks.video as video_attack
from harlab import jobs
from harlab.attacks.config import AttackConfig
from harlab.attacks.report import (
    ReportConfig,
    accuracy_under_attack,
    format_report,
    wilson,
)
from harlab.cli import build_parser
from harlab.cli.attack import report_config_from_args
from harlab.data.ucf101 import VideoItem
from harlab.errors import InputError
from harlab.train.checkpoint import LoadedClassifier

CLASSES = ["Low", "Mid", "High"]


class Brightness(nn.Module):
    """logits_c = -50 |mean(x) - centre_c|: class boundaries at 0.35 and 0.65."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))[:, None]
        return -50.0 * (m - torch.tensor([0.2, 0.5, 0.8])[None]).abs()


@pytest.fixture
def videos(monkeypatch):
    greys: dict[str, int] = {}

    def fake_load(it, config, size):
        k = config.keyframes
        return (list(range(k)), [0.0] * k,
                np.full((k, size, size, 3), greys[it.relpath], np.uint8))

    monkeypatch.setattr(video_attack, "load_keyframes", fake_load)
    items = []
    for i, (label, grey) in enumerate([(1, 160), (1, 150), (1, 130), (1, 200), (0, 51)]):
        rel = f"{CLASSES[label]}/v_{CLASSES[label]}_g01_c0{i}.avi"
        greys[rel] = grey
        items.append(VideoItem(Path("/nowhere") / rel, rel, label, CLASSES[label], 1, i))
    return items


def _config(**kw) -> ReportConfig:
    values = dict(base=AttackConfig(keyframes=2, classes=CLASSES, batch_size=4),
                  attacks=("fgsm",), eps_list=("4/255", 20 / 255), checkpoint="c.pt",
                  dataset_root="d")
    return ReportConfig(**{**values, **kw})


def _wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_clean_and_robust_top1_with_wilson_cis(videos):
    loaded = LoadedClassifier(Brightness(), list(CLASSES), 8, {})
    report = jobs.run(accuracy_under_attack(loaded, videos, _config()))
    assert report.n_videos == 5 and report.clean_correct == 4
    assert [r["robust_correct"] for r in report.rows] == [4, 2]
    first = report.rows[0]
    assert first["clean_top1"] == pytest.approx(0.8) and first["n"] == 5
    assert (first["clean_ci_low"], first["clean_ci_high"]) == pytest.approx(_wilson(4, 5))
    assert (report.rows[1]["robust_ci_low"], report.rows[1]["robust_ci_high"]) == (
        pytest.approx(_wilson(2, 5)))
    assert report.rows[1]["budget"] == "eps=20/255" and "wilson" in report.ci_method
    text = "\n".join(format_report(report))
    assert "Wilson score interval, 95%" in text and "correct before and after" in text


def test_wilson_of_no_trials_is_undefined():
    assert wilson(0, 0) == (None, None)
    assert wilson(0, 10)[0] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kw, match", [
    ({"attacks": ()}, "attacks is empty"),
    ({"attacks": ("cw",)}, "valid attacks: fgsm"),
    ({"eps_list": ()}, "eps_list is empty"),
    ({"eps_list": (8,)}, "did you mean 8/255"),
    ({"params": {"pgd": {"steps": 2}}}, "attacks not in the report: pgd"),
    ({"params": {"fgsm": {"steps": 2}}}, "no parameter 'steps'"),
    ({"videos_per_class": 0}, "videos_per_class must be a whole number"),
])
def test_report_config_errors(kw, match):
    with pytest.raises(InputError, match=match):
        _config(**kw)


def test_cli_report_takes_lists_of_attacks_and_eps():
    args = build_parser().parse_args(["attack", "--project", "P", "--report", "--attack",
                                      "fgsm,pgd,deepfool", "--eps", "2/255,8/255",
                                      "--report-videos", "3"])
    with pytest.raises(InputError, match="attack 'fgsm' has no parameter 'decay'"):
        report_config_from_args(build_parser().parse_args(
            ["attack", "--project", "P", "--report", "--attack", "fgsm,pgd", "--param",
             "decay=1"]), Path("c.pt"), Path("d"))
    given = report_config_from_args(build_parser().parse_args(
        ["attack", "--project", "P", "--report", "--attack", "fgsm,pgd,bim", "--steps", "3"]),
        Path("c.pt"), Path("d"))
    assert given.params == {"pgd": {"steps": 3}, "bim": {"steps": 3}}
    config = report_config_from_args(args, Path("c.pt"), Path("d"))
    assert config.attacks == ("fgsm", "pgd", "deepfool") and config.videos_per_class == 3
    assert config.point("deepfool", "8/255").describe() == "deepfool L2 radius=0.03137"


class Reversed(nn.Module):
    """A surrogate whose Mid logit grows with brightness: attacking Mid makes frames darker."""

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return torch.stack([0 * m, 10 * m, 0 * m], 1)


def test_transfer_crafts_on_the_surrogate_and_the_target_classifies(videos, monkeypatch):
    target = LoadedClassifier(Brightness(), list(CLASSES), 8, {})
    surrogates = {"same.pt": Brightness(), "reversed.pt": Reversed()}
    monkeypatch.setattr(video_attack, "load_classifier", lambda path, device="auto": (
        LoadedClassifier(surrogates[str(path)], list(CLASSES), 8, {})))
    white = jobs.run(accuracy_under_attack(target, videos, _config(eps_list=(20 / 255,))))
    same = jobs.run(accuracy_under_attack(target, videos, _config(
        eps_list=(20 / 255,), base=AttackConfig(keyframes=2, classes=CLASSES, batch_size=4,
                                                surrogate="same.pt"))))
    rev = jobs.run(accuracy_under_attack(target, videos, _config(
        eps_list=(20 / 255,), base=AttackConfig(keyframes=2, classes=CLASSES, batch_size=4,
                                                surrogate="reversed.pt"))))
    # a surrogate with the target's gradients transfers fully; the reversed one pushes the
    # Mid videos darker (160 -> 140, 150 -> 130, 130 -> 110: all still Mid) and Low brighter
    # (51 -> 71: still Low), so nothing transfers
    assert same.rows[0]["robust_correct"] == white.rows[0]["robust_correct"] == 2
    assert same.rows[0]["surrogate"] == "same.pt"
    assert same.rows[0]["success_rate"] == pytest.approx(0.5)
    assert rev.rows[0]["robust_correct"] == 4 and rev.rows[0]["success_rate"] == 0.0
    assert "transfer: crafted on reversed.pt" in "\n".join(format_report(rev))


def test_surrogate_of_other_classes_is_refused(videos, monkeypatch):
    from harlab.train.checkpoint import CheckpointError

    target = LoadedClassifier(Brightness(), list(CLASSES), 8, {})
    monkeypatch.setattr(video_attack, "load_classifier", lambda path, device="auto": (
        LoadedClassifier(Brightness(), ["A", "B", "C"], 8, {})))
    config = _config(base=AttackConfig(keyframes=2, classes=CLASSES, surrogate="other.pt"))
    with pytest.raises(CheckpointError, match="trained on 3 classes"):
        jobs.run(accuracy_under_attack(target, videos, config))
    with pytest.raises(InputError, match="surrogate must be a checkpoint path"):
        AttackConfig(surrogate=" ")
