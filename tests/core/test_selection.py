"""Video-level attack, correct-to-wrong selection, PNG storage and the eps sweep.

A brightness classifier makes every prediction predictable: class c is the one whose centre is
nearest to the mean pixel value, so we know which videos are correct and which flip at which eps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import harlab.attacks.video as video_attack
from harlab import jobs
from harlab.attacks.selection import (
    AttackConfig,
    attack_video,
    eps_sweep,
    find_samples,
    read_pngs,
    select_samples,
)
from harlab.data.ucf101 import VideoItem
from harlab.errors import InputError
from harlab.store import Project
from harlab.train.checkpoint import LoadedClassifier

CLASSES = ["Low", "Mid", "High"]
SIZE = 8


class Brightness(nn.Module):
    """logits_c = -scale * |mean(x) - centre_c|."""

    def __init__(self, centres=(0.2, 0.5, 0.8), scale=50.0):
        super().__init__()
        self.centres = nn.Parameter(torch.tensor(centres))
        self.scale = scale

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))[:, None]
        return -self.scale * (m - self.centres[None]).abs()


def loaded(model=None) -> LoadedClassifier:
    return LoadedClassifier(model=model or Brightness(), classes=list(CLASSES), image_size=SIZE,
                            config={})


def item(name: str, label: int) -> VideoItem:
    cls = CLASSES[label]
    return VideoItem(Path(f"/nowhere/{cls}/v_{cls}_g01_c{name}.avi"),
                     f"{cls}/v_{cls}_g01_c{name}.avi", label, cls, 1, int(name))


@pytest.fixture
def fake_videos(monkeypatch):
    """Videos whose K=3 keyframes are flat grey at a value (0-255) set per item."""
    values: dict[str, int] = {}

    def fake_load(it, config, size):
        k = config.keyframes
        frames = np.full((k, size, size, 3), values[it.relpath], np.uint8)
        return list(range(0, 10 * k, 10)), [i / 25 for i in range(0, 10 * k, 10)], frames

    monkeypatch.setattr(video_attack, "load_keyframes", fake_load)
    return values


@pytest.fixture
def project(tmp_path) -> Project:
    with Project.create(tmp_path / "proj") as p:
        yield p


def add(values, name, label, grey):
    it = item(name, label)
    values[it.relpath] = grey
    return it


# --------------------------------------------------------------------------- config
def test_config_defaults_and_parsing():
    cfg = AttackConfig()
    assert cfg.attack == "fgsm" and cfg.eps == pytest.approx(8 / 255)
    assert cfg.classes == ("BabyCrawling", "Biking") and cfg.per_class == 25
    assert cfg.keyframes == 5 and cfg.split == "test"
    cfg = AttackConfig(attack="I-FGSM", eps="4/255", params={"steps": 3}, classes=["A"])
    assert cfg.attack == "bim" and cfg.eps == pytest.approx(4 / 255) and cfg.classes == ("A",)
    assert cfg.describe() == "bim eps=4/255, steps=3"


@pytest.mark.parametrize("kwargs, match", [
    ({"eps": 8}, r"got 8 \(did you mean 8/255\?\)"),
    ({"eps": "x"}, r"0.03 or 8/255, got 'x'"),
    ({"attack": "cw"}, r"unknown attack 'cw'; valid attacks: fgsm, bim, pgd, mifgsm"),
    ({"params": {"steps": 2}}, r"attack 'fgsm' has no parameter 'steps'"),
    ({"params": [1]}, r"params must be a dict"),
    ({"keyframes": 0}, r"keyframes must be a whole number >= 1, got 0"),
    ({"per_class": 2.5}, r"per_class must be a whole number"),
    ({"batch_size": -1}, r"batch_size must be a whole number"),
    ({"keyframe_method": "random"}, r"valid methods: uniform, content"),
    ({"split": "val"}, r"split must be 'train' or 'test', got 'val'"),
    ({"fold": 4}, r"fold must be 1, 2 or 3"),
    ({"classes": ()}, r"classes must be one or more class names"),
    ({"seed": "1"}, r"seed must be an integer"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(InputError, match=match):
        AttackConfig(**kwargs)


# --------------------------------------------------------------------------- one video
def test_attack_video_flips_and_stays_within_eps(fake_videos):
    it = add(fake_videos, "01", 1, 153)  # 0.600: Mid, pushed over the 0.65 boundary
    cfg = AttackConfig(eps=16 / 255, keyframes=3, classes=CLASSES)
    va = attack_video(loaded(), it, cfg)
    assert va.clean_frames.shape == va.adv_frames.shape == (3, SIZE, SIZE, 3)
    assert va.adv_frames.dtype == np.uint8
    assert va.keyframe_indices == [0, 10, 20]
    assert va.clean_pred == 1 and va.adv_pred == 2 and va.flipped
    assert np.abs(va.delta).max() <= 16 / 255 + 1e-6
    assert np.all(va.adv_frames == 169)  # 153 + 16, exactly representable
    assert va.clean_top5()[0][0] == "Mid" and va.adv_top5()[0][0] == "High"
    assert len(va.adv_top5()) == 3 and sum(p for _, p in va.adv_top5()) == pytest.approx(1)
    assert va.adv_top5(frame=0) == va.adv_top5()  # flat frames: every keyframe agrees


def test_attack_video_label_outside_classifier():
    bad = VideoItem(Path("/x.avi"), "X/v_X_g01_c01.avi", 7, "X", 1, 1)
    with pytest.raises(InputError, match=r"label 7 is outside the classifier's 3 classes"):
        attack_video(loaded(), bad, AttackConfig(classes=CLASSES))


# --------------------------------------------------------------------------- selection
def test_select_keeps_only_correct_to_wrong_up_to_per_class(fake_videos, project):
    items = [
        add(fake_videos, "01", 1, 153),  # Mid 0.600 -> flips to High
        add(fake_videos, "02", 1, 133),  # Mid 0.522 -> stays Mid
        add(fake_videos, "03", 1, 180),  # Mid 0.706: wrong before the attack
        add(fake_videos, "04", 1, 155),  # Mid 0.608 -> flips (but the quota is 1)
        add(fake_videos, "05", 2, 173),  # High 0.678 -> flips to Mid
        add(fake_videos, "06", 0, 60),   # Low: not a requested class
    ]
    cfg = AttackConfig(eps=16 / 255, keyframes=3, classes=("Mid", "High"), per_class=1,
                       batch_size=6, seed=3)
    steps = []
    result = jobs.run(select_samples(project, loaded(), items, cfg), steps.append)
    assert result.per_class == {"Mid": 1, "High": 1} and result.complete
    assert len(result.sample_ids) == 2 and result.not_surviving == 0
    assert steps and steps[-1].total == 5  # the Low video is never a candidate
    rows = project.query("SELECT * FROM samples ORDER BY id")
    assert len(rows) == 2
    by_label = {r["true_label"]: r for r in rows}
    mid, high = by_label["Mid"], by_label["High"]
    assert mid["video"] in {"Mid/v_Mid_g01_c01.avi", "Mid/v_Mid_g01_c04.avi"}
    assert (mid["clean_pred"], mid["adv_pred"]) == ("Mid", "High")
    assert (high["clean_pred"], high["adv_pred"]) == ("High", "Mid")
    assert mid["attack"] == "fgsm" and mid["eps"] == pytest.approx(16 / 255)
    assert json.loads(mid["keyframes_json"]) == [0, 10, 20]
    assert mid["survives_png"] == 1 and mid["selected"] == 1
    top = json.loads(mid["adv_top5_json"])
    assert top[0][0] == "High" and top[0][1] == pytest.approx(mid["adv_conf"])
    assert json.loads(mid["clean_top5_json"])[0][0] == "Mid"
    # The PNGs hold exactly the frames: clean as resized, adversarial quantised.
    clean = read_pngs([project.abspath(p) for p in json.loads(mid["clean_frames_json"])])
    adv = read_pngs([project.abspath(p) for p in json.loads(mid["adv_frames_json"])])
    grey = fake_videos[mid["video"]]
    assert clean.shape == (3, SIZE, SIZE, 3) and np.all(clean == grey)
    assert np.all(adv == grey + 16)
    assert all(p.startswith("frames/") for p in json.loads(mid["adv_frames_json"]))
    run = project.runs("attack")[-1]
    assert run["status"] == "done" and mid["run_id"] == run["id"]
    assert json.loads(run["config_json"])["config"]["eps"] == pytest.approx(16 / 255)
    assert json.loads(run["result_json"])["sample_ids"] == result.sample_ids


def test_flip_lost_in_uint8_storage_is_flagged_and_not_counted(fake_videos, project):
    # Boundary between Mid and High at 150.2/255: the float attack (150.4/255) crosses it,
    # the uint8 PNG (rounded back to 150) does not.
    b = 150.2 / 255
    model = Brightness(centres=(0.2, 0.5, 2 * b - 0.5), scale=2000.0)
    items = [add(fake_videos, "01", 1, 150)]
    cfg = AttackConfig(eps=0.4 / 255, keyframes=2, classes=("Mid",), per_class=1)
    result = jobs.run(select_samples(project, loaded(model), items, cfg))
    assert result.flipped == 1 and result.not_surviving == 1
    assert result.sample_ids == [] and not result.complete
    row = project.query_one("SELECT * FROM samples")
    assert row["survives_png"] == 0 and row["selected"] == 0
    assert row["adv_pred"] == "Mid"  # what the stored PNGs really give
    assert "ran out of videos" in result.summary()


def test_select_unknown_class_and_empty_split(fake_videos, project):
    items = [add(fake_videos, "01", 1, 153)]
    with pytest.raises(InputError, match=r"class 'mid' is not one of the classifier's 3 "
                                         r"classes \(did you mean 'Mid'\?\); valid classes: "
                                         r"Low, Mid, High"):
        jobs.run(select_samples(project, loaded(), items, AttackConfig(classes=("mid",))))
    with pytest.raises(InputError, match=r"the test split has no videos of High"):
        jobs.run(select_samples(project, loaded(), items, AttackConfig(classes=("High",))))
    assert project.runs("attack") == []


def test_cancel_and_failure_are_recorded(fake_videos, project, monkeypatch):
    items = [add(fake_videos, f"{i:02d}", 1, 153) for i in range(1, 5)]
    cfg = AttackConfig(eps=16 / 255, keyframes=2, classes=("Mid",), per_class=4, batch_size=2)
    job = select_samples(project, loaded(), items, cfg)
    next(job)
    job.close()
    assert project.runs("attack")[-1]["status"] == "cancelled"

    def broken(it, config, size):
        raise OSError("disk gone")

    monkeypatch.setattr(video_attack, "load_keyframes", broken)
    with pytest.raises(OSError, match="disk gone"):
        jobs.run(select_samples(project, loaded(), items, cfg))
    run = project.runs("attack")[-1]
    assert run["status"] == "failed" and "disk gone" in run["error"]


# --------------------------------------------------------------------------- eps sweep
def test_eps_sweep_success_rate_grows_with_eps(fake_videos):
    items = [
        add(fake_videos, "01", 1, 160),  # 0.627: flips from ~6/255
        add(fake_videos, "02", 1, 150),  # 0.588: flips from ~16/255
        add(fake_videos, "03", 1, 130),  # 0.510: flips only at ~36/255
        add(fake_videos, "04", 1, 200),  # wrong before: not counted
    ]
    cfg = AttackConfig(keyframes=2, classes=CLASSES, batch_size=4)
    res = jobs.run(eps_sweep(loaded(), items, [0, "4/255", 10 / 255, 20 / 255, 40 / 255], cfg))
    assert res.n_videos == 4 and res.n_correct == 3
    assert res.flipped == [0, 0, 1, 2, 3]
    assert res.success_rate == pytest.approx([0, 0, 1 / 3, 2 / 3, 1])
    assert res.per_class == {"Mid": pytest.approx([0, 0, 1 / 3, 2 / 3, 1])}
    assert res.class_counts == {"Mid": [4, 3]}
    assert res.eps_255 == pytest.approx([0, 4, 10, 20, 40])


@pytest.mark.parametrize("eps_list, items, match", [
    ([], [item("01", 1)], r"eps_list is empty"),
    ([8 / 255], [], r"no videos to sweep over"),
    ([8], [item("01", 1)], r"did you mean 8/255"),
])
def test_eps_sweep_errors(eps_list, items, match):
    with pytest.raises(InputError, match=match):
        jobs.run(eps_sweep(loaded(), items, eps_list, AttackConfig(classes=CLASSES)))


# --------------------------------------------------------------------------- end to end
def _write_dataset(root: Path, classes: list[str], greys: dict[str, int]) -> None:
    import cv2

    from harlab.data.ucf101 import write_split_files

    entries = []
    for cls in classes:
        for group in (1, 3):  # group 1 is in fold 1's test split when there are 3 groups
            rel = f"{cls}/v_{cls}_g{group:02d}_c01.avi"
            (root / "UCF-101" / cls).mkdir(parents=True, exist_ok=True)
            writer = cv2.VideoWriter(str(root / "UCF-101" / rel),
                                     cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 24))
            rng = np.random.default_rng(len(rel))
            for _ in range(6):
                frame = np.clip(greys[cls] + rng.integers(-20, 20, (24, 32, 3)), 0, 255)
                writer.write(frame.astype(np.uint8))
            writer.release()
            entries.append((cls, group, 1))
    write_split_files(root / "ucfTrainTestlist", classes, entries, n_groups=3)


@pytest.mark.slow
def test_find_samples_end_to_end_on_disk(tmp_path, project):
    from harlab.train.checkpoint import save_checkpoint
    from harlab.train.models import build_model

    _write_dataset(tmp_path / "data", CLASSES, {"Low": 40, "Mid": 128, "High": 220})
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 3, weights="none")
    ckpt = save_checkpoint(project.checkpoints_dir / "best.pt", model=model, classes=CLASSES,
                           image_size=32, config={}, metrics={})
    cfg = AttackConfig(eps=32 / 255, keyframes=2, classes=CLASSES, per_class=1, device="cpu")
    result = jobs.run(find_samples(project, cfg, checkpoint=ckpt,
                                    dataset_root=tmp_path / "data"))
    assert result.examined >= 1 and result.clean_correct <= result.examined
    run = project.runs("attack")[-1]
    assert json.loads(run["config_json"])["checkpoint"] == "checkpoints/best.pt"
    # Whatever an untrained net predicts, every stored sample obeys the filter.
    for row in project.query("SELECT * FROM samples"):
        assert row["clean_pred"] == row["true_label"]
        assert (row["adv_pred"] != row["true_label"]) == bool(row["survives_png"])
        assert len(json.loads(row["adv_frames_json"])) == 2
        assert read_pngs([project.abspath(p) for p in json.loads(row["clean_frames_json"])]
                         ).shape == (2, 32, 32, 3)
    with pytest.raises(InputError, match=r"class 'BabyCrawling' is not one of"):
        jobs.run(find_samples(project, AttackConfig(device="cpu"), checkpoint=ckpt,
                              dataset_root=tmp_path / "data"))


# --------------------------------------------------------------------------- project helpers, CLI
def test_load_sample_and_defaults(fake_videos, project, tmp_path):
    from harlab.attacks.selection import default_checkpoint, default_dataset_root, load_sample

    items = [add(fake_videos, "01", 1, 153)]
    cfg = AttackConfig(eps=16 / 255, keyframes=3, classes=("Mid",), per_class=1)
    result = jobs.run(select_samples(project, loaded(), items, cfg))
    va = load_sample(project, result.sample_ids[0], loaded())
    assert va.flipped and va.keyframe_indices == [0, 10, 20] and np.all(va.adv_frames == 169)
    with pytest.raises(InputError, match=r"sample 999 does not exist"):
        load_sample(project, 999, loaded())
    with pytest.raises(InputError, match=r"has no trained checkpoint yet.*--checkpoint"):
        default_checkpoint(project)
    ckpt = project.checkpoints_dir / "t" / "best.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"x")
    run = project.start_run("train", {"dataset_root": "/data/ucf"})
    project.finish_run(run, "done", {"best_checkpoint": "checkpoints/t/best.pt"})
    assert default_checkpoint(project) == ckpt
    assert default_dataset_root(project) == Path("/data/ucf")
    project.set_meta("dataset_root", "/elsewhere")
    assert default_dataset_root(project) == Path("/elsewhere")


@pytest.mark.slow
def test_cli_attack_errors_and_sweep(tmp_path, capsys):
    from harlab.cli import main
    from harlab.train.checkpoint import save_checkpoint
    from harlab.train.models import build_model

    proj = tmp_path / "p"
    assert main(["attack", "--project", str(proj), "--eps", "8"]) == 2
    assert "did you mean 8/255?" in capsys.readouterr().err
    assert main(["attack", "--project", str(proj)]) == 2
    assert "no trained checkpoint yet" in capsys.readouterr().err
    assert main(["attack", "--project", str(proj), "--attack", "cw", "--checkpoint", "x"]) == 2
    assert "valid attacks: fgsm, bim, pgd, mifgsm" in capsys.readouterr().err

    _write_dataset(tmp_path / "data", CLASSES, {"Low": 40, "Mid": 128, "High": 220})
    torch.manual_seed(0)
    model, _ = build_model("resnet18", 3, weights="none")
    ckpt = save_checkpoint(tmp_path / "best.pt", model=model, classes=CLASSES, image_size=32,
                           config={}, metrics={})
    args = ["attack", "--project", str(proj), "--checkpoint", str(ckpt), "--dataset",
            str(tmp_path / "data"), "--classes", "Low,Mid", "--keyframes", "2",
            "--device", "cpu"]
    assert main([*args, "--sweep", "0,4/255,x"]) == 2
    assert "0.03 or 8/255, got 'x'" in capsys.readouterr().err
    assert main([*args, "--sweep", "0,8/255,0.25", "--sweep-videos", "1"]) == 0
    out = capsys.readouterr().out
    assert "success rate over 1 correctly classified of 2 videos" in out
    assert "      0/255    0.0%" in out and "8/255  100.0%" in out
    assert "Mid: none of its 1 videos is classified correctly" in out
    assert main([*args, "--per-class", "1", "--eps", "16/255"]) == 0
    assert "samples:" in capsys.readouterr().out
    with Project.open(proj) as p:
        assert [r["kind"] for r in p.runs()] == ["sweep", "attack"]
        assert all(r["status"] == "done" for r in p.runs())
