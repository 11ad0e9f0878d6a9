"""Do injected faults predict real ones? CWRU drive-end bearing, 48 kHz recordings.

Run: ``.venv/bin/python bench/cwru_transfer.py``. A k-means detector (4
clusters, ``vibration`` features at 12 kHz, 1024-sample windows) is trained on the first 60 % of the
real normal baseline, cut into 0.25 s clips. It is then scored on

- the other 40 % of the normal baseline (the normal test clips),
- the same held-out normal clips with synthetic faults injected
  (``datasets.blend.inject_clip``, bearing 6205 at the recording's rpm, absolute
  scale: CWRU records acceleration in g as the generator does) over a
  severity grid; severity 0.3 = a 0.18 mm defect = the 0.007 in CWRU seeded fault,
- the real 0.007 in inner-race, ball and outer-race (@6:00) recordings, cut the same way.

Prints AUC against the normal test clips and the detection rate at the
threshold (the largest training clip score) for each fault, injected and real,
side by side. The baseline in the shared sample is only 5 s long, so the
normal test set is small (8 clips) and the threshold rough.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from datasets.audio import load_audio, resample  # noqa: E402
from datasets.blend import inject_clip  # noqa: E402
from datasets.loaders import load_records  # noqa: E402
from pipeline.detectors import KMeansDetector, clip_scores  # noqa: E402
from pipeline.features import VIBRATION, extract  # noqa: E402

CWRU = Path(__file__).resolve().parents[2] / "shared" / "data" / "cwru"
RATE = 12000
CLIP_S = 0.25
FEATURES = replace(VIBRATION, n_fft=1024, hop_length=512)  # 4 windows per clip
FAULT_FILES = {"inner_race": "48k_Drive_End_IR007_0_109.mat", "ball": "48k_Drive_End_B007_0_122.mat",
               "outer_race": "48k_Drive_End_OR007@6_0_135.mat"}
SEVERITIES = (0.01, 0.02, 0.05, 0.1, 0.3)
SEVERITY_EQUIVALENT = 0.3  # 0.6 mm * 0.3 = 0.18 mm = 0.007 in


def clips_of(path: Path) -> tuple[np.ndarray, float]:
    """Drive-end signal of a CWRU file at RATE, cut into CLIP_S clips; and its rpm."""
    record = load_records(path)[0]
    x = resample(load_audio(record, channel="DE"), from_rate=record.sample_rate, to_rate=RATE)
    n = int(CLIP_S * RATE)
    return x[: x.size // n * n].reshape(-1, n).astype(np.float64), float(record.params.get("rpm") or 1797)


def main() -> None:
    normal, rpm = clips_of(CWRU / "normal_0_97.mat")
    n_train = int(0.6 * len(normal))
    train, test_normal = normal[:n_train], normal[n_train:]
    detector = KMeansDetector(n_clusters=4, random_state=0).fit(np.concatenate([extract(FEATURES, c)
                                                                                  for c in train]))
    anomaly = lambda clips: -clip_scores(detector, [extract(FEATURES, c) for c in clips])  # noqa: E731
    threshold = float(np.max(anomaly(train)))
    normal_scores = anomaly(test_normal)
    print(f"CWRU 6205 drive end, {rpm:.0f} rpm, {CLIP_S} s clips at {RATE} Hz: {len(train)} normal training "
          f"clips, {len(test_normal)} normal test clips (FPR at threshold {np.mean(normal_scores > threshold):.2f})")
    print(f"AUC against the normal test clips (detection rate at the threshold); injected at severity "
          f"{', '.join(map(str, SEVERITIES))} ({SEVERITY_EQUIVALENT} = the real 0.007 in defect)")
    print(f"{'fault':<12}" + "".join(f"{'inj ' + str(s):>14}" for s in SEVERITIES) + f"{'real 0.007 in':>16}")
    for fault, name in FAULT_FILES.items():
        sets = [np.stack([inject_clip(c, machine="bearing", fault=fault, severity=severity, sample_rate=RATE,
                                      seed=i, fixed={"rpm": rpm, "bearing": "6205"}, fault_scale="absolute").signal
                          for i, c in enumerate(test_normal)]) for severity in SEVERITIES]
        sets.append(clips_of(CWRU / name)[0])
        cells = []
        for clips in sets:
            scores = anomaly(clips)
            labels = np.r_[np.zeros(len(normal_scores)), np.ones(len(scores))]
            auc = roc_auc_score(labels, np.r_[normal_scores, scores])
            cells.append(f"{auc:.2f} ({np.mean(scores > threshold):.2f})")
        print(f"{fault:<12}" + "".join(f"{c:>14}" for c in cells[:-1]) + f"{cells[-1]:>16}")

if __name__ == "__main__":
    main()
