"""Synthetic-to-real on CWRU: amplitude calibration, the ball-fault signature, and a fault-type classifier.

Run: ``.venv/bin/python bench/cwru_sim2real.py`` (about a minute). Three parts.

1. Amplitude calibration. For every shared drive-end 0 HP fault recording (12 kHz IR/B/OR at 0.007,
   0.014, 0.021 in and the 48 kHz 0.007 in ones) the DE-channel RMS in g, and the fault-attributable
   RMS ``sqrt(rms**2 - rms_normal**2)`` (``rms_normal``: the normal baseline ``normal_0_97.mat``,
   resampled to 12 kHz, 0.071 g), against the mean fault-component RMS of 20 synthetic 2 s clips
   (seeds 0..19, rpm 1797, bearing 6205, every other parameter drawn from its default range) at the
   matching severity (``defect_mm = 0.6*severity``: 0.007 in -> 0.296, 0.014 in -> 0.593, 0.021 in -> 0.889).
   The "before" column was measured the same way with the constants in place before the first
   recalibration (impact_g_per_mm 5..25, linear in defect width, no per-type factor, old ball model).
   The fault-attributable RMS is what an absolute-scale injection into the real baseline must add.

2. Ball faults: kurtosis, and the squared-envelope spectrum (band 2-5.5 kHz) of the real ball
   recordings near FTF, BSF, 2xBSF, BPFO and BPFI (largest line within +/-1 % and its prominence over
   the median envelope level, 5-400 Hz), beside the same for synthetic ball clips. Then the measures
   the ball model is calibrated on: kurtosis of the 2-5.5 kHz signal (median over 1 s segments) and
   the squared envelope's modulation depth at FTF and 2xBSF
   (``generators.vibration_analysis.envelope_modulation``), real files against 12 synthetic 3 s clips
   (seeds 0..11, severities 0.296 / 0.593 / 0.889 in turn, default draws).

   Race-fault impact trains (the load variations and timing the generator reproduces): impacts found as
   the 2-5 kHz envelope's maxima (``generators.vibration_analysis.impact_train``) in the real files and in
   12 synthetic 4 s clips per fault (seeds 0..11, default draws, severity 0.296); their strength's
   relative RMS variation at the shaft rate (12 phase bins) and at the rate a rolling element returns to
   the defect (FTF outer race, f_r - FTF inner race; 9 bins), and the timing jitter of strong impacts
   (fraction of the period; measurement floor ~0.5 % at 12 kHz).

   Envelope features (part 3's 17) of the real 12 kHz segments against synthetic clips of the same fault
   (120 clips, 1 s, severities 0.296 / 0.593 / 0.889 in turn, rpm 1720..1800, seeds from
   ``SeedSequence(7)``): the real median of each feature inside or outside the synthetic 5-95 % range.

3. Fault-type classifier (inner_race, outer_race, ball), fixed before any test accuracy was seen:

   * training data: ONLY ``render_clip("bearing", ...)`` at 12 kHz, 1 s clips, 300 per class,
     severity uniform in 0.2..1, ``fixed={"rpm": (1720, 1800), "bearing": "6205"}``, every other
     nuisance parameter (resonances, damping, load zone, slip, noise colour, SNR 10..30 dB) drawn from
     its default range (domain randomisation); seeds from ``SeedSequence(2024)``;
   * features (physics of localised bearing faults, all scale-free): the signal band-passed 1-5.5 kHz
     (the structural resonances the impacts ring; shaft-rate and electrical lines lie below), its
     squared-envelope spectrum, and for each characteristic frequency ``f`` (from the clip's shaft speed:
     the generator's rpm label, or the CWRU file's rpm) the log prominence
     ``ln(max amplitude within f +/- max(1.5 Hz, 1 %) / median amplitude 5..500 Hz)`` at
     BPFO, 2 BPFO, 3 BPFO; BPFI, 2 BPFI, BPFI - f_r, BPFI + f_r; BSF, 2xBSF, 4xBSF, 2xBSF - FTF,
     2xBSF + FTF; FTF, f_r, f_r - FTF; plus ln(3 + excess kurtosis) and ln(crest factor) of the band-passed
     signal (17 features);
   * classifier: ``RandomForestClassifier(n_estimators=300, min_samples_leaf=2, random_state=0)``;
   * test A (synthetic -> real): the nine 12 kHz drive-end fault files, each cut into 1 s segments
     (10 per file, 30 per class);
   * test B (synthetic -> injected): the normal baseline resampled to 12 kHz, cut into five 1 s
     segments, each with a synthetic fault added by ``datasets.blend.inject_clip`` (fault_scale
     "absolute", rpm 1797, bearing 6205) at severities 0.296, 0.593, 0.889, seeds 0 and 1
     (30 per class);
   * comparison (real -> real): the same features and classifier trained on real segments only, whole
     files held out: three folds, each holding out every file of one defect size (the 48 kHz 0.007 in
     files, resampled to 12 kHz, belong to the 0.007 in fold).

   Printed: overall and per-class accuracy and the confusion matrix (rows true, columns predicted).
   Target: >= 0.90 overall, >= 0.80 per class.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from scipy.signal import butter, sosfiltfilt  # noqa: E402
from scipy.stats import kurtosis  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from datasets.audio import load_audio, resample  # noqa: E402
from datasets.blend import inject_clip  # noqa: E402
from datasets.loaders import load_records  # noqa: E402
from generators.bearing import BEARINGS  # noqa: E402
from generators.registry import render_clip  # noqa: E402
from generators.vibration_analysis import (envelope_modulation, impact_train, periodic_variation,  # noqa: E402
                                          spacing_jitter, squared_envelope_spectrum)

CWRU = Path(__file__).resolve().parents[2] / "shared" / "data" / "cwru"
RATE = 12000
CLASSES = ("inner_race", "outer_race", "ball")
CODES = {"IR": "inner_race", "B": "ball", "OR": "outer_race"}
SIZES_IN = (0.007, 0.014, 0.021)
#: Severity of a CWRU defect: defect_mm = 0.6 * severity.
SEVERITY_OF = {s: s * 25.4 / 0.6 for s in SIZES_IN}
ORDERS = {k: v for k, v in BEARINGS["6205"].orders().items()}
FEATURE_NAMES = ("bpfo", "2bpfo", "3bpfo", "bpfi", "2bpfi", "bpfi-fr", "bpfi+fr", "bsf", "2bsf", "4bsf",
                 "2bsf-ftf", "2bsf+ftf", "ftf", "fr", "fr-ftf", "ln(3+kurtosis)", "ln(crest)")
FIXED = {"rpm": 1797, "bearing": "6205"}
#: Synthetic fault RMS (g, mean of 20 seeds, 2 s) with the constants before the recalibration.
BEFORE = {"inner_race": (0.373, 0.733, 1.106), "ball": (0.279, 0.548, 0.826), "outer_race": (0.630, 1.239, 1.869)}
BAND_HZ = (1000.0, 5500.0)
N_TRAIN_PER_CLASS = 300


def fault_files() -> list[tuple[Path, str, float]]:
    """(path, fault, size in inches) of every shared drive-end fault file, 12 kHz first."""
    out = []
    for path in sorted(CWRU.glob("*_Drive_End_*.mat")):
        rec = load_records(path)[0]
        out.append((path, rec.fault, float(rec.params["fault_size_in"])))
    return sorted(out, key=lambda t: (not t[0].name.startswith("12k"), t[1], t[2]))


def de_signal(path: Path) -> tuple[np.ndarray, float, int]:
    """DE channel in g at its own rate, the file's rpm and rate."""
    rec = load_records(path)[0]
    return load_audio(rec, channel="DE").astype(np.float64), float(rec.params["rpm"]), rec.sample_rate


