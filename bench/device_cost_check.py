"""Device-cost model (pipeline/device_cost.py) against measured Cortex-M4 figures.

Usage:  python bench/device_cost_check.py [--qemu]

Prints the estimate next to the figures measured with ``python cli.py export``
and ``python cli.py firmware`` on the shipped fan experiments (README, "Device
export and firmware": 2 s clips at 16 kHz, QEMU ``mps2-an386``, ``-icount
shift=0``), hard-coded below as the reference, and whether each is within
10 %. ``--qemu`` also builds the runtime for these and a few other shapes with
synthetic int8 weights (arm-none-eabi-gcc and qemu-system-arm needed; about 2 s
per build) and compares the estimate with what QEMU counts: use it to
check the constants after changing firmware/ or the toolchain
(``bench/device_cost_fit.py`` re-fits them). Exit
status 1 when a README point is off by more than 10 %.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from pipeline.device_cost import estimate_cost  # noqa: E402
from pipeline.features import FeatureConfig  # noqa: E402

#: Relative tolerance of the estimate against the measured README figures.
TOLERANCE = 0.10
#: Clip length of the shipped fan experiments the README figures were measured on, seconds.
CLIP_SECONDS = 2.0

#: The `tinyml` and `fan_lowband` presets as they were measured (pipeline.features).
TINYML = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=32, n_frames=4,
                       center=False, channel=0)
FAN_LOWBAND = FeatureConfig(kind="log_mel", sample_rate=16000, n_fft=1024, hop_length=512, n_mels=16, n_frames=1,
                            fmin_hz=0.0, fmax_hz=500.0, center=False, channel=0)
TINYML_AE = {"name": "autoencoder", "hidden_units": (32,), "bottleneck": 8, "tinyml": True, "aggregate": "mean"}

#: MEASURED with `python cli.py firmware` (README device table and the int8 inference benchmark row):
#: (label, features, detector spec, flash B, RAM B, instructions per audio second,
#:  model + score instructions per window or None).
MEASURED = [
    ("fan, TinyML AE 128-32-8-32-128 (tinyml)", TINYML, TINYML_AE, 35_980, 14_544, 2.48e6, 25_432),
    ("fan, TinyML AE 16-32-8-32-16 (fan_lowband)", FAN_LOWBAND, TINYML_AE, 22_704, 13_864, 1.71e6, None),
    ("fan, k-means 8 (tinyml)", TINYML, {"name": "kmeans", "n_clusters": 8, "aggregate": "mean"},
     26_132, 15_524, 1.99e6, None),
]


def _rel(estimate: float, measured: float) -> float:
    return estimate / measured - 1.0


def check_readme() -> bool:
    """Print estimate vs the measured README figures; True when all are within TOLERANCE."""
    ok = True
    print(f"Estimate vs MEASURED (`python cli.py firmware`, README; {CLIP_SECONDS:g} s clips), "
          f"tolerance {TOLERANCE:.0%}")
    header = f"{'model':46s} {'figure':26s} {'measured':>12s} {'estimate':>12s} {'diff':>7s}  within"
    print(header)
    print("-" * len(header))
    for label, features, spec, flash, ram, ips, per_window in MEASURED:
        cost = estimate_cost(features, spec, clip_seconds=CLIP_SECONDS)
        steady = estimate_cost(features, spec)
        rows = [("flash, B", flash, cost.flash_bytes), ("RAM, B", ram, cost.ram_bytes),
                ("instructions / audio s", ips, cost.instructions_per_second)]
        if per_window is not None:
            rows.append(("model+score / window", per_window,
                         cost.breakdown["instructions_per_unit"]["window_model_and_score"]))
        for i, (figure, measured, estimate) in enumerate(rows):
            rel = _rel(estimate, measured)
            good = abs(rel) <= TOLERANCE
            ok &= good
            print(f"{label if i == 0 else '':46s} {figure:26s} {measured:12,.0f} {estimate:12,.0f} {rel:+7.1%}  "
                  f"{'yes' if good else 'NO'}")
        print(f"{'':46s} {'(steady streaming: instr/s)':26s} {'':12s} {steady.instructions_per_second:12,.0f} "
              f"{_rel(steady.instructions_per_second, ips):+7.1%}")
    return ok


# ---------------------------------------------------------------- optional: QEMU builds with synthetic weights

def _scorer(config: FeatureConfig, spec: dict, rng: np.random.Generator):
    """A device scorer of the right shapes with random int8 tables (costs do not depend on the values)."""
    from pipeline.device_scorer import AutoencoderScorer, KMeansScorer
    from pipeline.int8_graph import DenseLayer, Int8Graph

    dim = config.dim
    gain = rng.uniform(0.5, 2.0, dim).astype(np.float32)
    bias = rng.uniform(-60.0, -20.0, dim).astype(np.float32)
    if spec["name"] == "kmeans":
        return KMeansScorer(gain=gain, bias=bias, threshold_real=50.0,
                            centroids=rng.integers(-60, 60, (spec["n_clusters"], dim)).astype(np.int8))
    hidden = list(spec["hidden_units"])
    widths = [dim, *hidden, spec["bottleneck"], *hidden[::-1], dim]
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        last = i == len(widths) - 2
        layers.append(DenseLayer(weights=rng.integers(-127, 128, (n_out, n_in)).astype(np.int8),
                                 bias=rng.integers(-2000, 2000, n_out).astype(np.int32),
                                 multiplier=np.full(n_out, 1 << 30, np.int32), shift=np.full(n_out, -8, np.int32),
                                 in_offset=0, out_offset=-3, act_min=-128 if last else -3, act_max=127,
                                 per_channel=True))
    graph = Int8Graph(layers=layers, input_scale=0.05, input_zero_point=-2, output_scale=0.05,
                      output_zero_point=-3, operators=["FULLY_CONNECTED"])
    return AutoencoderScorer(gain=gain, bias=bias, graph=graph, in_to_out=(1 << 30, 1),
                             threshold_int=100_000)


def measure_qemu(config: FeatureConfig, spec: dict, clip_files: list[Path], seconds: float, work: Path) -> dict:
    """Flash, RAM and instructions per audio second of one Cortex-M4 build under QEMU."""
    from pipeline import c_sources, firmware_build as B

    scorer = _scorer(config, spec, np.random.default_rng(0))
    c_sources.write_c_sources(work / "c", config, scorer)
    elf = B.build_m4(work / "c", work / "m4")
    sizes = B.elf_sizes(elf)
    run = B.run_qemu(elf, clip_files, kind=scorer.kind, bench=True)
    return {"flash": sizes["text"] + sizes["data"], "ram": sizes["data"] + sizes["bss"] + run.stack_bytes,
            "ips": sum(r.ticks for r in run.clips) * run.instructions_per_tick / seconds,
            "per_window": run.bench_instructions_per_window}


def check_qemu() -> None:
    """Build and run a few shapes in QEMU; print estimate vs QEMU."""
    from generators.registry import render_clip
    from pipeline import firmware_build as B

    if B.arm_tools() is None:
        print(f"\n--qemu skipped: {', '.join(B.missing_arm_tools())} not installed")
        return

    def ae(hidden: tuple, bottleneck: int) -> dict:
        return {"name": "autoencoder", "hidden_units": hidden, "bottleneck": bottleneck}

    shapes = [(TINYML, ae((32,), 8)), (FAN_LOWBAND, ae((32,), 8)), (TINYML, {"name": "kmeans", "n_clusters": 8}),
              (FeatureConfig(n_fft=512, hop_length=256, n_mels=64, n_frames=2, center=False), ae((64,), 16)),
              (FeatureConfig(n_fft=2048, hop_length=512, n_mels=128, n_frames=5, center=False), ae((128, 128), 8)),
              (FeatureConfig(n_fft=256, hop_length=128, n_mels=32, n_frames=4, center=True),
               {"name": "kmeans", "n_clusters": 32})]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = []
        for i, (fault, severity) in enumerate((("none", 0.0), ("clogging", 1.0), ("unbalance", 0.5))):
            y = render_clip("fan", fault=fault, severity=severity, duration_s=CLIP_SECONDS, sample_rate=16000,
                            seed=11 + i).signal
            clips.append(B.write_clip(np.asarray(y, np.float32), tmp / f"clip{i}.f32"))
        seconds = CLIP_SECONDS * len(clips)
        print(f"\nEstimate vs QEMU (synthetic int8 weights, {len(clips)} synthetic fan clips of {CLIP_SECONDS:g} s)")
        print(f"{'front end':34s} {'detector':28s} {'flash B':>15s} {'RAM B':>13s} {'M instr / audio s':>19s} "
              f"{'model+score / window':>22s}")
        for i, (config, spec) in enumerate(shapes):
            got = measure_qemu(config, spec, clips, seconds, tmp / f"build{i}")
            cost = estimate_cost(config, spec, clip_seconds=CLIP_SECONDS)
            window = cost.breakdown["instructions_per_unit"]["window_model_and_score"]
            front = (f"{config.n_mels} mels x {config.n_frames}, n_fft {config.n_fft}/{config.hop_length}"
                     + (", center" if config.center else ""))
            det = (f"k-means {spec['n_clusters']}" if spec["name"] == "kmeans" else
                   "AE " + "-".join(map(str, [*spec["hidden_units"], spec["bottleneck"]])))
            print(f"{front:34s} {det:28s} {got['flash']:7,d}/{_rel(cost.flash_bytes, got['flash']):+6.1%} "
                  f"{got['ram']:6,d}/{_rel(cost.ram_bytes, got['ram']):+5.1%} "
                  f"{got['ips'] / 1e6:11.2f}/{_rel(cost.instructions_per_second, got['ips']):+6.1%} "
                  f"{got['per_window']:13,.0f}/{_rel(window, got['per_window']):+6.1%}")
        print("(each cell: QEMU figure / estimate's relative difference)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--qemu", action="store_true", help="also build and count in QEMU (toolchain needed)")
    args = parser.parse_args()
    ok = check_readme()
    if args.qemu:
        check_qemu()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
