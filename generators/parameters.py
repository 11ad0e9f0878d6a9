"""One way to declare a generator parameter, one sampler, one check of user-fixed names.

Every machine declares its parameters as :class:`Parameter` objects (name,
unit, default range or choices, level, doc) and its faults' severity mappings as
:class:`FaultParameter` objects; the sampler, the check that refuses unknown or
misspelt fixed names, ``synth --list`` and the README's fault table all read
these declarations.

Sampling rule: every scalar parameter consumes exactly one uniform draw
(``rng.random()``), fixed or not, and a list of ``count`` phases consumes
``count``; so fixing one parameter never changes the values drawn for the others.

Levels (see :mod:`generators.identity`):

* ``build``: a property of one machine, drawn once per machine id;
* ``operating``: varies per clip within ``spread`` (relative half-width) around
  the machine's value (shaft speed, cycle time);
* ``recording``: drawn for every clip (phases, gain, noise, sensor).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from errors import FaultsynthError

#: A user-fixed parameter: a value, or a ``(low, high)`` range to draw from.
Fixed = Mapping[str, Any]

LEVELS = ("build", "operating", "recording")


@dataclass(frozen=True)
class Parameter:
    """A generator parameter and its default distribution.

    Parameters
    ----------
    name : str
        snake_case, ending with its unit where it has one (``resonance_hz``, ``unbalance_mm_s``).
    doc : str
        One line: what it is.
    unit : str
        Unit symbol (``"Hz"``, ``"rpm"``, ``"g"``, ``"dB"``; ``""`` when dimensionless).
    low, high : float
        Default range (uniform, or log-uniform with ``log``); for ``integer``, inclusive bounds.
    log : bool
        Draw uniformly in log space.
    integer : bool
        A whole number in ``[low, high]``.
    options : tuple
        Choices (numbers or strings), drawn with equal chances.
    count : int
        ``> 0``: a phase in rad, uniform in [0, 2 pi) (a list of ``count`` values when ``count > 1``).
    derived : str
        Not drawn: how the generator computes it (e.g. from a preset); the user may still fix it.
    level : str
        ``"build"``, ``"operating"`` or ``"recording"``.
    spread : float
        Operating parameters: relative half-width of the per-clip variation around the machine's value.
    faults : tuple of str
        Non-empty: the value only enters a clip's label for these faults (it is drawn for every clip).
    default : optional
        With ``options``: the value used unless the user fixes another (nothing is drawn).
    """

    name: str
    doc: str
    unit: str = ""
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    options: tuple = ()
    count: int = 0
    derived: str = ""
    level: str = "build"
    spread: float = 0.0
    faults: tuple[str, ...] = ()
    default: Any = None

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ValueError(f"{self.name}: level must be one of {LEVELS}, got {self.level!r}")
        if (self.spread > 0) != (self.level == "operating"):
            raise ValueError(f"{self.name}: operating parameters, and only they, have a spread")
        kinds = sum([bool(self.options), self.count > 0, bool(self.derived)])
        if kinds > 1 or (kinds == 0 and not self.low <= self.high):
            raise ValueError(f"{self.name}: declare one of a range, options, phases or a derived value")

    # -- description ---------------------------------------------------------------------------
    def default_text(self) -> str:
        """The default distribution in words, e.g. ``"log-uniform 1000..3500 Hz"``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.derived:
            return self.derived
        if self.options and self.default is not None:
            return f"{self.default}; or one of " + ", ".join(map(str, self.options))
        if self.options:
            return "one of " + ", ".join(f"{o:g}" if isinstance(o, float) else str(o) for o in self.options)
        if self.count:
            return f"uniform 0..2 pi rad{f' ({self.count} values)' if self.count > 1 else ''}"
        if self.integer:
            return f"whole number {self.low:g}..{self.high:g}{unit}"
        return f"{'log-' if self.log else ''}uniform {self.low:g}..{self.high:g}{unit}"

    def describe(self) -> str:
        """One line for ``synth --list``: doc, unit and default."""
        unit = f", {self.unit}" if self.unit and self.unit not in self.doc else ""
        only = f"; {', '.join(self.faults)} only" if self.faults else ""
        return f"{self.doc}{unit} (default: {self.default_text()}{only})"

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, fixed: Fixed, sample_rate: int | None = None) -> Any:
        """Value of this parameter, fixed by the user or drawn (consumes the same draws either way).

        Parameters
        ----------
        rng : numpy.random.Generator
        fixed : mapping
            User-fixed values or ``(low, high)`` ranges, by name.
        sample_rate : int, optional
            Hz: a frequency's default range (unit ``"Hz"``) is scaled down to stay below Nyquist.

        Returns
        -------
        float, int, str, list of float, or None (a derived parameter the user did not fix)
        """
        if self.count:
            return self._phases(rng, fixed)
        if self.derived:
            return self._number(fixed[self.name]) if self.name in fixed else None
        if self.default is not None:
            return self._choice(0.0, fixed) if self.name in fixed else self.default
        u = rng.random()
        if self.options:
            return self._choice(u, fixed)
        given = fixed.get(self.name)
        if given is None:
            low, high = self._default_range(sample_rate)
        elif isinstance(given, (tuple, list)):
            low, high = self._range(given)
        else:
            value = self._number(given)
            self._check_sign(value)
            if self.integer and value != round(value):
                raise FaultsynthError(f"{self.name}: expected a whole number, got {given!r}")
            return int(round(value)) if self.integer else value
        if self.integer:  # whole numbers low..high with equal chances
            return int(min(np.floor(low + u * (high - low + 1)), high))
        if self.log:
            if low <= 0:
                raise FaultsynthError(f"{self.name}: expected a positive range, got {low:g}:{high:g}")
            return float(np.exp(np.log(low) + u * (np.log(high) - np.log(low))))
        return float(low + u * (high - low))

    def _default_range(self, sample_rate: int | None) -> tuple[float, float]:
        if self.unit == "Hz" and sample_rate is not None:
            return below_nyquist(self.low, self.high, sample_rate)
        return self.low, self.high

    def _number(self, given: Any) -> float:
        if isinstance(given, bool):
            raise FaultsynthError(f"{self.name}: expected a number ({self.doc}), got {given!r}")
        try:
            value = float(given)
        except (TypeError, ValueError):
            raise FaultsynthError(f"{self.name}: expected a number or a (low, high) range of numbers "
                                  f"({self.doc}), got {given!r}") from None
        if not np.isfinite(value):
            raise FaultsynthError(f"{self.name}: expected a finite number, got {given!r}")
        return value

    def _range(self, given: Sequence[Any]) -> tuple[float, float]:
        if len(given) != 2:
            raise FaultsynthError(f"{self.name}: expected a value or a (low, high) range, got {given!r}")
        low, high = self._number(given[0]), self._number(given[1])
        if low > high:
            raise FaultsynthError(f"{self.name}: expected low <= high, got {low:g}:{high:g}")
        self._check_sign(low)
        if self.integer:
            if low != round(low) or high != round(high):
                raise FaultsynthError(f"{self.name}: expected a range of whole numbers, got {given!r}")
        return low, high

    def _check_sign(self, value: float) -> None:
        """A fixed value keeps the sign of the default range (dB values excepted): positive if ``low > 0``,
        non-negative if ``low == 0``."""
        if self.unit == "dB":
            return
        if (self.low > 0 and not value > 0) or (self.low == 0 and value < 0):
            raise FaultsynthError(f"{self.name}: expected a {'positive' if self.low > 0 else 'non-negative'} "
                                  f"value ({self.doc}), got {value:g}")

    def _choice(self, u: float, fixed: Fixed) -> Any:
        if self.name not in fixed:
            return self.options[min(int(u * len(self.options)), len(self.options) - 1)]
        given = fixed[self.name]
        for option in self.options:
            if str(option) == str(given) or (isinstance(option, float) and _same_number(option, given)):
                return option
        choices = ", ".join(f"{o:g}" if isinstance(o, float) else str(o) for o in self.options)
        raise FaultsynthError(f"{self.name}: expected one of {choices}, got {given!r}")

    def _phases(self, rng: np.random.Generator, fixed: Fixed) -> float | list[float]:
        drawn = [float(v) for v in rng.uniform(0, 2 * np.pi, self.count)]
        if self.name in fixed:
            given = fixed[self.name]
            values = list(given) if isinstance(given, (tuple, list)) else [given] * self.count
            try:
                drawn = [float(v) for v in values]
            except (TypeError, ValueError):
                raise FaultsynthError(f"{self.name}: expected {self.count} phase(s) in rad, got {given!r}") from None
            if len(drawn) != self.count or not all(np.isfinite(drawn)):
                raise FaultsynthError(f"{self.name}: expected one phase or a list of {self.count} finite phases "
                                      f"in rad, got {given!r}")
        return drawn[0] if self.count == 1 else drawn


