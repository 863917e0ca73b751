"""Robustness curves through the language model, on a brightness classifier and a fake LLM."""

from __future__ import annotations

import csv
import json
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import harlab.attacks.video as video_attack
from harlab import jobs
from harlab.attacks.config import AttackConfig
from harlab.attacks.report import ReportConfig
from harlab.cli import main
from harlab.data.ucf101 import VideoItem
from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.store import Project
from harlab.study import curves
from harlab.train.checkpoint import LoadedClassifier
from tests.llm_server import FakeLLMServer

CLASSES = ["Low", "Biking", "High"]


class Brightness(nn.Module):
    """Class boundaries at mean pixel 0.35 and 0.65."""

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
    for i, grey in enumerate([160, 150, 130, 200]):  # flips from ~6/255, ~16/255, never; wrong
        rel = f"Biking/v_Biking_g01_c0{i}.avi"
        greys[rel] = grey
        items.append(VideoItem(Path("/nowhere") / rel, rel, 1, "Biking", 1, i))
    monkeypatch.setattr(curves, "curve_videos", lambda config, dataset=None: items)
    return items


def _config(server: FakeLLMServer, **kw) -> curves.CurveConfig:
    base = AttackConfig(keyframes=2, classes=("Biking",), batch_size=4, device="cpu")
    points = ReportConfig(base, ("fgsm",), ("4/255", 20 / 255), "c.pt", "d")
    llm = LLMConfig(provider="openai", base_url=server.base_url, model="gpt-4o", api_key_env="",
                    backoff_s=0.01, max_backoff_s=0.05, timeout_s=5.0, concurrency=2)
    return curves.CurveConfig(points, llm, **{"llm_per_class": 1, "noise_floor": 2, **kw})


@pytest.mark.slow  # loads the sentence model for the semantic cosine
def test_curve_points_have_rates_with_cis_and_a_rerun_asks_nothing(tmp_path, videos):
    loaded = LoadedClassifier(Brightness(), list(CLASSES), 8, {})
    stub = types.SimpleNamespace(fold=1, classes=list(CLASSES))
    with Project.create(tmp_path / "p") as project, FakeLLMServer() as server:
        config = _config(server)
        result = jobs.run(curves.run_curve(project, config, loaded=loaded, dataset=stub))
        low, high = result.rows
        assert (low["videos"], low["clean_correct"], low["flipped"], low["samples"]) == (
            4, 3, 0, 0)
        assert low["flip_rate"] == 0 and low["flip_ci_high"] > 0 and low["asked"] == 0
        assert low["decision_flip_rate"] is None and low["drift_mean"] is None
        assert (high["flipped"], high["samples"], high["asked"]) == (2, 2, 1)
        assert high["flip_rate"] == pytest.approx(2 / 3)
        assert high["flip_ci_low"] < 2 / 3 < high["flip_ci_high"]
        assert high["decision_n"] == 1 and high["adv_label_n"] == 1
        assert high["adv_label_rate"] == 1.0  # the fake model repeats the prompt's label
        assert high["drift_n"] == 1 and high["noise_draws"] == 2
        assert result.asked == 4 and len(server.requests) == 4  # original, attacked, 2 noise
        # the curve's samples stay out of the study
        assert project.query_one("SELECT count(*) FROM samples WHERE selected = 1")[0] == 0
        runs = len(project.runs("attack"))
        again = jobs.run(curves.run_curve(project, config, loaded=loaded, dataset=stub))
        assert len(server.requests) == 4 and again.asked == 0 and again.cached == 4
        assert len(project.runs("attack")) == runs and again.rows == result.rows
        assert curves.last_curve(project).rows == result.rows
        text = "\n".join(curves.format_curve(result))
        assert "Wilson" in text and "bootstrap" in text and "20/255" in text
        # a run stored before a field was added to AttackConfig still matches its point
        for row in project.runs("attack"):
            stored = json.loads(row["config_json"])
            del stored["config"]["surrogate"]
            project.execute("UPDATE runs SET config_json = ? WHERE id = ?",
                            (json.dumps(stored), row["id"]))
        assert curves.recorded_point(project, curves.curve_point(config, "fgsm", 20 / 255),
                                     config).flipped == 2
        lines = curves.estimate_curve(project, config, 4)
        assert "0 to attack, 2 recorded" in lines[0] and "0 requests to send" in "\n".join(lines)


def test_llm_subset_takes_the_first_per_class(tmp_path):
    from tests.llm_server import add_samples

    with Project.create(tmp_path / "p") as project:
        ids = add_samples(project, [("Biking", "Biking", "High")] * 3
                          + [("BabyCrawling", "BabyCrawling", "Low")])
        assert curves.llm_subset(project, ids, 2) == [ids[0], ids[1], ids[3]]
        assert curves.llm_subset(project, [], 2) == []


@pytest.mark.parametrize("kw, match", [
    ({"llm_per_class": 0}, "llm_per_class must be a whole number"),
    ({"modality": "audio"}, "modality must be one of unimodal, multimodal"),
    ({"noise_floor": 0}, r"noise_floor must be .* \[1, 20\]"),
    ({"n_resamples": 5}, "n_resamples must be"),
])
def test_config_errors(kw, match):
    with FakeLLMServer() as server, pytest.raises(InputError, match=match):
        _config(server, **kw)


def test_cli_estimate_asks_nothing(tmp_path, videos, capsys, monkeypatch):
    with Project.create(tmp_path / "p"):
        pass
    monkeypatch.setattr("harlab.cli.attack.sources",
                        lambda args, project: (Path("c.pt"), Path("d")))
    code = main(["curve", "--project", str(tmp_path / "p"), "--attack", "fgsm,pgd",
                 "--eps", "2/255,8/255", "--classes", "Biking", "--param", "steps=3",
                 "--estimate"])
    out = capsys.readouterr().out
    assert code == 0 and "4 points (4 to attack, 0 recorded): 16 video attacks" in out
    assert "at most 80 requests" in out  # 4 points x 5 per class x 1 class x (2 + 2)


def test_csv_columns(tmp_path):
    from harlab.tabular import write_records

    path = write_records(tmp_path / "c.csv", curves.CURVE_COLUMNS,
                         [dict.fromkeys(curves.CURVE_COLUMNS, 1)])
    assert next(csv.reader(path.open()))[:3] == ["attack", "norm", "eps"]