def de_at_12k(path: Path) -> tuple[np.ndarray, float]:
    x, rpm, rate = de_signal(path)
    if rate != RATE:
        x = resample(x, from_rate=rate, to_rate=RATE).astype(np.float64)
    return x - x.mean(), rpm


def segments(x: np.ndarray, seconds: float = 1.0) -> np.ndarray:
    n = int(seconds * RATE)
    return x[: x.size // n * n].reshape(-1, n)


def synthetic_fault_rms(fault: str, severity: float, seeds: int = 20, duration_s: float = 2.0) -> float:
    """Mean fault-component RMS (g) of synthetic clips at rpm 1797, bearing 6205."""
    return float(np.mean([np.sqrt(np.mean(render_clip("bearing", fault=fault, severity=severity,
                                                        duration_s=duration_s, sample_rate=RATE, seed=seed,
                                                        fixed=FIXED).fault ** 2)) for seed in range(seeds)]))


# --- features ---------------------------------------------------------------------------------------

_SOS = butter(4, BAND_HZ, btype="bandpass", fs=RATE, output="sos")


def features(x: np.ndarray, shaft_hz: float) -> np.ndarray:
    """The 17 physics features of one clip (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    y = sosfiltfilt(_SOS, x - x.mean())
    freqs, amp = squared_envelope_spectrum(y, RATE)
    floor = float(np.median(amp[(freqs >= 5) & (freqs <= 500)])) + 1e-30
    o = {k: v * shaft_hz for k, v in ORDERS.items()}
    fr, ftf, bsf2 = shaft_hz, o["ftf"], 2 * o["bsf"]
    targets = [o["bpfo"], 2 * o["bpfo"], 3 * o["bpfo"],
               o["bpfi"], 2 * o["bpfi"], o["bpfi"] - fr, o["bpfi"] + fr,
               o["bsf"], bsf2, 2 * bsf2, bsf2 - ftf, bsf2 + ftf,
               ftf, fr, fr - ftf]
    out = []
    for f in targets:
        mask = np.abs(freqs - f) <= max(1.5, 0.01 * f)
        out.append(np.log(float(amp[mask].max()) / floor + 1e-12))
    out.append(np.log(3 + max(float(kurtosis(y)), -2.9)))
    out.append(np.log(float(np.max(np.abs(y)) / (np.std(y) + 1e-30))))
    return np.array(out)


def classifier() -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=300, min_samples_leaf=2, random_state=0, n_jobs=-1)


def report(title: str, truth: list[str], pred: list[str]) -> dict[str, float]:
    truth, pred = np.asarray(truth), np.asarray(pred)
    cm = confusion_matrix(truth, pred, labels=list(CLASSES))
    per = {c: float(np.mean(pred[truth == c] == c)) for c in CLASSES if np.any(truth == c)}
    print(f"\n{title}: overall accuracy {np.mean(truth == pred):.3f} ({truth.size} clips); per class "
          + ", ".join(f"{c} {a:.2f}" for c, a in per.items()))
    print(f"  confusion (rows true, columns predicted) {'':>2}" + "".join(f"{c:>12}" for c in CLASSES))
    for c, row in zip(CLASSES, cm):
        print(f"  {c:>42}" + "".join(f"{v:>12d}" for v in row))
    return per


# --- parts ------------------------------------------------------------------------------------------

def calibration_table() -> None:
    normal, _ = de_at_12k(CWRU / "normal_0_97.mat")
    rms_normal = float(np.std(normal))
    print(f"1. Amplitude calibration (DE channel; normal baseline {rms_normal:.3f} g RMS at 12 kHz). "
          "Synthetic: mean fault RMS of 20 clips, rpm 1797, 6205.")
    print(f"{'file':<34}{'real g':>8}{'real fault g':>13}{'severity':>9}{'synth before':>13}{'synth after':>12}"
          f"{'dB before':>10}{'dB after':>9}")
    cache: dict[tuple[str, float], float] = {}
    for path, fault, size in fault_files():
        x, _, _ = de_signal(path)
        real = float(np.std(x))
        real_fault = float(np.sqrt(max(real ** 2 - rms_normal ** 2, 1e-12)))
        severity = SEVERITY_OF[size]
        if (fault, size) not in cache:
            cache[(fault, size)] = synthetic_fault_rms(fault, severity)
        after = cache[(fault, size)]
        before = BEFORE[fault][SIZES_IN.index(size)]
        print(f"{path.name:<34}{real:>8.3f}{real_fault:>13.3f}{severity:>9.3f}{before:>13.3f}{after:>12.3f}"
              f"{20 * np.log10(before / real_fault):>+10.1f}{20 * np.log10(after / real_fault):>+9.1f}")


def ball_signature() -> None:
    print("\n2. Ball faults: kurtosis and squared-envelope lines (band 2-5.5 kHz; prominence over the median "
          "level 5-400 Hz; frequency in shaft orders)")
    names = ("ftf", "bsf", "2bsf", "bpfo", "bpfi")

    def lines(x: np.ndarray, fr: float, fs: int) -> str:
        freqs, amp = squared_envelope_spectrum(x, fs, band_hz=(2000, 5500))
        floor = np.median(amp[(freqs > 5) & (freqs < 400)])
        cells = []
        for n in names:
            f = (2 * ORDERS["bsf"] if n == "2bsf" else ORDERS[n]) * fr
            m = np.abs(freqs - f) <= 0.01 * f
            i = int(np.argmax(amp[m]))
            cells.append(f"{n} {freqs[m][i] / fr:.3f}x:{amp[m][i] / floor:4.1f}")
        return "  ".join(cells)

    for path in sorted(CWRU.glob("*Drive_End_B0*.mat")) + sorted(CWRU.glob("*Drive_End_IR007*.mat")) + \
            sorted(CWRU.glob("*Drive_End_OR007*.mat")):
        x, rpm, fs = de_signal(path)
        print(f"  {path.name:<32} kurtosis {kurtosis(x):5.1f}  {lines(x, rpm / 60, fs)}")
    normal, _ = de_at_12k(CWRU / "normal_0_97.mat")
    for fault in ("ball", "inner_race", "outer_race"):
        ks, inj = [], []
        for seed in range(10):
            r = render_clip("bearing", fault=fault, severity=0.296, duration_s=5.0, sample_rate=RATE, seed=seed,
                            fixed=FIXED)
            ks.append(kurtosis(r.signal))
            inj.append(kurtosis(normal[: r.fault.size] + r.fault[: normal.size]))
        r = render_clip("bearing", fault=fault, severity=0.296, duration_s=10.0, sample_rate=RATE, seed=3,
                        fixed=FIXED)
        print(f"  synthetic {fault:<10} sev 0.296: kurtosis median {np.median(ks):5.1f} (added to the real "
              f"baseline: {np.median(inj):4.1f}); seed 3: {lines(r.signal, 1797 / 60, RATE)}")


BALL_BAND_HZ = (2000.0, 5500.0)
_BALL_SOS = butter(4, BALL_BAND_HZ, btype="bandpass", fs=RATE, output="sos")


def ball_measures(x: np.ndarray, fr: float) -> tuple[float, float, float]:
    """Kurtosis (median over 1-s segments) and envelope modulation at FTF and 2xBSF, all in 2-5.5 kHz."""
    y = segments(sosfiltfilt(_BALL_SOS, x - x.mean()))
    return (float(np.median(kurtosis(y, axis=1))), envelope_modulation(x, RATE, ORDERS["ftf"] * fr, band_hz=BALL_BAND_HZ),
            envelope_modulation(x, RATE, 2 * ORDERS["bsf"] * fr, band_hz=BALL_BAND_HZ))


def synthetic_ball_cells() -> np.ndarray:
    """:func:`ball_measures` of 12 synthetic ball-fault clips (3 s, the three defect sizes in turn), shape (12, 3)."""
    return np.array([ball_measures(render_clip("bearing", fault="ball", severity=SEVERITY_OF[SIZES_IN[seed % 3]],
                                               duration_s=3.0, sample_rate=RATE, seed=seed, fixed=FIXED).signal,
                                   FIXED["rpm"] / 60) for seed in range(12)])


def ball_modulation() -> None:
    print("\n   Ball faults, 2-5.5 kHz: kurtosis, envelope modulation at FTF and at 2xBSF")
    for path in sorted(CWRU.glob("*Drive_End_B0*.mat")):
        x, rpm = de_at_12k(path)
        print(f"  {path.name:<34}" + "  ".join(f"{v:6.2f}" for v in ball_measures(x, rpm / 60)))
    cells = synthetic_ball_cells()
    print("  synthetic ball (median, range of 12)" + "  ".join(f"{np.median(c):6.2f} ({c.min():.2f}-{c.max():.2f})"
                                                       for c in cells.T))


def impact_measures(x: np.ndarray, rpm: float, fault: str) -> tuple[float, float, float]:
    """Race-fault strike strength variation at the shaft rate and per rolling element (relative RMS), and the
    timing jitter (% of the strike period)."""
    fr = rpm / 60
    rate = ORDERS["bpfo" if fault == "outer_race" else "bpfi"] * fr
    element = ORDERS["ftf"] * fr if fault == "outer_race" else fr - ORDERS["ftf"] * fr
    t, h = impact_train(x, RATE, rate)
    return periodic_variation(t, h, fr, 12), periodic_variation(t, h, element, 9), 100 * spacing_jitter(t, h, rate)


def synthetic_impact_cells(fault: str) -> np.ndarray:
    """:func:`impact_measures` of 12 synthetic clips (4 s, severity 0.296), shape (12, 3)."""
    return np.array([impact_measures(render_clip("bearing", fault=fault, severity=0.296, duration_s=4.0,
                                                 sample_rate=RATE, seed=seed, fixed=FIXED).signal, FIXED["rpm"], fault)
                     for seed in range(12)])


def impact_trains() -> None:
    print("\n   Race-fault impact trains: strength variation at the shaft rate / per rolling element (relative "
          "RMS), timing jitter (% of the period)")
    for path, fault, size in fault_files():
        if fault != "ball":
            x, rpm = de_at_12k(path)
            print(f"  {path.name:<34}" + "  ".join(f"{v:5.2f}" for v in impact_measures(x, rpm, fault)))
    for fault in ("outer_race", "inner_race"):
        cells = synthetic_impact_cells(fault)
        print(f"  synthetic {fault:<24}" + "  ".join(f"{np.median(c):5.2f} ({c.min():.2f}-{c.max():.2f})"
                                                   for c in cells.T) + "  (median, range of 12 clips)")


def feature_spread(n_clips: int = 120) -> dict[str, dict[str, tuple[float, float, float]]]:
    """Per fault and feature: (real median, synthetic 5th, 95th percentile); see the module docstring."""
    X_real, y_real, _ = real_segments()
    seeds = np.random.SeedSequence(7).spawn(n_clips)
    out = {}
    for fault in CLASSES:
        synthetic = np.array([features(r.signal, r.params["shaft_hz"]) for r in (
            render_clip("bearing", fault=fault, severity=SEVERITY_OF[SIZES_IN[i % 3]], duration_s=1.0,
                        sample_rate=RATE, seed=seq, fixed={"rpm": (1720, 1800), "bearing": "6205"})
            for i, seq in enumerate(seeds))])
        low, high = np.percentile(synthetic, [5, 95], axis=0)
        median = np.median(X_real[y_real == fault], axis=0)
        out[fault] = {n: (float(m), float(a), float(b)) for n, m, a, b in zip(FEATURE_NAMES, median, low, high)}
    return out


def print_feature_spread() -> None:
    print("\n   Envelope features: real median (12 kHz segments) inside the synthetic 5-95 % range?")
    for fault, table in feature_spread().items():
        outside = [f"{n} {m:.2f} (synthetic {a:.2f}..{b:.2f})" for n, (m, a, b) in table.items() if not a <= m <= b]
        print(f"  {fault:<11} {len(table) - len(outside)}/{len(table)} inside; outside: {'; '.join(outside) or '-'}")


def training_set() -> tuple[np.ndarray, np.ndarray]:
    seeds = np.random.SeedSequence(2024).spawn(len(CLASSES) * N_TRAIN_PER_CLASS)
    severity_rng = np.random.default_rng(2024)
    X, y = [], []
    for i, seq in enumerate(seeds):
        fault = CLASSES[i % len(CLASSES)]
        r = render_clip("bearing", fault=fault, severity=float(severity_rng.uniform(0.2, 1.0)), duration_s=1.0,
                        sample_rate=RATE, seed=seq, fixed={"rpm": (1720, 1800), "bearing": "6205"})
        X.append(features(r.signal, r.params["shaft_hz"]))
        y.append(fault)
    return np.array(X), np.array(y)


def real_segments(include_48k: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    X, y, group = [], [], []
    for path, fault, size in fault_files():
        if path.name.startswith("48k") and not include_48k:
            continue
        x, rpm = de_at_12k(path)
        for seg in segments(x):
            X.append(features(seg, rpm / 60))
            y.append(fault)
            group.append(size)
    return np.array(X), np.array(y), np.array(group)


def injected_set() -> tuple[np.ndarray, np.ndarray]:
    normal, rpm = de_at_12k(CWRU / "normal_0_97.mat")
    X, y = [], []
    for fault in CLASSES:
        for severity in (SEVERITY_OF[s] for s in SIZES_IN):
            for seed in (0, 1):
                for k, seg in enumerate(segments(normal)):
                    r = inject_clip(seg, machine="bearing", fault=fault, severity=severity, sample_rate=RATE,
                                    seed=1000 * seed + k, fixed=FIXED, fault_scale="absolute")
                    X.append(features(r.signal, rpm / 60))
                    y.append(fault)
    return np.array(X), np.array(y)


def synthetic_to_real() -> dict[str, tuple[list[str], list[str]]]:
    """Tests A and B of part 3: ``{"real": (truth, predicted), "injected": (truth, predicted)}``."""
    X_train, y_train = training_set()
    model = classifier().fit(X_train, y_train)
    X_real, y_real, _ = real_segments()
    X_inj, y_inj = injected_set()
    return {"real": (list(y_real), list(model.predict(X_real))), "injected": (list(y_inj), list(model.predict(X_inj)))}


def main() -> None:
    start = time.perf_counter()
    calibration_table()
    ball_signature()
    ball_modulation()
    impact_trains()
    print_feature_spread()
    print("\n3. Fault-type classifier trained on synthetic clips only "
          f"({N_TRAIN_PER_CLASS} per class, 1 s, rpm 1720..1800, severity 0.2..1)")
    results = synthetic_to_real()
    report("synthetic -> real (12 kHz DE fault files, 1 s segments)", *results["real"])
    report("synthetic -> injected (synthetic faults in the real normal baseline)", *results["injected"])
    X_all, y_all, g_all = real_segments(include_48k=True)
    truth, pred = [], []
    for size in SIZES_IN:
        held = g_all == size
        real_model = classifier().fit(X_all[~held], y_all[~held])
        truth += list(y_all[held])
        pred += list(real_model.predict(X_all[held]))
    report("real -> real (whole defect sizes held out: train on two sizes, test on the third; 48 kHz "
           "007 files included)", truth, pred)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
