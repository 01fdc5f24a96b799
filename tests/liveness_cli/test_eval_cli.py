"""`vigilo eval blink|headpose|smile`: our metric and the seed's baseline in one run, on small slices."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import shared_path
from tests.liveness_cli.conftest import vigilo


def test_eval_blink_prints_ours_and_the_seed_baseline() -> None:
    data = shared_path("data")
    result = vigilo("eval", "blink", "--limit", "2", "--data", str(data))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ZJU Eyeblink: 2 clips, ") and "7 labelled blinks" in lines[0], lines
    ours = next(line for line in lines if line.startswith("vigilo (session rules)"))
    seed = next(line for line in lines if line.startswith("seed (EAR < 0.21 for >= 3 frames)"))
    # precision, recall, F1, events: 6 of the 7 blinks (clip 2 has two labelled blinks with no open frame
    # between them, which both rules see as one)
    assert ours.split()[-4:] == ["1.000", "0.857", "0.923", "6"], ours
    assert len(seed.split()[-4:]) == 4 and float(seed.split()[-2]) > 0.5, seed
    assert any(line.startswith("vigilo eye signal (clip median, offline)") for line in lines), lines
    assert lines[-1].startswith("session rules: 0 labelled blinks start before the baseline settles;"), lines


def test_eval_blink_json_has_both_rows_per_clip() -> None:
    result = vigilo("eval", "blink", "--limit", "1", "--json", "--data", str(shared_path("data")))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["clips"] == 1 and report["gt_blinks"] == 3
    assert report["clips_without_baseline"] == [] and report["gt_blinks_before_baseline"] == 0
    for rule in ("vigilo", "vigilo_offline", "seed"):
        assert set(report[rule]) == {"precision", "recall", "f1", "tp", "pred", "gt"}
        assert report[rule]["gt"] == 3
    assert report["vigilo"]["f1"] == 1.0
    assert [c["clip"] for c in report["per_clip"]] == [1]


def test_eval_headpose_and_smile_small_runs() -> None:
    data = str(shared_path("data"))
    pose = vigilo("eval", "headpose", "--limit", "8", "--json", "--data", data)
    assert pose.exit_code == 0, pose.stderr
    report = json.loads(pose.stdout)
    assert report["aflw2000"]["n"] == 8 and report["genki4k"]["n"] == 8 and report["all"]["n"] == 16
    for rule in ("vigilo", "seed"):
        assert report["all"][rule]["yaw_mae_deg"] is not None and 0 <= report["all"][rule]["turn3_acc"] <= 1
    text = vigilo("eval", "smile", "--limit", "8", "--data", data)
    assert text.exit_code == 0, text.stderr
    assert "seed: no smile rule" in text.stdout and text.stdout.count("\n") == 5, text.stdout


def test_eval_missing_data_is_one_line(tmp_path: Path) -> None:
    for kind in ("blink", "headpose", "smile"):
        result = vigilo("eval", kind, "--data", str(tmp_path / "nowhere"))
        assert result.exit_code == 2
        assert (
            result.stderr.strip()
            == f"vigilo: error: evaluation data folder not found: {tmp_path / 'nowhere'} (use --data)"
        )
    result = vigilo("eval", "blink", "--data", str(tmp_path))  # a folder, but without the ZJU clips
    assert result.exit_code == 2
    assert result.stderr.strip() == f"vigilo: error: evaluation data not found: {tmp_path / 'zju-blink'} (see --data)"
