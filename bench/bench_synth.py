"""`synth` end to end against merely writing white noise to WAV.

Run: ``.venv/bin/python bench/bench_synth.py [--clips 200]``. Writes CLIPS
ten-second 16 kHz clips of the fan with 2 workers (default fault set, 16-bit
WAV, manifest with checksums), and, as the floor, the same number of 16-bit
white-noise WAVs of the same length written by one process with numpy and
soundfile. Prints both wall times and their ratio (target <= 3).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from datasets.synth import SynthConfig, synthesize  # noqa: E402

DURATION_S = 10.0
SAMPLE_RATE = 16000


def write_white_noise(out: Path, n_clips: int) -> None:
    """The floor: n_clips white-noise WAVs, 16-bit, one process."""
    rng = np.random.default_rng(0)
    out.mkdir(parents=True)
    for i in range(n_clips):
        sf.write(out / f"noise_{i:08d}.wav", 0.1 * rng.standard_normal(int(DURATION_S * SAMPLE_RATE)),
                 SAMPLE_RATE, subtype="PCM_16")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # 4 classes (train normal, test normal, 2 faults x 1 level): clips per class = clips / 4
    config = SynthConfig(machine="fan", faults=("unbalance", "clogging"), severities=(0.5,),
                         count=args.clips // 4, duration_s=DURATION_S, sample_rate=SAMPLE_RATE, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_white_noise(Path(tmp) / "noise", args.clips)
        floor = time.perf_counter() - t0
        t0 = time.perf_counter()
        records = synthesize(config, Path(tmp) / "synth", workers=args.workers, progress=False)
        elapsed = time.perf_counter() - t0
        shutil.rmtree(tmp, ignore_errors=True)
    audio_s = len(records) * DURATION_S
    print(f"white noise to WAV, 1 process: {args.clips} clips in {floor:.2f} s")
    print(f"synth fan, {args.workers} workers: {len(records)} clips in {elapsed:.2f} s "
          f"({audio_s / elapsed:.0f} s of audio per wall second)")
    print(f"synth / white-noise floor: {elapsed / floor:.2f}x (target <= 3)")


if __name__ == "__main__":
    main()
