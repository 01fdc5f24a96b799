"""`vigilo eval phones|blink|headpose|smile`: accuracy on labelled data, liveness rules beside the seed's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


# ---- liveness: blink, head pose, smile (vigilo.liveness.eval_sets), each beside the seed's rule ----------

DataOption = typer.Option(
    None, "--data", help="The shared evaluation data folder (default: ../shared/data beside the checkout)."
)
LimitOption = typer.Option(None, "--limit", min=1, help="Only the first N clips / every k-th of N images.")
JsonOption = typer.Option(False, "--json", help="Print the report as JSON.")


@app.command()
def blink(
    data: Path | None = DataOption,
    limit: int | None = LimitOption,
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """Blink events on ZJU Eyeblink: precision, recall, F1 of the session rules and of the seed's."""
    from vigilo.liveness.eval_sets import eval_blink

    settings = settings_or_exit(config)
    report = _run_eval(lambda an, d, p: eval_blink(an, d, settings.liveness.thresholds, limit, p), data, limit, 40)
    if as_json:
        typer.echo(json.dumps(report, default=list))
        return
    typer.echo(
        f"{report['dataset']}: {report['clips']} clips, {report['frames']} frames "
        f"({report['no_face_frames']} without a face), {report['gt_blinks']} labelled blinks"
    )
    typer.echo(f"{'':42}precision  recall  F1     events")
    for key, name in (
        ("vigilo", "vigilo (session rules)"),
        ("vigilo_offline", "vigilo eye signal (clip median, offline)"),
        ("seed", "seed (EAR < 0.21 for >= 3 frames)"),
    ):
        m = report[key]
        typer.echo(f"{name:42}{m['precision']:<11.3f}{m['recall']:<8.3f}{m['f1']:<7.3f}{m['pred']}")
    typer.echo(
        f"session rules: {report['gt_blinks_before_baseline']} labelled blinks start before the baseline settles; "
        f"no baseline (face pitched or turned too far) in clips {report['clips_without_baseline'] or 'none'}"
    )


@app.command()
def headpose(
    data: Path | None = DataOption,
    limit: int | None = LimitOption,
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """Yaw MAE and 3-class turn accuracy (±15°) on AFLW2000 and GENKI-4K: 3-D fit vs the seed's 2-D angle."""
    from vigilo.liveness.eval_sets import eval_headpose

    settings_or_exit(config)
    report = _run_eval(lambda an, d, p: eval_headpose(an, d, limit, p), data, limit, 2008)
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"{'':36}{'images':>7}  {'yaw MAE':>8}  {'turn acc':>8}  faces")
    for part in ("aflw2000", "genki4k", "all"):
        for key, name in (("vigilo", "vigilo (3-D fit)"), ("seed", "seed (2-D nose-eye angle)")):
            m, n = report[part][key], report[part]["n"]
            typer.echo(
                f"{part + ' ' + name:36}{n:>7}  {_num(m['yaw_mae_deg'], '°'):>8}  {_num(m['turn3_acc']):>8}  "
                f"{m['faces_found']}"
            )


@app.command()
def smile(
    data: Path | None = DataOption,
    limit: int | None = LimitOption,
    as_json: bool = JsonOption,
    config: Path = ConfigOption,
) -> None:
    """Smile accuracy on GENKI-4K (smile >= 0.5); the seed has no smile rule, the majority class stands in."""
    from vigilo.liveness.eval_sets import eval_smile

    settings_or_exit(config)
    report = _run_eval(lambda an, d, p: eval_smile(an, d, limit, p), data, limit, 2000)
    if as_json:
        typer.echo(json.dumps(report))
        return
    typer.echo(f"{report['dataset']}, smiling when smile >= {report['threshold']}; seed: no smile rule")
    typer.echo(f"{'':30}{'images':>7}  {'vigilo':>7}  {'majority':>8}  precision  recall")
    for key, name in (("fit_half_1mod4", "fit half (files 1 mod 4)"), ("other_half_3mod4", "other half (3 mod 4)")):
        m = report[key]
        typer.echo(
            f"{name:30}{m['n']:>7}  {_num(m['vigilo_acc']):>7}  {_num(m['majority_acc']):>8}  "
            f"{_num(m['vigilo_precision']):>9}  {_num(m['vigilo_recall']):>6}"
        )
    m = report["all"]
    typer.echo(
        f"{'all':30}{m['n']:>7}  {_num(m['vigilo_acc']):>7}  {_num(m['majority_acc']):>8}  "
        f"{_num(m['vigilo_precision']):>9}  {_num(m['vigilo_recall']):>6}"
    )


def _num(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.3f}{unit}" if not unit else f"{value:.2f}{unit}"


def _run_eval(run: Any, data: Path | None, limit: int | None, total: int) -> dict[str, Any]:
    """Runs one liveness evaluation with a progress bar on a terminal; missing data exits with one line."""
    from vigilo.liveness.eval_sets import DataError
    from vigilo.liveness.evaluate import DEFAULT_DATA

    folder = data if data is not None else DEFAULT_DATA
    if not folder.is_dir():
        fail(f"evaluation data folder not found: {folder} (use --data)")
    from vigilo.liveness.signals import FaceAnalyzer

    with (
        FaceAnalyzer(pool_size=1, max_faces=2) as analyzer,
        Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as progress,
    ):
        task = progress.add_task("evaluating", total=min(limit, total) if limit else total)
        try:
            report: dict[str, Any] = run(analyzer, folder, lambda: progress.advance(task))
        except DataError as exc:
            fail(str(exc))
    return report