def _same_number(option: float, given: Any) -> bool:
    try:
        return not isinstance(given, bool) and float(given) == option
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class FaultParameter:
    """A physical fault parameter and how severity in [0, 1] maps to it.

    The value is ``offset + per_severity * severity``, times ``shaft_hz / 30``
    when ``speed_scaled`` (impacts grow with speed), times the clip's
    ``signed_by`` parameter when given. ``per_severity=None`` declares a
    parameter the generator computes itself, described by ``doc``.

    Parameters
    ----------
    name : str
    per_severity : float or None
    unit : str
        ``""`` when dimensionless.
    doc : str
        What it does to the signal.
    offset : float
    speed_scaled : bool
    signed_by : str
    """

    name: str
    per_severity: float | None
    unit: str = ""
    doc: str = ""
    offset: float = 0.0
    speed_scaled: bool = False
    signed_by: str = ""

    def value(self, severity: float, params: Mapping[str, Any]) -> float:
        """Value at ``severity`` for a clip whose other parameters are ``params`` (needs ``shaft_hz`` if speed-scaled)."""
        if self.per_severity is None:
            raise ValueError(f"{self.name} is computed by its generator")
        value = self.offset + self.per_severity * severity
        if self.speed_scaled:
            value *= float(params["shaft_hz"]) / 30.0
        if self.signed_by:
            value *= float(params[self.signed_by])
        return float(value)

    def describe(self) -> str:
        """``name: formula unit, doc`` (the README's fault table is made of these)."""
        if self.per_severity is None:
            return f"{self.name}: {self.doc}"
        formula = f"{self.per_severity:g}*severity"
        if self.offset:
            formula = f"{self.offset:g} + {formula}"
        if self.speed_scaled:
            formula += "*shaft_hz/30"
        if self.signed_by:
            formula = f"{self.signed_by}*{formula}"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.name}: {formula}{unit}" + (f", {self.doc}" if self.doc else "")


