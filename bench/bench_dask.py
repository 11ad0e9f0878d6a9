"""`synth` on a Dask cluster: scaling from 1 to 2 workers, and what a million clips would cost.

Run: ``.venv/bin/python bench/bench_dask.py [--clips 400] [--repeats 3]`` (needs ``faultsynth[dask]``).
Writes CLIPS ten-second 16 kHz fan clips (16-bit WAV, manifest with checksums)
on a Dask ``LocalCluster`` of 1 and then 2 single-threaded worker processes,
and with the local process pool of 1 worker for reference. Each cluster is
started and warmed up (modules imported on its workers) before the timed runs;
the best of REPEATS runs is kept. Prints the wall times, the 1 -> 2 worker
speed-up, the measured cost per clip and from it the time and storage of one
million such clips at N workers (linear scaling assumed; disk and network not
modelled beyond what this machine measured).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datasets.manifest import META_DIR  # noqa: E402
from datasets.synth import SynthConfig, synthesize  # noqa: E402

DURATION_S = 10.0
SAMPLE_RATE = 16000
MILLION = 1_000_000


def _config(clips: int, seed: int) -> SynthConfig:
    # 4 classes (train normal, test normal, 2 faults x 1 level): clips per class = clips / 4
    return SynthConfig(machine="fan", faults=("unbalance", "clogging"), severities=(0.5,), count=max(1, clips // 4),
                       duration_s=DURATION_S, sample_rate=SAMPLE_RATE, seed=seed)


def _timed(config: SynthConfig, tmp: Path, **backend) -> tuple[float, Path]:
    out = tmp / f"run-{time.perf_counter_ns()}"
    t0 = time.perf_counter()
    synthesize(config, out, progress=False, **backend)
    return time.perf_counter() - t0, out


def _best(config: SynthConfig, tmp: Path, repeats: int, **backend) -> float:
    times = []
    for _ in range(repeats):
        elapsed, out = _timed(config, tmp, **backend)
        times.append(elapsed)
        shutil.rmtree(out)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from distributed import LocalCluster

    config = _config(args.clips, seed=0)
    n_clips = 4 * config.count
    times = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        elapsed, out = _timed(config, tmp, workers=1)  # storage of one dataset, then the local reference
        data_bytes = sum(p.stat().st_size for p in out.rglob("*.wav"))
        meta_bytes = sum(p.stat().st_size for p in (out / META_DIR).iterdir())
        shutil.rmtree(out)
        times["local pool, 1 worker"] = _best(config, tmp, args.repeats, workers=1)
        for n in (1, 2):
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                _timed(_config(4 * n, seed=1), tmp, scheduler=cluster.scheduler_address)  # warm-up: imports
                times[f"Dask, {n} worker{'s' if n > 1 else ''}"] = _best(config, tmp, args.repeats,
                                                                          scheduler=cluster.scheduler_address)
    for name, t in times.items():
        print(f"{name}: {n_clips} clips in {t:.2f} s ({n_clips * DURATION_S / t:.0f} s of audio per wall second)")
    one, two = times["Dask, 1 worker"], times["Dask, 2 workers"]
    print(f"speed-up 1 -> 2 Dask workers: {one / two:.2f}x")
    per_clip_s = one / n_clips
    per_clip_bytes = (data_bytes + meta_bytes) / n_clips
    print(f"per clip, one worker: {1000 * per_clip_s:.1f} ms, {per_clip_bytes / 1000:.1f} kB "
          f"(WAV {data_bytes / n_clips / 1000:.1f} kB + manifest and config {meta_bytes / n_clips:.0f} B)")
    storage_gb = MILLION * per_clip_bytes / 1e9
    for n in (1, 2, 8, 32, 128):
        hours = MILLION * per_clip_s / n / 3600
        print(f"1 million 10-s clips at {n:>3} workers: {hours:7.1f} h, {storage_gb:.0f} GB")


if __name__ == "__main__":
    main()
