"""Shared vision runtimes: image decoding, ONNX sessions, letterboxing, NMS, drawing, detectors."""
