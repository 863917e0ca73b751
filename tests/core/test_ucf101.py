"""The UCF-101 index on real-format split files (tests/data/ucfTrainTestlist) and tiny videos.

The fixture's split files are byte-for-byte in the distributed format: CRLF line endings,
``N Name`` in classInd.txt, labelled trainlists, unlabelled testlists, a trailing space and a
trailing blank line, and the ``v_HandStandPushups_...`` names whose files on disk are spelled
``v_HandstandPushups_...``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from harlab.data.demo_data import write_video
from harlab.data.ucf101 import (
    UCF101,
    fold_test_groups,
    group_split,
    parse_video_name,
    write_split_files,
)
from harlab.errors import DatasetError, InputError

FIXTURE = Path(__file__).resolve().parent.parent / "data" / "ucfTrainTestlist"


def make_dataset(base: Path, frames: int = 6) -> Path:
    """Copy the split files and write one tiny video per listed clip, as on disk."""
    shutil.copytree(FIXTURE, base / "ucfTrainTestlist")
    names = set()
    for f in (base / "ucfTrainTestlist").glob("*list0*.txt"):
        for line in f.read_text().splitlines():
            if line.strip():
                names.add(line.split()[0].replace("HandStand", "Handstand"))
    for rel in sorted(names):
        write_video(base / "UCF-101" / rel,
                    (np.full((24, 32, 3), 40 * i, np.uint8) for i in range(frames)))
    return base


@pytest.fixture
def dataset_dir(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ucf")


def test_fixture_is_in_the_distributed_byte_format():
    assert (FIXTURE / "classInd.txt").read_bytes().startswith(b"1 ApplyEyeMakeup\r\n")
    train = (FIXTURE / "trainlist01.txt").read_bytes()
    assert b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1 \r\n" in train
    assert train.endswith(b"\r\n\r\n")
    assert b".avi\r\n" in (FIXTURE / "testlist01.txt").read_bytes()
    assert b" 1" not in (FIXTURE / "testlist01.txt").read_bytes()


@pytest.mark.parametrize("fold,test_group", [(1, 1), (2, 8), (3, 15)])
def test_all_three_folds(dataset_dir: Path, fold: int, test_group: int):
    ds = UCF101(dataset_dir, fold=fold)
    assert ds.classes == ["ApplyEyeMakeup", "BabyCrawling", "HandstandPushups"]
    assert len(ds.train) == 18 and len(ds.test) == 6
    assert {i.group for i in ds.test} == {test_group}
    assert test_group not in {i.group for i in ds.train}
    assert ds.counts() == [(c, 6, 2) for c in ds.classes]
    item = ds.test[0]
    assert item.label == 0 and item.class_name == "ApplyEyeMakeup"
    assert item.relpath == f"ApplyEyeMakeup/v_ApplyEyeMakeup_g{test_group:02d}_c01.avi"
    assert item.path.is_absolute() and item.path.is_file() and item.clip == 1


def test_case_mismatch_falls_back_with_a_note(dataset_dir: Path):
    ds = UCF101(dataset_dir)
    hsp = [i for i in ds.train if i.class_name == "HandstandPushups"]
    assert len(hsp) == 6 and all(i.path.name.startswith("v_HandstandPushups_") for i in hsp)
    notes = [e for e in ds.problems if e.kind == "note"]
    assert notes and "letter case" in notes[0].reason
    report = ds.validate()
    assert report.ok, report.to_text()


def test_root_may_be_parent_or_video_folder_and_annotations_explicit(dataset_dir: Path,
                                                                    tmp_path: Path):
    a = UCF101(dataset_dir)
    b = UCF101(dataset_dir / "UCF-101")
    assert a.root == b.root == (dataset_dir / "UCF-101").resolve()
    moved = tmp_path / "elsewhere"
    shutil.move(dataset_dir / "ucfTrainTestlist", moved)
    with pytest.raises(DatasetError, match="does not look like UCF-101: no ucfTrainTestlist"):
        UCF101(dataset_dir)
    c = UCF101(dataset_dir, annotation_dir=moved, fold=2)
    assert len(c.train) == 18


def test_bad_paths_and_folders(tmp_path: Path, dataset_dir: Path):
    with pytest.raises(DatasetError, match="does not exist"):
        UCF101(tmp_path / "missing")
    f = tmp_path / "file.txt"
    f.write_text("x")
    with pytest.raises(DatasetError, match="is a file"):
        UCF101(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="does not look like UCF-101"):
        UCF101(empty)
    with pytest.raises(InputError, match="no dataset folder given"):
        UCF101("")
    with pytest.raises(InputError, match="fold must be 1, 2 or 3"):
        UCF101(dataset_dir, fold=4)
    other = tmp_path / "photos"
    shutil.copytree(FIXTURE, other / "ucfTrainTestlist")
    (other / "Holiday").mkdir()
    with pytest.raises(DatasetError, match="none of the 3 classes"):
        UCF101(other)


def test_missing_or_malformed_annotation_files(dataset_dir: Path):
    ann = dataset_dir / "ucfTrainTestlist"
    with pytest.raises(DatasetError, match="annotation folder .* does not exist"):
        UCF101(dataset_dir, annotation_dir=dataset_dir / "nope")
    (ann / "testlist02.txt").unlink()
    with pytest.raises(DatasetError, match="testlist02.txt is missing"):
        UCF101(dataset_dir, fold=2)
    (ann / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\nBabyCrawling\r\n")
    with pytest.raises(DatasetError, match=r"line 2 is 'BabyCrawling', expected '<index> "):
        UCF101(dataset_dir)
    (ann / "classInd.txt").write_bytes(b"1 ApplyEyeMakeup\r\n3 BabyCrawling\r\n")
    with pytest.raises(DatasetError, match="has index 3, expected 2"):
        UCF101(dataset_dir)
    (ann / "classInd.txt").unlink()
    with pytest.raises(DatasetError, match="classInd.txt is missing"):
        UCF101(dataset_dir, annotation_dir=ann)


def test_validation_names_every_bad_file(dataset_dir: Path):
    videos = dataset_dir / "UCF-101"
    (videos / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi").unlink()          # missing
    (videos / "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi").write_bytes(b"")  # zero-byte
    (videos / "BabyCrawling/v_BabyCrawling_g08_c01.avi").write_text("hello" * 50)  # not video
    good = (videos / "BabyCrawling/v_BabyCrawling_g08_c02.avi")
    write_video(good, (np.full((24, 32, 3), 4 * i, np.uint8) for i in range(60)))
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 2])                                     # truncated
    write_video(videos / "BabyCrawling/v_BabyCrawling_g30_c01.avi",                # unlisted
                (np.zeros((24, 32, 3), np.uint8) for _ in range(3)))
    (videos / "Juggling").mkdir()
    ann = dataset_dir / "ucfTrainTestlist"
    (ann / "classInd.txt").write_bytes((ann / "classInd.txt").read_bytes() + b"4 Juggling\r\n")
    with (ann / "trainlist01.txt").open("ab") as f:
        f.write(b"garbage line here\r\nBabyCrawling/v_BabyCrawling_g08_c01.avi 3\r\n")
    ds = UCF101(dataset_dir)
    report = ds.validate()
    assert not report.ok
    found = {(e.kind, e.path) for e in report.entries}
    assert ("missing", "ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi") in found
    assert ("unlisted", "BabyCrawling/v_BabyCrawling_g30_c01.avi") in found
    assert ("empty_class", "Juggling") in found
    unreadable = {e.path: e.reason for e in report.by_kind("unreadable")}
    assert "zero-byte" in unreadable["ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c02.avi"]
    assert "cannot be opened" in unreadable["BabyCrawling/v_BabyCrawling_g08_c01.avi"]
    assert "truncated" in unreadable["BabyCrawling/v_BabyCrawling_g08_c02.avi"]
    bad = report.by_kind("bad_line")
    assert any("garbage" in e.reason for e in bad)
    assert any("label '3' does not match" in e.reason for e in bad)
    text = report.to_text()
    assert text.startswith("PROBLEMS") and "v_ApplyEyeMakeup_g08_c02.avi" in text
    # the missing file is not handed to training
    assert all(i.path.exists() for i in ds.train)


def test_parse_video_name():
    assert parse_video_name("v_Biking_g08_c03.avi") == ("Biking", 8, 3)
    with pytest.raises(InputError, match="not in the UCF-101 form"):
        parse_video_name("biking.avi")


def test_group_split_never_splits_a_group(dataset_dir: Path):
    ds = UCF101(dataset_dir)
    train, val = group_split(ds.train, 0.34, seed=1)
    assert len(train) + len(val) == len(ds.train) and val
    assert not {(i.label, i.group) for i in train} & {(i.label, i.group) for i in val}
    assert {i.label for i in val} == {0, 1, 2}
    assert group_split(ds.train, 0.34, seed=1) == (train, val)
    assert group_split(ds.train, 0.0) == (list(ds.train), [])
    with pytest.raises(InputError, match=r"val_fraction must be in \[0, 1\)"):
        group_split(ds.train, 1.5)


def test_fold_definition_and_writer_round_trip(tmp_path: Path):
    assert fold_test_groups(1) == set(range(1, 8))
    assert fold_test_groups(3) == set(range(15, 22))
    with pytest.raises(InputError, match="fold must be"):
        fold_test_groups(0)
    write_split_files(tmp_path, ["A", "B"], [("B", 3, 1), ("A", 9, 2)], n_groups=25)
    assert (tmp_path / "classInd.txt").read_bytes() == b"1 A\r\n2 B\r\n"
    assert (tmp_path / "trainlist01.txt").read_bytes() == b"A/v_A_g09_c02.avi 1\r\n"
    assert (tmp_path / "testlist01.txt").read_bytes() == b"B/v_B_g03_c01.avi\r\n"
    assert (tmp_path / "testlist02.txt").read_bytes() == b"A/v_A_g09_c02.avi\r\n"


def test_cli_index_and_validate(dataset_dir: Path, capsys):
    from harlab.cli import main

    assert main(["data", "index", str(dataset_dir), "--fold", "2"]) == 0
    out = capsys.readouterr().out
    assert "HandstandPushups" in out and "3 classes, 18 train and 6 test clips" in out
    assert main(["data", "validate", str(dataset_dir)]) == 0
    (dataset_dir / "UCF-101/BabyCrawling/v_BabyCrawling_g22_c01.avi").write_bytes(b"")
    assert main(["data", "validate", str(dataset_dir)]) == 1
    assert "[unreadable] BabyCrawling/v_BabyCrawling_g22_c01.avi" in capsys.readouterr().out
    assert main(["data", "index"]) == 2
    assert "give either a dataset folder or --demo" in capsys.readouterr().err
    assert main(["data", "index", str(dataset_dir / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
