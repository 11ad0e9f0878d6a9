"""Rolling-element bearing: kinematic frequencies, healthy noise and bearing faults.

Geometry (number of rolling elements n, ball diameter d, pitch diameter D,
contact angle a) gives, as multiples of the shaft rate f_r (outer ring fixed):

- FTF  = f_r/2 * (1 - d/D cos a)            (cage)
- BPFO = n f_r/2 * (1 - d/D cos a)          (ball pass, outer race)
- BPFI = n f_r/2 * (1 + d/D cos a)          (ball pass, inner race)
- BSF  = D f_r/(2d) * (1 - (d/D cos a)^2)   (ball spin)

Localised race faults are trains of impacts (one per rolling element passing the
defect) that ring the structure's resonances; each impact time jitters by
``slip_pct`` percent of its period. Amplitudes follow the load zone: inner race
defects are modulated at the shaft rate (the defect turns with the shaft); an
outer race defect is taken to sit in the middle of the load zone (like CWRU's
"@6:00" faults).

Two load variations seen in the CWRU recordings (``bench/cwru_sim2real.py``, part 2)
are modelled too. The residual unbalance is a load that turns with the shaft, so the
contact load at a point fixed in space (an outer-race defect, a ball in the load
zone, the healthy rolling contacts) varies at the shaft rate: strikes and contact
noise there are scaled by ``(1 + shaft_load_modulation * cos(shaft angle - unbalance
phase)) ** 1.5`` (Hertzian load-deflection exponent; the impact train of the real
OR007 files varies by 20 % RMS over a revolution, OR021 by 80 %). And the rolling
elements do not all carry the same load (diameter tolerance, cage pocket
clearance), so the impacts of a race defect repeat a per-element pattern of spread
``ball_load_spread_pct`` every ``n_balls`` impacts: envelope lines at FTF for an
outer-race defect and at f_r - FTF for an inner-race one.

Impact strength. A rolling element that crosses a defect unloads and then
re-strikes the far edge. Once the defect is wider than the Hertzian contact
(a few tenths of a mm for a 6205 at light load) the element unloads fully, so the
strike grows less than in proportion to the width: the peak impact is
``impact_g_per_mm * k_fault * w_eff * shaft_hz/30`` g with the effective width
``w_eff = defect_mm / (1 + defect_mm / DEFECT_SATURATION_MM)`` (linear for small
defects, saturating above ~0.1 mm), and ``k_fault`` a per-fault-type factor
(:data:`IMPACT_TYPE_GAIN`) for the transfer path and the share of the load the
struck element carries. Both were calibrated against the CWRU drive-end 0 HP
recordings (``bench/cwru_sim2real.py``, ``tests/test_cwru_calibration.py``): the
fault RMS at the 0.007 in (0.178 mm) defect lies within 3 dB of the two CWRU
recordings' geometric mean for each fault type (CWRU's own 12 kHz and 48 kHz
0.007 in recordings differ by 5-6 dB; its 0.014 in inner- and outer-race files
are 9-20 dB below the other sizes and were not used).

Ball (rolling element) defects. The ball spins at BSF about an axis that is not
fixed: it wanders within the cage pocket, so the spall crosses the contact track
only on some spin revolutions, at a varying latitude, and meets the outer and the
inner race once each per spin (2xBSF), the inner-race contact being weaker
(``ball_inner_ratio``: the path runs through the ball and the inner ring). Each
potential strike therefore happens with probability :data:`BALL_STRIKE_PROBABILITY`
and with a broad, log-normal strength spread (:data:`BALL_STRIKE_SPREAD`), and its
time jitters :data:`BALL_SLIP_FACTOR` times more than a race impact (ball spin slips
more than the cage). Between clean strikes the rough spall drags through the
contact: cyclostationary noise through the same resonances, gated around each race
contact at the spin rate (raised-cosine gate) and carrying ``ball_noise_share`` of
the fault's energy (the strikes the rest; the total is that of the strikes alone).
Strikes and noise are modulated by the load zone as the ball travels with the cage
(FTF, ``load_zone_deg`` and ``unloaded_fraction``) to the depth ``ball_zone_depth``.
Calibrated on the CWRU ball recordings (``bench/cwru_sim2real.py``, part 2), whose
2-5.5 kHz signal is between Gaussian and impulsive (kurtosis -0.1, 0.2, 1.2, 13.8),
weakly modulated at 2xBSF (envelope modulation 0.03-0.20) and at FTF (0.05-0.71):
the gate is a plain raised cosine (a sharper one gives 2xBSF modulation above 0.5), and
the default ranges of the two parameters span those kurtosis and FTF values. The
envelope spectrum then shows 2xBSF and its FTF sidebands plus a line at FTF, as in
the recordings (B014 dominated by FTF with a weak 2xBSF line at 4.73 f_r, B021 with
2xBSF at 4.71 f_r and BSF).

Distributed ``wear`` is broadband noise through the same resonances whose
amplitude is modulated at the shaft rate (cyclostationary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, MutableMapping

import numpy as np

from errors import FaultsynthError
from generators.base import FaultSpec
from generators.parameters import FaultParameter, Fixed, Parameter
from generators.vibration_dsp import (MIN_TABLE_SIZE, ShaftMotion, cosine, event_revs, impulses,
                                      load_zone, ring, standard_deviation)


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry.

    Attributes
    ----------
    n_balls : int
        Number of rolling elements.
    ball_diameter_mm, pitch_diameter_mm : float
        Rolling element and pitch circle diameters (mm).
    contact_angle_deg : float
        Contact angle (degrees; 0 for deep-groove ball bearings under radial load).
    """

    n_balls: int
    ball_diameter_mm: float
    pitch_diameter_mm: float
    contact_angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n_balls < 3:
            raise FaultsynthError(f"n_balls must be at least 3, got {self.n_balls}")
        if not (0 < self.ball_diameter_mm < self.pitch_diameter_mm):
            raise FaultsynthError("expected 0 < ball_diameter_mm < pitch_diameter_mm, got "
                                  f"{self.ball_diameter_mm} and {self.pitch_diameter_mm}")
        if not (0 <= self.contact_angle_deg < 90):
            raise FaultsynthError(f"contact_angle_deg must be within [0, 90), got {self.contact_angle_deg}")

    def orders(self) -> dict[str, float]:
        """Characteristic frequencies as multiples of the shaft rate: ftf, bpfo, bpfi, bsf."""
        ratio = self.ball_diameter_mm / self.pitch_diameter_mm * np.cos(np.deg2rad(self.contact_angle_deg))
        n = self.n_balls
        return {"ftf": 0.5 * (1 - ratio), "bpfo": 0.5 * n * (1 - ratio), "bpfi": 0.5 * n * (1 + ratio),
                "bsf": self.pitch_diameter_mm / (2 * self.ball_diameter_mm) * (1 - ratio ** 2)}

    def frequencies_hz(self, shaft_hz: float) -> dict[str, float]:
        """``{"ftf_hz", "bpfo_hz", "bpfi_hz", "bsf_hz"}`` at shaft rate ``shaft_hz`` (Hz)."""
        return {f"{k}_hz": v * shaft_hz for k, v in self.orders().items()}


