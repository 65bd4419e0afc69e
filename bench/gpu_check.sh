#!/usr/bin/env bash
# The checks a lent GPU machine runs, as one prepared script (device time is scarce: one call).
#
#   bench/gpu_check.sh [tests] [lora] [full] [fsdp] [dpo]   (default: tests lora full fsdp)
#
# Expects python3 with torch (CUDA), transformers, peft and accelerate (and trl + datasets for
# `dpo`, the engine's DPO against TRL's DPOTrainer with PEFT). Extra packages the
# machine lacks (bitsandbytes for QLoRA, cryptography for the encrypted checkpoints of the
# tests) can come as a tarball of an unpacked site folder in .whl/site.tgz (see bench/RESULTS.md).
# Every section has its own time limit, so one hang costs that section, not the whole call.
# On a fresh machine (cold inductor caches) `tests` alone takes about 4 minutes; `lora` and
# `full` about 2.5 and 1.5 minutes (bench/RESULTS.md).
# Output and JSON figures go to $OUT (or /tmp/gpu_out).
set -u
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
if [ -f .whl/site.tgz ]; then
  mkdir -p /tmp/site && tar xzf .whl/site.tgz -C /tmp/site && export PYTHONPATH=/tmp/site
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
PY=${PY:-python3}
sections=${*:-tests lora full fsdp}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
$PY - <<'PY' | tee -a "$OUT/gpu.txt"
import importlib
for name in ("torch", "transformers", "peft", "accelerate", "bitsandbytes", "trl"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as exc:  # noqa: BLE001 - report whatever is missing
        print(name, "missing:", exc)
PY

section() {  # section NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit}s)"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log" | grep -v "Warning\|warn(" | tail -25
  echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start))s"
}

for s in $sections; do
  case $s in
    tests)
      section tests 300 $PY -m pytest -q -p no:cacheprovider -o addopts="" -m gpu \
        tests/trainer/engine/test_engine_gpu.py ;;
    lora)
      section lora 240 $PY bench/train_throughput.py --device cuda --method lora \
        --model smollm2-1.7b --steps 16 --warmup 6 --compile auto,off ;;
    full)
      section full 150 $PY bench/train_throughput.py --device cuda --method full \
        --model smollm2-1.7b --steps 16 --warmup 6 --compile auto ;;
    fsdp)
      section fsdp 180 $PY bench/fsdp_check.py ;;
    dpo)
      section dpo 300 $PY bench/train_throughput.py --device cuda --objective dpo \
        --model smollm2-1.7b --steps 16 --warmup 6 --compile auto ;;
    *) echo "unknown section $s" ;;
  esac
done
