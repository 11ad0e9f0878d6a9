"""Re-fit the device cost model's instruction constants (pipeline/device_cost.py) from QEMU builds.

Usage:  python bench/device_cost_fit.py [--save MEASUREMENTS.jsonl] [--load MEASUREMENTS.jsonl]

Builds the C runtime for 31 shapes (log-mel front ends, k-means, autoencoders,
vibration front ends) with synthetic int8 weights, runs each under QEMU
``mps2-an386`` (``-icount shift=0``) on three 2 s synthetic clips, and prints
the least-squares constants next to the ones in pipeline/device_cost.py, then
the estimate against every build. Needs arm-none-eabi-gcc and qemu-system-arm
(about 3 minutes on 2 cores). Copy the fitted values into device_cost.py by
hand after a runtime or compiler change; constants the data cannot separate
stay fixed at the values the disassembly gives (see FIXED).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "bench"))

import device_cost_check as check  # noqa: E402
from pipeline import device_cost as dc  # noqa: E402
from pipeline.features import FeatureConfig  # noqa: E402

CLIP_SECONDS = 2.0
N_CLIPS = 3
#: Per frame, per moved sample, per twiddle set: collinear with the fitted terms, read off the disassembly.
FIXED = {"frame": 314.0, "moved": 0.83, "twiddle_set": 30.0}

KM8 = {"name": "kmeans", "n_clusters": 8}
KM1 = {"name": "kmeans", "n_clusters": 1}
VIB = FeatureConfig(kind="vibration", sample_rate=12000, n_fft=1024, hop_length=512, n_mels=16, n_frames=1,
                    center=False, n_envelope_bands=16, envelope_fmax_hz=600.0)


def _ae(hidden: tuple, bottleneck: int) -> dict:
    return {"name": "autoencoder", "hidden_units": hidden, "bottleneck": bottleneck}


def shapes() -> list[tuple[str, FeatureConfig, dict]]:
    """(group, features, detector spec) of every build."""
    t = check.TINYML
    front = [("front", replace(t, n_fft=n, hop_length=h, n_mels=m, n_frames=f, fmax_hz=fx, center=c), KM8)
             for n, h, m, f, fx, c in [(256, 128, 32, 4, None, False), (512, 256, 64, 2, None, False),
                                       (1024, 512, 32, 4, None, False), (2048, 512, 128, 5, None, False),
                                       (1024, 256, 16, 1, 500.0, False), (512, 512, 8, 1, None, True),
                                       (2048, 1024, 64, 3, 4000.0, False), (256, 256, 24, 2, None, True),
                                       (4096, 2048, 40, 2, None, False), (1024, 1024, 128, 1, None, False)]]
    ae = [("ae", t, _ae(h, b)) for h, b in [((32,), 8), ((64,), 16), ((128, 128), 8), ((16,), 4), ((48, 24), 6),
                                           ((128, 128, 128, 128), 8), ((30,), 7)]]
    ae += [("ae", replace(t, n_mels=m, n_frames=f), _ae((32,), 8)) for m, f in [(16, 1), (40, 5), (13, 3)]]
    km = [("km", t, {"name": "kmeans", "n_clusters": k}) for k in (1, 4, 16, 64)]
    vib = [("vib", c, KM1) for c in (
        VIB, replace(VIB, n_fft=2048, hop_length=1024, envelope_fmax_hz=1000.0),
        replace(VIB, n_fft=256, hop_length=256, n_mels=8, n_envelope_bands=8, n_frames=2, center=True,
                envelope_fmax_hz=3000.0, fmin_hz=500.0),
        replace(VIB, n_mels=32, n_envelope_bands=32, envelope_fmin_hz=1500.0, fmax_hz=5000.0),
        replace(VIB, n_fft=512, hop_length=128, envelope_fmax_hz=2000.0, envelope_fmin_hz=1500.0),
        replace(VIB, n_fft=512, hop_length=256), replace(VIB, n_fft=4096, hop_length=2048, envelope_fmin_hz=500.0))]
    return front + ae + km + vib


def measure(out: Path | None) -> list[dict]:
    """Build and run every shape in QEMU; one record per build."""
    from generators.registry import render_clip
    from pipeline import firmware_build as B

    if B.arm_tools() is None:
        raise SystemExit(f"needs {', '.join(B.missing_arm_tools())}")
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips: dict[int, list[Path]] = {}
        for i, (group, config, spec) in enumerate(shapes()):
            sr = int(config.sample_rate)
            if sr not in clips:
                machine, faults = (("bearing", ("none", "outer_race", "inner_race")) if config.kind == "vibration"
                                   else ("fan", ("none", "clogging", "unbalance")))
                clips[sr] = [B.write_clip(np.asarray(render_clip(machine, fault=f, severity=0.0 if f == "none" else 0.5,
                                                                 duration_s=CLIP_SECONDS, sample_rate=sr,
                                                                 seed=11 + k).signal, np.float32),
                                          work / f"clip{sr}_{k}.f32") for k, f in enumerate(faults)]
            got = check.measure_qemu(config, spec, clips[sr], CLIP_SECONDS * N_CLIPS, work / f"build{i}")
            records.append({"group": group, "config": config.to_dict(), "spec": spec, **got})
            print(f"{group:5s} {i:2d} flash {got['flash']:7,d} RAM {got['ram']:7,d} "
                  f"{got['ips'] / 1e6:7.2f} M/s window {got['per_window']:9,.0f}", flush=True)
    if out is not None:
        out.write_text("".join(json.dumps(r) + "\n" for r in records))
    return records


def _counts(config: FeatureConfig) -> tuple[int, int]:
    """Frames and vectors per clip of CLIP_SECONDS."""
    n = int(round(CLIP_SECONDS * config.sample_rate))
    frames = (1 + n // config.hop_length) if config.center else 1 + (n - config.n_fft) // config.hop_length
    return frames, frames - config.n_frames + 1


def fit(records: list[dict]) -> None:
    """Least squares of the log-mel, autoencoder and vibration constants; print them and the residuals."""
    rows, ys = [], []
    for r in records:
        if r["group"] == "vib":
            continue
        cfg = FeatureConfig.from_dict(r["config"])
        frames, vectors = _counts(cfg)
        radix4, sets, radix2 = dc.fft_butterflies(cfg.n_fft)
        nnz = dc.priced_mel_weights(cfg.sample_rate, cfg.n_fft, cfg.n_mels, float(cfg.fmin_hz), cfg.fmax_hz)
        per_clip_fixed = frames * (FIXED["frame"] + FIXED["moved"] * (cfg.n_fft - cfg.hop_length)
                                   + FIXED["twiddle_set"] * sets)
        ys.append(r["ips"] * CLIP_SECONDS - vectors * r["per_window"] - per_clip_fixed)
        rows.append([frames * radix4, frames * radix2, frames * cfg.n_fft // 2, frames * nnz, frames * cfg.n_mels,
                     vectors * cfg.dim])
    names = ["radix4_butterfly", "radix2_butterfly", "spectrum_bin", "mel_weight", "mel_band", "quantised_feature"]
    front, *_ = np.linalg.lstsq(np.array(rows, float), np.array(ys), rcond=None)
    current = [dc.INSTR_PER_RADIX4_BUTTERFLY, dc.INSTR_PER_RADIX2_BUTTERFLY, dc.INSTR_PER_SPECTRUM_BIN,
               dc.INSTR_PER_MEL_WEIGHT, dc.INSTR_PER_MEL_BAND, dc.INSTR_PER_QUANTISED_FEATURE]
    print("\nlog-mel front end and input quantisation (fitted / in device_cost.py):")
    for name, value, now in zip(names, front, current):
        print(f"  {name:22s} {value:10.2f} {now:10.2f}")

    rows, ys = [], []
    for r in records:
        if r["spec"]["name"] != "autoencoder":
            continue
        dim, s = FeatureConfig.from_dict(r["config"]).dim, r["spec"]
        widths = (dim, *s["hidden_units"], s["bottleneck"], *reversed(s["hidden_units"]), dim)
        pairs = list(zip(widths[:-1], widths[1:]))
        rows.append([sum(a * b for a, b in pairs), sum(widths[1:]), len(pairs), dim, 1.0])
        ys.append(r["per_window"])
    model, *_ = np.linalg.lstsq(np.array(rows, float), np.array(ys), rcond=None)
    current = [dc.INSTR_PER_MAC, dc.INSTR_PER_DENSE_OUTPUT, dc.INSTR_PER_DENSE_LAYER, dc.INSTR_PER_SCORED_FEATURE,
               dc.INSTR_PER_WINDOW_AUTOENCODER]
    print("autoencoder window (fitted / in device_cost.py):")
    for name, value, now in zip(["mac", "dense_output", "dense_layer", "scored_feature", "window"], model, current):
        print(f"  {name:22s} {value:10.2f} {now:10.2f}")

    for full in (True, False):
        rows, ys = [], []
        for r in records:
            cfg = FeatureConfig.from_dict(r["config"])
            if r["group"] != "vib" or dc.envelope_full_band(cfg.sample_rate, cfg.n_fft, float(cfg.envelope_fmin_hz),
                                                             cfg.fmax_hz) != full:
                continue
            frames, vectors = _counts(cfg)
            known = frames * (dc.fft_instructions(cfg.n_fft) * dc.VIBRATION_FFTS[full]
                              + dc.INSTR_PER_MEL_BAND * (cfg.n_mels + cfg.n_envelope_bands) + FIXED["frame"]
                              + FIXED["moved"] * (cfg.n_fft - cfg.hop_length))
            known += vectors * (dc.INSTR_PER_QUANTISED_FEATURE * cfg.dim + r["per_window"])
            rows.append([frames * cfg.n_fft // 2, frames])
            ys.append(r["ips"] * CLIP_SECONDS - known)
        per_bin, per_frame = np.linalg.lstsq(np.array(rows, float), np.array(ys), rcond=None)[0]
        print(f"vibration, full demodulation band {full}: per bin {per_bin:.1f} "
              f"({dc.INSTR_PER_VIBRATION_BIN[full]:.1f}), per frame {per_frame:.1f} "
              f"({dc.INSTR_PER_VIBRATION_FRAME[full]:.1f})")

    print("\nestimate vs QEMU (relative difference): flash, RAM, instructions per audio second, model + score")
    worst = np.zeros(4)
    for r in records:
        cfg = FeatureConfig.from_dict(r["config"])
        spec = {k: tuple(v) if isinstance(v, list) else v for k, v in r["spec"].items()}
        cost = dc.estimate_cost(cfg, spec, clip_seconds=CLIP_SECONDS)
        rel = np.array([cost.flash_bytes / r["flash"], cost.ram_bytes / r["ram"],
                        cost.instructions_per_second / r["ips"],
                        cost.breakdown["instructions_per_unit"]["window_model_and_score"] / r["per_window"]]) - 1
        worst = np.maximum(worst, np.abs(rel))
        print(f"  {r['group']:5s} n_fft {cfg.n_fft:5d} {spec['name']:12s} " + " ".join(f"{v:+7.2%}" for v in rel))
    print("  worst: " + " ".join(f"{v:.2%}" for v in worst))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", type=Path, default=None, help="write the measurements (JSON lines)")
    parser.add_argument("--load", type=Path, default=None, help="fit saved measurements instead of building")
    args = parser.parse_args()
    if args.load is not None:
        records = [json.loads(line) for line in args.load.read_text().splitlines() if line.strip()]
    else:
        records = measure(args.save)
    fit(records)
    return 0


if __name__ == "__main__":
    sys.exit(main())