#: Bearing presets: the CWRU drive-end (6205-2RS) and fan-end (6203-2RS) SKF deep-groove ball bearings.
BEARINGS: dict[str, BearingGeometry] = {
    "6205": BearingGeometry(n_balls=9, ball_diameter_mm=7.94, pitch_diameter_mm=39.04),
    "6203": BearingGeometry(n_balls=8, ball_diameter_mm=6.75, pitch_diameter_mm=28.5),
}

#: Default range of ``impact_g_per_mm`` (g per mm of effective defect width at 1800 rpm).
IMPACT_G_PER_MM_RANGE = (20.0, 100.0)
#: Defect width (mm) above which the impact strength saturates (about the Hertzian contact width).
DEFECT_SATURATION_MM = 0.1
#: Per-fault-type factor on the impact strength (transfer path, load share), calibrated on CWRU.
IMPACT_TYPE_GAIN = {"outer_race": 1.0, "inner_race": 0.76, "ball": 0.18}
#: Ball defects: chance that the spall strikes at a given race contact (spin-axis wander).
BALL_STRIKE_PROBABILITY = 0.5
#: Ball defects: standard deviation of the log strike strength (natural log).
BALL_STRIKE_SPREAD = 0.6
#: Ball defects: strike time jitter relative to ``slip_pct`` (ball spin slips more than the cage).
BALL_SLIP_FACTOR = 3.0
#: Default range of ``ball_noise_share``: the contact noise's share of a ball fault's energy.
BALL_NOISE_SHARE_RANGE = (0.7, 0.99)
#: Default range of ``ball_zone_depth``: depth of a ball fault's load-zone modulation at FTF.
BALL_ZONE_DEPTH_RANGE = (0.05, 0.7)
#: Default range of ``bearing_noise_g`` (log-uniform): reaches the CWRU drive-end healthy baseline, 0.026 g RMS of
#: broadband vibration in 1-3.9 kHz (its 4.1-4.4 kHz lines are tones, not rolling noise).
BEARING_NOISE_G_RANGE = (0.005, 0.06)
#: Default range of ``slip_pct`` (%): the impact spacing jitter measured in the CWRU race-fault files.
SLIP_PCT_RANGE = (0.5, 4.0)
#: Default range of ``unloaded_fraction``: the CWRU inner-race impact trains' weakest/strongest over a
#: revolution range from 0.11 (IR014) to 0.48 (IR007, light load at 0 HP).
UNLOADED_FRACTION_RANGE = (0.05, 0.5)
#: Default range of ``shaft_load_modulation`` (log-uniform), from the CWRU OR and ball files.
SHAFT_LOAD_MODULATION_RANGE = (0.03, 0.9)
#: Default range of ``ball_load_spread_pct`` (%), from the CWRU race-fault files.
BALL_LOAD_SPREAD_PCT_RANGE = (0.0, 20.0)
#: Exponent of the contact load in the strike strength (Hertzian load-deflection, as in the load zone).
LOAD_EXPONENT = 1.5  # shaft_load_factor's normalisation assumes this value


