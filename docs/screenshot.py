"""Remake docs/report.png, the README's picture of the HTML report.

    python docs/screenshot.py [--output docs/report.png] [--height 1700]

Runs the demo (sandbox, sync, report) in a temporary directory and photographs its
`report.html` with headless Chromium, so the picture always shows what the code renders today.
Needs `chromium` (or `chromium-browser`) on the PATH; nothing else is written.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def screenshot(html: Path, png: Path, *, width: int = 1280, height: int = 1700) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
             "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={png}", html.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
        )
    if done.returncode != 0 or not png.is_file():
        raise SystemExit(f"chromium failed: {done.stderr[-1000:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "report.png")
    parser.add_argument("--height", type=int, default=1700)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from connector.run.demo import run_demo

    with tempfile.TemporaryDirectory() as workdir:
        run_demo(Path(workdir))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        screenshot(Path(workdir) / "report.html", args.output, height=args.height)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
