"""Bounds of every numeric option, and the memory and disk a dataset needs, checked before work starts.

The bounds are wide enough for any real use (hours-long clips, 384 kHz sound
cards, 100 000 clips per class) and refuse what can only be a mistake
(``--count 1000000000``, ``--duration 1e-9``, ``--snr-db -400``) with a message
that says what was expected.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from errors import FaultsynthError

#: (low, high) of each bounded quantity, inclusive.
COUNT = (1, 100_000)
DURATION_S = (0.01, 3600.0)
SAMPLE_RATE_HZ = (1000, 384_000)
SNR_DB = (-40.0, 100.0)
SEED = (0, 2**63 - 1)
WORKERS = (1, 256)

#: Peak working memory of rendering one clip, in bytes per sample (float64 parts, filters, spectra):
#: tracemalloc peaks of 10-s clips were 42-60 for the sound machines and 193-194 for bearing and gearbox.
RENDER_BYTES_PER_SAMPLE = 256
#: Free space left on the disk after the dataset, bytes.
DISK_MARGIN_BYTES = 64 << 20


def check_int(name: str, value, bounds: tuple[int, int]) -> int:
    """``value`` as an int if it is a whole number within ``bounds``; else FaultsynthError naming ``name``."""
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FaultsynthError(f"{name} must be a whole number in {lo}..{hi}, got {value!r}")
    return int(value)


def check_float(name: str, value, bounds: tuple[float, float], unit: str = "") -> float:
    """``value`` as a float if it is a finite number within ``bounds``; else FaultsynthError naming ``name``."""
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and lo <= value <= hi):
        unit = f" {unit}" if unit else ""
        raise FaultsynthError(f"{name} must be a number in {lo:g}..{hi:g}{unit}, got {value!r}")
    return float(value)


def check_clip_numbers(*, count=1, duration_s=1.0, sample_rate=None, seed=0, workers=1) -> None:
    """The numbers every dataset writer takes, checked before anything heavy is imported or run."""
    check_int("count", count, COUNT)
    check_float("duration", duration_s, DURATION_S, "s")
    if sample_rate is not None:
        check_int("sample rate (Hz)", sample_rate, SAMPLE_RATE_HZ)
    check_int("seed", seed, SEED)
    check_int("workers", workers, WORKERS)


def check_range_or_value(name: str, value, bounds: tuple[float, float], unit: str = "") -> None:
    """Check a parameter given as a number or a (low, high) pair against ``bounds``."""
    for v in (value if isinstance(value, (list, tuple)) else (value,)):
        check_float(name, v, bounds, unit)


def available_memory_bytes() -> int:
    """Memory the kernel says is available to new work (MemAvailable), or the physical size if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def free_disk_bytes(path: str | Path) -> int:
    """Free bytes on the file system that will hold ``path`` (its nearest existing folder)."""
    path = Path(path).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def check_dataset_size(out: str | Path | None, *, n_clips: int, samples_per_clip: int, bytes_per_sample: int,
                       workers: int = 1) -> None:
    """Refuse a dataset that cannot fit in memory (one clip per worker) or on the disk under ``out``.

    Parameters
    ----------
    out : path or None
        Output folder (need not exist); None: not on a local disk (no disk check).
    n_clips : int
        Clips to write.
    samples_per_clip : int
        Samples of one clip.
    bytes_per_sample : int
        Bytes per sample in the written file (2 for 16-bit PCM, 4 for float32).
    workers : int
        Clips rendered at once.
    """
    need_memory = samples_per_clip * RENDER_BYTES_PER_SAMPLE * workers
    have_memory = available_memory_bytes()
    if need_memory > have_memory:
        raise FaultsynthError(f"one clip of {samples_per_clip} samples needs about {_size(need_memory)} of memory "
                              f"with {workers} worker(s), but {_size(have_memory)} is available: expected a "
                              "shorter --duration, a lower --sample-rate or fewer --workers")
    if out is None:
        return
    need_disk = n_clips * (samples_per_clip * bytes_per_sample + 44) + DISK_MARGIN_BYTES
    have_disk = free_disk_bytes(out)
    if need_disk > have_disk:
        raise FaultsynthError(f"{out}: {n_clips} clips need about {_size(need_disk)} of disk, but "
                              f"{_size(have_disk)} is free there: expected fewer or shorter clips, or another disk")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
