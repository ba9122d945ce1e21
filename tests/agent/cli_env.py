"""Helpers for the CLI tests: a NOR image file, keys, config, bundles, and a runner."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from bundle_fixtures import COMPATIBLE, make_keys

from scm_fwupdate import cli, imagegen
from scm_fwupdate.gpt import Gpt, read_gpt_image
from scm_fwupdate.packing import create_bundle


@cache
def board() -> imagegen.Board:
    return imagegen.build()


def new_firmware(target: str, version: int = 2) -> bytes:
    b = board()
    names = {p.name: p for p in b.gpt.partitions}
    part = names.get(target) or names[f"{target}_a"]
    return imagegen.firmware(target, part.size, version)


@dataclass
class Env:
    root: Path
    nor: Path
    config: Path
    keys: object
    lock: Path
    state: Path
    extra_config: str = ""
    # Most CLI tests exercise the A/B attribute flow; tests of the default
    # (boot sets, the Q6A) use make_env(..., profile="radxa-dragon-q6a").
    profile: str = "qcom-abl"
    calls: list[tuple[int, str, str]] = field(default_factory=list)

    def image(self) -> bytes:
        return self.nor.read_bytes()

    def gpt(self) -> Gpt:
        data = self.image()
        return read_gpt_image(data)

    def part(self, name: str, length: int | None = None) -> bytes:
        p = self.gpt().find(name)
        data = self.image()
        return data[p.offset : p.offset + (length if length is not None else p.size)]

    def bundle(
        self,
        targets: list[str] | dict[str, bytes],
        version: str = "2026.11.2",
        name: str = "update.bundle",
        compatible: str = COMPATIBLE,
        key: Path | None = None,
    ) -> Path:
        images = targets if isinstance(targets, dict) else {t: new_firmware(t) for t in targets}
        files = []
        for target, data in images.items():
            path = self.root / "images" / f"{target}.bin"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            files.append((target, path))
        out = self.root / name
        create_bundle(
            out,
            {"compatible": compatible, "version": version},
            files,
            key or self.keys.private,  # type: ignore[attr-defined]
        )
        return out

    def write_config(self, extra: str = "") -> None:
        self.config.write_text(
            f"device: {self.nor}\n"
            f"keyring: {self.keys.public}\n"  # type: ignore[attr-defined]
            f"state_dir: {self.state}\n"
            f"lock: {self.lock}\n"
            + ("" if "board:" in extra else f"board:\n  profile: {self.profile}\n")
            + extra
        )


def make_env(root: Path, extra_config: str = "", profile: str = "qcom-abl") -> Env:
    root.mkdir(parents=True, exist_ok=True)
    nor = root / "nor.img"
    nor.write_bytes(board().image)
    env = Env(
        root, nor, root / "config.yaml", make_keys(root / "keys"), root / "lock", root / "state"
    )
    env.profile = profile
    env.write_config(extra_config)
    # No slot on the command line: the GPT's choice counts as booted (hermetic tests).
    cmdline = root / "cmdline"
    cmdline.write_text("console=ttyMSM0 root=/dev/sda1\n")
    return env


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def run(env: Env, capsys, *argv: str, context=None) -> tuple[int, str, str]:
    """cli.main in-process with this env's config; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    rc = cli.main(["--config", str(env.config), "--progress", "none", *argv], context=context)
    out, err = capsys.readouterr()
    env.calls.append((rc, out, err))
    return rc, out, err


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]