def fault_values(parameters: Iterable[FaultParameter], severity: float, params: Mapping[str, Any]) -> dict:
    """The severity-mapped values of ``parameters`` (those the generator does not compute itself)."""
    return {p.name: p.value(severity, params) for p in parameters if p.per_severity is not None}


def sample_all(declarations: Iterable[Parameter], rng: np.random.Generator, fixed: Fixed, *, fault: str,
               sample_rate: int | None = None) -> dict:
    """Draw every declared parameter in order; keep those that belong in a ``fault`` clip's label.

    Derived parameters the user did not fix are left out (the generator computes them).
    """
    out = {}
    for p in declarations:
        value = p.sample(rng, fixed, sample_rate)
        if value is not None and (not p.faults or fault in p.faults):
            out[p.name] = value
    return out


def check_fixed(machine_name: str, declarations: Iterable[Parameter], fixed: Fixed) -> None:
    """Raise unless every fixed name is declared (typos are refused with the closest valid name)."""
    valid = {p.name for p in declarations}
    unknown = sorted(set(fixed) - valid)
    if unknown:
        hints = [f"{u!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(u, valid, n=1))
                 else repr(u) for u in unknown]
        raise FaultsynthError(f"unknown parameter(s) {', '.join(hints)} for machine {machine_name!r}: expected "
                              f"some of {', '.join(sorted(valid))} (see synth --list)")


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
