"""oelint-adv --release wrynose is clean on every recipe, bbappend and class,
and every suppression says why."""

import configparser
import importlib.util
import re
import subprocess
import sys

import pytest
from layer_paths import LAYER, REPO

HAVE_OELINT = importlib.util.find_spec("oelint_adv") is not None
FILES = sorted(
    p
    for pattern in ("*.bb", "*.bbappend", "*.bbclass")
    for p in LAYER.rglob(pattern)
    if "/recipes-kernel/linux/files/" not in str(p)
)


def test_there_is_something_to_lint():
    names = {p.name for p in FILES}
    assert "linux-yocto_%.bbappend" in names
    assert {
        "qcom_scm_bundle.bbclass",
        "qcom_scm_source.bbclass",
        "qcom_scm_sanity.bbclass",
    } <= names


@pytest.mark.skipif(not HAVE_OELINT, reason="oelint-adv not installed (make layer-deps)")
def test_oelint_clean():
    # Run from the repository root so that .oelint.cfg applies; bbappends are
    # passed explicitly like the recipes.
    cmd = [
        sys.executable,
        "-m",
        "oelint_adv",
        "--quiet",
        "--release",
        "wrynose",
        "--relpaths",
        *map(str, FILES),
    ]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    findings = (p.stdout + p.stderr).strip()
    assert p.returncode == 0 and not findings, findings


def test_inline_suppressions_are_explained():
    for path in FILES + sorted(LAYER.rglob("*.inc")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not re.match(r"#\s+nooelint:", line):
                continue
            # A comment next to it (above, or below when it must be line 1)
            # that is not itself a suppression.
            neighbours = [lines[j] for j in (i - 1, i + 1) if 0 <= j < len(lines)]
            explained = any(
                n.startswith("#") and not re.match(r"#\s+nooelint:", n) and n.strip("# ")
                for n in neighbours
            )
            assert explained, f"{path.relative_to(REPO)}:{i + 1}: unexplained {line!r}"


def test_config_suppressions_are_explained():
    cfg = REPO / ".oelint.cfg"
    parser = configparser.ConfigParser()
    parser.read(cfg)
    assert parser.get("oelint", "release") == "wrynose"
    in_suppress, commented = False, False
    for line in cfg.read_text().splitlines():
        if line.startswith("suppress"):
            in_suppress = True
            continue
        if not in_suppress:
            continue
        if line and not line[0].isspace():
            break
        text = line.strip()
        if text.startswith("#"):
            commented = True
        elif text:
            assert commented, f".oelint.cfg: {text} has no explaining comment"
        else:
            commented = False
