"""Machine names, their generators, and the one way to render a labelled clip."""

from __future__ import annotations

import importlib

import numpy as np

from errors import FaultsynthError
from generators.base import Fixed, Machine, Rendered, check_fault, check_severity, draw, jsonable
from generators.noise import NOISE_COLORS, colored_noise, scale_to_snr
from generators.recording import RECORDING_DOCS

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

#: Parameters every machine accepts besides its own.
COMMON_PARAMETERS = {
    "snr_db": "background noise SNR in dB (default: uniform 10..30 vibration, 0..20 audio)",
    "noise_color": "background noise colour: white, pink or brown (default: drawn)",
    "sensor": "sensor model (see generators.sensors; default: ideal)",
}


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
    valid = set(machine.parameters) | set(COMMON_PARAMETERS) | (set(RECORDING_DOCS) if machine.kind == "audio" else set())
    unknown = sorted(set(fixed) - valid)
    if unknown:
        import difflib

        hints = [f"{u!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(u, valid, n=1))
                 else repr(u) for u in unknown]
        raise FaultsynthError(f"unknown parameter(s) {', '.join(hints)} for machine {machine.name!r}: expected "
                              f"some of {', '.join(sorted(valid))} (see synth --list)")


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
    lo, hi = SNR_RANGE_DB[machine.kind]
    params["snr_db"] = draw(rng, fixed, "snr_db", lo, hi)
    color_index = int(rng.integers(len(NOISE_COLORS)))
    params["noise_color"] = str(fixed.get("noise_color", NOISE_COLORS[color_index]))
    params["sensor"] = str(fixed.get("sensor", "ideal"))
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
    noise = colored_noise(np.random.default_rng(noise_seq), parts.machine.size, params["noise_color"])
    if machine.kind == "audio":
        from generators.recording import apply_recording, record

        machine_part = record(parts.machine, sample_rate=int(sample_rate), params=params,
                              rng=np.random.default_rng(recording_seq), fixed=fixed)
        fault_part = apply_recording(parts.fault, sample_rate=int(sample_rate), values=params, source=True)
        noise = apply_recording(noise, sample_rate=int(sample_rate), values=params, source=False)
    else:
        machine_part, fault_part = parts.machine, parts.fault
    clean = machine_part + fault_part
    noise = scale_to_snr(clean, noise, params["snr_db"])
    clean += noise  # the sensor input; ``clean`` is not needed any more
    signal = apply_sensor(params["sensor"], clean, sample_rate=int(sample_rate),
                          rng=np.random.default_rng(sensor_seq), params=params)
    return Rendered(signal=signal, machine=machine_part, fault=fault_part, noise=noise,
                    params=jsonable(params), events=list(parts.events))

