from pathlib import Path

import onnxruntime as ort
import pytest

from vigilo.config import DetectorConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.vision.runtime import ProviderError, choose_providers


def test_automatic_providers_prefer_accelerators_and_end_with_cpu() -> None:
    chosen = choose_providers()
    available = ort.get_available_providers()
    assert chosen[-1] == "CPUExecutionProvider"
    assert all(p in available for p in chosen)
    if "CUDAExecutionProvider" in available:
        assert chosen.index("CUDAExecutionProvider") < chosen.index("CPUExecutionProvider")


def test_requested_provider_that_is_missing_is_a_clear_error() -> None:
    with pytest.raises(ProviderError, match="NoSuchExecutionProvider not available; this build has"):
        choose_providers(["NoSuchExecutionProvider"])


def test_detector_config_overrides_providers_and_threads() -> None:
    detector = PhoneDetector.from_config(DetectorConfig(providers=["CPUExecutionProvider"], threads=1))
    assert detector.detector.providers == ("CPUExecutionProvider",)


def test_unknown_class_names_the_labels(tmp_path: Path) -> None:
    from vigilo.vision.onnx_detector import ModelError

    with pytest.raises(ModelError, match="'mobile' not in the model's labels"):
        PhoneDetector.from_config(DetectorConfig(classes=["mobile"]))
