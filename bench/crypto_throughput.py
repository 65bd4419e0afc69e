"""Throughput of the envelope library against raw AES-GCM and plaintext writes.

Measures, in one run and on the same buffers:
  1. one-shot  AESGCM(key).encrypt(nonce, whole_buffer, None)          (in-memory ceiling)
  2. streaming EncryptedWriter -> file (1 MiB memoryview chunks, i.e. the copying path) and
     EncryptedReader.iter_plaintext back
  3. plaintext write + fsync of the same bytes to the same directory
  4. checkpoint-style save of ~100 MB of float32 numpy arrays: safetensors.numpy.save + plain
     write/fsync vs safetensors.numpy.save + write_encrypted_bytes (disk directory)
Each figure is the median of several repetitions. The last output line is a JSON object.

Usage: python bench/crypto_throughput.py [--size-mb 256] [--quick]
       [--stream-dir D] [--checkpoint-dir D] [--checkpoint-mb 100]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from safetensors.numpy import save as safetensors_save

from envelope import (
    DEFAULT_SEGMENT_SIZE,
    EncryptedReader,
    EncryptedWriter,
    generate_data_key,
    write_encrypted_bytes,
)
from envelope._fs import start_writeback

CHUNK = 1 << 20


def median_seconds(
    action: Callable[[], object], reps: int, before: Callable[[], object] = lambda: None
) -> float:
    """Run `before` (untimed) then `action` (timed) `reps` times; return the median duration."""
    durations = []
    for _ in range(reps):
        before()
        start = time.perf_counter()
        action()
        durations.append(time.perf_counter() - start)
    return statistics.median(durations)


def unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def plain_write(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def plain_write_early_writeback(path: Path, data: bytes) -> None:
    """Plaintext baseline using the writer's own I/O strategy (per-segment early writeback)."""
    view, fd = memoryview(data), os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for offset in range(0, len(view), DEFAULT_SEGMENT_SIZE):
            chunk = view[offset : offset + DEFAULT_SEGMENT_SIZE]
            os.pwrite(fd, chunk, offset)
            start_writeback(fd, offset, len(chunk))
        os.fsync(fd)
    finally:
        os.close(fd)


def stream_encrypt(path: Path, data: bytes, key: bytes) -> None:
    view = memoryview(data)
    with EncryptedWriter(path, key, key_id="bench", artifact_id="bench/stream") as writer:
        for offset in range(0, len(view), CHUNK):
            writer.write(view[offset : offset + CHUNK])


def stream_decrypt(path: Path, key: bytes) -> int:
    total = 0
    with EncryptedReader(path, key, artifact_id="bench/stream") as reader:
        for segment in reader.iter_plaintext():
            total += len(segment)
    return total


def checkpoint_tensors(total_mb: int) -> dict[str, np.ndarray]:
    """~total_mb MB of float32 tensors shaped like transformer weights."""
    rng = np.random.default_rng(0)
    tensors, remaining, layer = {}, total_mb * (1 << 20) // 4, 0
    while remaining > 0:
        count = min(remaining, 2048 * 2048)
        tensors[f"layers.{layer}.weight"] = rng.standard_normal(count, dtype=np.float32)
        remaining -= count
        layer += 1
    return tensors


def bench_stream(size_mb: int, directory: Path, reps: int) -> dict[str, float]:
    data = os.urandom(size_mb << 20)
    key = generate_data_key()
    nonce = os.urandom(12)
    cipher = AESGCM(key)
    enc_path, plain_path = directory / "bench_stream.enc", directory / "bench_plain.bin"
    oneshot = median_seconds(lambda: cipher.encrypt(nonce, data, None), reps)
    encrypt = median_seconds(
        lambda: stream_encrypt(enc_path, data, key), reps, lambda: unlink(enc_path)
    )
    assert stream_decrypt(enc_path, key) == len(data)
    decrypt = median_seconds(lambda: stream_decrypt(enc_path, key), reps)
    plain = median_seconds(lambda: plain_write(plain_path, data), reps, lambda: unlink(plain_path))
    unlink(enc_path)
    unlink(plain_path)
    return {
        "oneshot_MBps": size_mb / oneshot,
        "stream_encrypt_MBps": size_mb / encrypt,
        "stream_decrypt_MBps": size_mb / decrypt,
        "plaintext_write_MBps": size_mb / plain,
    }


