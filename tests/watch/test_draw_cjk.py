"""Snapshot text in Chinese: camera and zone names drawn with a CJK font, not OpenCV's ASCII-only Hershey."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.watch.conftest import camera
from vigilo.config.cameras import EventsConfig
from vigilo.phone.detector import PhoneDetector
from vigilo.phone.events import EventStore
from vigilo.phone.rules import Zone
from vigilo.phone.watcher import CameraWatcher
from vigilo.vision import draw
from vigilo.vision.imageio import decode_image, encode_jpeg

pytestmark = pytest.mark.skipif(
    draw.font_path(None) is None, reason="no CJK font installed (apt-get install fonts-wqy-microhei)"
)

GREY = 90


def _frame(width: int = 640, height: int = 360) -> np.ndarray:
    return np.full((height, width, 3), GREY, dtype=np.uint8)


def _header_line(image: np.ndarray) -> np.ndarray:
    """The first line of the header band, where the camera name goes."""
    size = draw._text_px(image, 900, 0.4)
    return image[: size + 8, : image.shape[1] // 2]


def _ink(region: np.ndarray) -> tuple[int, int]:
    """(width, height) of the bright (white text) pixels in `region`."""
    bright = region.max(axis=2) > 180
    columns, rows = np.flatnonzero(bright.any(axis=0)), np.flatnonzero(bright.any(axis=1))
    if columns.size == 0:
        return 0, 0
    return int(columns[-1] - columns[0] + 1), int(rows[-1] - rows[0] + 1)


def test_distinct_chinese_names_render_distinctly() -> None:
    """Hershey draws both as "???": identical pixels. A CJK font draws two different glyphs."""
    one = _header_line(draw.draw_header(_frame(), ["考场一"]))
    two = _header_line(draw.draw_header(_frame(), ["考场二"]))
    assert np.count_nonzero(np.abs(one.astype(int) - two.astype(int)).max(axis=2) > 60) > 20

    hershey_one, hershey_two = _frame(), _frame()
    draw._put_hershey(hershey_one, "考场一", (6, 4), 20, draw.WHITE)
    draw._put_hershey(hershey_two, "考场二", (6, 4), 20, draw.WHITE)
    assert np.array_equal(hershey_one, hershey_two)  # what the old rendering did: the test above catches it


def test_chinese_label_has_the_extent_of_three_glyphs() -> None:
    image = _frame()
    size = draw._text_px(image, 900, 0.4)
    width, height = _ink(_header_line(draw.draw_header(image, ["考场一"])))
    question_marks = _frame()
    draw._put_hershey(question_marks, "???", (6, 4), size, draw.WHITE)
    hershey_width, _ = _ink(_header_line(question_marks))
    # three square CJK glyphs are about 3 x size wide; Hershey's "???" is well under 2 x size
    assert width >= 2.4 * size > hershey_width
    assert height >= 0.6 * size


def test_zone_label_in_chinese() -> None:
    polygon = [(0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75)]
    front = draw.draw_polygon(_frame(), polygon, "前排")
    back = draw.draw_polygon(_frame(), polygon, "后排")
    label = (slice(90, 130), slice(160, 240))  # just inside the zone's top-left corner (160, 90)
    assert np.count_nonzero(np.abs(front[label].astype(int) - back[label].astype(int)).max(axis=2) > 60) > 10


def test_configured_font_is_used_and_a_bad_one_falls_back(tmp_path: Path) -> None:
    found = draw.font_path(None)
    assert found is not None
    assert draw.font_path(found) == found
    assert draw.font_path(tmp_path / "missing.ttf") == found  # logged, then the system CJK font


def test_without_any_font_text_falls_back_to_ascii(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(draw, "FONT_CANDIDATES", ())
    draw.font_path.cache_clear()
    try:
        image = draw.draw_header(_frame(), ["room-101", "2026-01-01 08:00:00 CST"])
        draw.draw_header(_frame(), ["room-102"])
        assert _ink(_header_line(image))[0] > 0  # ASCII still drawn
        warnings = [r for r in caplog.records if "no CJK font found" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        draw.font_path.cache_clear()


@pytest.fixture
def cjk_watcher(tmp_path: Path, detector: PhoneDetector) -> Iterator[CameraWatcher]:
    store = EventStore(f"sqlite:///{tmp_path / 'events.db'}", tmp_path)
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "0.jpg").write_bytes(encode_jpeg(_frame()))
    config = camera(
        folder,
        name="考场一",
        zones=[{"name": "前排", "polygon": [[0.1, 0.3], [0.9, 0.3], [0.9, 0.9], [0.1, 0.9]]}],
    )
    watcher = CameraWatcher(config, detector, store, events=EventsConfig())
    try:
        yield watcher
    finally:
        store.close()


def test_watcher_snapshot_shows_the_chinese_camera_name(cjk_watcher: CameraWatcher) -> None:
    zone = cjk_watcher.rules.zones[0]
    assert isinstance(zone, Zone)
    image = decode_image(cjk_watcher.snapshot(_frame(), [], zone, 1_767_225_600.0), 10_000_000)
    size = draw._text_px(image, 900, 0.4)
    width, _ = _ink(_header_line(image))
    # "考场一 / 前排": five CJK glyphs plus " / "
    assert width >= 4.5 * size
