"""ONNX Runtime sessions: provider choice and threading in one place."""

from __future__ import annotations

import logging

import onnxruntime as ort

log = logging.getLogger(__name__)

# Fastest first. TensorRT and CUDA are used only when this onnxruntime build has them.
PREFERRED_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class ProviderError(ValueError):
    pass


def choose_providers(requested: list[str] | None = None) -> list[str]:
    available = ort.get_available_providers()
    if requested:
        missing = [p for p in requested if p not in available]
        if missing:
            raise ProviderError(
                f"execution provider(s) {', '.join(missing)} not available; this build has {', '.join(available)}"
            )
        return list(requested)
    return [p for p in PREFERRED_PROVIDERS if p in available] or ["CPUExecutionProvider"]


def create_session(model: bytes, providers: list[str] | None = None, threads: int = 0) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    # Idle worker threads sleep instead of spinning: a server shares its cores with stream readers,
    # the API and other models, and spinning burned ~20 % more CPU for no speed-up in `make bench`.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # warnings about shape hints on rewritten graphs are noise
    chosen = choose_providers(providers)
    session = ort.InferenceSession(model, sess_options=options, providers=chosen)
    log.debug("onnx session on %s", session.get_providers())
    return session
