"""Feature extraction speed and agreement: pipeline.features vs librosa on real clips.

Clips: the 20 MIMII fan id_00 recordings of ../shared/data (channel 0, 10 s at
16 kHz), repeated ``--repeat`` times. librosa = ``librosa.feature.melspectrogram``
per clip + ``10 log10(mel + eps)``; ours = ``log_mel_batch`` on all clips at once
(single-threaded: FFT + sparse filterbank, no BLAS). librosa's filterbank product
goes through BLAS, which is timed twice: with its default threads (2 here) and
limited to 1 thread (threadpoolctl), because multi-threaded BLAS is slowed a
lot when other processes load the cores. Times are the best of ``--rounds``.

Usage: ``python bench/bench_features.py [--repeat 1] [--rounds 5]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline import features as F  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mimii" / "fan" / "id_00"


def best_time(fn, rounds: int) -> float:
    """Shortest wall time of ``rounds`` calls, seconds."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    import librosa
    from threadpoolctl import threadpool_limits

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="use the 20 clips this many times")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    clips = [sf.read(p)[0][:, 0] for p in sorted(DATA.glob("*/*.wav"))] * args.repeat
    Y = np.stack(clips)  # float64, as read
    sr = 16000
    audio_s = Y.shape[0] * Y.shape[1] / sr
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(other work on the machine slows every figure)")
    print(f"{Y.shape[0]} clips x {Y.shape[1] / sr:g} s at {sr} Hz ({audio_s:g} s of audio); best of {args.rounds}")
    print(f"{'configuration':34s} {'librosa s':>9s} {'1 thread':>8s} {'ours s':>7s} {'speed-up':>14s} "
          f"{'ours audio-s/s':>14s} {'max |diff| dB':>13s}")
    for label, kw in [("DCASE 1024/512, 128 mels, center", dict(n_fft=1024, hop_length=512, n_mels=128)),
                      ("TINYML 1024/512, 32 mels, no pad", dict(n_fft=1024, hop_length=512, n_mels=32, center=False)),
                      ("512/256, 64 mels, 50-7000 Hz", dict(n_fft=512, hop_length=256, n_mels=64, fmin_hz=50.0,
                                                            fmax_hz=7000.0))]:
        lib_kw = dict(n_fft=kw["n_fft"], hop_length=kw["hop_length"], n_mels=kw["n_mels"],
                      center=kw.get("center", True), fmin=kw.get("fmin_hz", 0.0), fmax=kw.get("fmax_hz"))

        def with_librosa():
            return [10 * np.log10(librosa.feature.melspectrogram(y=y, sr=sr, **lib_kw) + F.EPS) for y in Y]

        def ours():
            return F.log_mel_batch(Y, sr, **kw)

        ref, out = with_librosa(), ours()  # also warms caches
        diff = max(float(np.max(np.abs(o - r))) for o, r in zip(out, ref))
        t_lib, t_ours = best_time(with_librosa, args.rounds), best_time(ours, args.rounds)
        with threadpool_limits(limits=1):
            t_lib1 = best_time(with_librosa, args.rounds)
        speedup = f"{t_lib / t_ours:5.1f}x / {t_lib1 / t_ours:4.1f}x"
        print(f"{label:34s} {t_lib:9.3f} {t_lib1:8.3f} {t_ours:7.3f} {speedup:>14s} {audio_s / t_ours:14.0f} "
              f"{diff:13.2e}")

    print()
    print(f"{'extract_batch (features -> vectors)':34s} {'s':>9s} {'audio-s/s':>10s} {'vectors':>8s}")
    for name, cfg in [("DCASE_BASELINE (640-d)", F.DCASE_BASELINE), ("TINYML (128-d)", F.TINYML),
                      ("FAN_LOWBAND (16-d) on 8-ch clips", None),
                      ("vibration 4096/2048 16+16+3", F.FeatureConfig(kind="vibration", n_fft=4096, hop_length=2048,
                                                                      n_mels=16, n_frames=1, center=False))]:
        if cfg is None:
            Y8 = np.stack([sf.read(p)[0] for p in sorted(DATA.glob("*/*.wav"))] * args.repeat)
            t = best_time(lambda: F.extract_batch(F.FAN_LOWBAND, Y8), args.rounds)
            n = F.extract_batch(F.FAN_LOWBAND, Y8).shape[1]
        else:
            t = best_time(lambda: F.extract_batch(cfg, Y), args.rounds)
            n = F.extract_batch(cfg, Y).shape[1]
        print(f"{name:34s} {t:9.3f} {audio_s / t:10.0f} {n * Y.shape[0]:8d}")


if __name__ == "__main__":
    main()
