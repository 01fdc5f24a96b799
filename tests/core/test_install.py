from vigilo.tools.verify_install import WANTED_OPENCV, installed_opencv_distributions, problems


def test_cv2_and_mediapipe_import_together() -> None:
    import cv2
    import mediapipe as mp

    assert cv2.__version__.startswith("4.")
    assert mp.__version__ == "0.10.21"
    assert hasattr(mp.solutions, "face_mesh")


def test_exactly_one_opencv_distribution_is_installed() -> None:
    assert installed_opencv_distributions() == [WANTED_OPENCV]


def test_install_check_passes() -> None:
    assert problems() == []
