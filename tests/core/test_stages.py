"""The stage API and the core read functions the views use (runs, samples, requests)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harlab import jobs, stages
from harlab.attacks.config import AttackConfig
from harlab.attacks.samples import get_sample, list_samples, sample_frames, write_pngs
from harlab.attacks.selection import SweepConfig, last_sweep
from harlab.errors import InputError
from harlab.llm.config import LLMConfig
from harlab.llm.records import prompt_text, request_statuses, sample_requests
from harlab.settings import AppSettings, llm_from_mapping, llm_to_mapping
from harlab.store import Project
from harlab.train import runs
from tests.core.test_selection import CLASSES, _write_dataset

HISTORY = [{"epoch": 1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 0.9, "val_acc": 0.6,
            "lr": 1e-3, "time_s": 2.0, "best": True},
           {"epoch": 2, "train_loss": 0.8, "train_acc": 0.6, "val_loss": 1.0, "val_acc": 0.55,
            "lr": 1e-3, "time_s": 2.0, "best": False}]


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


def _train_run(project: Project, *, completed: bool, status_exc: type | None = None) -> int:
    folder = project.checkpoints_dir / f"t{len(project.runs())}"
    folder.mkdir(parents=True)
    (folder / "best.pt").write_bytes(b"x")
    (folder / "last.pt").write_bytes(b"x")
    result = {"best_checkpoint": project.relpath(folder / "best.pt"),
              "last_checkpoint": project.relpath(folder / "last.pt"), "best_val_acc": 0.6,
              "best_epoch": 1, "history": HISTORY, "completed": completed, "weights": "w"}
    with project.run("train", {"arch": "resnet18", "dataset_root": "/d"}, name="r18") as rec:
        rec.result = result
    return rec.id


def test_train_runs_read_back_history_checkpoints_and_evaluation(project):
    assert runs.train_runs(project) == [] and runs.best_checkpoint(project) is None
    first = _train_run(project, completed=True)
    second = _train_run(project, completed=False)
    listed = runs.train_runs(project)
    assert [r.id for r in listed] == [first, second]
    run = runs.train_run(project, first)
    assert run.history == HISTORY and run.best_epoch == 1 and run.config["arch"] == "resnet18"
    assert run.status == "done" and "2 epoch(s)" in run.label and "60.0%" in run.label
    assert runs.best_checkpoint(project) == project.checkpoints_dir / "t1" / "best.pt"
    assert runs.resume_checkpoint(project) == project.checkpoints_dir / "t1" / "last.pt"
    with pytest.raises(InputError, match=r"no train run #99; pick one of 1, 2"):
        runs.train_run(project, 99)

    best = runs.best_checkpoint(project)
    assert runs.evaluation_of(project, best) is None
    with project.run("evaluate", {"checkpoint": str(best)}) as rec:
        rec.result = {"classes": ["a", "b"], "frame_top1": 0.5, "frame_top5": 1.0,
                      "video_top1": 0.5, "video_top5": 1.0, "per_class_acc": {"a": 1, "b": 0},
                      "confusion": [[1, 0], [1, 0]], "n_frames": 4, "n_videos": 2,
                      "checkpoint": str(best)}
    result = runs.evaluation_of(project, best)
    assert result.confusion == [[1, 0], [1, 0]] and result.run_id == rec.id


def _add_sample(project: Project, selected: int = 1, label: str = "Biking") -> int:
    import numpy as np

    folder = project.frames_dir / f"s{len(project.query('SELECT id FROM samples'))}"
    clean = write_pngs(folder, "clean", np.zeros((2, 8, 8, 3), np.uint8))
    adv = write_pngs(folder, "adv", np.full((2, 8, 8, 3), 9, np.uint8))
    return project.insert(
        "samples", video=f"{label}/v.avi", true_label=label, true_index=1,
        keyframes_json="[1, 4]", timestamps_json="[0.04, 0.16]", attack="fgsm", eps=8 / 255,
        clean_pred=label, clean_conf=0.5, adv_pred="Other", adv_conf=0.6,
        clean_top5_json='[["Biking", 0.5]]', adv_top5_json='[["Other", 0.6]]',
        clean_frames_json=json.dumps([project.relpath(p) for p in clean]),
        adv_frames_json=json.dumps([project.relpath(p) for p in adv]), survives_png=selected,
        selected=selected, created_at=time.time())


def test_samples_with_filters_and_frames(project):
    a, b, c = _add_sample(project), _add_sample(project, selected=0), _add_sample(project,
                                                                                 label="Fencing")
    assert [s.id for s in list_samples(project)] == [a, b, c]
    assert [s.id for s in list_samples(project, selected=True)] == [a, c]
    assert [s.id for s in list_samples(project, true_label="Fencing")] == [c]
    assert [s.id for s in list_samples(project, newest_first=True)] == [c, b, a]
    sample = get_sample(project, a)
    assert sample.keyframes == [1, 4] and sample.adv_top5 == [("Other", 0.6)]
    assert sample.eps_255 == pytest.approx(8) and all(p.is_file() for p in sample.adv_frames)
    assert sample_frames(project, a, "clean") == sample.clean_frames
    with pytest.raises(InputError, match="sample 99 does not exist"):
        get_sample(project, 99)
    with pytest.raises(InputError, match="no sample with id 99"):
        list_samples(project, ids=[a, 99])
    with pytest.raises(InputError, match="frame variant must be one of clean, adv"):
        sample.frames("both")


def test_requests_read_back_with_their_prompt(project):
    sid = _add_sample(project)
    body = {"messages": [{"role": "system", "content": "s"},
                         {"role": "user", "content": [
                             {"type": "text", "text": "What happens?"},
                             {"type": "image_url", "image_url": {"url": "frames/x.png"}}]}]}
    for variant, status in (("original", "ok"), ("attacked", "failed")):
        project.insert("llm_requests", cache_key=variant, sample_id=sid, modality="multimodal",
                       variant=variant, provider="vllm", model="m", request_json=json.dumps(body),
                       response_text="ans" if status == "ok" else None, status=status,
                       error=None if status == "ok" else "boom", attempts=1,
                       prompt_tokens=3, completion_tokens=4, created_at=time.time())
    got = sample_requests(project, sid)
    ok = got[("multimodal", "original")]
    assert ok.prompt == "What happens?  [+ 1 PNG frame(s)]" and ok.tokens == 7
    assert not ok.cached and got[("multimodal", "attacked")].error == "boom"
    assert sorted(request_statuses(project)[sid]) == ["failed", "ok"]
    assert prompt_text(None) == "" and prompt_text('{"messages": []}') == ""


def test_llm_settings_mapping_round_trips_unset_fields():
    config = LLMConfig(temperature=None, seed=None, supports_images=False)
    assert llm_from_mapping(llm_to_mapping(config)) == config
    app = AppSettings(device="cuda:1")
    assert AppSettings.from_mapping(app.to_mapping()) == app


def test_stage_registry_names_the_valid_stages():
    assert stages.stage("sweep_eps").job is stages.sweep_eps
    assert stages.stage("find_samples").config is AttackConfig
    with pytest.raises(InputError, match="unknown stage 'nope'; valid stages: index_data"):
        stages.stage("nope")
    with pytest.raises(InputError, match="fold must be 1, 2 or 3"):
        stages.DatasetConfig("/d", fold=4)


@pytest.fixture
def trained(tmp_path):
    import torch

    from harlab.train.checkpoint import save_checkpoint
    from harlab.train.models import build_model

    _write_dataset(tmp_path / "data", CLASSES, {"Low": 40, "Mid": 128, "High": 220})
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 3, weights="none")
    ckpt = save_checkpoint(tmp_path / "best.pt", model=model, classes=CLASSES, image_size=32,
                           config={}, metrics={})
    return Path(ckpt), tmp_path / "data"


def test_sweep_stage_is_a_recorded_run_done_or_cancelled(project, trained):
    from harlab.attacks.config import AttackConfig

    checkpoint, root = trained
    attack = AttackConfig(keyframes=2, classes=("Low", "Mid"), device="cpu")
    config = SweepConfig(attack, (0, "8/255"), 1, str(checkpoint), str(root))
    result = jobs.run(stages.sweep_eps(project, config))
    run = project.runs("sweep")[-1]
    assert run["status"] == "done" and json.loads(run["config_json"])["videos_per_class"] == 1
    assert last_sweep(project) == result

    job = stages.sweep_eps(project, config)
    next(job)
    next(job)  # inside the recorded run
    job.close()
    assert project.runs("sweep")[-1]["status"] == "cancelled"
    assert last_sweep(project) == result  # the cancelled run is not shown as the last sweep
    with pytest.raises(InputError, match="eps_list is empty"):
        SweepConfig(attack, (), 1, str(checkpoint), str(root))


def test_sweep_ctrl_c_in_the_cli_is_recorded_as_cancelled(project, trained, monkeypatch):
    from harlab.attacks import selection
    from harlab.attacks.config import AttackConfig

    checkpoint, root = trained

    def interrupted(*args, **kwargs):
        yield jobs.Progress(0, 1, "eps 0")
        raise KeyboardInterrupt

    monkeypatch.setattr(selection, "eps_sweep", interrupted)
    config = SweepConfig(AttackConfig(keyframes=2, classes=("Low",), device="cpu"), (0,), 1,
                         str(checkpoint), str(root))
    with pytest.raises(KeyboardInterrupt):
        jobs.run_cli(stages.sweep_eps(project, config), "sweep", disable=True)
    assert project.runs("sweep")[-1]["status"] == "cancelled"


def test_stage_index_is_the_one_the_study_runs():
    from harlab.attacks import selection
    from harlab.study import runner

    assert stages.find_samples is selection.find_samples  # one find_samples
    assert runner.STEPS == ("data", "classifier", "samples", "query", "score")
    assert set(runner._DEPENDS) == set(runner._STEP_JOBS) == set(runner.STEPS)
    for spec in stages.STAGES.values():
        assert spec.name in stages.STAGES and callable(spec.job)
        assert isinstance(spec.config, type) and spec.title
