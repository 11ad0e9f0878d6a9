"""Clip records, manifests, dataset writing, real-dataset loaders and blending."""
