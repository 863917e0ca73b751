"""DistributedDataParallel: two CPU processes under torchrun with gloo, on tiny data."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from harlab.train.checkpoint import read_checkpoint

SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import torch.distributed as dist
    from harlab import jobs
    from harlab.train.fit import fit
    from harlab.train.config import TrainConfig
    from harlab.train.data import TrainData
    from harlab.train.fit import init_distributed

    out = sys.argv[1]
    rng = np.random.default_rng(0)
    frames, labels, vids, groups = [], [], [], []
    for c in range(3):
        for g in range(4):
            for _ in range(3):
                img = np.zeros((32, 32, 3), np.int64)
                img[..., c] = 180
                frames.append(np.clip(img + rng.integers(0, 60, img.shape), 0, 255))
                labels.append(c); vids.append(c * 4 + g); groups.append(g + 1)
    data = TrainData(np.stack(frames).astype(np.uint8), labels, vids, groups, ["R", "G", "B"])
    train, val = data.split_groups(0.25, 0)
    config = TrainConfig(image_size=32, epochs=2, batch_size=4, accumulate=2, weights="none",
                         device="cpu", lr_cycle_steps=2)
    assert init_distributed("cpu")
    steps = []
    result = jobs.run(fit(config, train, val, out),
                      lambda p: steps.append(p.done) if type(p.data).__name__ == "TrainStep"
                      else None)
    rank, world = dist.get_rank(), dist.get_world_size()
    with open(f"{out}/rank{rank}.json", "w") as fh:
        json.dump({"world": world, "steps": len(steps), "train_frames": len(train),
                   "best_val_acc": result.best_val_acc, "history": result.history}, fh)
    dist.destroy_process_group()
''')


@pytest.mark.slow
def test_two_cpu_processes_with_gloo(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(script), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world"] == 2 for r in ranks)
    # DistributedSampler halves each process's share: ceil(ceil(27 / 2) / 4) batches per epoch
    assert ranks[0]["steps"] == ranks[1]["steps"] == 2 * 4
    assert ranks[0]["best_val_acc"] == ranks[1]["best_val_acc"]  # reduced over both ranks
    def strip(history):
        return [{k: v for k, v in row.items() if k != "time_s"} for row in history]

    assert strip(ranks[0]["history"]) == strip(ranks[1]["history"])
    saved = read_checkpoint(out / "last.pt")
    assert saved["train_state"]["epoch"] == 2 and (out / "best.pt").is_file()
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "last.pt", "rank0.json",
                                                      "rank1.json"]
