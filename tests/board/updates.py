"""Host side of the booted update tests: NOR images and signed release bundles.

The versions each image carries are known here by construction (imagegen
writes ``<image>.<version>``); after a cut, the emulated firmware says which
version of every image it loads, and the tests compare the two. Nothing here
asks the agent what boots.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from firmware import BootLine
from oracle.gpt import read_gpt_bytes

from scm_fwupdate import imagegen
from scm_fwupdate.profile import QCS6490_BOOT_IMAGES

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = ROOT / "meta-qcom-scm/files/dev-keys/DEVELOPMENT-ONLY-ed25519.pem"
COMPATIBLE = "qemuarm64-scm"
CHANGED = ("XBL_SC", "TZ", "UEFI", "dtb")  # the images a release changes; the rest re-stamped
# The board's own configuration, with the ABL profile (an image for an ABL board).
ABL_CONFIG = (ROOT / "board/scm-fwupdate.yaml").read_text() + "board:\n  profile: qcom-abl\n"


def make_nor(layout: str = "q6a", compact: bool = True) -> imagegen.Board:
    """Release REL-1, version 1 in every copy; ``abl``: every boot image an _a/_b pair."""
    if layout == "abl":
        return imagegen.build(rows=imagegen.abl_layout(compact))
    return imagegen.build(rows=imagegen.compact_layout() if compact else None)


def sizes(board: imagegen.Board) -> dict[str, int]:
    return {
        p.name.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b"): p.size
        for p in board.gpt.partitions
    }


@dataclass(frozen=True)
class Release:
    bundle: Path
    version: int
    release: str
    images: dict[str, bytes]

    @property
    def versions(self) -> dict[str, str]:
        return {name: f"{name}.{self.version}" for name in self.images}


def first_release(board: imagegen.Board) -> Release:
    """What make_nor put in every copy (no bundle)."""
    size = sizes(board)
    images = {n: imagegen.qcom_image(n, size[n], 1) for n in QCS6490_BOOT_IMAGES}
    return Release(Path(), 1, imagegen.DEFAULT_RELEASE, images)


def make_release(
    workdir: Path,
    board: imagegen.Board,
    version: int,
    release: str | None = None,
    changed: tuple[str, ...] = CHANGED,
    targets: tuple[str, ...] = QCS6490_BOOT_IMAGES,
    corrupt: str | None = None,
) -> Release:
    """A signed bundle of a new release: ``changed`` images get new code, the rest re-stamped."""
    release = release or f"REL-{version}"
    size = sizes(board)
    images = {
        n: imagegen.qcom_image(n, size[n], version, release, changed=0.1 if n in changed else 0.0)
        for n in targets
    }
    args = []
    for name, data in images.items():
        path = workdir / f"{name}-v{version}.bin"
        path.write_bytes(
            imagegen.corrupt(data, corrupt) if corrupt and name == targets[0] else data
        )
        args += ["--image", f"{name}={path}"]
    bundle = workdir / f"fw-v{version}{'-' + corrupt if corrupt else ''}.bundle"
    subprocess.run(
        [
            *(sys.executable, "-m", "scm_fwupdate", "bundle", "create", "--key", str(DEV_KEY)),
            *("--compatible", COMPATIBLE, "--version", str(version), *args),
            *("--output", str(bundle)),
        ],
        check=True,
        env={"PYTHONPATH": str(ROOT / "agent" / "src")},
    )
    return Release(bundle, version, release, images)


def whole(line: BootLine, old: Release, new: Release) -> str:
    """The chain loads every image at one version: the old release or the new. Which."""
    assert line.booted, f"not booted: {line}"
    loaded = line.versions()
    for label, rel in (("old", old), ("new", new)):
        if all(loaded.get(n) == v for n, v in rel.versions.items()):
            return label
    raise AssertionError(f"the chain loads a mixed set: {loaded}\n{line}")


def outside_unchanged(
    nor: bytes, original: bytes, may_change: set[str], gpt_too: bool = False
) -> None:
    """Only the named partitions (and with ``gpt_too`` the GPT around them) may differ."""
    table = read_gpt_bytes(original)
    assert table is not None
    parts = table.partitions.values()
    allowed = sorted((p.offset, p.size) for n, p in table.partitions.items() if n in may_change)
    if gpt_too:
        start = min(p.offset for p in parts)
        end = max(p.offset + p.size for p in parts)
        allowed = sorted([*allowed, (0, start), (end, len(original) - end)])
    pos = 0
    for off, size in [*allowed, (len(original), 0)]:
        if off > pos:
            assert nor[pos:off] == original[pos:off], (
                f"bytes outside the update changed in 0x{pos:x}-0x{off:x}"
            )
        pos = max(pos, off + size)
