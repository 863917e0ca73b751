"""The procedural demo dataset: layout, split files, determinism, variation, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harlab import paths
from harlab.data import video
from harlab.data.demo_data import (
    DEMO_CLASSES,
    MARKER,
    ensure_demo_dataset,
    ensure_demo_dataset_job,
    generate_demo_dataset,
    render_clip,
)
from harlab.data.ucf101 import UCF101
from harlab.errors import InputError
from harlab.jobs import run

TINY = dict(classes=["BabyCrawling", "HandstandWalking"], groups=4, clips_per_group=2,
            seconds=0.2)


def test_required_classes_are_real_ucf101_names():
    for name in ("BabyCrawling", "Biking", "CuttingInKitchen", "HandstandWalking"):
        assert name in DEMO_CLASSES
    assert 6 <= len(DEMO_CLASSES) <= 8


def test_generates_ucf101_layout_that_indexes_in_all_folds(tmp_path: Path):
    steps = []
    root = run(generate_demo_dataset(tmp_path, seed=3, **TINY), steps.append)
    assert root == tmp_path and steps[-1].done == steps[-1].total == 16
    clip = tmp_path / "UCF-101/BabyCrawling/v_BabyCrawling_g03_c02.avi"
    info = video.probe(clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (320, 240, 25, 5)
    ann = tmp_path / "ucfTrainTestlist"
    assert (ann / "classInd.txt").read_bytes() == b"1 BabyCrawling\r\n2 HandstandWalking\r\n"
    assert (ann / "trainlist01.txt").read_bytes().startswith(
        b"BabyCrawling/v_BabyCrawling_g02_c01.avi 1\r\n")
    tests = set()
    for fold in (1, 2, 3):
        ds = UCF101(tmp_path, fold=fold)
        assert ds.validate().ok
        assert len(ds.train) + len(ds.test) == 16 and ds.test and ds.train
        test_groups = {i.group for i in ds.test}
        assert not test_groups & {i.group for i in ds.train}
        tests.add(frozenset(test_groups))
    assert len(tests) == 3  # each fold holds out different groups


def test_deterministic_from_seed_and_varied():
    def frames(seed, group=1, clip=1, cls="Biking"):
        return np.stack(list(render_clip(cls, seed=seed, cls_index=DEMO_CLASSES.index(cls),
                                         group=group, clip=clip, seconds=0.2)))

    a, b = frames(0), frames(0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, frames(1))
    # groups change actor and scene a lot; clips of a group share the scene
    other_group = np.abs(a.astype(int) - frames(0, group=2)).mean()
    same_group = np.abs(a.astype(int) - frames(0, clip=2)).mean()
    assert other_group > same_group
    # the figure moves: consecutive frames differ beyond noise
    clip = frames(0, cls="JumpingJack")
    assert np.abs(clip[0].astype(int) - clip[-1]).mean() > 1


@pytest.mark.parametrize("kwargs,match", [
    (dict(classes=["Skydiving"]), "unknown demo classes"),
    (dict(groups=3), "groups must be an integer >= 4"),
    (dict(clips_per_group=0), "clips_per_group must be"),
    (dict(seconds=100), "seconds must be between"),
])
def test_bad_arguments(tmp_path: Path, kwargs, match):
    with pytest.raises(InputError, match=match):
        run(generate_demo_dataset(tmp_path, **kwargs))


def test_ensure_is_idempotent_and_regenerates_on_new_seed():
    root = ensure_demo_dataset(**TINY)
    assert root == paths.demo_dataset_dir()
    marker = json.loads((root / MARKER).read_text())
    assert marker["seed"] == 0 and marker["params"]["groups"] == 4
    job = ensure_demo_dataset_job(**TINY)
    with pytest.raises(StopIteration):  # nothing to do: returns without a step
        next(job)
    stamp = (root / "UCF-101/BabyCrawling/v_BabyCrawling_g01_c01.avi").stat().st_mtime_ns
    ensure_demo_dataset(seed=1, **TINY)
    assert json.loads((root / MARKER).read_text())["seed"] == 1
    assert (root / "UCF-101/BabyCrawling/v_BabyCrawling_g01_c01.avi").stat().st_mtime_ns != stamp
    assert not root.with_name(root.name + ".partial").exists()


def test_cancelled_generation_leaves_no_partial_copy():
    job = ensure_demo_dataset_job(seed=7, **TINY)
    next(job)
    job.close()
    assert not paths.demo_dataset_dir().with_name("demo-ucf101.partial").exists()


def test_cli_demo_out(tmp_path: Path, capsys, monkeypatch):
    from harlab.cli import main

    real = generate_demo_dataset
    monkeypatch.setattr("harlab.data.demo_data.generate_demo_dataset",
                        lambda out, seed: real(out, seed=seed, **TINY))
    assert main(["data", "demo", "--out", str(tmp_path / "d"), "--seed", "2"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "d")
    assert UCF101(tmp_path / "d").classes == TINY["classes"]


def test_parallel_rendering_writes_the_same_files(tmp_path: Path):
    small = dict(TINY, groups=4, clips_per_group=1)
    run(generate_demo_dataset(tmp_path / "one", workers=1, **small))
    steps = []
    run(generate_demo_dataset(tmp_path / "two", workers=2, **small), steps.append)
    assert [s.done for s in steps] == list(range(1, 9))
    for a in sorted((tmp_path / "one").rglob("*.*")):
        b = tmp_path / "two" / a.relative_to(tmp_path / "one")
        assert a.read_bytes() == b.read_bytes(), a.name
