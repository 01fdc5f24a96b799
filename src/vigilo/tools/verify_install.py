"""Post-install check run by `make install`: one OpenCV, MediaPipe importable, bundled model intact.

Exits non-zero with one line per problem, so a broken install stops before anything runs.
"""

from __future__ import annotations

import sys
from importlib import metadata

OPENCV_DISTRIBUTIONS = (
    "opencv-python",
    "opencv-contrib-python",
    "opencv-python-headless",
    "opencv-contrib-python-headless",
)
WANTED_OPENCV = "opencv-contrib-python-headless"


def installed_opencv_distributions() -> list[str]:
    found = []
    for name in OPENCV_DISTRIBUTIONS:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def problems() -> list[str]:
    issues = []
    opencv = installed_opencv_distributions()
    if opencv != [WANTED_OPENCV]:
        issues.append(f"expected exactly one OpenCV ({WANTED_OPENCV}), found: {', '.join(opencv) or 'none'}")
    try:
        import cv2  # noqa: F401
        import mediapipe  # noqa: F401
    except ImportError as exc:
        issues.append(f"import failed: {exc}")
    from vigilo.vision.models import BUNDLED

    for model in BUNDLED.values():
        try:
            model.verify()
        except (FileNotFoundError, ValueError) as exc:
            issues.append(str(exc))
    return issues


def main() -> int:
    found = problems()
    for line in found:
        print(f"install check: {line}", file=sys.stderr)
    if not found:
        print("install check: ok (one OpenCV, MediaPipe importable, bundled models intact)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