def effective_defect_mm(defect_mm: float) -> float:
    """Defect width that sets the impact strength, mm: ``w / (1 + w / DEFECT_SATURATION_MM)``."""
    return defect_mm / (1 + defect_mm / DEFECT_SATURATION_MM)


def _impact_g(fault: str, where: str) -> FaultParameter:
    """The computed impact strength of a localised fault (declared for the fault table)."""
    return FaultParameter("impact_g", None, "g", f"impact_g_per_mm * {IMPACT_TYPE_GAIN[fault]:g} * w_eff * shaft_hz/30 "
                          f"g peak per impact{where}, w_eff = defect_mm/(1 + defect_mm/{DEFECT_SATURATION_MM:g} mm)")


_DEFECT = FaultParameter("defect_mm", 0.6, "mm", "defect width")
#: Faults with a spall (impacts whose strength follows the defect width).
SPALLS = ("outer_race", "inner_race", "ball")

FAULTS: dict[str, FaultSpec] = {
    "outer_race": FaultSpec(
        "outer_race", "spall on the outer race in the load zone: impacts at BPFO ringing the structure",
        (_DEFECT, _impact_g("outer_race", ""))),
    "inner_race": FaultSpec(
        "inner_race",
        "spall on the inner race: impacts at BPFI, amplitude-modulated at the shaft rate by the load zone",
        (_DEFECT, _impact_g("inner_race", " in the load zone centre"))),
    "ball": FaultSpec(
        "ball", "spall on one rolling element: intermittent strikes and contact noise at 2xBSF (alternately on "
                "both races), modulated at FTF by the load zone",
        (_DEFECT, _impact_g("ball", " on the outer race (median strike); ball_inner_ratio times that on the inner "
                                    "race; the strikes scaled by sqrt(1 - ball_noise_share), the contact noise "
                                    "carrying the rest of their energy"))),
    "cage": FaultSpec(
        "cage", "damaged cage: one knock per cage revolution (FTF) ringing the structure",
        (FaultParameter("cage_impact_g", 0.5, "g", "peak per impact", speed_scaled=True),)),
    "wear": FaultSpec(
        "wear", "distributed wear/roughness: broadband noise through the resonances, modulated at the shaft rate",
        (FaultParameter("wear_g_rms", 0.3, "g", "RMS of the added cyclostationary noise"),)),
}