def bench_checkpoint(total_mb: int, directory: Path, reps: int) -> dict[str, float]:
    tensors = checkpoint_tensors(total_mb)
    key = generate_data_key()
    plain_path, enc_path = directory / "ckpt.safetensors", directory / "ckpt.safetensors.enc"

    def save_plain() -> None:
        plain_write(plain_path, safetensors_save(tensors))

    def save_encrypted() -> None:
        payload = safetensors_save(tensors)
        write_encrypted_bytes(enc_path, payload, key, key_id="bench", artifact_id="bench/ckpt")

    def clear() -> None:
        unlink(plain_path)
        unlink(enc_path)

    payload = safetensors_save(tensors)
    write_plain = median_seconds(lambda: plain_write(plain_path, payload), reps, clear)
    write_enc = median_seconds(
        lambda: write_encrypted_bytes(enc_path, payload, key, key_id="b", artifact_id="b/ckpt"),
        reps,
        clear,
    )

    def save_plain_early_writeback() -> None:
        plain_write_early_writeback(plain_path, safetensors_save(tensors))

    # Interleave the full saves so drifting disk/cache state hits all of them alike.
    plain_times, early_times, enc_times = [], [], []
    for _ in range(reps):
        plain_times.append(median_seconds(save_plain, 1, clear))
        early_times.append(median_seconds(save_plain_early_writeback, 1, clear))
        enc_times.append(median_seconds(save_encrypted, 1, clear))
    clear()
    plain_save, enc_save = statistics.median(plain_times), statistics.median(enc_times)
    early_save = statistics.median(early_times)
    return {
        "checkpoint_MB": len(payload) / (1 << 20),
        "checkpoint_plain_save_s": plain_save,
        "checkpoint_encrypted_save_s": enc_save,
        "checkpoint_plain_early_writeback_save_s": early_save,
        "checkpoint_encrypted_over_plain": enc_save / plain_save,
        "checkpoint_encrypted_over_plain_early_writeback": enc_save / early_save,
        "checkpoint_write_only_encrypted_over_plain": write_enc / write_plain,
    }


def default_stream_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="32 MB stream, fewer repetitions")
    parser.add_argument("--checkpoint-mb", type=int, default=100)
    parser.add_argument("--stream-dir", default=default_stream_dir())
    parser.add_argument("--checkpoint-dir", default=tempfile.gettempdir())
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    size_mb = 32 if args.quick else args.size_mb
    reps = 3 if args.quick else 5
    with (
        tempfile.TemporaryDirectory(dir=args.stream_dir) as stream_dir,
        tempfile.TemporaryDirectory(dir=args.checkpoint_dir) as ckpt_dir,
    ):
        figures = bench_stream(size_mb, Path(stream_dir), reps)
        figures.update(bench_checkpoint(args.checkpoint_mb, Path(ckpt_dir), reps))
    figures["encrypt_vs_oneshot_ratio"] = figures["stream_encrypt_MBps"] / figures["oneshot_MBps"]
    figures["decrypt_vs_oneshot_ratio"] = figures["stream_decrypt_MBps"] / figures["oneshot_MBps"]
    print(
        f"stream: {size_mb} MiB in {args.stream_dir}; checkpoint in {args.checkpoint_dir}; "
        f"cpus={os.cpu_count()}; median of {reps}"
    )
    rows = [
        ("one-shot AESGCM.encrypt (ceiling)", f"{figures['oneshot_MBps']:.0f} MB/s", "1.00x"),
        (
            "EncryptedWriter stream",
            f"{figures['stream_encrypt_MBps']:.0f} MB/s",
            f"{figures['encrypt_vs_oneshot_ratio']:.2f}x of one-shot (goal >= 0.70)",
        ),
        (
            "EncryptedReader.iter_plaintext",
            f"{figures['stream_decrypt_MBps']:.0f} MB/s",
            f"{figures['decrypt_vs_oneshot_ratio']:.2f}x of one-shot (goal >= 0.70)",
        ),
        ("plaintext write + fsync", f"{figures['plaintext_write_MBps']:.0f} MB/s", ""),
        (
            f"checkpoint save plain ({figures['checkpoint_MB']:.0f} MB)",
            f"{figures['checkpoint_plain_save_s'] * 1000:.0f} ms",
            "1.00x",
        ),
        (
            "checkpoint save encrypted",
            f"{figures['checkpoint_encrypted_save_s'] * 1000:.0f} ms",
            f"{figures['checkpoint_encrypted_over_plain']:.2f}x of plain (goal <= 1.10)",
        ),
        (
            "checkpoint save plain, early writeback",
            f"{figures['checkpoint_plain_early_writeback_save_s'] * 1000:.0f} ms",
            f"encrypted is {figures['checkpoint_encrypted_over_plain_early_writeback']:.2f}x of it",
        ),
        (
            "  write step only, encrypted/plain",
            "",
            f"{figures['checkpoint_write_only_encrypted_over_plain']:.2f}x",
        ),
    ]
    for name, value, ratio in rows:
        print(f"{name:<40} {value:>12}  {ratio}")
    keys = [
        "stream_encrypt_MBps",
        "stream_decrypt_MBps",
        "oneshot_MBps",
        "plaintext_write_MBps",
        "encrypt_vs_oneshot_ratio",
        "decrypt_vs_oneshot_ratio",
        "checkpoint_encrypted_over_plain",
        "checkpoint_write_only_encrypted_over_plain",
        "checkpoint_encrypted_over_plain_early_writeback",
    ]
    print(json.dumps({key: round(figures[key], 3) for key in keys}))


if __name__ == "__main__":
    main()
