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
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from errors import FaultsynthError
from generators.parameters import FaultParameter, Fixed, Parameter, fault_values

@dataclass(frozen=True)
class FaultSpec:
    """What a fault type is and how its severity maps to physics.

    Parameters
    ----------
    name : str
        snake_case fault name, as used on the command line.
    description : str
        One line: the physical mechanism.
    parameters : tuple of FaultParameter
        The physical parameters severity in [0, 1] maps to (declared once: the
        sampler, ``synth --list`` and the README's fault table read them).
    time_localised : bool
        True if the fault happens at instants (the dataset writer then records
        its events in ``events.csv``).
    """

    name: str
    description: str
    parameters: tuple[FaultParameter, ...]
    time_localised: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.parameters, tuple) and all(isinstance(p, FaultParameter) for p in self.parameters)):
            raise TypeError(f"{self.name}: parameters must be a tuple of FaultParameter")

    def values(self, severity: float, params: Mapping[str, Any]) -> dict:
        """The severity-mapped parameter values of a clip (see :func:`generators.parameters.fault_values`)."""
        return fault_values(self.parameters, severity, params)

    def mapping_text(self) -> str:
        """What severity maps to, one ``;``-separated line."""
        return "; ".join(p.describe() for p in self.parameters)


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
        ``signal == machine + fault + noise`` (to float rounding for sound machines).
    params : dict
        Every rendered physical parameter (JSON-serialisable): the label.
    events : list of Event
        Time-localised fault occurrences (empty for continuous faults).

    Notes
    -----
    A sound machine's recording chain runs once, on machine plus fault: the recorded fault part
    is computed on first access of ``fault`` or ``machine`` (``record``), and the recorded machine
    part is the recorded sum minus it, so that writing a clip never pays for its parts.
    """

    def __init__(self, *, signal: np.ndarray, machine: np.ndarray, fault: np.ndarray, noise: np.ndarray,
                 params: dict, events: list[Event] | None = None,
                 record: Callable[[np.ndarray], np.ndarray] | None = None) -> None:
        self.signal, self.noise, self.params, self.events = signal, noise, params, list(events or [])
        # with ``record``: ``machine`` is the recorded sum and ``fault`` the fault part before recording
        self._machine, self._fault, self._record = machine, fault, record

    def _recorded_parts(self) -> None:
        if self._record is not None:
            recorded_sum, self._fault = self._machine, self._record(self._fault)
            self._machine = recorded_sum - self._fault
            self._record = None

    @property
    def machine(self) -> np.ndarray:
        self._recorded_parts()
        return self._machine

    @property
    def fault(self) -> np.ndarray:
        self._recorded_parts()
        return self._fault


class Machine(Protocol):
    """What every machine generator provides (see module docstring)."""

    name: str
    kind: str  # "vibration" or "audio"
    default_sample_rate: int
    faults: Mapping[str, FaultSpec]
    #: Every parameter the user may fix, in drawing order (common ones excluded: see generators.registry).
    declarations: tuple[Parameter, ...]

    def sample_params(self, rng: np.random.Generator, *, fault: str, severity: float,
                      fixed: Fixed, sample_rate: int | None = None) -> dict: ...

    def render(self, params: Mapping[str, Any], *, duration_s: float, sample_rate: int,
               rng: np.random.Generator) -> Parts: ...


def check_fault(machine: "Machine", fault: str) -> str:
    """Return ``fault`` if ``machine`` has it (``"none"`` always allowed), else raise."""
    if fault != "none" and fault not in machine.faults:
        raise FaultsynthError(f"unknown fault {fault!r} for machine {machine.name!r}: "
                              f"expected none or one of {', '.join(machine.faults)}")
    return fault


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
