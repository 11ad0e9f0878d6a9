"""Loading + resampling throughput: datasets.audio.load_audio against librosa.load(sr=...).

Run from the project root: ``.venv/bin/python bench/bench_loading.py [--repeat 3]``.
Prints one line per case: clips per second for faultsynth (soxr, the default,
and resample_method="polyphase") and for librosa
(best of ``--repeat`` passes over the same files, after one warm-up pass that
fills the OS file cache), and their ratio. Also prints how long
``load_records`` takes to list each dataset (header reads only).

faultsynth resamples with python-soxr "HQ" by default (scipy.signal.resample_poly
with a Kaiser beta 8.6 FIR as the alternative); librosa.load uses its default resampler (soxr "HQ" when python-soxr is
installed). MIMII clips are averaged over their 8 channels on both sides
(``channel="mean"`` / ``mono=True``). librosa cannot read CWRU ``.mat``
files: its side is scipy.io.loadmat + librosa.resample.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

DATA = PROJECT.parent / "shared" / "data"


def best_rate(function, items, repeat: int) -> float:
    """Clips per second of ``function`` over ``items`` (best of ``repeat`` passes after a warm-up)."""
    for item in items:
        function(item)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for item in items:
            function(item)
        best = min(best, time.perf_counter() - start)
    return len(items) / best


def main() -> None:
    import librosa
    import numpy as np
    from scipy.io import loadmat

    from datasets.audio import load_audio
    from datasets.loaders import load_records

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    def mat_librosa(record, target):
        var = record.params["variables"][0]
        y = np.asarray(loadmat(str(record.file), variable_names=[var])[var], dtype=np.float32).ravel()
        return librosa.resample(y, orig_sr=record.sample_rate, target_sr=target)

    cases = [
        ("MIMII fan 8 ch mean, 16 kHz -> 8 kHz", DATA / "mimii", None, 8000, "mean"),
        ("DCASE 2020 mono, 16 kHz -> 8 kHz", DATA / "dcase2020" / "dev_data", None, 8000, 0),
        ("DCASE 2023 mono, 16 kHz -> 8 kHz", DATA / "dcase2023" / "dev_data" / "raw", None, 8000, 0),
        ("CWRU 48 kHz DE, 48 kHz -> 12 kHz", DATA / "cwru", 48000, 12000, "DE"),
    ]
    print(f"{'case':40s} {'clips':>5s} {'list ms':>8s} {'soxr clip/s':>12s} {'polyphase clip/s':>17s} "
          f"{'librosa clip/s':>15s} {'soxr/librosa':>13s} {'poly/librosa':>13s}")
    for name, path, only_rate, target, channel in cases:
        start = time.perf_counter()
        records = load_records(path)
        list_ms = 1000 * (time.perf_counter() - start)
        if only_rate:
            records = [r for r in records if r.sample_rate == only_rate]
        ours = best_rate(lambda r: load_audio(r, channel=channel, sample_rate=target), records, args.repeat)
        poly = best_rate(lambda r: load_audio(r, channel=channel, sample_rate=target,
                                              resample_method="polyphase"), records, args.repeat)
        if path.name == "cwru":
            theirs = best_rate(lambda r: mat_librosa(r, target), records, args.repeat)
        else:
            theirs = best_rate(lambda r: librosa.load(str(r.file), sr=target, mono=True), records, args.repeat)
        print(f"{name:40s} {len(records):5d} {list_ms:8.1f} {ours:12.1f} {poly:17.1f} {theirs:15.1f} "
              f"{ours / theirs:13.2f} {poly / theirs:13.2f}")


if __name__ == "__main__":
    main()
