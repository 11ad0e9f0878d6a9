"""Industrial fan sound (MIMII / DCASE ``fan``).

Normal sound: blade-pass tone ``f_bp = blades * rpm / 60`` and its harmonics over broadband
turbulence (flow noise flat up to a corner frequency then falling, with a housing resonance);
shaft speed drifts by a fraction of a percent. Flow-noise level follows the fan law (sound power
~ speed**5).

Unsteady inflow: the air a fan draws in is itself turbulent (room draughts, duct bends, the
wakes of struts and guards). Each large eddy passing through the rotor changes the blade loading
for a moment, so the level of the flow noise and, more strongly, of the blade-pass tone (the tone
is the blades' response to a non-uniform inflow) fluctuates randomly, with a flat spectrum of
modulation rates up to ``inflow_rate_hz`` (inflow speed over eddy size: a few m/s over 0.2-1 m)
and little above. ``turbulence_fluctuation`` and ``tone_fluctuation`` are the relative standard
deviations of the two levels; all three belong to the installation (build level). Real MIMII /
DCASE 2023 fans fluctuate this way at 1-16 Hz, most in the low mel bands where the tones are
(``bench/sound_realism.py``).

Faults (severity s in [0, 1]; s = 0 renders the normal fan):

- ``unbalance``: amplitude modulation of the whole sound at the shaft rate, plus 1x and 2x tones;
- ``voltage_change``: supply voltage off nominal, so the motor runs at another speed;
- ``clogging``: flow restriction: more turbulence, stronger blade-pass tone, a slight speed
  rise (the unloaded impeller) and a rotating-stall modulation of the turbulence.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event, FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.sound_dsp import (cycles, db, harmonic_count, harmonics, highpass, modulate, resonance_boost,
                                  rfft_frequencies, shape, sine, slow_knots, smooth, tilt, white_spectrum)
from generators.sound_machine import AudioMachine, level_rms_parameter

#: Most blade-pass harmonics rendered.
MAX_HARMONICS = 16


class Fan(AudioMachine):
    """Axial / centrifugal fan (see module docstring)."""

    name = "fan"
    declarations = (
        Parameter('rpm', 'shaft speed', 'rpm', low=900.0, high=3000.0, level="operating", spread=0.01),
        Parameter('blades', 'number of blades', low=3, high=12, integer=True),
        Parameter('tonal_level_db', 'blade-pass tone (all harmonics) level re turbulence', 'dB', low=-20.0, high=3.0),
        Parameter('harmonic_decay_db', 'level drop per blade-pass harmonic', 'dB', low=1.0, high=8.0),
        Parameter('turbulence_corner_hz', 'corner of the flow-noise spectrum', 'Hz', low=100.0, high=600.0, log=True),
        Parameter('turbulence_slope_db_per_octave', 'flow-noise spectral slope above the corner', 'dB/octave', low=5.0, high=8.0),
        Parameter('housing_resonance_hz', 'housing / duct resonance', 'Hz', low=500.0, high=4000.0, log=True),
        Parameter('housing_resonance_q', 'housing resonance quality factor', low=1.0, high=6.0),
        Parameter('housing_resonance_gain_db', 'housing resonance boost of the flow noise', 'dB', low=0.0, high=12.0),
        Parameter('turbulence_fluctuation', 'relative fluctuation (std) of the flow-noise level from unsteady inflow',
                  low=0.05, high=0.2),
        Parameter('tone_fluctuation', 'relative fluctuation (std) of the blade-pass tone level from unsteady inflow',
                  low=0.1, high=0.4),
        Parameter('inflow_rate_hz', 'bandwidth of the inflow fluctuation: inflow speed over the size of its large '
                  'eddies', 'Hz', low=4.0, high=16.0, log=True),
        Parameter('speed_jitter', 'relative slow drift of the shaft speed (std)', low=0.0005, high=0.005),
        Parameter('stall_ratio', 'rotating-stall cell speed as a fraction of shaft speed (clogging)', low=0.3, high=0.6),
        Parameter('voltage_sign', 'direction of a voltage change: -1 low, +1 high', options=(-1.0, 1.0), level="recording"),
        level_rms_parameter(),
    )
    faults = {
        "unbalance": FaultSpec('unbalance', 'mass unbalance of the impeller: once-per-revolution modulation and 1x/2x tones', (
            FaultParameter('unbalance_am_depth', 0.5, '', 'amplitude modulation at rpm/60 Hz'),
            FaultParameter('unbalance_tone_ratio', 1.3, '', "RMS of the 1x tone (0.5x that at 2x) re the normal sound's RMS; severity 1 matches MIMII fan id_00's abnormal clips (+4.5 dB overall, all below 90 Hz)"))),
        "voltage_change": FaultSpec('voltage_change', 'supply voltage off nominal: the fan runs at another speed', (
            FaultParameter('speed_change_fraction', 0.2, '', 'shaft speed and all tones scale by 1 + it; turbulence amplitude by (1 + it)**2.5', signed_by="voltage_sign"),)),
        "clogging": FaultSpec('clogging', 'flow restriction (clogged filter or duct): more turbulence, blade-pass change, stall', (
            FaultParameter('turbulence_gain_db', 3, 'dB'),
            FaultParameter('blade_pass_gain_db', 4, 'dB'),
            FaultParameter('speed_change_fraction', 0.03, '', 'unloaded impeller speeds up'),
            FaultParameter('stall_am_depth', 0.2, '', 'turbulence modulation at stall_ratio*rpm/60 Hz'))),
    }

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        speed = 1.0 + max(0.0, float(params.get("speed_change_fraction", 0.0)))
        return {"blade-pass frequency": params["blades"] * params["rpm"] / 60 * speed * 1.02}

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        fault = str(p.get("fault", "none"))
        # stochastic parts, drawn once in a fixed order (same realisation for normal and faulty)
        draws = {"drift": slow_knots(rng, n, sr, bandwidth_hz=0.5),
                 "tone_fluct": slow_knots(rng, n, sr, bandwidth_hz=p["inflow_rate_hz"]),
                 "turb_fluct": slow_knots(rng, n, sr, bandwidth_hz=p["inflow_rate_hz"]),
                 "stall_fluct": slow_knots(rng, n, sr, bandwidth_hz=1.0),
                 "spectrum": white_spectrum(rng, n),
                 "phases": rng.uniform(0, 2 * np.pi, MAX_HARMONICS + 2)}
        # seconds of running at nominal speed, the speed drift integrated: shaft cycles / nominal shaft rate
        draws["run_s"] = cycles(smooth(draws["drift"], n, scale=p["speed_jitter"], offset=1.0), n, sr)
        normal, shaft_cyc = self._sound(p, draws, faulty=False, n=n, sr=sr)
        if fault == "none":
            return normal, None, []
        if fault == "unbalance":
            # faulty = normal * (1 + depth * sin(shaft)) + 1x and 2x tones
            phases = draws["phases"]
            normal_rms = np.sqrt(np.mean(np.square(normal), dtype=np.float64))
            part = sine(shaft_cyc, phases[-1])
            part *= np.float32(p["unbalance_am_depth"])
            part *= normal
            r = p["unbalance_tone_ratio"] * normal_rms * np.sqrt(2)  # 1x tone RMS re the normal sound
            part += np.float32(r) * harmonics(shaft_cyc, [1.0, 0.5], [phases[-2], 0.0])
            return normal, part, []
        faulty, _ = self._sound(p, draws, faulty=True, n=n, sr=sr)
        faulty -= normal
        return normal, faulty, []

    def _sound(self, p: Mapping[str, Any], draws: Mapping[str, np.ndarray], *, faulty: bool, n: int,
               sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Fan sound (float32) with the speed and flow changes of the fault if ``faulty``; and the shaft cycles."""
        g = (lambda key: float(p.get(key, 0.0))) if faulty else (lambda key: 0.0)
        speed = 1.0 + g("speed_change_fraction")
        shaft_hz = p["rpm"] / 60 * speed
        phases = draws["phases"]

        f = rfft_frequencies(n, sr)
        corner = p["turbulence_corner_hz"] * speed  # Strouhal scaling with flow speed
        magnitude = (tilt(f, corner_hz=corner, slope_db_per_octave=p["turbulence_slope_db_per_octave"])
                     * highpass(f, cutoff_hz=20.0)
                     * resonance_boost(f, centre_hz=p["housing_resonance_hz"], q=p["housing_resonance_q"],
                                       gain_db=p["housing_resonance_gain_db"]))
        # flow noise power ~ speed**5; tone set by blade loading
        magnitude *= np.float32(db(g("turbulence_gain_db")) * speed**2.5 / np.sqrt(np.mean(magnitude**2)))
        out = shape(draws["spectrum"], magnitude, n)
        del f, magnitude
        out *= smooth(draws["turb_fluct"], n, scale=p["turbulence_fluctuation"], offset=1.0)

        shaft_cyc = draws["run_s"] * shaft_hz
        stall_depth = g("stall_am_depth")
        if stall_depth:
            stall = np.tanh(smooth(draws["stall_fluct"], n))
            stall *= np.float32(0.3)
            stall += np.float32(0.7)
            stall *= sine(shaft_cyc * p["stall_ratio"])
            modulate(out, stall, stall_depth)

        k = harmonic_count(p["blades"] * shaft_hz * 1.02, sr, MAX_HARMONICS)
        amps = [db(-p["harmonic_decay_db"] * i) for i in range(k)]
        tone = harmonics(shaft_cyc, amps, phases[:k], orders=[p["blades"] * (i + 1) for i in range(k)])
        level = db(p["tonal_level_db"] + g("blade_pass_gain_db")) / max(np.sqrt(np.sum(np.square(amps)) / 2), 1e-12)
        tone *= smooth(draws["tone_fluct"], n, scale=level * p["tone_fluctuation"], offset=level)
        out += tone
        return out, shaft_cyc


FAN = Fan()
