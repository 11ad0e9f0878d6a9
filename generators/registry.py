"""Machine names, their generators, and the one way to render a labelled clip."""

from __future__ import annotations

import functools
import importlib

import numpy as np

from errors import FaultsynthError
from generators.base import Machine, Rendered, check_fault, check_severity
from generators.noise import NOISE_COLORS, colored_noise, scale_to_snr
from generators.parameters import Fixed, Parameter, check_fixed as check_declared, sample_all
from generators.recording import RECORDING_PARAMETERS, apply_recording, noise_response, record
from generators.sensors import SENSORS
from provenance import jsonable

#: Machine name -> "module:attribute" of its generator instance (imported on first use).
MACHINE_MODULES: dict[str, str] = {
    "bearing": "generators.rotating:BEARING",
    "gearbox": "generators.rotating:GEARBOX",
    "fan": "generators.fan:FAN",
    "pump": "generators.pump:PUMP",
    "valve": "generators.valve:VALVE",
    "slider": "generators.slider:SLIDER",
    "toycar": "generators.toycar:TOYCAR",
    "toyconveyor": "generators.toyconveyor:TOYCONVEYOR",
}

#: Default SNR range (dB) of the background noise, per machine kind (domain randomisation).
SNR_RANGE_DB = {"vibration": (10.0, 30.0), "audio": (0.0, 20.0)}


@functools.cache
def common_parameters(kind: str) -> tuple[Parameter, ...]:
    """Parameters every machine of ``kind`` (``"vibration"`` or ``"audio"``) has besides its own (recording level)."""
    low, high = SNR_RANGE_DB[kind]
    return (Parameter("snr_db", "background noise SNR", "dB", low=low, high=high, level="recording"),
            Parameter("noise_color", "background noise colour", options=NOISE_COLORS, level="recording"),
            Parameter("sensor", "sensor model (see synth --list)", options=tuple(SENSORS), default="ideal",
                      level="recording"))


def declarations_of(machine: Machine) -> tuple[Parameter, ...]:
    """Every parameter a user may fix for ``machine``: its own, the common ones, and for sound
    machines the recording chain's (:mod:`generators.recording`, drawn by ``render_clip``)."""
    recording = RECORDING_PARAMETERS if machine.kind == "audio" else ()
    return tuple(machine.declarations) + common_parameters(machine.kind) + recording


def machine_names() -> list[str]:
    """Names of all machines, in CLI order."""
    return list(MACHINE_MODULES)


def get_machine(name: str) -> Machine:
    """Generator of machine ``name``; a clear error if there is none."""
    if name not in MACHINE_MODULES:
        raise FaultsynthError(f"unknown machine {name!r}: expected one of {', '.join(MACHINE_MODULES)}")
    module_name, attribute = MACHINE_MODULES[name].split(":")
    return getattr(importlib.import_module(module_name), attribute)


def check_fixed(machine: Machine, fixed: Fixed) -> None:
    """Raise unless every fixed name is a parameter of ``machine`` or a common one (typos are refused)."""
    check_declared(machine.name, declarations_of(machine), fixed)


def sample_clip_params(machine: Machine, rng: np.random.Generator, *, fault: str, severity: float,
                       fixed: Fixed, sample_rate: int | None = None) -> dict:
    """Draw every parameter of one clip: the machine's own, then noise and sensor.

    ``sample_rate`` (Hz) lets default frequency ranges stay below Nyquist; None
    means the machine's default rate.
    """
    check_fault(machine, fault)
    check_fixed(machine, fixed)
    severity = 0.0 if fault == "none" else check_severity(severity)
    params = machine.sample_params(rng, fault=fault, severity=severity, fixed=fixed,
                                   sample_rate=sample_rate or machine.default_sample_rate)
    params.update(sample_all(common_parameters(machine.kind), rng, fixed, fault=fault))
    params.update(machine=machine.name, fault=fault, severity=severity)
    return params


