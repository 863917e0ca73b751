"""Issue 14 hardening: disk full, two processes on one project, portable projects, the CLI.

Faults are injected for real where the machine allows it: SQLite's own "full" condition
(``max_page_count``), a size-limited tmpfs when running as root, a second OS process writing
to the same project, a project folder copied elsewhere with its original deleted.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import harlab.attacks.samples as samples_module
import harlab.attacks.video as video_attack
from harlab import cli, jobs
from harlab.attacks.selection import AttackConfig, read_pngs, select_samples
from harlab.data.ucf101 import VideoItem
from harlab.errors import InputError, StoreError
from harlab.store import Project, missing_paths, repoint_dataset
from harlab.study import export
from harlab.train.checkpoint import LoadedClassifier, load_classifier, save_checkpoint
from harlab.train.models import build_model
from harlab.train.runs import best_checkpoint

REPO = Path(__file__).resolve().parents[2]
CLASSES = ["Low", "Mid", "High"]


# ------------------------------------------------------------------------------- helpers
class Brightness(nn.Module):
    """logits_c = -50 |mean(x) - centre_c|: predictable flips (as in test_selection)."""

    def __init__(self):
        super().__init__()
        self.centres = nn.Parameter(torch.tensor([0.2, 0.5, 0.8]))

    def forward(self, x):
        return -50.0 * (x.mean(dim=(1, 2, 3))[:, None] - self.centres[None]).abs()


def _items(monkeypatch, greys=(153, 155, 173)) -> list[VideoItem]:
    values = {}
    items = []
    for n, grey in enumerate(greys, 1):
        label = 2 if grey > 165 else 1
        cls = CLASSES[label]
        it = VideoItem(Path(f"/nowhere/{cls}/v_{cls}_g01_c{n:02d}.avi"),
                       f"{cls}/v_{cls}_g01_c{n:02d}.avi", label, cls, 1, n)
        values[it.relpath] = grey
        items.append(it)

    def fake_load(it, config, size):
        k = config.keyframes
        return (list(range(k)), [i / 25 for i in range(k)],
                np.full((k, size, size, 3), values[it.relpath], np.uint8))

    monkeypatch.setattr(video_attack, "load_keyframes", fake_load)
    return items


def _attack(project, items):
    loaded = LoadedClassifier(model=Brightness(), classes=list(CLASSES), image_size=8, config={})
    cfg = AttackConfig(eps=16 / 255, keyframes=2, classes=("Mid", "High"), per_class=2,
                       batch_size=3)
    return jobs.run(select_samples(project, loaded, items, cfg))


def _frames_of_samples(project) -> list[Path]:
    paths = []
    for row in project.query("SELECT clean_frames_json, adv_frames_json FROM samples"):
        for key in ("clean_frames_json", "adv_frames_json"):
            paths += [project.resolve(p) for p in json.loads(row[key])]
    return paths


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as proj:
        yield proj


def _small_tmpfs(path: Path, size: str) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs (needs root on Linux; skipped elsewhere)."""
    mount = tmp_path / "tiny"
    if not _small_tmpfs(mount, "512k"):
        pytest.skip("a size-limited filesystem needs root on Linux")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    """Fill the filesystem holding ``folder``; returns the filler file (delete to free it)."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


# ------------------------------------------------------------------------------ disk full
def test_store_write_on_a_full_database_is_clear_rolled_back_and_resumes(project):
    conn = project.conn()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL from here on
    big = {"notes": "x" * 200_000}
    with pytest.raises(StoreError, match="is full.*rolled back.*Free some space"):
        with project.run("attack", big):
            pass
    with pytest.raises(StoreError, match="is full"):
        project.executemany("INSERT INTO annotators (name, created_at) VALUES (?, ?)",
                            [(f"a{i}" * 500, 0.0) for i in range(200)])
    assert project.query_one("PRAGMA integrity_check")[0] == "ok"
    assert project.query_one("SELECT count(*) FROM annotators")[0] == 0  # all or nothing
    assert project.runs() == []
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    with project.run("attack", big) as run:
        run.result = {"ok": True}
    assert [r["status"] for r in project.runs()] == ["done"]


def test_failure_inside_a_run_is_not_hidden_when_recording_it_fails_too(project):
    with pytest.raises(ZeroDivisionError):
        with project.run("attack", {}):
            project.conn().execute("PRAGMA query_only = 1")  # every write now fails
            raise ZeroDivisionError("the stage's own failure")
    project.conn().execute("PRAGMA query_only = 0")
    assert project.runs()[-1]["status"] == "running"  # left for the next run to redo


def test_store_on_a_really_full_filesystem(tiny_disk):
    with Project.create(tiny_disk / "proj") as proj:
        filler = _fill(tiny_disk)
        with pytest.raises(StoreError, match="is full"):
            proj.executemany("INSERT INTO annotators (name, created_at) VALUES (?, ?)",
                             [(f"annotator {i} " + "y" * 2000, 0.0) for i in range(400)])
        filler.unlink()  # space freed: the same write goes through
        proj.executemany("INSERT INTO annotators (name, created_at) VALUES (?, ?)",
                         [(f"annotator {i}", 0.0) for i in range(400)])
        assert proj.query_one("PRAGMA integrity_check")[0] == "ok"
    with Project.open(tiny_disk / "proj") as proj:
        assert proj.query_one("SELECT count(*) FROM annotators")[0] == 400


def test_png_writing_fails_on_a_full_disk_and_the_attack_resumes(project, monkeypatch):
    items = _items(monkeypatch)
    real_imwrite = samples_module.cv2.imwrite
    calls = {"n": 0}

    def full_disk(path, img, params=()):
        calls["n"] += 1
        if calls["n"] > 3:  # libpng's write error: cv2 returns False and removes the file
            raise OSError(errno.ENOSPC, "No space left on device", path)
        return real_imwrite(path, img, params)

    monkeypatch.setattr(samples_module.cv2, "imwrite", full_disk)
    with pytest.raises(OSError) as err:
        _attack(project, items)
    assert err.value.errno == errno.ENOSPC
    run = project.runs("attack")[-1]
    assert run["status"] == "failed" and "No space left" in run["error"]
    # nothing half-written is trusted: no sample row points at the PNGs of the failed run
    assert project.query_one("SELECT count(*) FROM samples")[0] == 0

    monkeypatch.setattr(samples_module.cv2, "imwrite", real_imwrite)  # space freed
    result = _attack(project, items)
    assert result.per_class == {"Mid": 2, "High": 1}
    frames = _frames_of_samples(project)
    assert frames and read_pngs(frames).shape[0] == len(frames)


def test_png_writer_returning_false_is_a_clear_store_error(project, monkeypatch):
    items = _items(monkeypatch)
    monkeypatch.setattr(samples_module.cv2, "imwrite", lambda *a, **k: False)
    with pytest.raises(StoreError, match="disk is not full"):
        _attack(project, items)
    assert project.query_one("SELECT count(*) FROM samples")[0] == 0


def test_exports_on_a_full_disk_keep_the_old_set_and_leave_no_partial(tmp_path, monkeypatch):
    out = tmp_path / "out"
    files = {out / "evaluation.csv": "old,csv\n", out / "table3.csv": "old,table\n"}
    export.write_texts(files)
    real_open = open
    opened = {"n": 0}

    def full_open(path, *args, **kwargs):
        if str(path).endswith(".partial"):
            opened["n"] += 1
            if opened["n"] == 2:  # the second file of the set hits the full disk
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(StoreError, match="the disk is full.*table3.csv.*run the same command"):
        export.write_texts({out / "evaluation.csv": "new,csv\n", out / "table3.csv": "new\n"})
    monkeypatch.setattr("builtins.open", real_open)
    assert (out / "evaluation.csv").read_text() == "old,csv\n"  # not a mixed set
    assert (out / "table3.csv").read_text() == "old,table\n"
    assert sorted(p.name for p in out.iterdir()) == ["evaluation.csv", "table3.csv"]
    export.write_texts({out / "evaluation.csv": "new,csv\n", out / "table3.csv": "new\n"})
    assert (out / "table3.csv").read_text() == "new\n"


def test_exports_on_a_really_full_filesystem(tiny_disk):
    out = tiny_disk / "out"
    export.write_text(out / "evaluation.csv", "old\n")
    filler = _fill(tiny_disk)
    with pytest.raises(StoreError, match="the disk is full"):
        export.write_text(out / "evaluation.csv", "new " * 100_000)
    assert (out / "evaluation.csv").read_text() == "old\n"
    assert not list(out.glob("*.partial"))
    filler.unlink()
    export.write_text(out / "evaluation.csv", "new\n")
    assert (out / "evaluation.csv").read_text() == "new\n"


# --------------------------------------------------------------------------- the CLI
def _cli(*args: str, env_extra: dict[str, str] | None = None):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "harlab", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_unexpected_error_is_one_line_with_the_log_and_v_shows_the_traceback(tmp_path):
    root = tmp_path / "proj"
    Project.create(root).close()
    conn = sqlite3.connect(root / "project.sqlite")
    conn.execute("DROP TABLE scores")  # a damaged project: `info` meets an OperationalError
    conn.commit()
    conn.close()
    data = tmp_path / "data"
    done = _cli("project", "info", str(root), env_extra={"HARLAB_DATA_DIR": str(data)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "harlab project: unexpected error: OperationalError: no such table: scores" in lines[0]
    assert str(data / "harlab.log") in lines[0] and "-v" in lines[0]
    assert "Traceback" in (data / "harlab.log").read_text()
    assert "Traceback" in (root / "harlab.log").read_text()  # and in the project's log

    verbose = _cli("-v", "project", "info", str(root), env_extra={"HARLAB_DATA_DIR": str(data)})
    assert verbose.returncode == 1 and "Traceback (most recent call last)" in verbose.stderr


def test_cli_disk_full_says_so(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HARLAB_DATA_DIR", str(tmp_path / "data"))
    import harlab.cli.project as project_cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/x/frames/a.png")

    monkeypatch.setattr(project_cli, "_cmd_new", full)
    assert cli.main(["project", "new", str(tmp_path / "p")]) == 1
    err = capsys.readouterr().err
    assert "the disk is full writing /x/frames/a.png" in err and "Traceback" not in err


def test_cli_keeps_going_when_even_the_log_cannot_be_written(monkeypatch, capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("HARLAB_DATA_DIR", str(blocker / "sub"))  # cannot be created
    import harlab.cli.project as project_cli

    monkeypatch.setattr(project_cli, "_cmd_new", lambda args: 1 / 0)
    assert cli.main(["project", "new", str(tmp_path / "p")]) == 1
    err = capsys.readouterr().err
    assert "ZeroDivisionError" in err and "could not be saved" in err


# ------------------------------------------------------------------------ two processes
WRITER = """
import sys, time
from harlab.store import Project
root, n = sys.argv[1], int(sys.argv[2])
with Project.open(root) as p:
    print("ready", flush=True)
    for i in range(n):
        with p.run("query", {"i": i}) as run:
            p.insert("annotators", name=f"cli-{i}", created_at=time.time())
            p.executemany("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                          "DO UPDATE SET value = excluded.value", [(f"k{i}", "v")] * 3)
            run.result = {"i": i}
print("done", flush=True)
"""


def test_a_second_process_writes_while_this_one_reads_and_writes(project):
    n = 150
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(project.root), str(n)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    mine = 0
    seen = []
    while proc.poll() is None or mine < 20:
        seen.append(project.query_one("SELECT count(*) FROM annotators "
                                      "WHERE name LIKE 'cli-%'")[0])
        project.query("SELECT * FROM runs ORDER BY id DESC LIMIT 5")
        with project.run("score", {"mine": mine}):
            project.insert("annotators", name=f"gui-{mine}", created_at=time.time())
        mine += 1
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "locked" not in err and "done" in out
    assert project.query_one("SELECT count(*) FROM annotators WHERE name LIKE 'cli-%'")[0] == n
    assert project.query_one("SELECT count(*) FROM annotators WHERE name LIKE 'gui-%'")[0] \
        == mine
    assert seen == sorted(seen) and seen[-1] <= n  # this process saw the other's commits
    assert {r["status"] for r in project.runs()} == {"done"}


OPENER = """
import sys
from harlab.store import Project
Project.open(sys.argv[1]).close()
"""


def test_two_processes_open_an_old_project_at_once(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    from harlab.store import MIGRATIONS

    conn = sqlite3.connect(root / "project.sqlite")
    conn.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version = 1; "
                       "PRAGMA application_id = 1212240460; "
                       "INSERT INTO meta VALUES ('created_at', '0'); COMMIT;")
    conn.close()
    procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(root)], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with Project.open(root) as proj:
        assert proj.schema_version == len(MIGRATIONS)


# ------------------------------------------------------------------------- portability
def _make_dataset(base: Path, relpaths: list[str]) -> Path:
    (base / "ucfTrainTestlist").mkdir(parents=True)
    classes = sorted({r.split("/")[0] for r in relpaths} | set(CLASSES))
    (base / "ucfTrainTestlist" / "classInd.txt").write_text(
        "".join(f"{i} {c}\n" for i, c in enumerate(classes, 1)))
    (base / "ucfTrainTestlist" / "trainlist01.txt").write_text("")
    (base / "ucfTrainTestlist" / "testlist01.txt").write_text("".join(f"{r}\n" for r in relpaths))
    for rel in relpaths:
        (base / "UCF-101" / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / "UCF-101" / rel).write_bytes(b"not decoded here")
    return base


def test_a_copied_project_finds_its_frames_and_checkpoints(tmp_path, monkeypatch, caplog):
    items = _items(monkeypatch)
    dataset = _make_dataset(tmp_path / "ucf", [it.relpath for it in items])
    original = tmp_path / "lab" / "proj"
    with Project.create(original) as proj:
        proj.set_meta("dataset_root", str(dataset))
        _attack(proj, items)
        model, _ = build_model("mobilenet_v3_small", 3, "none")
        ckpt = save_checkpoint(proj.checkpoints_dir / "train-1" / "best.pt", model=model,
                               classes=CLASSES, image_size=8, config={})
        with proj.run("train", {"dataset_root": str(dataset)}) as run:
            run.result = {"best_checkpoint": proj.portable(ckpt), "completed": True,
                          "last_checkpoint": proj.portable(ckpt)}
        proj.set_meta("study/checkpoint", proj.portable(ckpt))
    archive = shutil.make_archive(str(tmp_path / "proj"), "zip", original)
    shutil.rmtree(tmp_path / "lab")  # the original is gone
    moved_dataset = tmp_path / "elsewhere" / "ucf"
    shutil.move(str(dataset), moved_dataset)
    shutil.unpack_archive(archive, tmp_path / "other-machine" / "proj")

    with caplog.at_level("WARNING", logger="harlab.store"):
        proj = Project.open(tmp_path / "other-machine" / "proj")
    try:
        notes = [r.message for r in caplog.records if "no longer exists" in r.message]
        assert len(notes) == 1 and "harlab project repoint" in notes[0]
        frames = _frames_of_samples(proj)
        assert frames and all(str(p).startswith(str(proj.root)) for p in frames)
        assert read_pngs(frames).shape[0] == len(frames)
        best = best_checkpoint(proj)
        assert best is not None and best.is_file() and str(best).startswith(str(proj.root))
        assert load_classifier(best).classes == CLASSES
        from harlab.study.runner import study_counts

        assert Path(study_counts(proj)["classifier"]) == best

        with pytest.raises(InputError, match="none of this project's 3 sample videos"):
            repoint_dataset(proj, _make_dataset(tmp_path / "other", ["Low/v_Low_g09_c01.avi"]))
        done = repoint_dataset(proj, moved_dataset)
        assert done.videos_found == 3 and not done.videos_missing
        assert missing_paths(proj) == []
        assert proj.get_meta("dataset_root") == str(moved_dataset.resolve())
    finally:
        proj.close()


def test_repoint_from_the_cli(tmp_path, capsys):
    dataset = _make_dataset(tmp_path / "ucf", ["Mid/v_Mid_g01_c01.avi"])
    with Project.create(tmp_path / "proj") as proj:
        proj.set_meta("dataset_root", str(tmp_path / "gone"))
        assert len(missing_paths(proj)) == 1
    assert cli.main(["project", "repoint", str(tmp_path / "proj"), str(dataset)]) == 0
    assert "dataset re-pointed" in capsys.readouterr().out
    with Project.open(tmp_path / "proj") as proj:
        assert missing_paths(proj) == []
    assert cli.main(["project", "repoint", str(tmp_path / "proj"), str(tmp_path / "nope")]) == 2
