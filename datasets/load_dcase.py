"""DCASE Task 2 layouts (2020, and 2021-2025) and the MIMII / ToyADMOS release layouts.

Real anomalies carry fault ``"unknown"`` and severity NaN; machine names are
lower-cased (``ToyCar`` -> ``toycar``, as in generators.registry) and the
dataset's own spelling is kept in ``params["dataset_machine"]``.

* ``dcase2020``: ``<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav``.
* ``dcase2021`` (2021-2025):
  ``<machine>/{train,test}/section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN_<attributes>.wav``;
  machine_id ``id_XX`` from the section; params: section, domain, clip_number,
  ``attributes`` (raw) and each ``key_value`` pair (values kept as strings);
  an odd trailing token goes to ``attribute_extra``. Unlabelled evaluation
  files are rejected.
* ``mimii``: ``[<snr>_dB_<machine>/]<machine>/id_XX/{normal,abnormal}/NNNNNNNN.wav``;
  no split in MIMII: every clip gets the requested split (``test`` by
  default); ``snr_db`` in params when a folder name states it.
* ``toyadmos``: ``<ToyCar|ToyConveyor|ToyTrain>/caseN/<Normal|Anomalous>Sound_<IND|CNT>/*chN*.wav``
  at 48 kHz, one microphone per file (params ``mic``); machine_id ``id_0N``
  from the case; ``EnvironmentalNoise_*`` folders hold no machine sound and
  are left out; anomaly codes such as ``ab01`` go to ``params["anomaly_code"]``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from datasets.load_wav import wav_record
from datasets.records import ClipRecord
from errors import FaultsynthError

DCASE2020_NAME = re.compile(r"^(?P<label>normal|anomaly)_id_(?P<id>\d+)_(?P<num>\d+)\.wav$", re.IGNORECASE)
DCASE2021_NAME = re.compile(r"^section_(?P<section>\d+)_(?:(?P<domain>source|target)_)?(?P<split>train|test)_"
                            r"(?P<label>normal|anomaly)_(?P<num>\d+)(?:_(?P<attrs>.+))?\.wav$", re.IGNORECASE)
DCASE2021_ANY = re.compile(r"^section_\d+_.*\.wav$", re.IGNORECASE)
MIMII_ID = re.compile(r"^id_(?P<id>\d+)$")
MIMII_SNR = re.compile(r"^(?P<snr>[-+]?\d+(?:\.\d+)?)_?dB_(?P<machine>\w+)$", re.IGNORECASE)
TOYADMOS_CASE = re.compile(r"^case(?P<case>\d+)$", re.IGNORECASE)
TOYADMOS_FOLDER = re.compile(r"^(?P<kind>Normal|Anomalous)Sound_(?P<rec>[A-Za-z]+)$")
TOYADMOS_NOISE = re.compile(r"^EnvironmentalNoise_", re.IGNORECASE)
TOYADMOS_CHANNEL = re.compile(r"(?:^|_)ch(?P<ch>\d+)(?:_|$)", re.IGNORECASE)
TOYADMOS_CODE = re.compile(r"^ab\d+$", re.IGNORECASE)

EXPECTED = {
    "dcase2020": "<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav",
    "dcase2021": ("<machine>/{train,test}/section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN"
                  "_<attributes>.wav"),
    "mimii": "<machine>/id_XX/{normal,abnormal}/NNNNNNNN.wav",
    "toyadmos": "<ToyCar|ToyConveyor|ToyTrain>/caseN/{NormalSound_IND,AnomalousSound_IND,...}/*chN*.wav",
}


def _label_fields(label: str) -> dict:
    anomaly = label.lower() in ("anomaly", "abnormal", "anomalous")
    return {"label": "anomaly" if anomaly else "normal", "fault": "unknown" if anomaly else "none",
            "severity": math.nan if anomaly else 0.0}


def _mismatch(file: Path, layout: str) -> FaultsynthError:
    return FaultsynthError(f"{file}: does not match the {layout} layout: expected {EXPECTED[layout]}")


def dcase2020_record(file: Path, *, root: Path, split: str | None = None) -> ClipRecord:
    """Record of one DCASE 2020 Task 2 file (split from its folder)."""
    m = DCASE2020_NAME.match(file.name)
    folder = file.parent.name.lower()
    if not m or folder not in ("train", "test"):
        raise _mismatch(file, "dcase2020")
    machine = file.parent.parent.name
    return wav_record(file, root=root, split=split or folder, machine=machine.lower(),
                      machine_id=f"id_{int(m['id']):02d}", **_label_fields(m["label"]),
                      params={"dataset": "dcase2020", "dataset_machine": machine, "clip_number": int(m["num"])})


def dcase2021_record(file: Path, *, root: Path, split: str | None = None) -> ClipRecord:
    """Record of one DCASE 2021-2025 Task 2 file (split and label from its name)."""
    m = DCASE2021_NAME.match(file.name)
    if not m:
        if DCASE2021_ANY.match(file.name):
            raise FaultsynthError(f"{file}: no normal/anomaly label in the file name (unlabelled evaluation "
                                  f"file?): expected {EXPECTED['dcase2021']}")
        raise _mismatch(file, "dcase2021")
    machine = file.parent.parent.name
    params: dict = {"dataset": "dcase2021", "dataset_machine": machine, "section": m["section"],
                    "clip_number": int(m["num"])}
    if m["domain"]:
        params["domain"] = m["domain"].lower()
    if m["attrs"]:
        params["attributes"] = m["attrs"]
        tokens = m["attrs"].split("_")
        for key, value in zip(tokens[0::2], tokens[1::2]):
            params.setdefault(key, value)
        if len(tokens) % 2:
            params["attribute_extra"] = tokens[-1]
    return wav_record(file, root=root, split=split or m["split"].lower(), machine=machine.lower(),
                      machine_id=f"id_{int(m['section']):02d}", **_label_fields(m["label"]), params=params)


def mimii_record(file: Path, *, root: Path, split: str | None = None) -> ClipRecord:
    """Record of one MIMII file (label from its folder; split as requested, else test)."""
    parts = file.parts
    id_match = MIMII_ID.match(parts[-3]) if len(parts) >= 4 else None
    if not id_match or parts[-2].lower() not in ("normal", "abnormal") or file.suffix.lower() != ".wav":
        raise _mismatch(file, "mimii")
    machine = parts[-4]
    params: dict = {"dataset": "mimii", "dataset_machine": machine}
    if file.stem.isdigit():
        params["clip_number"] = int(file.stem)
    for part in reversed(parts[:-4]):
        snr = MIMII_SNR.match(part)
        if snr:
            params["snr_db"] = float(snr["snr"])
            break
    return wav_record(file, root=root, split=split or "test", machine=machine.lower(),
                      machine_id=f"id_{int(id_match['id']):02d}", **_label_fields(parts[-2]), params=params)


def toyadmos_record(file: Path, *, root: Path, split: str | None = None) -> ClipRecord | None:
    """Record of one ToyADMOS file, or None for environmental-noise files (no machine sound)."""
    parts = file.parts
    if len(parts) < 4 or file.suffix.lower() != ".wav":
        raise _mismatch(file, "toyadmos")
    if TOYADMOS_NOISE.match(parts[-2]):
        return None
    case = TOYADMOS_CASE.match(parts[-3])
    folder = TOYADMOS_FOLDER.match(parts[-2])
    channel = TOYADMOS_CHANNEL.search(file.stem)
    if not (case and folder and channel):
        raise _mismatch(file, "toyadmos")
    machine = parts[-4]
    params: dict = {"dataset": "toyadmos", "dataset_machine": machine, "case": int(case["case"]),
                    "mic": int(channel["ch"]), "channel_name": f"ch{int(channel['ch'])}",
                    "recording": folder["rec"].upper()}
    codes = [t for t in file.stem.split("_") if TOYADMOS_CODE.match(t)]
    if codes:
        params["anomaly_code"] = codes[0].lower()
    record = wav_record(file, root=root, split=split or "test", machine=machine.lower(),
                        machine_id=f"id_{int(case['case']):02d}", **_label_fields(folder["kind"]), params=params)
    if record.channels != 1:
        raise FaultsynthError(f"{file}: {record.channels} channels: expected one microphone per ToyADMOS file")
    return record
