"""Features, detectors, training, evaluation and export.

Submodules are imported explicitly (``from pipeline import features``); this
package imports nothing heavy on its own, so ``synth`` never pulls TensorFlow.
"""
