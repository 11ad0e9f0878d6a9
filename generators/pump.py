"""Centrifugal water pump sound (MIMII ``pump``).

Normal sound: vane-pass tone ``f_vp = vanes * rpm / 60`` and harmonics, 1x/2x shaft tones,
motor magnetic hum at twice the mains frequency, and broadband flow noise (flat up to a
corner, then falling, with a casing resonance) whose level fluctuates slowly.

Faults (severity s in [0, 1]; s = 0 renders the normal pump):

- ``leakage``: a leak jet: band-limited hiss around ``leak_centre_hz``;
- ``contamination``: solid particles in the fluid: random impacts exciting casing modes;
- ``clogging``: flow restriction: stronger vane-pass tone, less flow noise, slight speed rise
  and a low-frequency pressure pulsation (surge);
- ``cavitation``: vapour-bubble implosions: random sub-millisecond broadband high-frequency
  bursts, bunched at the vane passage.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from generators.base import Event, FaultSpec
from generators.parameters import FaultParameter, Parameter
from generators.sound_dsp import (bandpass, cycle_fraction, cycles, damped_modes, db, decay_envelope,
                                  harmonic_count, harmonics, highpass, impacts, impulse_train, modulate,
                                  nested_poisson, resonance_boost, rfft_frequencies, shape, sine, slow_knots, smooth,
                                  tilt, white_spectrum)
from generators.sound_machine import AudioMachine, level_rms_parameter

MAX_HARMONICS = 8
#: Highest particle impact rate (contamination at severity 1), per second.
MAX_IMPACT_RATE_HZ = 40.0
#: Highest bubble-collapse rate (cavitation at severity 1), per second.
MAX_COLLAPSE_RATE_HZ = 1500.0


class Pump(AudioMachine):
    """Centrifugal pump (see module docstring)."""

    name = "pump"
    declarations = (
        Parameter('rpm', 'shaft speed', 'rpm', low=1400.0, high=3600.0, level="operating", spread=0.01),
        Parameter('vanes', 'number of impeller vanes', low=3, high=8, integer=True),
        Parameter('vane_pass_level_db', 'vane-pass tone (all harmonics) level re flow noise', 'dB', low=-20.0, high=0.0),
        Parameter('harmonic_decay_db', 'level drop per vane-pass harmonic', 'dB', low=3.0, high=10.0),
        Parameter('shaft_tone_level_db', '1x shaft tone level re flow noise', 'dB', low=-30.0, high=-10.0),
        Parameter('mains_hz', 'mains frequency, Hz (motor hum at twice it)', 'Hz', options=(50.0, 60.0)),
        Parameter('motor_hum_level_db', 'motor magnetic hum level re flow noise', 'dB', low=-30.0, high=-8.0),
        Parameter('flow_corner_hz', 'corner of the flow-noise spectrum', 'Hz', low=80.0, high=400.0, log=True),
        Parameter('flow_slope_db_per_octave', 'flow-noise spectral slope above the corner', 'dB/octave', low=5.0, high=9.0),
        Parameter('casing_resonance_hz', 'casing resonance', 'Hz', low=400.0, high=2500.0, log=True),
        Parameter('casing_resonance_q', 'casing resonance quality factor', low=2.0, high=10.0),
        Parameter('casing_resonance_gain_db', 'casing resonance boost of the flow noise', 'dB', low=0.0, high=12.0),
        Parameter('flow_fluctuation', 'relative slow fluctuation of the flow-noise level', low=0.01, high=0.08),
        Parameter('speed_jitter', 'relative slow drift of the shaft speed (std)', low=0.0005, high=0.004),
        Parameter('leak_centre_hz', 'centre of the leak-jet hiss band, Hz (leakage)', 'Hz', low=2000.0, high=6000.0, log=True),
        Parameter('surge_hz', 'pressure pulsation frequency, Hz (clogging)', 'Hz', low=1.0, high=6.0),
        level_rms_parameter(),
    )
    faults = {
        "leakage": FaultSpec('leakage', 'fluid escaping through a seal or crack: jet hiss', (
            FaultParameter('leak_hiss_ratio', 0.6, '', 'leak hiss RMS re flow-noise RMS (band around leak_centre_hz)'),)),
        "contamination": FaultSpec('contamination', 'solid particles in the fluid hitting impeller and casing', (
            FaultParameter('impact_rate_hz', MAX_IMPACT_RATE_HZ, '', 'impacts per second (Poisson)'),
            FaultParameter('impact_amplitude_ratio', 2, '', 'impact peak re flow-noise RMS'))),
        "clogging": FaultSpec('clogging', 'flow restriction: vane-pass up, flow noise down, surge', (
            FaultParameter('vane_pass_gain_db', 8, 'dB'),
            FaultParameter('flow_noise_gain_db', -4, 'dB'),
            FaultParameter('speed_change_fraction', 0.02),
            FaultParameter('surge_am_depth', 0.4, '', 'AM depth of the flow noise at surge_hz'))),
        "cavitation": FaultSpec('cavitation', 'vapour bubbles imploding: random broadband high-frequency crackle', (
            FaultParameter('collapse_rate_hz', MAX_COLLAPSE_RATE_HZ, '', 'bursts per second (Poisson, bunched at vane passage)'),
            FaultParameter('crackle_ratio', 0.3, '', 'crackle RMS at full rate re flow-noise RMS (scales with sqrt(rate))'))),
    }

    def _characteristic_hz(self, params: Mapping[str, Any]) -> dict[str, float]:
        speed = 1.0 + float(params.get("speed_change_fraction", 0.0))
        out = {"vane-pass frequency": params["vanes"] * params["rpm"] / 60 * speed * 1.02}
        if params.get("fault") == "leakage":
            out["leak jet centre frequency"] = params["leak_centre_hz"]
        return out

    def _synthesise(self, params: Mapping[str, Any], *, n_samples: int, sample_rate: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, list[Event]]:
        p, n, sr = params, n_samples, sample_rate
        fault = str(p.get("fault", "none"))
        duration_s = n / sr
        # stochastic parts, drawn once in a fixed order (same realisation for normal and faulty)
        draws = {"drift": slow_knots(rng, n, sr, bandwidth_hz=0.5),
                 "flow_fluct": slow_knots(rng, n, sr, bandwidth_hz=1.0),
                 "flow_spec": white_spectrum(rng, n),
                 "phases": rng.uniform(0, 2 * np.pi, MAX_HARMONICS + 3)}
        fault_rng = np.random.default_rng(rng.integers(2**63))  # fault randomness, drawn only if used

        hum = harmonics(cycles(2 * p["mains_hz"], n, sr), [1.0, 0.3, 0.1], [draws["phases"][-1], 0.0, 0.0])
        hum *= np.float32(db(p["motor_hum_level_db"]) * 1.35)
        # seconds of running at nominal speed, the speed drift integrated: shaft cycles / nominal shaft rate
        draws["run_s"] = cycles(smooth(draws["drift"], n, scale=p["speed_jitter"], offset=1.0), n, sr)
        normal, shaft_cyc = self._sound(p, draws, hum, faulty=False, n=n, sr=sr)
        if fault == "none":
            return normal, None, []
        if fault == "clogging":
            del shaft_cyc
            faulty, _ = self._sound(p, draws, hum, faulty=True, n=n, sr=sr)
            faulty -= normal
            return normal, faulty, []

        f = rfft_frequencies(n, sr)
        if fault == "leakage":
            hiss_mag = bandpass(f, centre_hz=p["leak_centre_hz"], q=1.0)
            hiss_mag *= np.float32(p["leak_hiss_ratio"] / np.sqrt(np.mean(hiss_mag**2)))
            part = shape(white_spectrum(fault_rng, n), hiss_mag, n, overwrite=True)
            part *= smooth(slow_knots(fault_rng, n, sr, bandwidth_hz=3.0), n, scale=0.1, offset=1.0)
            return normal, part, []
        if fault == "contamination":
            times, marks = nested_poisson(fault_rng, max_rate_hz=MAX_IMPACT_RATE_HZ, duration_s=duration_s)
            amplitude = fault_rng.lognormal(0.0, 0.4, times.size)
            keep = marks < p["impact_rate_hz"] / MAX_IMPACT_RATE_HZ
            kernel = damped_modes(sr, modes_hz=[p["casing_resonance_hz"], 2.7 * p["casing_resonance_hz"]],
                                  decays_s=[0.004, 0.0015], amplitudes=[1.0, 0.6], duration_s=0.03)
            kernel *= p["impact_amplitude_ratio"] / np.max(np.abs(kernel))
            return normal, impacts(n, times[keep], amplitude[keep], kernel, sr), []
        # cavitation
        times, marks = nested_poisson(fault_rng, max_rate_hz=MAX_COLLAPSE_RATE_HZ, duration_s=duration_s)
        amplitude = fault_rng.lognormal(0.0, 0.3, times.size)
        crackle_spec = white_spectrum(fault_rng, n)
        # shaft cycles at the collapse times, linearly interpolated between samples (as np.interp on them)
        at = times * sr
        i = np.minimum(at.astype(np.int64), n - 2)
        cyc_at = shaft_cyc[i] + np.minimum(at - i, 1.0) * (shaft_cyc[i + 1] - shaft_cyc[i])
        vane_phase = p["vanes"] * cyc_at % 1.0
        # bubbles collapse as they leave the low-pressure zone behind each vane
        keep = marks < p["collapse_rate_hz"] / MAX_COLLAPSE_RATE_HZ * (0.3 + 1.4 * (vane_phase < 0.5))
        envelope = decay_envelope(impulse_train(n, times[keep], amplitude[keep], sr), sr, decay_s=0.0003)
        crackle_mag = highpass(f, cutoff_hz=2500.0, order=2)
        # calibrate: crackle RMS at the full rate = crackle_ratio (flow-noise RMS is 1)
        full_rate_rms = np.sqrt(MAX_COLLAPSE_RATE_HZ * np.exp(2 * 0.3**2) * 0.0003 / 2)
        crackle_mag *= np.float32(p["crackle_ratio"] / full_rate_rms / np.sqrt(np.mean(crackle_mag**2)))
        crackle = shape(crackle_spec, crackle_mag, n, overwrite=True)
        crackle *= envelope
        return normal, crackle, []

    def _sound(self, p: Mapping[str, Any], draws: Mapping[str, np.ndarray], hum: np.ndarray, *, faulty: bool,
               n: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
        """Pump sound (float32) with the clogging changes if ``faulty``; and the shaft cycles."""
        g = (lambda key: float(p.get(key, 0.0))) if faulty else (lambda key: 0.0)
        speed = 1.0 + g("speed_change_fraction")
        phases = draws["phases"]

        f = rfft_frequencies(n, sr)
        magnitude = (tilt(f, corner_hz=p["flow_corner_hz"] * speed, slope_db_per_octave=p["flow_slope_db_per_octave"])
                     * highpass(f, cutoff_hz=20.0)
                     * resonance_boost(f, centre_hz=p["casing_resonance_hz"], q=p["casing_resonance_q"],
                                       gain_db=p["casing_resonance_gain_db"]))
        magnitude *= np.float32(db(g("flow_noise_gain_db")) / np.sqrt(np.mean(magnitude**2)))
        out = shape(draws["flow_spec"], magnitude, n)
        del f, magnitude
        out *= smooth(draws["flow_fluct"], n, scale=p["flow_fluctuation"], offset=1.0)
        if g("surge_am_depth"):
            modulate(out, sine(cycles(p["surge_hz"], n, sr)), g("surge_am_depth"))

        shaft_hz = p["rpm"] / 60 * speed
        shaft_cyc = draws["run_s"] * shaft_hz
        k = harmonic_count(p["vanes"] * p["rpm"] / 60 * speed * 1.02, sr, MAX_HARMONICS)
        amps = np.array([db(-p["harmonic_decay_db"] * i) for i in range(k)])
        shaft_fraction = cycle_fraction(shaft_cyc)  # once for both tone sets
        vane = harmonics(shaft_fraction, amps, phases[:k], orders=[p["vanes"] * (i + 1) for i in range(k)])
        vane *= np.float32(db(p["vane_pass_level_db"] + g("vane_pass_gain_db")) / np.sqrt(np.sum(amps**2) / 2))
        out += vane
        shaft = harmonics(shaft_fraction, [1.0, 0.5], phases[k:k + 2], out=vane)
        shaft *= np.float32(db(p["shaft_tone_level_db"]) * np.sqrt(2 / 1.25))
        out += shaft
        out += hum
        if speed != 1.0:
            out *= np.float32(speed**2)
        return out, shaft_cyc


PUMP = Pump()
