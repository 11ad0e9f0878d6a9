"""Generator throughput: seconds of signal rendered per wall second on one core, per machine.

Run: ``.venv/bin/python bench/bench_generators.py [machine ...]`` (all machines by default; TimeSynth
comparison needs ``make bench-deps``). Each machine renders a normal clip and one clip per fault
(10 s at 16 kHz, full chain: parameters, machine, fault, noise, ideal sensor);
TimeSynth renders a sinusoid plus Gaussian noise of the same length, the
simplest signal it offers.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from generators.registry import get_machine, machine_names, render_clip  # noqa: E402

DURATION_S = 10.0
SAMPLE_RATE = 16000
REPEATS = 3


def realtime_factor(fn) -> float:
    """Seconds of signal per wall second for ``fn`` rendering DURATION_S of signal (best of REPEATS)."""
    fn()  # warm-up
    best = min(_timed(fn) for _ in range(REPEATS))
    return DURATION_S / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(names: list[str]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    unknown = sorted(set(names) - set(machine_names()))
    if unknown:
        raise SystemExit(f"error: unknown machine(s) {', '.join(unknown)}: expected some of {', '.join(machine_names())}")
    print(f"generator throughput, {DURATION_S:.0f} s clips at {SAMPLE_RATE} Hz, one core "
          f"(x real time = seconds of signal per wall second)")
    print(f"{'machine':<12} {'class':<20} {'x real time':>12}")
    worst = np.inf
    for name in names or machine_names():
        machine = get_machine(name)
        for fault in ["none", *machine.faults]:
            factor = realtime_factor(lambda: render_clip(name, fault=fault, severity=0.7, duration_s=DURATION_S,
                                                         sample_rate=SAMPLE_RATE, seed=1,
                                                         fixed={"noise_color": "pink"}))
            worst = min(worst, factor)
            print(f"{name:<12} {fault:<20} {factor:>12.0f}")
    print(f"slowest generator: {worst:.0f}x real time per core (target >= 1000x)")
    try:
        import timesynth as ts
    except Exception as exc:  # noqa: BLE001 - optional comparison
        print(f"TimeSynth not available ({exc}); run `make bench-deps`")
        return
    times = ts.TimeSampler(stop_time=DURATION_S).sample_regular_time(num_points=int(DURATION_S * SAMPLE_RATE))
    series = ts.TimeSeries(ts.signals.Sinusoidal(frequency=50.0), noise_generator=ts.noise.GaussianNoise(std=0.3))
    print(f"TimeSynth sinusoid + Gaussian noise: {realtime_factor(lambda: series.sample(times)):.0f}x real time")


if __name__ == "__main__":
    main(sys.argv[1:])
