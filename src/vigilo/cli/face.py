"""`vigilo face analyze PATH`: face signals per frame, and action events in videos."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer

from vigilo.cli.common import EXIT_PROBLEMS, ConfigOption, err_console, fail, settings_or_exit

app = typer.Typer(help="Face signals for liveness: analysis of images and videos.", no_args_is_help=True)


@app.command()
def analyze(
    path: Path = typer.Argument(..., help="An image, a video, or a folder of them (searched recursively)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per frame (and per video) on stdout."),
    mirrored: bool = typer.Option(False, "--mirrored", help="Frames are selfie-mirrored (flip before analysis)."),
    config: Path = ConfigOption,
) -> None:
    """Per frame: faces, yaw/pitch/roll, EAR, MAR, smile and flags; per video: the events the session rules
    see (blink, turn_left, turn_right, mouth_open, smile)."""
    # FFmpeg's own lines about undecodable files would precede our one-line error; quiet it (-8 = AV_LOG_QUIET).
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    from vigilo.liveness.analysis import AnalysisError, analyze_path, media_files

    settings = settings_or_exit(config)
    try:
        files = media_files(path)
    except AnalysisError as exc:
        fail(str(exc))
    from vigilo.liveness.signals import FaceAnalyzer

    problems = 0
    with FaceAnalyzer(pool_size=1, max_faces=2) as analyzer:
        for file in files:
            try:
                for row in analyze_path(analyzer, file, settings.liveness.thresholds, mirrored=mirrored):
                    typer.echo(json.dumps(row, ensure_ascii=False) if as_json else _text(row))
            except AnalysisError as exc:
                if len(files) == 1:
                    fail(str(exc))
                err_console.print(f"vigilo: error: {exc}", markup=False)
                problems += 1
    if problems:
        raise typer.Exit(EXIT_PROBLEMS)


def _text(row: dict[str, Any]) -> str:
    if "events" in row:
        events = ", ".join(f"{e['type']} {e['start_frame']}-{e['end_frame']}" for e in row["events"])
        return f"{row['path']}: events: {events or 'none'}"
    where = f"{row['path']}#{row['frame']}"
    if not row["face"]:
        return f"{where}  no face"
    flags = [name for name in ("eyes_closed", "mouth_open", "smiling") if row[name]]
    return (
        f"{where}  faces {row['faces']}  yaw {row['yaw']:+6.1f}  pitch {row['pitch']:+6.1f}  roll {row['roll']:+6.1f}"
        f"  ear {row['ear']:.3f}  mar {row['mar']:.3f}  smile {row['smile']:.2f}"
        + (f"  [{' '.join(flags)}]" if flags else "")
    )