#: Healthy-bearing parameters and the faults' nuisance parameters, in drawing order.
DECLARATIONS: tuple[Parameter, ...] = (
    Parameter("bearing", "bearing preset", options=tuple(BEARINGS)),
    Parameter("n_balls", "number of rolling elements", derived="from the preset"),
    Parameter("ball_diameter_mm", "rolling element diameter", "mm", derived="from the preset"),
    Parameter("pitch_diameter_mm", "pitch circle diameter", "mm", derived="from the preset"),
    Parameter("contact_angle_deg", "contact angle", "deg", derived="from the preset"),
    Parameter("slip_pct", "random jitter of each impact time, % of its period", "%", low=SLIP_PCT_RANGE[0],
              high=SLIP_PCT_RANGE[1]),
    Parameter("load_zone_deg", "half angle of the load zone", "deg", low=60.0, high=110.0),
    Parameter("unloaded_fraction", "impact amplitude outside the load zone relative to its centre",
              low=UNLOADED_FRACTION_RANGE[0], high=UNLOADED_FRACTION_RANGE[1]),
    Parameter("bearing_noise_g", "RMS of the healthy bearing's broadband noise", "g", low=BEARING_NOISE_G_RANGE[0],
              high=BEARING_NOISE_G_RANGE[1], log=True),
    Parameter("impact_g_per_mm", "peak impact acceleration per mm of effective defect width at 1800 rpm", "g/mm",
              low=IMPACT_G_PER_MM_RANGE[0], high=IMPACT_G_PER_MM_RANGE[1], faults=SPALLS),
    Parameter("impact_jitter_pct", "random impact-to-impact amplitude variation", "%", low=5.0, high=25.0,
              faults=(*SPALLS, "cage")),
    Parameter("ball_inner_ratio", "ball fault: inner-race impact relative to outer-race impact", low=0.3,
              high=0.8, faults=("ball",)),
    Parameter("wear_modulation", "wear: depth of the shaft-rate amplitude modulation", low=0.2, high=0.8,
              faults=("wear",)),
    Parameter("defect_phase_rad", "angular position of the defect (and first impact)", "rad", count=1,
              level="recording", faults=(*SPALLS, "cage", "wear")),
    Parameter("shaft_load_modulation", "depth of the shaft-rate variation of the contact load at points fixed in "
              "space (rotating unbalance load), relative", low=SHAFT_LOAD_MODULATION_RANGE[0],
              high=SHAFT_LOAD_MODULATION_RANGE[1], log=True),
    Parameter("ball_load_spread_pct", "race faults: spread of the impact strength from one rolling element to the "
              "next", "%", low=BALL_LOAD_SPREAD_PCT_RANGE[0], high=BALL_LOAD_SPREAD_PCT_RANGE[1],
              faults=("outer_race", "inner_race")),
    Parameter("ball_noise_share", "ball fault: share of the fault's energy in the spall's contact noise, the rest "
              "in strikes", low=BALL_NOISE_SHARE_RANGE[0], high=BALL_NOISE_SHARE_RANGE[1], faults=("ball",)),
    Parameter("ball_zone_depth", "ball fault: depth of the load-zone modulation as the ball travels with the cage, "
              "1 = as a race impact", low=BALL_ZONE_DEPTH_RANGE[0], high=BALL_ZONE_DEPTH_RANGE[1], faults=("ball",)),
)


def derive(params: MutableMapping[str, Any], *, fixed: Fixed, fault: str, shaft_hz: float) -> None:
    """Add the geometry (the preset's, with any value the user fixed), the characteristic frequencies (Hz)
    and a spall's impact strength ``impact_g`` to ``params``."""
    base = BEARINGS[params["bearing"]]
    try:
        geometry = BearingGeometry(
            n_balls=int(fixed.get("n_balls", base.n_balls)),
            ball_diameter_mm=float(fixed.get("ball_diameter_mm", base.ball_diameter_mm)),
            pitch_diameter_mm=float(fixed.get("pitch_diameter_mm", base.pitch_diameter_mm)),
            contact_angle_deg=float(fixed.get("contact_angle_deg", base.contact_angle_deg)))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, FaultsynthError):
            raise
        raise FaultsynthError(f"bearing geometry: expected numbers, got {exc}") from None
    params.update(n_balls=geometry.n_balls, ball_diameter_mm=geometry.ball_diameter_mm,
                  pitch_diameter_mm=geometry.pitch_diameter_mm, contact_angle_deg=geometry.contact_angle_deg)
    params.update(geometry.frequencies_hz(shaft_hz))
    if fault in SPALLS:
        params["impact_g"] = (params["impact_g_per_mm"] * IMPACT_TYPE_GAIN[fault]
                              * effective_defect_mm(params["defect_mm"]) * shaft_hz / 30.0)


def characteristic_frequencies(params: Mapping[str, Any]) -> dict[str, float]:
    """The bearing frequencies (Hz) that must lie below Nyquist."""
    return {k: float(params[k]) for k in ("ftf_hz", "bpfo_hz", "bpfi_hz", "bsf_hz")}


