#!/usr/bin/env bash
# The GPU checks, in one run on a CUDA machine (the session's lent device): the gpu-marked tests,
# a one-process NCCL DistributedDataParallel fit, and the GPU training benchmark.
# Packages the machine lacks travel as wheels in .whl/ (see the device notes); results go to $OUT.
set -uo pipefail
OUT="${OUT:-/tmp/gpu-out}"; mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="/tmp/site:$PWD" || exit 1
else
    export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1 HARLAB_CACHE_DIR=/tmp/hc HARLAB_DATA_DIR=/tmp/hd
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/gpu.txt"

echo "== gpu-marked tests"
python3 -m pytest -q -p no:cacheprovider -c /dev/null --rootdir=. -o addopts="" -m gpu \
    tests/core/test_training.py tests/core/test_framecache_jpeg.py 2>&1 | tee "$OUT/gpu_tests.txt"

echo "== NCCL DDP (one process: one GPU)"
cat > /tmp/ddp_nccl.py <<'PY'
import json, sys
import numpy as np
import torch.distributed as dist
from harlab import jobs
from harlab.train.config import TrainConfig
from harlab.train.data import TrainData
from harlab.train.fit import fit, init_distributed
rng = np.random.default_rng(0)
frames, labels, vids, groups = [], [], [], []
for c in range(3):
    for g in range(4):
        for _ in range(8):
            img = np.zeros((64, 64, 3), np.int64); img[..., c] = 180
            frames.append(np.clip(img + rng.integers(0, 60, img.shape), 0, 255))
            labels.append(c); vids.append(c * 4 + g); groups.append(g + 1)
data = TrainData(np.stack(frames).astype(np.uint8), labels, vids, groups, ["R", "G", "B"])
train, val = data.split_groups(0.25, 0)
config = TrainConfig(image_size=64, epochs=3, batch_size=16, accumulate=2, weights="none",
                     device="cuda", lr_cycle_steps=2)
import torch
if not init_distributed("cuda"):  # one GPU: torchrun's world of 1; join NCCL all the same
    torch.cuda.set_device(0)
    dist.init_process_group("nccl")
print("backend", dist.get_backend(), "world", dist.get_world_size())
result = jobs.run(fit(config, train, val, sys.argv[1]))
print("best_val_acc", result.best_val_acc)
dist.destroy_process_group()
PY
mkdir -p /tmp/ddp && timeout 300 torchrun --nproc_per_node=1 /tmp/ddp_nccl.py /tmp/ddp 2>&1 \
    | grep -v "^DEBUG" | tail -40 | tee "$OUT/ddp_nccl.txt"

echo "== GPU training benchmark"
timeout 400 python3 benchmarks/bench_gpu_train.py --frames "${GPU_BENCH_FRAMES:-20000}" \
    --cpu-workers ${GPU_BENCH_CPU_WORKERS:-} 2>&1 | tail -30 | tee "$OUT/bench_gpu_train.txt"
