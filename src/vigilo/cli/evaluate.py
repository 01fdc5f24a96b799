"""`vigilo eval phones`: detector accuracy on a labelled image folder."""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml
from rich.progress import Progress

from vigilo.cli.common import (
    ConfigOption,
    ModelOption,
    ZoomOption,
    err_console,
    fail,
    phone_detector_or_exit,
    settings_or_exit,
)
from vigilo.phone.evaluate import centre_truth, evaluate, labelled_images, yolo_truth

app = typer.Typer(help="Measure accuracy on labelled data.", no_args_is_help=True)

PHONE_NAMES = ("phone", "cell phone", "cellphone", "mobile phone", "smartphone")


@app.command()
def phones(
    images: Path = typer.Option(..., "--images", help="Folder of images (searched recursively)."),
    labels: Path | None = typer.Option(
        None, "--labels", help="YOLO label folder (class cx cy w h), or a centre-point list file."
    ),
    phone_class: int = typer.Option(None, "--phone-class", help="Class id of phones in the YOLO labels."),
    model: Path | None = ModelOption,
    zoom: bool | None = ZoomOption,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    config: Path = ConfigOption,
) -> None:
    """AP@0.5, recall at precision 0.9, and image-level precision/recall."""
    settings = settings_or_exit(config)
    if not images.is_dir():
        fail(f"--images {images} is not a folder")
    if labels is None:
        labels = _sibling_labels(images)
    if labels is None or not labels.exists():
        fail(f"no labels given and none found beside {images} (use --labels)")
    if labels.is_dir():
        klass = phone_class if phone_class is not None else _phone_class_from_yaml(labels)
        truth = yolo_truth(labels, klass)
    else:
        truth = centre_truth(labels)
    detector = phone_detector_or_exit(settings, model, zoom)
    paths = labelled_images(images)
    if not paths:
        fail(f"no images in {images}")
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as progress:
        task = progress.add_task("evaluating", total=len(paths))
        report = evaluate(detector, paths, truth, progress=lambda: progress.advance(task))
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    typer.echo(f"images {report.images} ({report.positive_images} with phones, {report.positives} phones)")
    typer.echo(f"AP@0.5            {report.ap50:.3f}")
    typer.echo(f"recall @ P>=0.9   {report.recall_at_p90:.3f}")
    typer.echo(
        f"image level       precision {report.image_precision:.3f}, recall {report.image_recall:.3f} "
        f"(score >= {report.image_threshold:.2f})"
    )
    typer.echo(f"time              {report.seconds:.1f} s")


def _sibling_labels(images: Path) -> Path | None:
    """YOLO datasets keep labels/ beside images/ (or in split folders below the given one)."""
    for candidate in (images.parent / "labels", images / "labels.txt", images.parent / "labels.txt"):
        if candidate.exists():
            return candidate
    if any(images.rglob("labels/*.txt")):
        return images
    return None


def _phone_class_from_yaml(labels: Path) -> int:
    """Finds the phone class in a YOLO `data.yaml` next to the labels (up to three levels up)."""
    for folder in (labels, *list(labels.parents)[:3]):
        data_yaml = folder / "data.yaml"
        if data_yaml.is_file():
            try:
                names = yaml.safe_load(data_yaml.read_text()).get("names", [])
            except (yaml.YAMLError, AttributeError):
                break
            items = names.items() if isinstance(names, dict) else enumerate(names)
            for index, name in items:
                if str(name).lower() in PHONE_NAMES:
                    return int(index)
    return 0
