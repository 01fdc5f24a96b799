"""Model families the detector understands; `LAYOUTS` lists them in the order auto-detection tries."""

from vigilo.vision.layouts.base import Layout, ModelInfo, Predictions, Preprocess, TensorInfo
from vigilo.vision.layouts.boxes_scores import BoxesScoresLayout
from vigilo.vision.layouts.damoyolo import DamoYoloLayout
from vigilo.vision.layouts.ultralytics import UltralyticsLayout, Yolov5Layout
from vigilo.vision.layouts.yolox import YoloxLayout

LAYOUTS: tuple[type[Layout], ...] = (
    YoloxLayout,
    Yolov5Layout,
    UltralyticsLayout,
    DamoYoloLayout,
    BoxesScoresLayout,
)

__all__ = ["LAYOUTS", "Layout", "ModelInfo", "Predictions", "Preprocess", "TensorInfo"]
