"""What any sound clip costs before its machine makes a sound: the floor under ``bench_generators``.

Run: ``.venv/bin/python bench/bench_sound_floor.py``. For a 10-s clip at 16 kHz on one core,
times the steps every sound machine's clip goes through whatever the machine is (best of 5):

- one spectrally shaped Gaussian noise, the cheapest broadband source a machine can have
  (``white_spectrum`` + ``shape``: every sound machine has at least one);
- the background noise with the microphone's response (``colored_noise``, pink);
- the recording chain on the machine's sound (``apply_recording``: three audiomentations filters);
- the float64 sums, the SNR scaling and the gain of ``render_clip``.

Their sum, as x real time, bounds what a sound generator can reach with this recording chain
and this noise model, before any tone, modulation, impact or fault is rendered.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from generators.noise import colored_noise, scale_to_snr, white_spectrum  # noqa: E402
from generators.recording import apply_recording, draw_recording, noise_response  # noqa: E402
from generators.sound_dsp import rfft_frequencies, shape, tilt  # noqa: E402

DURATION_S = 10.0
SAMPLE_RATE = 16000
REPEATS = 5


def best_ms(fn) -> float:
    """Best wall time of ``fn`` over REPEATS runs after a warm-up, ms."""
    fn()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    n = int(DURATION_S * SAMPLE_RATE)
    rng = np.random.default_rng(0)
    values = draw_recording(np.random.default_rng(1), sample_rate=SAMPLE_RATE)
    magnitude = tilt(rfft_frequencies(n, SAMPLE_RATE), corner_hz=500.0, slope_db_per_octave=6.0)
    source = shape(white_spectrum(rng, n), magnitude, n).astype(np.float64)
    noise = colored_noise(rng, n, "pink")
    steps = {
        "shaped Gaussian noise (one machine source)": lambda: shape(white_spectrum(rng, n), magnitude, n),
        "background noise with the microphone's response":
            lambda: colored_noise(rng, n, "pink", response=noise_response(values, sample_rate=SAMPLE_RATE)),
        "recording chain on the machine's sound (audiomentations)":
            lambda: apply_recording(source, sample_rate=SAMPLE_RATE, values=values, source=True),
        "sums, SNR scaling, gain": lambda: source + scale_to_snr(source, noise, 10.0),
    }
    print(f"fixed cost of a {DURATION_S:.0f}-s sound clip at {SAMPLE_RATE} Hz, one core (best of {REPEATS})")
    total = 0.0
    for name, fn in steps.items():
        ms = best_ms(fn)
        total += ms
        print(f"  {name:<58} {ms:6.2f} ms")
    print(f"  {'floor':<58} {total:6.2f} ms = {1e3 * DURATION_S / total:.0f}x real time at most")


if __name__ == "__main__":
    main()
