"""Decoding, even sampling and keyframes on small generated videos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harlab.data import video
from harlab.data.demo_data import write_video
from harlab.errors import DatasetError, InputError


def _solid_frames(n: int, w: int = 64, h: int = 48, changes: dict[int, int] | None = None):
    """Frame i is a flat grey of level 3*i (index readable back after lossy coding) unless
    ``changes`` maps it to a scene id: then a big textured scene, for content keyframes."""
    rng = np.random.default_rng(0)
    scenes = {s: rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
              for s in set((changes or {}).values())}
    scene = None
    for i in range(n):
        if changes and i in changes:
            scene = scenes[changes[i]]
        if scene is not None:
            yield scene
        else:
            yield np.full((h, w, 3), 3 * i, np.uint8)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "v_Test_g01_c01.avi", _solid_frames(60), fps=25)


def test_probe_reports_header(clip: Path):
    info = video.probe(clip)
    assert (info.frame_count, info.width, info.height) == (60, 64, 48)
    assert info.fps == pytest.approx(25)
    assert info.duration_s == pytest.approx(2.4)


def test_sample_indices_are_even_and_exact():
    assert video.sample_indices(100, 4) == [12, 37, 62, 87]
    assert video.sample_indices(10, 10) == list(range(10))
    short = video.sample_indices(3, 7)
    assert len(short) == 7 and short == sorted(short) and set(short) == {0, 1, 2}


@pytest.mark.parametrize("fc,n,match", [(0, 3, "frame_count"), (10, 0, "positive integer"),
                                        (10, 2.5, "positive integer")])
def test_sample_indices_rejects_bad_input(fc, n, match):
    with pytest.raises(InputError, match=match):
        video.sample_indices(fc, n)


def test_read_frames_returns_requested_order_rgb_and_size(clip: Path):
    frames = video.read_frames(clip, [30, 5, 30, 59])
    assert frames.shape == (4, 48, 64, 3) and frames.dtype == np.uint8
    levels = frames.reshape(4, -1).mean(axis=1)
    assert levels == pytest.approx([90, 15, 90, 177], abs=6)
    small = video.read_frames(clip, [0, 1], size=16)
    assert small.shape == (2, 16, 16, 3)
    wide = video.read_frames(clip, [0], size=(20, 10))
    assert wide.shape == (1, 10, 20, 3)


def test_read_frames_rejects_bad_arguments(clip: Path):
    with pytest.raises(InputError, match="indices is empty"):
        video.read_frames(clip, [])
    with pytest.raises(InputError, match=">= 0"):
        video.read_frames(clip, [-1])
    with pytest.raises(InputError, match="size must be"):
        video.read_frames(clip, [0], size=(0, 5))
    with pytest.raises(DatasetError, match="past its end"):
        video.read_frames(clip, [60])


def test_missing_empty_folder_and_non_video_files(tmp_path: Path):
    with pytest.raises(DatasetError, match="does not exist"):
        video.probe(tmp_path / "nope.avi")
    with pytest.raises(DatasetError, match="is a folder"):
        video.probe(tmp_path)
    empty = tmp_path / "empty.avi"
    empty.touch()
    with pytest.raises(DatasetError, match="zero-byte"):
        video.read_frames(empty, [0])
    text = tmp_path / "text.avi"
    text.write_text("not a video " * 100)
    with pytest.raises(DatasetError, match="cannot be opened"):
        video.probe(text)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_permissions(clip: Path):
    clip.chmod(0)
    try:
        with pytest.raises(DatasetError, match="permission denied"):
            video.probe(clip)
    finally:
        clip.chmod(0o644)


def test_truncated_file_is_reported(clip: Path, tmp_path: Path):
    cut = tmp_path / "cut.avi"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match="truncated"):
        video.read_frames(cut, [55])
    with pytest.raises(DatasetError, match="truncated"):
        video.extract_keyframes(cut, 4, "content")
    with pytest.raises(DatasetError, match="truncated"):
        video.verify(cut)
    assert video.verify(clip).frame_count == 60


def test_uniform_keyframes_have_provenance(clip: Path):
    kf = video.extract_keyframes(clip, 5, "uniform")
    assert kf.indices == video.sample_indices(60, 5)
    assert kf.timestamps_s == pytest.approx([i / 25 for i in kf.indices])
    assert kf.frames.shape == (5, 48, 64, 3) and kf.method == "uniform" and kf.note == ""


def test_content_keyframes_find_scene_changes(tmp_path: Path):
    cuts = {0: 0, 8: 1, 36: 2, 62: 3}   # far from the uniform choice 15, 45, 75
    path = write_video(tmp_path / "cuts.avi", _solid_frames(90, changes=cuts))
    kf = video.extract_keyframes(path, 3, "content")
    assert len(kf.indices) == 3 and kf.method == "content"
    # a cut is located to within the smoothing half-window (2 analysed frames)
    tolerance = 2 * video.content_stride(90, 3)
    for want in (8, 36, 62):
        assert min(abs(i - want) for i in kf.indices) <= tolerance, kf.indices
    assert all(i % video.content_stride(90, 3) == 0 for i in kf.indices)
    # decoded frames are the frames at those indices
    again = video.read_frames(path, kf.indices)
    assert np.abs(again.astype(int) - kf.frames).mean() < 1


def test_content_keyframes_always_k_on_static_and_short_clips(tmp_path: Path):
    static = write_video(tmp_path / "static.avi",
                         (np.full((48, 64, 3), 128, np.uint8) for _ in range(40)))
    kf = video.extract_keyframes(static, 6, "content")
    assert len(kf.indices) == 6 and len(set(kf.indices)) == 6
    assert "evenly spaced" in kf.note
    short = write_video(tmp_path / "short.avi", _solid_frames(3))
    for method in ("uniform", "content"):
        kf = video.extract_keyframes(short, 5, method)
        assert len(kf.indices) == 5 and kf.frames.shape[0] == 5
        assert "only 3 frames" in kf.note


def test_pick_peaks_prefers_high_separated_peaks():
    curve = np.zeros(100)
    curve[[10, 11, 50, 80]] = [9, 8, 5, 7]
    idx, note = video.pick_peaks(curve, 3, smooth=1)
    assert idx == [10, 50, 80] and note == ""


def test_keyframes_reject_bad_method_and_k(clip: Path):
    with pytest.raises(InputError, match="valid methods: uniform, content"):
        video.extract_keyframes(clip, 3, "random")
    with pytest.raises(InputError, match="positive integer"):
        video.extract_keyframes(clip, 0)


def test_streaming_content_keyframes_match_the_offline_definition(tmp_path: Path):
    """The one-pass implementation picks what pick_peaks picks on the full curve."""
    import cv2

    rng = np.random.default_rng(5)

    def moving():
        for i in range(120):
            img = np.full((48, 64, 3), 90, np.uint8)
            x = int(30 + 25 * np.sin(i / (3 + rng.random())))
            cv2.rectangle(img, (x, 10), (x + 12, 30), (250, 40, 40), -1)
            yield img

    path = write_video(tmp_path / "moving.avi", moving())
    everything = video.read_frames(path, range(120))
    # definition: every stride-th frame, green channel of every 4th pixel, mean abs difference
    stride = video.content_stride(120, 6)
    assert stride == 3 and video.content_stride(20, 6) == 1
    small = [f[::4, ::4, 1].astype(int) for f in everything[::stride]]
    curve = np.array([0.0] + [np.abs(small[i] - small[i - 1]).mean()
                              for i in range(1, len(small))])
    chosen, _ = video.pick_peaks(curve, 6)
    want = [stride * c for c in chosen]
    kf = video.extract_keyframes(path, 6, "content")
    assert kf.indices == want
    assert np.array_equal(kf.frames, everything[want])


def test_cli_keyframes_writes_pngs(clip: Path, tmp_path: Path, capsys):
    from harlab.cli import main

    assert main(["data", "keyframes", str(clip), "-k", "3", "--method", "uniform",
                 "--out", str(tmp_path / "kf")]) == 0
    out = capsys.readouterr().out
    assert "frame     10" in out and "saved 3 PNGs" in out
    assert len(list((tmp_path / "kf").glob("*.png"))) == 3


@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.999])
def test_truncation_is_measured_on_the_container_not_the_decoder(tmp_path: Path, keep: float):
    """A cut AVI is "truncated" by every entry point, whatever the OpenCV release decodes of it
    (OpenCV 4 reads its front, OpenCV 5 refuses its first frame)."""
    path = tmp_path / "v.avi"
    write_video(path, _solid_frames(60))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    for check in (video.verify, video.probe, lambda p: video.extract_keyframes(p, 3, "content")):
        with pytest.raises(DatasetError, match=r"is truncated: the file has [\d,]+ bytes but its "
                                               r"AVI header declares [\d,]+"):
            check(path)


def test_mp4_boxes_that_run_past_the_end_are_truncation(tmp_path: Path):
    def box(kind: bytes, payload: bytes) -> bytes:
        return (8 + len(payload)).to_bytes(4, "big") + kind + payload

    whole = box(b"ftyp", b"isom" + bytes(12)) + box(b"mdat", bytes(1000)) + box(b"moov", bytes(64))
    path = tmp_path / "v.mp4"
    path.write_bytes(whole)
    assert video.container_shortfall(path) == ""
    path.write_bytes(whole[:600])
    assert "'mdat' box at byte 24 declares 1,008 bytes" in video.container_shortfall(path)
    path.write_bytes(b"not a container at all")
    assert video.container_shortfall(path) == ""
