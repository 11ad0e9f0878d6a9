"""Case Western Reserve University bearing data (MATLAB v5 ``.mat``).

File names: ``<12k|48k>_<Drive|Fan>_End_<IR|B|OR><size>[@pos]_<load>_<n>.mat``
for faults and ``normal_<load>_<n>.mat`` for the normal baseline, e.g.
``12k_Drive_End_OR007@6_0_130.mat``. Variables ``X<nnn>_DE_time`` (drive
end), ``X<nnn>_FE_time`` (fan end), ``X<nnn>_BA_time`` (base) in g, and
``X<nnn>RPM``.

* sample rate: 12 kHz or 48 kHz from the ``12k_``/``48k_`` prefix; the normal
  baseline is recorded at 48 kHz;
* rpm: ``X<nnn>RPM`` when present, else the nominal speed of the motor load
  (0-3 HP: 1797, 1772, 1750, 1730 rpm), recorded as ``rpm_source``;
* fault: ``inner_race``, ``ball``, ``outer_race`` (label anomaly) or ``none``;
  fault size in inches from the name (0.007 ... 0.028), outer-race position
  (``@6`` = 6 o'clock, load zone);
* severity = fault_size_in / 0.028 (the largest seeded CWRU fault is 1.0);
* machine ``bearing``, machine_id ``id_<load HP>`` (``id_00`` for 0 HP);
  split ``test`` unless another split is asked for (CWRU has no split).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from datasets.records import ClipRecord
from errors import FaultsynthError

#: Severity scale: fault diameter (inches) that maps to severity 1.
MAX_FAULT_SIZE_IN = 0.028
#: Nominal motor speed (rpm) per motor load (HP), from the CWRU test-rig description.
NOMINAL_RPM = {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1730.0}
#: Channel suffix -> name, in the order channels are indexed.
CHANNELS = ("DE", "FE", "BA")
FAULT_CODES = {"IR": "inner_race", "B": "ball", "OR": "outer_race"}

_FAULT_NAME = re.compile(r"^(?P<rate>12|48)k_(?P<end>Drive|Fan)_End_(?P<code>IR|B|OR)(?P<size>\d{3})"
                         r"(?:@(?P<pos>\d+))?_(?P<load>\d)_(?P<num>\d+)$", re.IGNORECASE)
_NORMAL_NAME = re.compile(r"^normal_(?P<load>\d)_(?P<num>\d+)$", re.IGNORECASE)
_VARIABLE = re.compile(r"^X(?P<num>\d+)_(?P<ch>DE|FE|BA)_time$")
_RPM_VARIABLE = re.compile(r"^X(?P<num>\d+)RPM$")

EXPECTED_NAMES = ("<12k|48k>_<Drive|Fan>_End_<IR|B|OR><size>[@pos]_<load>_<n>.mat or "
                  "normal_<load>_<n>.mat")


def cwru_record(file: Path, *, root: Path, split: str = "test") -> ClipRecord:
    """Record of one CWRU ``.mat`` file (reads variable names and shapes only).

    Parameters
    ----------
    file : Path
        The ``.mat`` file.
    root : Path
        Dataset root; the record path is relative to it.
    split : {"train", "test"}

    Returns
    -------
    ClipRecord
        ``channels`` = number of ``X<nnn>_<DE|FE|BA>_time`` variables, their
        names in ``params["channel_names"]`` (index order) and
        ``params["variables"]``.
    """
    from scipy.io import whosmat

    stem = file.stem
    fault_match = _FAULT_NAME.match(stem)
    normal_match = _NORMAL_NAME.match(stem)
    if not (fault_match or normal_match):
        raise FaultsynthError(f"{file}: not a CWRU file name: expected {EXPECTED_NAMES}")
    try:
        variables = {name: shape for name, shape, _ in whosmat(str(file))}
    except Exception as exc:  # scipy raises several types for corrupt files
        raise FaultsynthError(f"{file}: unreadable .mat ({exc}): expected a MATLAB v5 file") from None
    channel_vars: dict[str, str] = {}
    lengths = set()
    rpm_var = None
    for name, shape in variables.items():
        m = _VARIABLE.match(name)
        if m:
            channel_vars[m["ch"]] = name
            lengths.add(int(np.prod(shape)))
        elif _RPM_VARIABLE.match(name):
            rpm_var = name
    if "DE" not in channel_vars and "FE" not in channel_vars:
        raise FaultsynthError(f"{file}: no X<nnn>_DE_time or X<nnn>_FE_time variable (has {sorted(variables)}): "
                              "expected CWRU accelerometer channels")
    if len(lengths) != 1 or 0 in lengths:
        raise FaultsynthError(f"{file}: channel variables have lengths {sorted(lengths)}: expected one "
                              "non-zero length")
    names = [c for c in CHANNELS if c in channel_vars]
    m = fault_match or normal_match
    load_hp = int(m["load"])
    if load_hp not in NOMINAL_RPM:
        raise FaultsynthError(f"{file}: motor load {load_hp} HP: expected 0..3")
    if fault_match:
        sample_rate = int(fault_match["rate"]) * 1000
        fault = FAULT_CODES[fault_match["code"].upper()]
        size_in = int(fault_match["size"]) / 1000.0
        severity = size_in / MAX_FAULT_SIZE_IN
        if not 0 < severity <= 1:
            raise FaultsynthError(f"{file}: fault size {size_in} in: expected 0.007..{MAX_FAULT_SIZE_IN} in")
        params = {"fault_size_in": size_in, "fault_end": f"{fault_match['end'].lower()}_end"}
        if fault_match["pos"]:
            params["fault_position_oclock"] = int(fault_match["pos"])
        label = "anomaly"
    else:
        sample_rate, fault, severity, label, params = 48000, "none", 0.0, "normal", {}
    n = lengths.pop()
    rpm, rpm_source = _read_rpm(file, rpm_var) if rpm_var else (NOMINAL_RPM[load_hp], "nominal")
    params.update(rpm=rpm, rpm_source=rpm_source, load_hp=load_hp, file_number=int(m["num"]),
                  channel_names=names, variables=[channel_vars[c] for c in names],
                  bearing="6203-2RS" if params.get("fault_end") == "fan_end" else "6205-2RS", dataset="cwru")
    return ClipRecord(path=file.relative_to(root).as_posix(), split=split, machine="bearing",
                      machine_id=f"id_{load_hp:02d}", label=label, fault=fault, severity=float(severity),
                      source="real", seed=None, sample_rate=sample_rate, duration_s=n / sample_rate,
                      channels=len(names), params=params, sha256="", root=str(root))


def _read_rpm(file: Path, variable: str) -> tuple[float, str]:
    from scipy.io import loadmat

    value = np.asarray(loadmat(str(file), variable_names=[variable])[variable], dtype=float).ravel()
    if value.size != 1 or not np.isfinite(value[0]) or value[0] <= 0:
        raise FaultsynthError(f"{file}: {variable} = {value.tolist()}: expected one positive speed in rpm")
    return float(value[0]), "file"


def read_mat_channels(file: Path, *, names: list[str], variables: list[str] | None = None) -> np.ndarray:
    """Channels of a CWRU file as float32, shape (n_samples, len(names)), in g.

    Parameters
    ----------
    file : Path
    names : list of str
        Channel names (``"DE"``, ``"FE"``, ``"BA"``), in output order.
    variables : list of str, optional
        The matching variable names; found by suffix when not given.
    """
    from scipy.io import loadmat

    try:
        content = loadmat(str(file), variable_names=variables)
    except Exception as exc:  # corrupt files raise several types
        if not file.is_file():  # checked only on failure: a stat per read is not free
            raise FaultsynthError(f"{file}: no such file: expected a CWRU .mat file") from None
        raise FaultsynthError(f"{file}: unreadable .mat ({exc}): expected a MATLAB v5 file") from None
    if variables is None:
        variables = []
        for name in names:
            found = [k for k in content if k.endswith(f"_{name}_time") and _VARIABLE.match(k)]
            variables.append(found[0] if found else f"X<nnn>_{name}_time")
    else:
        variables = list(variables)
    columns = []
    for var in variables:
        if var not in content:
            present = sorted(k for k in content if not k.startswith("__"))
            raise FaultsynthError(f"{file}: no variable {var} (has {present}): expected CWRU channels {names}")
        columns.append(np.asarray(content[var], dtype=np.float64).ravel())
    if len({c.size for c in columns}) != 1:
        raise FaultsynthError(f"{file}: channels {variables} differ in length: expected equal lengths")
    out = np.empty((columns[0].size, len(columns)), dtype=np.float32)
    for index, column in enumerate(columns):
        out[:, index] = column  # float64 -> float32 in the same pass as the copy
    return out
