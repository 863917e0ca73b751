"""Bundles: an honest one verifies; tampered, hostile or leaky ones are caught.

The project is built by inserting rows (as the rating tests do): two samples with one clean
and one adversarial PNG each, both modalities answered with raw response bodies, multimodal
requests that record the SHA-256 of the frames they sent, syntactic scores, a project rubric,
and paths under a fake home folder.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import stat
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from harlab.cli import main
from harlab.errors import InputError
from harlab.paths import file_sha256
from harlab.scoring import similarity
from harlab.store import Project
from harlab.study.bundle import export_bundle, verify_bundle
from harlab.study.config import StudyConfig
from harlab.study.export import save_study_config
from harlab.study.safe_zip import ZipLimits
from tests.core.test_rating_fixtures import make_project

RUBRIC = """version: "7"
title: Only one question
items:
  - id: meaning_kept
    type: yes_no
    prompt: Do A and B mean the same?
"""


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    return home


def _answer_bodies(project: Project) -> None:
    """Raw bodies for every answer; multimodal requests record the frames they sent."""
    for r in project.query("SELECT r.*, s.clean_frames_json, s.adv_frames_json FROM "
                           "llm_requests r JOIN samples s ON s.id = r.sample_id"):
        raw = json.dumps({"id": f"c{r['id']}", "model": "m", "choices": [
            {"index": 0, "finish_reason": "stop",
             "message": {"role": "assistant", "content": r["response_text"]}}]})
        body: dict = {"model": "m", "messages": [{"role": "user", "content": "what happens?"}]}
        if r["modality"] == "multimodal":
            rels = json.loads(r["clean_frames_json" if r["variant"] == "original"
                                else "adv_frames_json"])
            body["messages"][0]["content"] = [{"type": "text", "text": "what happens?"}] + [
                {"type": "image_url", "image_url": {
                    "url": f"png:{rel}#sha256={file_sha256(project.abspath(rel))}"}}
                for rel in rels]
        project.execute("UPDATE llm_requests SET response_json = ?, request_json = ? "
                        "WHERE id = ?", (raw, json.dumps(body, sort_keys=True), r["id"]))


def _scores(project: Project) -> None:
    pairs = project.query(
        "SELECT o.sample_id, o.modality, o.id AS a, t.id AS b, o.response_text AS ta, "
        "t.response_text AS tb FROM llm_requests o JOIN llm_requests t ON t.sample_id = "
        "o.sample_id AND t.modality = o.modality AND t.variant = 'attacked' "
        "WHERE o.variant = 'original'")
    values = similarity.syntactic_similarities([(p["ta"], p["tb"]) for p in pairs])
    for p, value in zip(pairs, values, strict=True):
        project.insert("scores", sample_id=p["sample_id"], modality=p["modality"],
                       pair="attacked", metric="syntactic_cosine", scorer="tfidf",
                       value=value, response_a_id=p["a"], response_b_id=p["b"],
                       created_at=time.time())


@pytest.fixture
def project(home) -> Project:
    dataset = home / "data" / "UCF101"
    (dataset / "ucfTrainTestlist").mkdir(parents=True)
    (dataset / "ucfTrainTestlist" / "classInd.txt").write_text("1 BabyCrawling\n")
    checkpoint = home / "models" / "classifier.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights")
    project = make_project(home / "studies" / "p", n_samples=2, frames=True)
    project.set_meta("dataset_root", str(dataset))
    project.set_meta("study/checkpoint", str(checkpoint))
    save_study_config(project, StudyConfig(dataset=str(dataset), checkpoint=str(checkpoint)))
    project.start_run("train", {"dataset": str(dataset), "out": str(project.checkpoints_dir)})
    _answer_bodies(project)
    _scores(project)
    yield project
    project.close()


@pytest.fixture
def bundle(project, tmp_path) -> Path:
    return export_bundle(project, tmp_path / "bundle.zip")


@pytest.fixture
def rubric_bundle(project, tmp_path) -> Path:
    """A bundle of the project with its own rubric.yaml (which changes the CSV's columns)."""
    (project.root / "rubric.yaml").write_text(RUBRIC, encoding="utf-8")
    return export_bundle(project, tmp_path / "bundle.zip")


def _rewrite(bundle: Path, edit: Callable[[Path], None]) -> Path:
    """The bundle unpacked, changed by ``edit(folder)`` and packed again (a tampering)."""
    folder = bundle.with_suffix("")
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    edit(folder)
    out = bundle.with_name("tampered.zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return out


def _sql(folder: Path, sql: str, params: tuple = ()) -> None:
    with sqlite3.connect(folder / "project.sqlite") as conn:
        assert conn.execute(sql, params).rowcount >= 1
    conn.close()


def _manifest(folder: Path, change: Callable[[dict], None]) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def _differences(bundle: Path) -> str:
    report = verify_bundle(bundle)
    assert not report.ok, report.lines
    return "\n".join(report.differences)


# ------------------------------------------------------------------ the honest bundle
def test_bundle_of_a_project_with_its_own_rubric_verifies(rubric_bundle):
    with zipfile.ZipFile(rubric_bundle) as zf:
        assert "rubric.yaml" in zf.namelist()
        assert "rating_meaning_kept" in zf.read("evaluation.csv").decode().splitlines()[0]
    report = verify_bundle(rubric_bundle)
    assert report.ok, report.lines
    assert main(["verify", str(rubric_bundle)]) == 0


def test_bundle_holds_no_home_or_project_path(home, project, rubric_bundle):
    bundle = rubric_bundle
    needles = {str(home), str(home.resolve()), str(project.root), str(project.root.resolve())}
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            leaks = [n for n in needles if n.encode() in data]
            assert not leaks, f"{name} holds {leaks}"
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["config"]["dataset"] == "<dataset>"
    assert verify_bundle(bundle).ok
    # The live project keeps its paths.
    assert project.get_meta("dataset_root") == str(home / "data" / "UCF101")
    assert str(home) in project.get_meta("study/config")


# ------------------------------------------------------------------ tamperings
def test_changed_raw_response_body_alone_is_caught(bundle):
    tampered = _rewrite(bundle, lambda f: _sql(
        f, "UPDATE llm_requests SET response_json = replace(response_json, 'fine', 'burning') "
           "WHERE id = 1"))
    assert ("each ok answer of llm_requests [1] has a response_text that differs from the "
            "content of its raw response body (response_json)") in _differences(tampered)


def test_frame_removed_with_its_manifest_entry_is_caught(project, bundle):
    rel = json.loads(project.query_one("SELECT clean_frames_json FROM samples WHERE id = 1"
                                       )[0])[0]

    def remove(folder: Path) -> None:
        (folder / rel).unlink()
        _manifest(folder, lambda m: m["frames"].pop(rel))

    text = _differences(_rewrite(bundle, remove))
    assert f"frame {rel} of sample 1 in the store is not listed in manifest.json" in text
    assert f"frame {rel} is not the frame request" in text


def test_frame_changed_with_its_manifest_hash_updated_is_caught(project, bundle):
    rel = json.loads(project.query_one("SELECT adv_frames_json FROM samples WHERE id = 2")[0])[0]
    sent = file_sha256(project.abspath(rel))

    def change(folder: Path) -> None:
        (folder / rel).write_bytes(b"\x89PNG other pixels")
        _manifest(folder, lambda m: m["frames"].update({rel: file_sha256(folder / rel)}))

    text = _differences(_rewrite(bundle, change))
    assert f"frame {rel} is not the frame request" in text and sent in text
    assert "manifest.json records" not in text  # the manifest agrees; the request does not


def test_bundle_without_the_rubric_it_was_exported_with_is_caught(rubric_bundle):
    text = _differences(_rewrite(rubric_bundle, lambda f: (f / "rubric.yaml").unlink()))
    assert "rubric.yaml: absent from the bundle" in text


def test_manifest_that_is_not_json_is_named(bundle, capsys):
    tampered = _rewrite(bundle, lambda f: (f / "manifest.json").write_text("{frames: oops"))
    with pytest.raises(InputError, match=r"manifest.json in '.*tampered.zip' is not valid JSON "
                                         r"\(.* line 1, column 2\)"):
        verify_bundle(tampered)
    assert main(["verify", str(tampered)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "unexpected" not in err


# ------------------------------------------------------------------ hostile archives
def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _symlink(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("entry, why", [
    ("../escaped.txt", "climbing out"), ("frames/../../escaped.txt", "climbing out"),
    ("/tmp/escaped.txt", "absolute"), ("C:/escaped.txt", "absolute"),
    (_symlink("frames/link.png", "/etc/passwd"), "symbolic link"),
])
def test_unsafe_entries_are_refused_by_name(tmp_path, entry, why):
    bad = _zip(tmp_path / "bad.zip",
               [("manifest.json", b"{}"), (entry, b"x")])
    name = entry.filename if isinstance(entry, zipfile.ZipInfo) else entry
    with pytest.raises(InputError, match=rf"unsafe entry '{name}' \(.*{why}"):
        verify_bundle(bad)
    assert not (tmp_path / "escaped.txt").exists()


def test_zip_bomb_is_refused_before_extracting(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("project.sqlite", "w") as fh:
            for _ in range(20):
                fh.write(bytes(2**20))
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"'project.sqlite' unpacks .* into 20.0 MB \(ratio "
                                         r"\d+:1\), over the limit of 100:1"):
        verify_bundle(bomb)
    assert time.perf_counter() - started < 1.0


def test_zip_bomb_split_into_small_entries_is_refused(tmp_path):
    bomb = _zip(tmp_path / "split.zip", [(f"frames/{n}.png", bytes(2**19)) for n in range(40)])
    with pytest.raises(InputError, match=r"unpacks .* into 20.0 MB \(ratio \d+:1 over all its "
                                         r"entries\), over the limit of 100:1"):
        verify_bundle(bomb)
    assert not (tmp_path / "frames").exists()


def test_total_size_limit_is_named(tmp_path, capsys):
    noise = random.Random(0).randbytes(2**20)  # 1 MiB that deflate cannot shrink
    big = _zip(tmp_path / "big.zip", [("frames/a.png", noise), ("frames/b.png", noise[::-1])])
    assert main(["verify", str(big), "--max-unpacked-mb", "1"]) == 2
    assert "unpacks to 2.0 MB, over the limit of 1.0 MB" in capsys.readouterr().err


def test_sizes_are_counted_while_extracting_too(tmp_path, monkeypatch):
    """A header that declares fewer bytes than come out is refused while extracting."""
    small = _zip(tmp_path / "liar.zip", [("manifest.json", b"{}")])
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, info, *a, **k: io.BytesIO(b" " * 5000))
    with pytest.raises(InputError, match=r"entry 'manifest.json' unpacks to more than the 2 "
                                         r"bytes its header declares"):
        verify_bundle(small)


def test_duplicate_entries_are_refused(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate name
        bad = _zip(tmp_path / "dup.zip", [("manifest.json", b"{}"), ("manifest.json", b"[]")])
    with pytest.raises(InputError, match=r"unsafe entry 'manifest.json' \(a second entry"):
        verify_bundle(bad)


def test_limits_are_validated():
    with pytest.raises(InputError, match="max_ratio must be a number >= 1, got 0"):
        ZipLimits(max_ratio=0)
    with pytest.raises(InputError, match="max_unpacked_bytes must be a whole number >= 1"):
        ZipLimits(max_unpacked_bytes=-5)


# ------------------------------------------------------------------ other errors, by name
def test_store_that_is_not_sqlite_is_named(bundle):
    tampered = _rewrite(bundle, lambda f: (f / "project.sqlite").write_bytes(b"not a db" * 99))
    with pytest.raises(InputError, match=r"project.sqlite in '.*tampered.zip' is not a readable "
                                         "HARLab store"):
        verify_bundle(tampered)


def test_export_refuses_a_missing_frame(project, tmp_path):
    rel = json.loads(project.query_one("SELECT adv_frames_json FROM samples WHERE id = 1")[0])[0]
    project.abspath(rel).unlink()
    with pytest.raises(InputError, match=rf"1 frame\(s\) of the study are missing from project "
                                         rf".*e.g. '{rel}'.*re-run the attack stage"):
        export_bundle(project, tmp_path / "b.zip")
    assert not (tmp_path / "b.zip").exists()
