"""Contract shared by every machine generator.

A machine generator works in two steps, so that the label is exactly what made
the signal:

1. ``sample_params(rng, fault=..., severity=..., fixed=...)`` draws every
   physical parameter (nuisance parameters from documented ranges unless the
   user fixed them) and returns them as a JSON-serialisable ``dict``;
2. ``render(params, duration_s=..., sample_rate=..., rng=...)`` renders the
   machine and fault parts deterministically from those parameters (``rng``
   only drives stochastic parts such as slip jitter and turbulence) and
   returns :class:`Parts`.

Background noise at the requested SNR and the sensor model are added by
:func:`generators.registry.render_clip`, the same way for every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol

import numpy as np

from errors import FaultsynthError

#: A user-fixed parameter: a value, or a ``(low, high)`` range to draw from.
Fixed = Mapping[str, Any]


@dataclass(frozen=True)
class FaultSpec:
    """What a fault type is and how its severity maps to physics.

    Parameters
    ----------
    name : str
        snake_case fault name, as used on the command line.
    description : str
        One line: the physical mechanism.
    parameters : tuple of str
        The physical parameters severity in [0, 1] maps to, each with its unit
        and mapping, e.g. ``"unbalance_g: 0.002 + 0.2*severity g at 1x"``.
    time_localised : bool
        True if the fault happens at instants (the dataset writer then records
        its events in ``events.csv``).
    """

    name: str
    description: str
    parameters: tuple[str, ...]
    time_localised: bool = False


@dataclass(frozen=True)
class Event:
    """A time-localised fault occurrence within a clip (seconds from clip start)."""

    onset_s: float
    offset_s: float
    fault: str


@dataclass
class Parts:
    """What a machine renders: normal and fault components at the sensor input.

    Attributes
    ----------
    machine : ndarray, shape (n_samples,), float64
        Normal machine signal (g for vibration; arbitrary pressure units for sound).
    fault : ndarray, shape (n_samples,), float64
        Fault component, zeros for a normal clip. For faults that change the
        machine itself (a clogged fan, a loose belt) it is the difference
        between the faulty and the normal rendering of the same clip.
    events : list of Event
        Time-localised fault occurrences.
    """

    machine: np.ndarray
    fault: np.ndarray
    events: list[Event] = field(default_factory=list)


@dataclass
class Rendered:
    """A rendered clip and its exact parts.

    Attributes
    ----------
    signal : ndarray, shape (n_samples,), float64
        What the sensor outputs (the file content before WAV encoding); in g
        for vibration, in full-scale units (|x| <= 1) for sound.
    machine, fault, noise : ndarray, shape (n_samples,), float64
        Parts at the sensor input: normal machine signal, fault component
        (zeros for normal clips) and background noise; for sound machines as
        recorded (after :mod:`generators.recording`). With an ideal sensor
        ``signal == machine + fault + noise``.
    params : dict
        Every rendered physical parameter (JSON-serialisable): the label.
    events : list of Event
        Time-localised fault occurrences (empty for continuous faults).
    """

    signal: np.ndarray
    machine: np.ndarray
    fault: np.ndarray
    noise: np.ndarray
    params: dict
    events: list[Event] = field(default_factory=list)


class Machine(Protocol):
    """What every machine generator provides (see module docstring)."""

    name: str
    kind: str  # "vibration" or "audio"
    default_sample_rate: int
    faults: Mapping[str, FaultSpec]
    #: Nuisance/physical parameters the user may fix: name -> one-line doc with unit and default range.
    parameters: Mapping[str, str]

    def sample_params(self, rng: np.random.Generator, *, fault: str, severity: float,
                      fixed: Fixed, sample_rate: int | None = None) -> dict: ...

    def render(self, params: Mapping[str, Any], *, duration_s: float, sample_rate: int,
               rng: np.random.Generator) -> Parts: ...


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python values, recursively (dict keys as str)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def check_fault(machine: "Machine", fault: str) -> str:
    """Return ``fault`` if ``machine`` has it (``"none"`` always allowed), else raise."""
    if fault != "none" and fault not in machine.faults:
        raise FaultsynthError(f"unknown fault {fault!r} for machine {machine.name!r}: "
                              f"expected none or one of {', '.join(machine.faults)}")
    return fault


def draw(rng: np.random.Generator, fixed: Fixed, name: str, low: float, high: float,
         *, log: bool = False) -> float:
    """Value of a parameter: fixed by the user, or drawn uniformly.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness; always consumed once, fixed or not, so that
        fixing one parameter does not change the draws of the others.
    fixed : mapping
        User-fixed parameters: a number, or a ``(low, high)`` range.
    name : str
        Parameter name (with its unit, e.g. ``"resonance_hz"``).
    low, high : float
        Default range (domain randomisation).
    log : bool
        Draw uniformly in log space (for frequencies and scales).

    Returns
    -------
    float
    """
    u = rng.random()
    value = fixed.get(name)
    if value is None:
        lo, hi = low, high
    elif isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise FaultsynthError(f"{name}: expected a value or a (low, high) range, got {value!r}")
        try:
            lo, hi = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            raise FaultsynthError(f"{name}: expected a (low, high) range of numbers, got {value!r}") from None
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
            raise FaultsynthError(f"{name}: expected low <= high, got {lo}:{hi}")
    else:
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise FaultsynthError(f"{name}: expected a number, got {value!r}") from None
        if not np.isfinite(v):
            raise FaultsynthError(f"{name}: expected a finite number, got {value!r}")
        return v
    if log:
        if lo <= 0:
            raise FaultsynthError(f"{name}: expected a positive range, got {lo}:{hi}")
        return float(np.exp(np.log(lo) + u * (np.log(hi) - np.log(lo))))
    return float(lo + u * (hi - lo))


def below_nyquist(low_hz: float, high_hz: float, sample_rate: int | None, *,
                  fraction: float = 0.9) -> tuple[float, float]:
    """Default range of a frequency, scaled down to fit under ``fraction`` of Nyquist.

    Parameters
    ----------
    low_hz, high_hz : float
        Documented default range, Hz.
    sample_rate : int or None
        Hz; None leaves the range as it is.
    fraction : float
        Share of the Nyquist frequency the range must stay below.

    Returns
    -------
    (low_hz, high_hz)
        Unchanged when ``high_hz`` already fits; otherwise both scaled by the same
        factor, so that a low sample rate draws a lower frequency instead of
        failing for some seeds.
    """
    if sample_rate is None or high_hz <= fraction * sample_rate / 2:
        return low_hz, high_hz
    factor = fraction * sample_rate / 2 / high_hz
    return low_hz * factor, high_hz * factor


def check_severity(severity: float) -> float:
    """Return ``severity`` as float, or raise if it is outside [0, 1]."""
    s = float(severity)
    if not (0.0 <= s <= 1.0):
        raise FaultsynthError(f"severity must be within [0, 1], got {severity!r}")
    return s


def check_below_nyquist(name: str, frequency_hz: float, sample_rate: int) -> None:
    """Raise if a characteristic frequency cannot be represented at ``sample_rate``."""
    if frequency_hz >= sample_rate / 2:
        raise FaultsynthError(
            f"{name} = {frequency_hz:.1f} Hz is at or above the Nyquist frequency "
            f"({sample_rate / 2:.0f} Hz at {sample_rate} Hz sampling): raise --sample-rate or lower the speed")
