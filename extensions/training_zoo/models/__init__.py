"""TZ's model module: conversion and compression of trained models (PyTorch to ONNX and
TorchScript, ONNX INT8 dynamic quantization and FP16), parity checks between a converted model and
its source, and loading ONNX files with their external data confined to the version's own folder.
The conversion helpers live in :mod:`training_zoo.models.convert` and import no service code, so a
conversion job can run them in a plain Python process."""
