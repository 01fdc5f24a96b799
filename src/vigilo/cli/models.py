"""`vigilo models`: the bundled models, and a check of any ONNX file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from vigilo.cli.common import fail
from vigilo.vision.models import BUNDLED, DEFAULT_DETECTOR
from vigilo.vision.onnx_detector import ModelError, OnnxDetector
from vigilo.vision.runtime import ProviderError

app = typer.Typer(help="List bundled models or check an ONNX file.", no_args_is_help=False, invoke_without_command=True)
console = Console(highlight=False)


@app.callback()
def models(ctx: typer.Context) -> None:
    """List the bundled models (or run a subcommand)."""
    if ctx.invoked_subcommand is not None:
        return
    table = Table("name", "file", "licence", "description", "status")
    for model in BUNDLED.values():
        try:
            model.verify()
            status = "ok"
        except (FileNotFoundError, ValueError) as exc:
            status = str(exc)
        table.add_row(model.name, str(model.path()), model.license, model.description, status)
    console.print(table)


@app.command()
def check(
    file: Path = typer.Argument(None, help="ONNX file (default: the bundled detector)."),
    layout: str = typer.Option("auto", help="Force a layout instead of detecting it."),
    input_size: str = typer.Option(None, help="WIDTHxHEIGHT for models with a dynamic input."),
    runs: int = typer.Option(20, min=1, help="Timed inference runs."),
) -> None:
    """Detect a model's layout, input size and classes, and time it."""
    path = file or DEFAULT_DETECTOR.verify()
    size = _parse_size(input_size) if input_size else None
    try:
        detector = OnnxDetector(path, layout=layout, input_size=size)
    except (ModelError, ProviderError) as exc:
        fail(str(exc))
    summary = detector.summary()
    h, w = summary.input_hw
    frame = np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)
    detector.detect([frame], threshold=0.99)  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect([frame], threshold=0.99)
        timings.append((time.perf_counter() - start) * 1000)
    labels = summary.labels
    shown = ", ".join(labels[:12]) + (f", … ({len(labels)} in all)" if len(labels) > 12 else "")
    console.print(f"file:        {summary.path}", markup=False)
    console.print(f"sha256:      {summary.sha256}", markup=False)
    console.print(f"layout:      {summary.layout} — {summary.layout_description}", markup=False)
    console.print(f"input:       {w}x{h}{' (any stride-32 size)' if summary.flexible_input else ''}", markup=False)
    console.print(f"batch:       up to {summary.max_batch} image(s) per call", markup=False)
    console.print(f"classes:     {len(labels)}: {shown}", markup=False)
    if "cell phone" in labels:
        console.print(f"phone class: 'cell phone' (index {labels.index('cell phone')})", markup=False)
    else:
        console.print("phone class: none named 'cell phone'; set detector.classes to the right label", markup=False)
    console.print(f"providers:   {', '.join(summary.providers)}", markup=False)
    console.print(
        f"timing:      p50 {np.percentile(timings, 50):.1f} ms, p99 {np.percentile(timings, 99):.1f} ms "
        f"per {w}x{h} image (detect path, {runs} runs)",
        markup=False,
    )


def _parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        fail(f"--input-size must look like 640x480, not {text!r}")
    return width, height
