"""Issue 14, defects 1-4: each test failed before its fix.

1. a corrupt or malicious file in torchvision's weight cache gave a raw traceback;
2. a project whose creation was killed could be neither opened nor created again;
3. the refused-checkpoint message stopped after torch's advice to set ``weights_only=False``;
4. a folder or dangling link named like a video was reported as a letter-case variant.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from harlab.data.demo_data import write_video
from harlab.data.ucf101 import UCF101
from harlab.errors import CheckpointError, HarlabError, InputError
from harlab.store import DB_NAME, MIGRATIONS, SCHEMA_VERSION, Project
from harlab.train.checkpoint import read_checkpoint, save_checkpoint
from harlab.train.models import build_model, imagenet_weights_file

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "tests" / "data" / "ucfTrainTestlist"


class Payload:
    """Pickles as a call to ``print``: what a malicious file would do with ``os.system``."""

    def __reduce__(self):
        return (print, ("this ran while loading",))


# ---------------------------------------------------------------------------------- defect 1
@pytest.fixture
def hub_dir(tmp_path):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub"
    torch.hub.set_dir(old)


def _bad_cache_files(path: Path) -> dict[str, bytes]:
    good = path.parent / "good.pth"
    torch.save(torchvision.models.resnet18(num_classes=1000).state_dict(), good)
    blob = good.read_bytes()
    good.unlink()
    torch.save({"conv1.weight": Payload()}, path)
    malicious = path.read_bytes()
    torch.save(torch.zeros(3), path)
    tensor = path.read_bytes()
    return {"truncated": blob[: len(blob) // 3], "garbage": b"not a torch file",
            "malicious": malicious, "not a dict": tensor}


def test_auto_falls_back_with_a_notice_naming_a_bad_cache_file(hub_dir):
    path = imagenet_weights_file("resnet18")
    path.parent.mkdir(parents=True)
    for kind, blob in _bad_cache_files(path).items():
        path.write_bytes(blob)
        model, info = build_model("resnet18", 3, "auto")
        assert info.source == "scratch", kind
        assert str(path) in info.message and "from scratch" in info.message, kind
        assert "Delete or replace that file" in info.message, kind
        assert model.net.fc.out_features == 3


def test_imagenet_with_a_bad_cache_file_is_an_error_naming_it(hub_dir):
    path = imagenet_weights_file("resnet18")
    path.parent.mkdir(parents=True)
    for kind, blob in _bad_cache_files(path).items():
        path.write_bytes(blob)
        with pytest.raises(CheckpointError, match="Delete or replace that file") as err:
            build_model("resnet18", 3, "imagenet")
        assert str(path) in str(err.value), kind
    path.write_bytes(_bad_cache_files(path)["malicious"])
    with pytest.raises(CheckpointError, match=r"tries to import (builtins\.)?print\b"):
        build_model("resnet18", 3, "imagenet")


# ---------------------------------------------------------------------------------- defect 3
def test_refused_checkpoint_says_what_it_imports_and_that_harlab_will_not_load_it(tmp_path):
    model, _ = build_model("resnet18", 3, "none")
    good = save_checkpoint(tmp_path / "best.pt", model=model, classes=["a", "b", "c"],
                           image_size=32, config={})
    data = torch.load(good, weights_only=True)
    data["metrics"] = {"trap": Payload()}
    evil = tmp_path / "evil.pt"
    torch.save(data, evil)
    for call in (lambda: read_checkpoint(evil), lambda: build_model("resnet18", 3, evil)):
        with pytest.raises(CheckpointError) as err:
            call()
        message = str(err.value)
        assert re.search(r"tries to import (builtins\.)?print\b", message)
        assert "HARLab will not load it" in message
        assert "arbitrary code" in message
        # torch's advice alone, cut before its warning, must never reach the user
        assert "weights_only" not in message and "will likely succeed" not in message


# ---------------------------------------------------------------------------------- defect 2
KILLER = """
import os, signal, sqlite3, sys
from harlab import store
root, needle, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = [0]
real_connect = sqlite3.connect
def trace(sql):
    if needle in sql:
        seen[0] += 1
        if seen[0] == nth:
            os.kill(os.getpid(), signal.SIGKILL)
def connect(*args, **kwargs):
    conn = real_connect(*args, **kwargs)
    conn.set_trace_callback(trace)
    return conn