def render(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """Healthy bearing noise and the bearing fault component (g).

    Parameters
    ----------
    params : mapping
        From :func:`sample`, plus ``fault``, ``shaft_hz`` and the structural
        resonance parameters (``resonance_hz``, ``damping_ratio``, ...).
    motion : ShaftMotion
    rng : numpy.random.Generator
        Drives noise, slip and amplitude jitter.

    Returns
    -------
    machine : ndarray, shape (motion.n,), float64, g
    fault : ndarray, shape (motion.n,), float64, g; None for no bearing fault
    """
    fs = motion.sample_rate
    # Healthy rolling contacts in the load zone: noise whose source follows the shaft-rate load variation.
    noise = motion.gaussian(rng)
    if "shaft_load_modulation" in params:
        noise *= motion.angle().lookup(_shaft_load_table(params))
    noise = ring(noise, params, fs)
    noise *= float(params["bearing_noise_g"]) / max(standard_deviation(noise), 1e-300)
    fault_name = params.get("fault", "none")
    if fault_name not in FAULTS:
        return noise, None
    f_r = motion.shaft_hz
    total = motion.total_revs
    slip = float(params.get("slip_pct", 1.5))
    phase = float(params["defect_phase_rad"])
    if fault_name == "wear":
        fault = ring(motion.gaussian(rng), params, fs)
        m = float(params["wear_modulation"])
        fault *= float(params["wear_g_rms"]) / max(standard_deviation(fault), 1e-300) / np.sqrt(1 + m * m / 2)
        modulation = cosine(motion.cycles(), m, phase)  # m cos(shaft angle + phase)
        modulation += np.float32(1)
        fault *= modulation
        return noise, fault
    zone = dict(half_angle_deg=float(params["load_zone_deg"]), unloaded_fraction=float(params["unloaded_fraction"]))
    if fault_name == "ball":
        return noise, _ball_fault(params, motion=motion, rng=rng, zone=zone)
    if fault_name == "cage":
        rate, amplitude = float(params["ftf_hz"]) / f_r, float(params["cage_impact_g"])
    else:
        amplitude = float(params["impact_g"])
        rate = {"outer_race": float(params["bpfo_hz"]), "inner_race": float(params["bpfi_hz"])}[fault_name] / f_r
    positions = event_revs(total, events_per_rev=rate, slip_pct=slip, offset=phase / (2 * np.pi), rng=rng)
    jitter = float(params["impact_jitter_pct"]) / 100
    heights = amplitude * np.clip(1 + jitter * rng.standard_normal(positions.size), 0, None)
    if fault_name == "inner_race":
        heights *= load_zone(2 * np.pi * positions + phase, **zone)
    elif fault_name == "outer_race":
        heights *= shaft_load_factor(params, positions)
    if fault_name in ("outer_race", "inner_race"):
        # Impact k is struck by element k mod n_balls (the elements pass a race defect in turn).
        spread = float(params.get("ball_load_spread_pct", 0.0)) / 100
        per_ball = np.clip(1 + spread * rng.standard_normal(int(params["n_balls"])), 0.2, None)
        per_ball /= np.sqrt(np.mean(per_ball ** 2))  # the elements share the load: impact_g stays the RMS strike
        heights *= per_ball[np.arange(positions.size) % per_ball.size]
    fault = ring(impulses(motion, positions, heights), params, fs)
    return noise, fault


def _unbalance_phase(params: Mapping[str, Any]) -> float:
    """Direction of the rotating load, rad: the phase of the residual unbalance's 1x (0 if not rendered)."""
    phases = params.get("shaft_phase_rad")
    return float(phases[0]) if phases is not None else 0.0


def shaft_load_factor(params: Mapping[str, Any], revs: np.ndarray) -> np.ndarray:
    """Strike strength at shaft positions ``revs`` (revolutions) from the rotating unbalance load.

    ``(1 + m cos(2 pi revs - unbalance phase)) ** LOAD_EXPONENT / sqrt(1 + 1.5 m**2)`` with
    ``m = shaft_load_modulation``: unit mean square over a revolution, so the calibrated ``impact_g`` stays
    the strikes' RMS strength (the rotating load moves load around the revolution, it adds none).

    Returns
    -------
    ndarray, shape like ``revs``, float64, dimensionless
    """
    m = float(params.get("shaft_load_modulation", 0.0))
    factor = (1 + m * np.cos(2 * np.pi * np.asarray(revs) - _unbalance_phase(params))) ** LOAD_EXPONENT
    return factor / np.sqrt(1 + 1.5 * m * m)  # mean of (1 + m cos)**3 over a revolution


def _shaft_load_table(params: Mapping[str, Any]) -> np.ndarray:
    """:func:`shaft_load_factor` over one revolution, for :meth:`ShaftMotion.angle` lookups."""
    return shaft_load_factor(params, np.arange(MIN_TABLE_SIZE) / MIN_TABLE_SIZE)


def _ball_zone(cos_angle: np.ndarray, zone: Mapping[str, float], depth: float) -> np.ndarray:
    """Load-zone factor of a ball spall's strikes and contact noise: ``1 - depth * (1 - load_zone)``.

    From the cosine of the angle from the load centre (:func:`load_zone` depends on the angle
    only through it), in the dtype of ``cos_angle``.
    """
    unloaded = float(zone["unloaded_fraction"])
    limit = np.cos(np.deg2rad(float(zone["half_angle_deg"])))
    dtype = cos_angle.dtype.type
    # load_zone's profile (1 - (1 - cos a)/(1 - cos a_l)) ** 1.5, clipped to [0, 1]
    q = np.clip((cos_angle - dtype(limit)) * dtype(1 / (1 - limit)), 0, 1)
    q *= np.sqrt(q)
    swing = depth * (1 - unloaded)
    q *= dtype(swing)
    q += dtype(1 - swing)
    return q


def _ball_fault(params: Mapping[str, Any], *, motion: ShaftMotion, rng: np.random.Generator,
                zone: Mapping[str, float]) -> np.ndarray:
    """Ball spall: intermittent strikes plus gated contact noise at 2xBSF, load-zone modulated at FTF (g).

    The RMS is that of the strikes alone; ``ball_noise_share`` of the energy goes to the contact noise.
    """
    fs = motion.sample_rate
    f_r = motion.shaft_hz
    phase = float(params["defect_phase_rad"])
    amplitude = float(params["impact_g"])
    inner = float(params["ball_inner_ratio"])
    share = float(params["ball_noise_share"])
    depth = float(params["ball_zone_depth"])
    cage_per_rev = float(params["ftf_hz"]) / f_r
    spin_per_rev = float(params["bsf_hz"]) / f_r
    # Strikes: one potential contact per half spin, alternately outer (even) and inner (odd) race.
    positions = event_revs(motion.total_revs, events_per_rev=2 * spin_per_rev,
                           slip_pct=BALL_SLIP_FACTOR * float(params.get("slip_pct", 1.5)),
                           offset=phase / (2 * np.pi), rng=rng)
    jitter = float(params["impact_jitter_pct"]) / 100
    heights = amplitude * np.clip(1 + jitter * rng.standard_normal(positions.size), 0, None)
    heights *= np.exp(BALL_STRIKE_SPREAD * rng.standard_normal(positions.size))
    heights *= rng.random(positions.size) < BALL_STRIKE_PROBABILITY
    heights *= _ball_zone(np.cos(2 * np.pi * positions * cage_per_rev + phase), zone, depth)
    heights *= shaft_load_factor(params, positions)
    heights[1::2] *= inner
    fault = impulses(motion, positions, heights)
    # Contact noise of the spall dragging through the contact, gated at the spin rate and load-zone modulated.
    # Gate: 0.5 + 0.5 cos at the outer-race contacts plus inner * (0.5 - 0.5 cos), with the spin phase zero at
    # the outer-race contacts (strike k sits at (k + offset) / (2 spin_per_rev) revs); evaluated in float32 from
    # the spin phase wrapped to one spin revolution.
    gate = cosine(motion.cycles(1 / spin_per_rev), 0.5 * (1 - inner), -phase / 2, out=motion.scratch(np.float32))
    gate += np.float32(0.5 * (1 + inner))
    # The load zone as the ball travels with the cage (from the cage angle wrapped to one revolution), and the
    # rotating load (looked up over one shaft revolution).
    gate *= _ball_zone(cosine(motion.cycles(1 / cage_per_rev), 1.0, phase), zone, depth)
    gate *= motion.angle().lookup(_shaft_load_table(params))
    contact = motion.gaussian(rng)
    contact *= gate
    # Both parts are white before the structure rings them, so their energy split is set here.
    strikes_ms = float(np.einsum("i,i->", fault, fault)) / motion.n
    contact_ms = float(np.einsum("i,i->", contact, contact)) / motion.n
    contact *= np.float32(np.sqrt(share * strikes_ms / max(contact_ms, 1e-300)))
    fault *= np.sqrt(1 - share)
    fault += contact
    return ring(fault, params, fs)
