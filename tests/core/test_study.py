"""The study end to end on a tiny generated dataset and a loopback LLM server."""

from __future__ import annotations

import csv
import json

import pytest

from harlab import jobs
from harlab.cli import main
from harlab.data.demo_data import generate_demo_dataset
from harlab.store import Project
from harlab.study.bundle import export_bundle, verify_bundle
from harlab.study.config import StudyConfig, StudyConfigError
from harlab.study.export import export_study, safe_cell
from harlab.study.runner import StudyError, run_study, stage_state
from tests.llm_server import FakeLLMServer

TINY_TRAIN = {"image_size": 32, "frames_per_video": 2, "epochs": 2, "batch_size": 8,
              "lr_cycle_steps": 2}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    return str(jobs.run(generate_demo_dataset(root, classes=["BabyCrawling", "Biking"],
                                              groups=4, clips_per_group=2, seconds=0.4)))


def _config(root: str, server: FakeLLMServer, **kw) -> StudyConfig:
    arm = {"provider": "vllm", "base_url": server.base_url, "model": "gpt-4o",
           "backoff_s": 0.01, "max_retries": 0}
    values = dict(dataset=root, train=TINY_TRAIN, per_class=2, allow_fewer=True, eps=0.3,
                  keyframes=2, unimodal=arm, multimodal=arm)
    values.update(kw)
    return StudyConfig(**values)


@pytest.mark.slow
def test_study_runs_resumes_and_exports(tiny_root, tmp_path):
    project = Project.create(tmp_path / "p")
    with FakeLLMServer() as server:
        config = _config(tiny_root, server)
        result = jobs.run(run_study(project, config))
        assert result.checkpoint and set(result.samples) <= {"BabyCrawling", "Biking"}
        assert stage_state(project, config) == dict.fromkeys(
            ("data", "classifier", "samples", "query", "score"), "done")
        sent = len(server.requests)
        again = jobs.run(run_study(project, config))  # resumes: nothing is asked again
        assert len(server.requests) == sent and "classifier" in again.skipped_stages
        assert {"query", "score"} <= set(again.skipped_stages)  # done: no work at all
        paths = export_study(project, tmp_path / "out", config)
    with open(paths["evaluation.csv"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    n = sum(result.samples.values())
    assert len(rows) == 2 * n
    for col in ("sample_id", "video", "true_label", "keyframes", "attack", "eps", "clean_pred",
                "clean_conf", "adv_pred", "adv_conf", "modality", "status", "status_reason",
                "original_response", "attacked_response", "syntactic_cosine",
                "semantic_cosine"):
        assert col in rows[0]
    ok = [r for r in rows if r["status"] == "ok"]
    assert all(r["syntactic_cosine"] and r["semantic_cosine"] for r in ok)
    table = list(csv.DictReader(open(paths["table3.csv"], encoding="utf-8")))
    uni = next(t for t in table if t["modality"] == "unimodal"
               and t["metric"] == "syntactic_cosine")
    assert int(uni["n"]) == sum(r["modality"] == "unimodal" for r in ok)
    assert "Settings HARLab chose" in paths["summary.md"].read_text()
    assert len(paths["evaluation.jsonl"].read_text().splitlines()) == 2 * n
    before = paths["evaluation.csv"].read_bytes()
    assert export_study(project, tmp_path / "out", config)["evaluation.csv"].read_bytes() == before
    bundle = export_bundle(project, tmp_path / "bundle.zip")
    report = verify_bundle(bundle)
    assert report.ok, report.lines
    project.close()


def test_csv_cells_that_look_like_formulas_are_neutralised():
    assert [safe_cell(v) for v in ("=1+1", "+x", "-y", "@z", "\tt", "\rr", "ok", 3)] == [
        "'=1+1", "'+x", "'-y", "'@z", "'\tt", "'\rr", "ok", 3]


def test_unknown_class_is_named_with_the_valid_ones(tiny_root, tmp_path):
    with FakeLLMServer() as server, Project.create(tmp_path / "p") as project:
        config = _config(tiny_root, server, classes=("BabyCrawling", "Skydiving"))
        with pytest.raises(StudyError, match="class 'Skydiving' is not in the dataset.*"
                                             "BabyCrawling, Biking"):
            jobs.run(run_study(project, config))


def test_paper_preset_refuses_random_weights_silently(tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no-weights"))
    config = StudyConfig.paper(tiny_root, train=TINY_TRAIN)
    with Project.create(tmp_path / "p") as project, pytest.raises(
            StudyError, match="ImageNet ResNet-18 weights.*allow_random_weights"):
        jobs.run(run_study(project, config))


@pytest.mark.parametrize("values, match", [
    ({"per_class": 0}, "per_class must be a whole number >= 1"),
    ({"classes": []}, "classes must be one or more class names"),
    ({"unimodal": {"provider": "nope"}}, "unimodal: unknown LLM provider 'nope'"),
    ({"train": {"epochs": 0}}, r"train: epochs must be an integer in \[1, 10000\]"),
    ({"colour": "red"}, "unknown setting 'colour'; valid settings: name, dataset"),
])
def test_bad_configs_are_named(values, match):
    with pytest.raises(StudyConfigError, match=match):
        StudyConfig.from_dict(values)


def test_yaml_errors_give_the_line(tmp_path):
    bad = tmp_path / "s.yaml"
    bad.write_text("name: x\nclasses: [a, b\n")
    with pytest.raises(StudyConfigError, match=r"s\.yaml, line \d+: not valid YAML"):
        StudyConfig.load(bad)


def test_shipped_ucf101_config_loads():
    from harlab.paths import RESOURCES

    config = StudyConfig.load(RESOURCES / "study_ucf101_gpt4o.yaml")
    assert config.llm("multimodal").model_name == "gpt-4o" and config.per_class == 25
    assert json.dumps(config.to_dict())


def test_cli_needs_demo_or_a_config(tmp_path, capsys):
    assert main(["study", "--out", str(tmp_path)]) == 2
    assert "give either --demo or a study CONFIG.yaml" in capsys.readouterr().err