store.sqlite3.connect = connect
store.Project.create(root).close()
"""


def _kill_create_at(root: Path, needle: str, nth: int = 1) -> int:
    """Run Project.create in a child that SIGKILLs itself as statement ``needle`` starts."""
    proc = subprocess.run([sys.executable, "-c", KILLER, str(root), needle, str(nth)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    return proc.returncode


def _assert_complete(project: Project) -> None:
    assert project.schema_version == SCHEMA_VERSION
    assert project.get_meta("created_at") is not None
    assert project.query_one("PRAGMA application_id")[0] == 0x4841524C
    project.query("SELECT a_is FROM blind_orders")  # the newest schema's tables are there


def _assert_recoverable(root: Path, tmp_path: Path) -> None:
    """Both ways out work: open() finishes the creation, and create() runs again."""
    for how in ("open", "create"):
        copy = tmp_path / f"{root.name}-{how}"
        shutil.copytree(root, copy)
        with getattr(Project, how)(copy) as project:
            _assert_complete(project)
        with Project.open(copy) as project:  # and it stays a project
            _assert_complete(project)


KILL_POINTS = [
    ("PRAGMA busy_timeout", 1),      # the file exists, empty
    ("PRAGMA journal_mode", 1),
    ("PRAGMA application_id =", 1),  # before the mark
    ("CREATE TABLE runs", 1),        # inside the first migration's transaction
    ("COMMIT", 1),                   # first migration about to commit
    ("ALTER TABLE llm_requests ADD COLUMN draw", 1),  # later migration, earlier ones done
    ("INSERT INTO meta", 1),         # all migrated, created_at not yet written
]


@pytest.mark.parametrize("needle,nth", KILL_POINTS)
def test_project_create_killed_at_a_statement_opens_or_is_created_again(tmp_path, needle, nth):
    root = tmp_path / "p"
    assert _kill_create_at(root, needle, nth) == -signal.SIGKILL
    assert (root / DB_NAME).exists()
    _assert_recoverable(root, tmp_path)


@pytest.mark.slow
def test_project_create_killed_at_every_statement(tmp_path):
    count = 0
    while True:
        count += 1
        root = tmp_path / f"p{count}"
        code = _kill_create_at(root, "", count)  # "" is in every statement
        if code == 0:
            break
        assert code == -signal.SIGKILL
        _assert_recoverable(root, tmp_path)
    assert count > 20


def test_create_killed_before_the_database_exists(tmp_path, monkeypatch):
    root = tmp_path / "p"
    root.mkdir()
    for sub in ("frames", "checkpoints"):
        (root / sub).mkdir()
    with pytest.raises(InputError, match="not a HARLab project"):
        Project.open(root)
    with Project.create(root) as project:
        _assert_complete(project)


def test_creation_left_half_done_by_harlab_0_1_is_finished(tmp_path):
    """HARLab 0.1 migrated first and marked the file last: app id 0, no created_at."""
    root = tmp_path / "p"
    root.mkdir()
    conn = sqlite3.connect(root / DB_NAME)
    conn.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; COMMIT;")
    conn.close()
    _assert_recoverable(root, tmp_path)


def test_foreign_or_used_databases_are_still_refused(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    conn = sqlite3.connect(foreign / DB_NAME)
    conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs VALUES (1)")  # holds data: never adopted
    conn.commit()
    conn.close()
    before = (foreign / DB_NAME).read_bytes()
    with pytest.raises(HarlabError, match="not a HARLab project"):
        Project.open(foreign)
    with pytest.raises(InputError, match="already"):
        Project.create(foreign)
    assert (foreign / DB_NAME).read_bytes() == before


# ---------------------------------------------------------------------------------- defect 4
def _make_dataset(base: Path) -> tuple[Path, list[str]]:
    shutil.copytree(FIXTURE, base / "ucfTrainTestlist")
    names = set()
    for f in (base / "ucfTrainTestlist").glob("*list01.txt"):
        for line in f.read_text().splitlines():
            if line.strip():
                names.add(line.split()[0].replace("HandStand", "Handstand"))
    for rel in sorted(names):
        write_video(base / "UCF-101" / rel,
                    (np.full((24, 32, 3), 40 * i, np.uint8) for i in range(4)))
    return base, sorted(names)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_folder_or_dangling_link_named_like_a_video_is_not_a_case_variant(tmp_path):
    base, names = _make_dataset(tmp_path / "ucf")
    plain = [n for n in names if "Handstand" not in n]
    as_folder, as_link = plain[0], plain[1]
    (base / "UCF-101" / as_folder).unlink()
    (base / "UCF-101" / as_folder).mkdir()
    (base / "UCF-101" / as_link).unlink()
    os.symlink(tmp_path / "gone.avi", base / "UCF-101" / as_link)

    ds = UCF101(base, fold=1)
    by_path = {}
    for entry in ds.problems:
        by_path.setdefault(entry.path, []).append(entry)
    assert [e.kind for e in by_path[as_folder]] == ["missing"]
    assert "folder, not a video file" in by_path[as_folder][0].reason
    assert [e.kind for e in by_path[as_link]] == ["missing"]
    assert "broken link" in by_path[as_link][0].reason
    assert not any("letter case" in e.reason
                   for e in by_path[as_folder] + by_path[as_link])
    listed = {item.relpath for item in ds.train + ds.test}
    assert as_folder not in listed and as_link not in listed
