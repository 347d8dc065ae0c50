"""One way to build onnxruntime sessions, so every model shares the same threading policy."""

from __future__ import annotations

import os

import onnxruntime as ort


def create_session(model: bytes, intra_op_threads: int | None = None) -> ort.InferenceSession:
    """A CPU session over the model bytes.

    intra_op_threads: threads one inference may use. More threads lower the latency of one call
    but compete with other concurrent calls; None uses every core.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle workers sleep instead of spinning: facewise alternates between several sessions
    # (detector, ResNet, age, gender), and spinning pools would steal the cores from each other.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
