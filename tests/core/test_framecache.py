"""The frame cache on a tiny generated demo dataset."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from harlab.data import video
from harlab.data.demo_data import generate_demo_dataset
from harlab.data.framecache import CacheConfig, FrameCache, build_cache, cache_folder
from harlab.data.ucf101 import UCF101
from harlab.errors import DatasetError, InputError
from harlab.jobs import Progress, run


@pytest.fixture
def tiny(tmp_path: Path) -> UCF101:
    root = run(generate_demo_dataset(tmp_path / "demo", classes=["Biking", "PushUps"],
                                     groups=4, clips_per_group=1, seconds=0.4))
    return UCF101(root)


def test_build_stores_sampled_frames_per_split(tiny: UCF101, tmp_path: Path):
    steps: list[Progress] = []
    cache = run(build_cache(tiny, CacheConfig(frames_per_video=4, size=16), tmp_path / "c"),
                steps.append)
    assert [s.done for s in steps] == list(range(1, 9)) and steps[-1].total == 8
    assert cache.decoded == 8 and cache.reused == 0 and cache.failed == []
    train = cache.split("train")
    assert train.frames.shape == (6 * 4, 16, 16, 3) and train.frames.dtype == np.uint8
    assert train.labels.dtype == np.int64 and train.labels.tolist() == [0] * 12 + [1] * 12
    assert train.video_ids.tolist() == np.repeat(np.arange(6), 4).tolist()
    assert train.videos[0] == "Biking/v_Biking_g02_c01.avi" and train.groups[0] == 2
    assert train.classes == ["Biking", "PushUps"]
    item = tiny.train[0]
    info = video.probe(item.path)
    direct = video.read_frames(item.path, video.sample_indices(info.frame_count, 4), size=16)
    assert np.array_equal(np.asarray(train.frames[:4]), direct)
    test = cache.split("test")
    assert len(test) == 2 * 4 and set(test.groups.tolist()) == {1}


def test_rebuild_reuses_unchanged_and_redecodes_changed(tiny: UCF101, tmp_path: Path):
    config = CacheConfig(frames_per_video=3, size=16)
    first = run(build_cache(tiny, config, tmp_path / "c"))
    before = np.array(first.split("train").frames)
    again = run(build_cache(tiny, config, tmp_path / "c"))
    assert (again.decoded, again.reused) == (0, 8)
    assert np.array_equal(np.array(again.split("train").frames), before)
    changed = tiny.train[2].path
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = run(build_cache(tiny, config, tmp_path / "c"))
    assert (third.decoded, third.reused) == (1, 7)
    other = run(build_cache(tiny, CacheConfig(frames_per_video=2, size=16), tmp_path / "c"))
    assert other.folder != first.folder and other.decoded == 8


def test_unreadable_videos_are_skipped_and_listed(tiny: UCF101, tmp_path: Path):
    bad = tiny.train[1]
    bad.path.write_bytes(b"")
    cache = run(build_cache(tiny, CacheConfig(frames_per_video=2, size=8), tmp_path / "c"))
    assert [f[0] for f in cache.failed] == [bad.relpath] and "zero-byte" in cache.failed[0][1]
    train = cache.split("train")
    assert len(train.videos) == 5 and bad.relpath not in train.videos
    assert train.frames.shape[0] == 10
    reopened = FrameCache.open(cache.folder)
    assert reopened.failed == cache.failed and reopened.config == cache.config


def test_default_folder_is_in_the_user_cache(tiny: UCF101):
    folder = cache_folder(tiny, CacheConfig())
    assert folder.parent.name == "frames" and folder.name.endswith("fold1-n50-s112")


@pytest.mark.parametrize("kwargs,match", [
    (dict(frames_per_video=0), "frames_per_video must be"),
    (dict(size=4), r"size \(an integer side in pixels\) must be an integer"),
    (dict(size=112.0), r"size \(an integer side in pixels\) must be an integer"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        CacheConfig(**kwargs)


def test_bad_split_name_and_foreign_folder(tiny: UCF101, tmp_path: Path):
    cache = run(build_cache(tiny, CacheConfig(frames_per_video=1, size=8), tmp_path / "c"))
    with pytest.raises(InputError, match="split must be 'train' or 'test'"):
        cache.split("val")
    with pytest.raises(DatasetError, match="not a frame cache"):
        FrameCache.open(tmp_path)
    (cache.folder / "train.u8").write_bytes(b"\0" * 10)
    with pytest.raises(DatasetError, match="damaged, rebuild"):
        cache.split("train")


def test_cli_cache(tiny: UCF101, tmp_path: Path, capsys):
    from harlab.cli import main

    args = ["data", "cache", str(tiny.root), "--frames", "2", "--size", "8",
            "--cache-dir", str(tmp_path / "c")]
    assert main(args) == 0
    assert "8 videos decoded, 0 reused, 0 failed" in capsys.readouterr().out
    assert main(args[:-2] + ["--size", "2"]) == 2
    assert "size (an integer side in pixels) must be an integer" in capsys.readouterr().err


def test_a_full_disk_while_describing_the_cache_leaves_no_truncated_file(tiny, tmp_path,
                                                                         monkeypatch):
    import errno

    real = Path.write_text

    def full(self, text, *args, **kwargs):
        if self.name == "cache.json.partial":
            real(self, text[:5], *args, **kwargs)  # what a full disk leaves
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space left"):
        run(build_cache(tiny, CacheConfig(frames_per_video=2, size=16), tmp_path / "c"))
    folder = next((tmp_path / "c").iterdir())
    assert not (folder / "cache.json").exists() and not (folder / "cache.json.partial").exists()
    monkeypatch.setattr(Path, "write_text", real)  # space freed: the same call completes
    cache = run(build_cache(tiny, CacheConfig(frames_per_video=2, size=16), tmp_path / "c"))
    assert (folder / "cache.json").is_file() and cache.split("train").frames.shape[0] == 12


def test_cache_reports_the_bad_files_validate_reports(tiny: UCF101, tmp_path: Path):
    """A folder and a dangling link that a split file lists as videos are failures of the
    cache build too, with the reasons validate and index give (they were skipped silently)."""
    root = tiny.root
    folder_clip = root / "Biking/v_Biking_g01_c01.avi"
    link_clip = root / "PushUps/v_PushUps_g01_c01.avi"
    folder_clip.unlink()
    folder_clip.mkdir()
    link_clip.unlink()
    link_clip.symlink_to(tmp_path / "gone.avi")
    ds = UCF101(root)
    report = {e.path: e.reason for e in ds.validate().entries if e.kind == "missing"}
    cache = run(build_cache(ds, CacheConfig(frames_per_video=2, size=16), tmp_path / "c"))
    failed = dict(cache.failed)
    assert set(failed) == set(report) == {"Biking/v_Biking_g01_c01.avi",
                                          "PushUps/v_PushUps_g01_c01.avi"}
    assert "folder" in failed["Biking/v_Biking_g01_c01.avi"]
    assert "broken link" in failed["PushUps/v_PushUps_g01_c01.avi"]
    assert FrameCache.open(cache.folder).failed == cache.failed
