"""The JPEG frame cache: build, rebuild, damage, decoding, the batch loader and the estimate."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from harlab.data.demo_data import generate_demo_dataset
from harlab.data.framecache import CacheConfig, FrameCache, build_cache, estimate_cache
from harlab.data.jpeg_frames import JpegFrames, JpegWriter, decode_batch
from harlab.data.ucf101 import UCF101
from harlab.errors import DatasetError, InputError
from harlab.jobs import run
from harlab.train.config import TrainConfig
from harlab.train.data import (
    TrainData,
    default_loader_workers,
    find_cache_config,
    iter_frame_batches,
    load_split_data,
)
from harlab.train.fit import TrainStep, fit

JPEG = dict(format="jpeg", jpeg_quality=90)


@pytest.fixture
def tiny(tmp_path: Path) -> UCF101:
    root = run(generate_demo_dataset(tmp_path / "demo", classes=["Biking", "PushUps"],
                                     groups=4, clips_per_group=1, seconds=0.4))
    return UCF101(root)


def _jpeg_data(tmp_path: Path, n_per_class: int = 8, size: int = 32) -> TrainData:
    """Synthetic colour classes stored as JPEG, grouped 1..4."""
    rng = np.random.default_rng(0)
    frames, labels, groups = [], [], []
    for c in range(3):
        for i in range(n_per_class):
            base = np.zeros((size, size, 3), np.int64)
            base[..., c] = 180
            frames.append(np.clip(base + rng.integers(0, 40, base.shape), 0, 255))
            labels.append(c)
            groups.append(i % 4 + 1)
    writer = JpegWriter(tmp_path / "f.jpg", 90)
    writer.add(np.stack(frames).astype(np.uint8))
    writer.close().tofile(tmp_path / "f.off")
    jpeg = JpegFrames(tmp_path / "f.jpg", tmp_path / "f.off", size)
    return TrainData(jpeg, labels, np.arange(len(labels)), groups, ["R", "G", "B"])


def test_jpeg_cache_builds_small_and_decodes_close_to_raw(tiny: UCF101, tmp_path: Path):
    raw = run(build_cache(tiny, CacheConfig(frames_per_video=4, size=32), tmp_path / "c"))
    jpeg = run(build_cache(tiny, CacheConfig(frames_per_video=4, size=32, **JPEG),
                           tmp_path / "c"))
    assert jpeg.folder.name == raw.folder.name + "-jpeg90" and jpeg.decoded == 8
    assert {p.name for p in jpeg.folder.iterdir()} == {
        "cache.json", "train.jpg", "train.off", "train.json", "test.jpg", "test.off",
        "test.json"}
    a, b = raw.split("train"), jpeg.split("train")
    assert isinstance(b.frames, JpegFrames) and b.frames.shape == a.frames.shape
    assert b.frames.dtype == np.uint8 and b.frames.ndim == 4 and len(b.frames) == 24
    assert np.array_equal(b.labels, a.labels) and b.videos == a.videos
    decoded = np.asarray(b.frames)
    assert decoded.shape == (24, 32, 32, 3)
    # 4:2:0 chroma on 32 px frames costs more than at 224 px (~1.4 levels there)
    assert np.abs(decoded.astype(int) - np.asarray(a.frames)).mean() < 6
    assert b.frames.nbytes_stored < np.asarray(a.frames).nbytes / 3
    assert FrameCache.open(jpeg.folder).config == CacheConfig(4, 32, **JPEG)


def test_jpeg_rebuild_copies_unchanged_bytes(tiny: UCF101, tmp_path: Path):
    config = CacheConfig(frames_per_video=3, size=16, **JPEG)
    first = run(build_cache(tiny, config, tmp_path / "c"))
    data_before = (first.folder / "train.jpg").read_bytes()
    again = run(build_cache(tiny, config, tmp_path / "c"))
    assert (again.decoded, again.reused) == (0, 8)
    assert (again.folder / "train.jpg").read_bytes() == data_before
    changed = tiny.train[2].path
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = run(build_cache(tiny, config, tmp_path / "c"))
    assert (third.decoded, third.reused) == (1, 7)
    assert np.array_equal(np.asarray(third.split("train").frames),
                          np.asarray(first.split("train").frames))
    assert not list(third.folder.glob("*.partial"))


def test_jpeg_damage_is_reported_and_rebuilt(tiny: UCF101, tmp_path: Path):
    config = CacheConfig(frames_per_video=2, size=16, **JPEG)
    cache = run(build_cache(tiny, config, tmp_path / "c"))
    with open(cache.folder / "train.jpg", "ab") as f:
        f.write(b"junk")
    with pytest.raises(DatasetError, match="damaged, rebuild the cache"):
        cache.split("train")
    rebuilt = run(build_cache(tiny, config, tmp_path / "c"))
    assert rebuilt.decoded == 6 and rebuilt.reused == 2  # train re-decoded, test reused
    assert len(rebuilt.split("train")) == 12
    (cache.folder / "test.off").unlink()
    with pytest.raises(DatasetError, match="no test split"):
        cache.split("test")


@pytest.mark.parametrize("kwargs,match", [
    (dict(format="png"), "unknown frame cache format 'png'; valid formats: raw, jpeg"),
    (dict(jpeg_quality=0), r"jpeg_quality must be an integer in \[1, 100\], got 0"),
    (dict(jpeg_quality=90.0), "jpeg_quality must be an integer"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        CacheConfig(**kwargs)


def test_jpeg_frames_index_like_an_array_and_pickle(tmp_path: Path):
    data = _jpeg_data(tmp_path)
    frames = data.frames
    everything = np.asarray(frames)
    assert frames[3].shape == (32, 32, 3) and np.array_equal(frames[3], everything[3])
    assert np.array_equal(frames[2:5], everything[2:5])
    assert np.array_equal(frames[np.array([7, 1, 7])], everything[[7, 1, 7]])
    assert frames[np.array([], np.int64)].shape == (0, 32, 32, 3)
    with pytest.raises(IndexError, match="one index"):
        frames[0, 0]
    again = pickle.loads(pickle.dumps(frames))
    assert np.array_equal(np.asarray(again), everything)
    enc = frames.encoded(np.array([0, 1]))
    assert len(enc) == 2 and enc[0].dtype == torch.uint8 and enc[0][:2].tolist() == [255, 216]
    assert np.array_equal(decode_batch(enc).numpy(), everything[:2])
    with pytest.raises(DatasetError, match="at least one"):
        decode_batch([])


def test_train_data_and_loader_read_jpeg_transparently(tmp_path: Path):
    data = _jpeg_data(tmp_path)
    assert data.compressed and data.image_size == 32
    train, val = data.split_groups(0.25, seed=0)
    idx = np.array([3, 0, 5])
    assert train.take(idx).shape == (3, 32, 32, 3)
    batches = [np.array([0, 1, 2]), np.array([5, 4]), np.array([3])]
    want = [train.take(b) for b in batches]
    for workers in (0, 1):
        got = list(iter_frame_batches(train, batches, "cpu", workers=workers))
        assert [g.dtype for g in got] == [torch.uint8] * 3
        assert all(np.array_equal(g.numpy(), w) for g, w in zip(got, want, strict=True))
    assert default_loader_workers(train, torch.device("cpu")) >= 1
    raw = TrainData(np.asarray(data.frames), data.labels, data.video_ids, data.groups,
                    data.classes)
    assert default_loader_workers(raw, torch.device("cpu")) == 0
    with pytest.raises(InputError, match="workers must be >= 0"):
        next(iter_frame_batches(train, batches, "cpu", workers=-1))


def test_fit_trains_on_jpeg_frames_and_cancels_with_workers(tmp_path: Path):
    data = _jpeg_data(tmp_path)
    train, val = data.split_groups(0.25, seed=0)
    config = TrainConfig(image_size=32, frames_per_video=1, epochs=1, batch_size=4,
                         accumulate=1, lr_cycle_steps=2, weights="none", device="cpu")
    result = run(fit(config, train, val, tmp_path / "a", loader_workers=1))
    assert result.completed and result.epochs_done == 1
    job = fit(config, train, val, tmp_path / "b", loader_workers=1)
    steps = 0
    for step in job:
        steps += isinstance(step.data, TrainStep)
        if steps == 2:
            job.close()  # stops the loader's worker process; last.pt at the last step
            break
    assert (tmp_path / "b" / "last.pt").is_file()


def test_estimate_and_default_cache_choice(tiny: UCF101, tmp_path: Path, monkeypatch):
    est = estimate_cache(tiny, CacheConfig(frames_per_video=50, size=64, **JPEG),
                         sample_videos=3, sample_frames=2)
    assert est.videos == 8 and est.frames == 400 and est.raw_bytes == 400 * 64 * 64 * 3
    assert est.sampled_frames == 6 and est.sampled_videos == 3
    assert 0 < est.jpeg_bytes < est.raw_bytes
    text = str(est)
    assert "8 videos x 50 frames = 400 frames at 64 px" in text and "jpeg q90" in text
    paper = estimate_cache(tiny, CacheConfig(50, 64, **JPEG), sample_videos=2, videos=13320)
    assert paper.frames == 666000 and paper.raw_bytes == 666000 * 64 * 64 * 3
    with pytest.raises(InputError, match="sample_videos and sample_frames must be >= 1"):
        estimate_cache(tiny, CacheConfig(), sample_videos=0)

    monkeypatch.setattr("harlab.paths.cache_dir", lambda: tmp_path / "user-cache")
    assert find_cache_config(tiny, 2, 16).format == "raw"  # nothing built: raw
    run(build_cache(tiny, CacheConfig(2, 16, format="jpeg", jpeg_quality=80)))
    assert find_cache_config(tiny, 2, 16) == CacheConfig(2, 16, format="jpeg", jpeg_quality=80)
    classes, train, test = run(load_split_data(tiny.root, 1, 2, 16))
    assert train.compressed and test.compressed and len(test) == 4
    run(build_cache(tiny, CacheConfig(2, 16)))
    assert find_cache_config(tiny, 2, 16).format == "raw"  # a raw cache wins when present


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gpu_decode_matches_cpu(tmp_path: Path):
    data = _jpeg_data(tmp_path)
    batches = [np.arange(0, 8), np.arange(8, 20)]
    got = list(iter_frame_batches(data, batches, "cuda", gpu_decode=True))
    assert all(g.is_cuda and g.shape == (len(b), 32, 32, 3) for g, b in
               zip(got, batches, strict=True))
    for g, b in zip(got, batches, strict=True):
        diff = (g.cpu().int() - torch.from_numpy(data.take(b)).int()).abs().float().mean()
        assert diff < 2  # nvJPEG and libjpeg-turbo may round differently


def test_cuda_decodes_jpeg_on_the_cpu_when_cores_allow(monkeypatch):
    """Measured on an H200 with 16 cores: 8 CPU workers decode ~9,500 frames/s, nvJPEG
    2,200-3,000; so CUDA machines with 6+ cores decode in workers, smaller ones on the GPU."""
    from harlab.train import data as train_data

    cuda = torch.device("cuda")
    jpeg = type("D", (), {"compressed": True})()
    monkeypatch.setattr(train_data.os, "cpu_count", lambda: 16)
    assert not train_data.gpu_decodes(cuda) and default_loader_workers(jpeg, cuda) == 8
    monkeypatch.setattr(train_data.os, "cpu_count", lambda: 4)
    assert train_data.gpu_decodes(cuda) and default_loader_workers(jpeg, cuda) == 2
    assert not train_data.gpu_decodes(torch.device("cpu"))
