#!/usr/bin/env bash
# The GPU checks of one lent-device call (device tool, `run`, carry runs/gpu), in order:
# a smoke run of the Triton collector, the predictor network timings, the Triton table.
# Prepare first, here: .venv/bin/python bench/predictor_gpu_speed.py encode --out runs/gpu/blocks.npz
# Writes under $OUT: predictor_gpu.json, triton_rows.csv.gz, triton_meta.json and logs.
set -u
export PYTHONPATH=. PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__, torch.cuda.get_device_name(0))"
python3 -m envs.gemm.triton_collect --out-dir /tmp/smoke --limit-shapes 2 --limit-configs 24 \
    --workers 8 --deadline-s 120 2>&1 | tee "$OUT/smoke.log" || exit 1
grep -q "^done: 2 shapes" "$OUT/smoke.log" || { echo "smoke run failed"; exit 1; }
zcat /tmp/smoke/triton_rows.csv.gz | head -5
timeout 150 python3 bench/predictor_gpu_speed.py time runs/gpu/blocks.npz --steps 200 \
    --json "$OUT/predictor_gpu.json" 2>&1 | tee "$OUT/predictor.log"
python3 -m envs.gemm.triton_collect --out-dir "$OUT" --deadline-s "${DEADLINE_S:-330}" 2>&1 \
    | tee "$OUT/collect.log" | grep -v "^\[" | tail -40
tail -3 "$OUT/collect.log"