def render_clip(machine_name: str, *, fault: str, severity: float, duration_s: float, sample_rate: int,
                seed: int | np.random.SeedSequence, fixed: Fixed | None = None) -> Rendered:
    """Render one labelled clip, a pure function of its arguments.

    Parameters
    ----------
    machine_name : str
        One of :func:`machine_names`.
    fault : str
        ``"none"`` for a normal clip, or one of the machine's fault names.
    severity : float
        0..1 (ignored for normal clips).
    duration_s : float
        Clip length in seconds.
    sample_rate : int
        Hz.
    seed : int or numpy.random.SeedSequence
        Per-clip seed.
    fixed : mapping, optional
        User-fixed parameters (value or (low, high) range), e.g. ``{"rpm": 1797}``.

    Returns
    -------
    Rendered
        For sound machines (``kind == "audio"``) the clip goes through the recording chain of
        :mod:`generators.recording` (room / mounting resonance, microphone response, gain; its
        drawn parameters are in ``params``): ``machine``, ``fault`` and ``noise`` are then the
        parts as recorded, before the sensor model, so that ``signal == machine + fault + noise``
        with an ideal sensor and ``snr_db`` holds between ``machine + fault`` and ``noise``.
        Vibration parts are at the sensor input, unchanged.
    """
    from generators.sensors import apply_sensor

    fixed = dict(fixed or {})
    if not (isinstance(sample_rate, (int, np.integer)) and sample_rate > 0):
        raise FaultsynthError(f"sample rate must be a positive whole number of Hz, got {sample_rate!r}")
    if not (np.isfinite(duration_s) and duration_s > 0):
        raise FaultsynthError(f"duration must be a positive number of seconds, got {duration_s!r}")
    machine = get_machine(machine_name)
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    # the fifth child (recording chain) leaves the first four, and so vibration clips, as they were
    sample_seq, render_seq, noise_seq, sensor_seq, recording_seq = seq.spawn(5)
    params = sample_clip_params(machine, np.random.default_rng(sample_seq), fault=fault,
                                severity=severity, fixed=fixed, sample_rate=int(sample_rate))
    params.update(sample_rate=int(sample_rate), duration_s=float(duration_s))
    parts = machine.render(params, duration_s=duration_s, sample_rate=int(sample_rate),
                           rng=np.random.default_rng(render_seq))
    record_fault = response = None
    if machine.kind == "audio":
        # the chain runs once on machine plus fault; the noise's chain is applied to its spectrum
        machine_part = record(parts.machine + parts.fault, sample_rate=int(sample_rate), params=params,
                              rng=np.random.default_rng(recording_seq), fixed=fixed)
        fault_part = parts.fault
        record_fault = functools.partial(apply_recording, sample_rate=int(sample_rate), values=params, source=True)
        response = noise_response(params, sample_rate=int(sample_rate))
        clean = machine_part
    else:
        machine_part, fault_part = parts.machine, parts.fault
        clean = machine_part + fault_part
    noise = colored_noise(np.random.default_rng(noise_seq), clean.size, params["noise_color"], response=response)
    noise = scale_to_snr(clean, noise, params["snr_db"])
    signal = apply_sensor(params["sensor"], clean + noise, sample_rate=int(sample_rate),
                          rng=np.random.default_rng(sensor_seq), params=params)
    return Rendered(signal=signal, machine=machine_part, fault=fault_part, noise=noise,
                    params=jsonable(params), events=list(parts.events), record=record_fault)


def fault_table_markdown() -> str:
    """The README's fault table (machine, kind, fault, what severity maps to), from the fault declarations."""
    rows = ["| machine | kind | fault | severity maps to |", "|---|---|---|---|"]
    shown: set[tuple[str, str]] = set()
    for name in machine_names():
        machine = get_machine(name)
        first = True
        for fault in machine.faults.values():
            key = (fault.name, fault.mapping_text())
            if key in shown:  # the gearbox repeats the bearing machine's faults
                continue
            if first and shown & {(f.name, f.mapping_text()) for f in machine.faults.values()}:
                rows.append(f"| {name} | {machine.kind} | all `bearing` faults | as for `bearing` |")
                first = False
            shown.add(key)
            label = f"`{fault.name}`" + (" *" if fault.time_localised else "")
            lead = f"| {name} | {machine.kind} |" if first else "|  |  |"
            rows.append(f"{lead} {label} | {fault.mapping_text()} |")
            first = False
    return "\n".join(rows) + "\n"

