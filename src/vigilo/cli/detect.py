"""`vigilo detect PATH...`: phones in images, folders and video files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from vigilo.cli.common import (
    EXIT_PROBLEMS,
    ConfigOption,
    ModelOption,
    ZoomOption,
    err_console,
    fail,
    phone_detector_or_exit,
    settings_or_exit,
)
from vigilo.phone.media import MediaProblem
from vigilo.phone.scan import FrameResult, scan
from vigilo.vision.draw import draw_detections


def detect(
    paths: list[Path] = typer.Argument(..., help="Images, folders (searched recursively) or video files."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per frame on stdout."),
    threshold: float = typer.Option(None, "--threshold", "-t", min=0.0, max=1.0, help="Score threshold."),
    model: Path | None = ModelOption,
    every: int = typer.Option(1, "--every", min=1, help="In videos, look at every Nth frame."),
    save_annotated: Path = typer.Option(None, "--save-annotated", help="Write boxed copies of the frames here."),
    zoom: bool | None = ZoomOption,
    config: Path = ConfigOption,
) -> None:
    """Find phones in images, folders and videos."""
    settings = settings_or_exit(config)
    detector = phone_detector_or_exit(settings, model, zoom)
    if save_annotated is not None:
        try:
            save_annotated.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"cannot create {save_annotated}: {exc.strerror or exc}")

    problems = 0
    frames_seen = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("detecting", total=None)
        for item in scan(
            paths, detector, every=every, threshold=threshold, max_pixels=settings.server.max_image_pixels
        ):
            if isinstance(item, MediaProblem):
                problems += 1
                progress.console.print(f"vigilo: cannot read {item.path}: {item.reason}", markup=False)
                continue
            frames_seen += 1
            progress.update(task, advance=1, description=str(item.frame.path.name))
            _report(item, as_json)
            if save_annotated is not None:
                _save(item, save_annotated)
    if not as_json:
        err_console.print(f"{frames_seen} frame(s) checked, {problems} file(s) could not be read", markup=False)
    if problems:
        raise typer.Exit(EXIT_PROBLEMS)


def _report(result: FrameResult, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    where = str(result.frame.path) + (f" #{result.frame.frame}" if result.frame.frame is not None else "")
    if not result.detections:
        typer.echo(f"{where}: no phone")
        return
    found = ", ".join(
        f"{d.label} {d.score:.2f} at [{', '.join(str(round(v)) for v in d.box)}]" for d in result.detections
    )
    typer.echo(f"{where}: {found}")


def annotated_name(result: FrameResult) -> str:
    parts = [p for p in result.frame.path.parts if p not in ("/", "..", ".")]
    stem = "__".join(parts[-3:])
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    if result.frame.frame is not None:
        stem += f"_f{result.frame.frame:06d}"
    return stem + ".jpg"


def _save(result: FrameResult, folder: Path) -> None:
    image = draw_detections(result.frame.image, result.detections)
    target = folder / annotated_name(result)
    if not cv2.imwrite(str(target), image):
        err_console.print(f"vigilo: cannot write {target}", markup=False)
