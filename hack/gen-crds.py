#!/usr/bin/env python3
"""Regenerate the CRD YAML in crds/ and the chart from the API models.

Run it after changing anything under operator/toolfleet/api/. The unit test
tests/unit/api/test_crd_drift.py fails while the committed files differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "operator"))

from toolfleet.api.render import crd_files  # noqa: E402


def main() -> int:
    for relative, text in crd_files().items():
        target = ROOT / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
            print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
