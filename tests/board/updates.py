"""Host side of the booted update tests: bundles signed with the layer's
development key, and the expected NOR content computed by the agent's own
engine on a simulated copy (then checked independently by the tests)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scm_fwupdate import gpt as G
from scm_fwupdate import imagegen

ROOT = Path(__file__).resolve().parents[2]
DEV_KEY = ROOT / "meta-qcom-scm/files/dev-keys/DEVELOPMENT-ONLY-ed25519.pem"
COMPATIBLE = "qemuarm64-scm"
AB_TARGETS = ("dtb", "uefisecapp")


@dataclass(frozen=True)
class Update:
    bundle: Path
    original: bytes
    images: dict[str, bytes]  # target -> new firmware

    def slot_image(self, nor: bytes, target: str, slot: str) -> bytes:
        p = G.read_gpt(lambda o, n: nor[o : o + n], len(nor)).find(f"{target}_{slot}")
        return nor[p.offset : p.offset + len(self.images[target])]


def make_update(workdir: Path, version: str = "2", targets: tuple[str, ...] = AB_TARGETS) -> Update:
    board = imagegen.build()
    images = {}
    args = []
    for t in targets:
        part = board.gpt.find(f"{t}_a")
        data = imagegen.firmware(t, part.size, int(version))
        path = workdir / f"{t}-v{version}.bin"
        path.write_bytes(data)
        images[t] = data
        args += ["--image", f"{t}={path}"]
    bundle = workdir / f"fw-v{version}.bundle"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "scm_fwupdate",
            "bundle",
            "create",
            "--key",
            str(DEV_KEY),
            "--compatible",
            COMPATIBLE,
            "--version",
            version,
            *args,
            "--output",
            str(bundle),
        ],
        check=True,
        env={"PYTHONPATH": str(ROOT / "agent" / "src")},
    )
    return Update(bundle, board.image, images)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_boot_view(nor: bytes, update: Update) -> str:
    """What the boot chain would load after a cut: old or new, whole. Returns which."""
    table = G.read_gpt(lambda o, n: nor[o : o + n], len(nor))  # one consistent GPT
    slot = G.boot_slot(table)
    assert slot in ("a", "b"), f"boot chain finds no bootable slot ({slot})"
    old_table = G.read_gpt(lambda o, n: update.original[o : o + n], len(update.original))
    for target, new in update.images.items():
        content = update.slot_image(nor, target, slot)
        p = old_table.find(f"{target}_a")
        old = update.original[p.offset : p.offset + len(new)]
        want = old if slot == "a" else new
        assert content == want, (
            f"slot {slot} of {target} is not the whole {'old' if slot == 'a' else 'new'} image"
        )
    # a slot the boot chain may fall back to must be whole too
    for s in "ab":
        p = table.find(f"{AB_TARGETS[0]}_{s}")
        if s != slot and not p.unbootable and (p.successful or p.retry > 0):
            for target, new in update.images.items():
                content = update.slot_image(nor, target, s)
                q = old_table.find(f"{target}_a")
                assert content in (update.original[q.offset : q.offset + len(new)], new)
    return "old" if slot == "a" else "new"


def outside_unchanged(nor: bytes, original: bytes) -> None:
    """Only the _b partitions and the GPT blocks may differ from the original."""
    table = G.read_gpt(lambda o, n: original[o : o + n], len(original))
    allowed = [(p.offset, p.size) for p in table.partitions if p.name.endswith("_b")]
    for copy in table.copies():
        for off, data in copy:
            allowed.append((off - off % 4096, -(-(off % 4096 + len(data)) // 4096) * 4096))
    allowed.sort()
    pos = 0
    for off, size in [*allowed, (len(original), 0)]:
        if off > pos:
            assert nor[pos:off] == original[pos:off], (
                f"bytes outside the update changed in 0x{pos:x}-0x{off:x}"
            )
        pos = max(pos, off + size)
