"""Where model files come from: the bundled defaults, or a file the user points at."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class BundledModel:
    name: str
    filename: str
    sha256: str
    license: str
    notice: str
    description: str

    def path(self) -> Path:
        return Path(str(resources.files("vigilo.assets.models").joinpath(self.filename)))

    def notice_path(self) -> Path:
        return Path(str(resources.files("vigilo.assets.models").joinpath(self.notice)))

    def verify(self) -> Path:
        """The file's path after checking it is present and byte-identical to what we ship."""
        path = self.path()
        if not path.is_file():
            raise FileNotFoundError(f"bundled model {self.name} is missing at {path}; reinstall Vigilo")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != self.sha256:
            raise ValueError(
                f"bundled model {self.name} is corrupt (sha256 {digest[:12]}…, expected {self.sha256[:12]}…)"
            )
        return path


YOLOX_NANO_COCO = BundledModel(
    name="yolox-nano-coco",
    filename="yolox_nano_coco.onnx",
    sha256="615e266100c341c28d62abe255f7a6d9d7e2b91c1b0b87fc24c5d9e53141a57b",
    license="Apache-2.0 (Megvii YOLOX)",
    notice="NOTICE-yolox_nano_coco.txt",
    description="YOLOX-Nano, COCO 80 classes (cell phone = 67), 416x416",
)

BUNDLED: dict[str, BundledModel] = {YOLOX_NANO_COCO.name: YOLOX_NANO_COCO}
DEFAULT_DETECTOR = YOLOX_NANO_COCO
