"""The WeChat mini-program's check logic against the real server.

`miniprogram/lib/flow.js` and `lib/api.js` run unchanged in Node (miniprogram/test/driver/real-server.js):
`wx.request` is Node's fetch, and the camera is a real clip played back in real time. The server is Vigilo
under uvicorn with MediaPipe; the business backend creates the session and verifies the signed result. This
checks what the jest tests in miniprogram/test cannot: that the mini-program and the server agree on every
field name, header and state.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cv2
import jwt
import numpy as np
import pytest

from tests.conftest import REPO
from tests.web.conftest import API_KEY, RESULT_SECRET, Vigilo, blink_clip, replayed_with_fresh_noise

NODE = shutil.which("node")
DRIVER = REPO / "miniprogram" / "test" / "driver" / "real-server.js"

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is missing (make install: apt-get install nodejs npm)"),
    pytest.mark.timeout(90),
]


def write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        assert cv2.imwrite(str(folder / f"{i:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return folder


def drive(vigilo: Vigilo, frames: Path, **args: Any) -> dict[str, Any]:
    assert NODE is not None
    payload = {"base": vigilo.base, "frames": str(frames), "clip_fps": 30, "max_ms": 40_000, **args}
    done = subprocess.run(
        [NODE, str(DRIVER), json.dumps(payload)], capture_output=True, text=True, timeout=80, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def claims_of(vigilo: Vigilo, created: dict[str, Any]) -> dict[str, Any]:
    token = vigilo.result_token(created["session_id"])
    claims: dict[str, Any] = jwt.decode(token, RESULT_SECRET, algorithms=["HS256"], audience="vigilo-liveness")
    assert claims["sid"] == created["session_id"] and claims["nonce"] == created["nonce"]
    return claims


def test_a_real_blink_passes_through_the_miniprogram_flow(vigilo: Vigilo, tmp_path: Path) -> None:
    created = vigilo.create(["blink"], user_ref="mp-e2e-1", mirrored=False)
    frames = write_frames(tmp_path / "blink", replayed_with_fresh_noise(blink_clip("1"), 2))
    out = drive(vigilo, frames, session_id=created["session_id"], nonce=created["nonce"])
    assert out["how"] == "finished", out
    assert out["result"] == {"passed": True, "key": "pass_text", "action": "眨眼"}, out
    assert out["prompts"][0] == "请正对屏幕，保持不动" and "请眨眼" in out["prompts"], out["prompts"]
    assert out["last"]["progressPct"] == 100
    names = [e["event"] for e in out["events"]]
    assert names[0] == "ready" and names[1] == "started" and "step" in names and names[-1] == "finished", names
    finished = out["events"][-1]["payload"]
    assert finished == {"session_id": created["session_id"]}  # no verdict from the client
    claims = claims_of(vigilo, created)
    assert claims["decision"] == "pass" and claims["user_ref"] == "mp-e2e-1"
    assert claims["frames"] == out["frames"]


def test_a_still_photo_fails_as_a_frozen_picture(vigilo: Vigilo, tmp_path: Path) -> None:
    """Noise-only changes are near-duplicates to the server; the flow gives up, cancels, says so."""
    created = vigilo.create(["blink"], user_ref="mp-e2e-2", mirrored=False)
    still = blink_clip("1")[0]
    frames = write_frames(tmp_path / "still", replayed_with_fresh_noise([still], 150))
    out = drive(vigilo, frames, session_id=created["session_id"], nonce=created["nonce"], lang="en")
    assert out["how"] == "finished", out
    assert out["result"]["passed"] is False
    assert out["result"]["key"] == "fail_static", out["result"]
    assert out["last"]["hint"] == "The picture is not changing; face the camera yourself", out["last"]
    claims = claims_of(vigilo, created)
    assert claims["decision"] == "fail" and claims["state"] == "cancelled", claims


def test_the_seed_flow_speaks_the_seed_endpoints(vigilo: Vigilo, tmp_path: Path) -> None:
    """The business API key vouches for the user (seed_compat.mode: token); a few frames, then stop."""
    frames = write_frames(tmp_path / "seed", replayed_with_fresh_noise(blink_clip("1"), 1))
    out = drive(vigilo, frames, mode="seed", user_id="mp-seed-1", token=API_KEY, max_ms=2500)
    # The seed's random challenge is not what the clip does: it runs until the time limit.
    assert out["how"] == "time limit", (out["last"]["error"], out["events"])
    assert out["last"]["screen"] == "capture", out["last"]
    assert out["frames"] >= 3
    assert out["last"]["progressText"].startswith("第 1/"), out["last"]
    assert any(p.startswith("请") for p in out["prompts"]), out["prompts"]
