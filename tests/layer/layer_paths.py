"""Paths shared by the layer checks (make layer-check)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "meta-qcom-scm"
KAS_DIR = REPO / "kas"
