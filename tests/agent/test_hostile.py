"""Hostile inputs and situations through the CLI (issue 12): each case asserts its exit
code, one error line without a traceback, and the NOR image unchanged (sha256).

Cases marked [defect N] are the regressions of issue 12's list; each failed on the
code before its fix (noted in the commit that fixed it).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from bundle_fixtures import COMPATIBLE, Member, crafted_bundle, manifest_doc, tar_bytes
from cli_env import Env, error_lines, new_firmware, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scm_fwupdate import gpt as G
from scm_fwupdate import history, imagegen
from scm_fwupdate.journal import Journal, RecordType
from scm_fwupdate.sim import SimNor
from scm_fwupdate.strategies import ImageSpec, plan_install

AGENT_SRC = Path(__file__).parents[2] / "agent" / "src"
Q6A = "board:\n  profile: radxa-dragon-q6a\n"


def _write(env: Env, name: str, data: bytes) -> Path:
    path = env.root / name
    path.write_bytes(data)
    return path


def install(env: Env, raw: bytes, name: str = "crafted.bundle") -> list[str]:
    return ["install", str(_write(env, name, raw))]


def signed(env: Env, doc: dict | bytes, members: list[Member]) -> bytes:
    return crafted_bundle(env.keys.private, doc, members)


def one(target: str, data: bytes, **extra: object) -> tuple[dict, list[Member]]:
    doc = manifest_doc([(target, "i.bin", data)])
    doc["images"][0].update(extra)
    return doc, [Member("i.bin", data)]


def write_table(env: Env, table: G.Gpt) -> None:
    """Both copies of a (hostile) table with valid CRCs, onto the NOR image."""
    with open(env.nor, "r+b") as f:
        for copy in table.copies():
            for off, data in copy:
                f.seek(off)
                f.write(data)


def moved(table: G.Gpt, name: str, first: int, last: int) -> G.Gpt:
    parts = tuple(
        replace(p, first_lba=first, last_lba=last) if p.name == name else p
        for p in table.partitions
    )
    return replace(table, partitions=parts)


# ------------------------------------------------------------------ bundles


def member_target(member: str) -> Callable[[Env], list[str]]:
    """[defect 1] one copy of a pair named as the target."""

    def make(env: Env) -> list[str]:
        group = member.removesuffix("_BACKUP").removesuffix("_a").removesuffix("_b")
        return ["install", str(env.bundle({member: new_firmware(group)}))]

    return make


def empty_boot_image(env: Env) -> list[str]:
    """[defect 2] a signed empty XBL_SC; the manifest even says erase."""
    return install(env, signed(env, *one("XBL_SC", b"", erase=True)))


def empty_without_erase(env: Env) -> list[str]:
    doc, members = one("VarStore", b"")
    del doc["images"][0]["erase"]
    return install(env, signed(env, doc, members))


def erase_with_data(env: Env) -> list[str]:
    return install(env, signed(env, *one("VarStore", b"x" * 10, erase=True)))


def erase_a_pair(target: str) -> Callable[[Env], list[str]]:
    """An empty image with 'erase: true' for a pair: both copies (or a slot) would go."""
    return lambda env: install(env, signed(env, *one(target, b"", erase=True)))


def trailing_bytes(env: Env) -> list[str]:
    """[small] data after the end-of-archive marker."""
    raw = env.bundle(["VarStore"]).read_bytes()
    return install(env, raw + b"\x01" * 20000)


def directory_bundle(env: Env) -> list[str]:
    """[small] a directory given as the bundle: exit 3, not 1."""
    (env.root / "adir.bundle").mkdir()
    return ["install", str(env.root / "adir.bundle")]


def control_chars(env: Env) -> list[str]:
    """[small] control characters in the path are escaped, not echoed raw."""
    return ["install", str(env.root / "evil\x1b[31m\x07.bundle")]


def dev_zero(_env: Env) -> list[str]:
    """[defect 5] an endless stream of zeros."""
    return ["install", "/dev/zero"]


def garbage_fifo(env: Env) -> list[str]:
    """[defect 5] a FIFO of garbage: refused at the first header, nothing staged."""
    fifo = env.root / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        try:
            with open(fifo, "wb") as f:
                for _ in range(24 * 16):
                    f.write(os.urandom(65536))
        except (BrokenPipeError, OSError):
            pass

    threading.Thread(target=feed, daemon=True).start()
    return ["install", str(fifo)]


def not_a_tar(env: Env) -> list[str]:
    return install(env, os.urandom(70000))


def empty_file(env: Env) -> list[str]:
    return install(env, b"")


def zero_blocks(env: Env) -> list[str]:
    return install(env, b"\0" * 10240)


def only_manifest(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    doc = manifest_doc([("VarStore", "v.bin", data)])
    return install(env, crafted_bundle(env.keys.private, doc, [], signed=False))


def huge_signature(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    raw = tar_bytes(
        [
            Member("manifest.yaml", b"format: 1\n"),
            Member("manifest.sig", b"s" * 9000),
            Member("v.bin", data),
        ]
    )
    return install(env, raw)


def manifest_not_yaml(env: Env) -> list[str]:
    return install(env, signed(env, b"{ not: [yaml", []))


def manifest_a_list(env: Env) -> list[str]:
    return install(env, signed(env, b"- 1\n- 2\n", []))


def manifest_too_big(env: Env) -> list[str]:
    return install(env, signed(env, b"# " + b"x" * (1 << 20) + b"\n", []))


def duplicate_target(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    doc = manifest_doc([("VarStore", "a.bin", data), ("VarStore", "b.bin", data)])
    return install(env, signed(env, doc, [Member("a.bin", data), Member("b.bin", data)]))


def unlisted_member(env: Env) -> list[str]:
    doc, members = one("VarStore", new_firmware("VarStore"))
    return install(env, signed(env, doc, [*members, Member("extra.bin", b"x")]))


def out_of_order(env: Env) -> list[str]:
    a, b = new_firmware("VarStore"), new_firmware("DPP")
    doc = manifest_doc([("VarStore", "a.bin", a), ("DPP", "b.bin", b)])
    return install(env, signed(env, doc, [Member("b.bin", b), Member("a.bin", a)]))


def size_mismatch(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    doc, _ = one("VarStore", data)
    return install(env, signed(env, doc, [Member("i.bin", data + b"extra")]))


def member_type(kind: bytes) -> Callable[[Env], list[str]]:
    def make(env: Env) -> list[str]:
        doc, _ = one("VarStore", new_firmware("VarStore"))
        return install(env, signed(env, doc, [Member("i.bin", type=kind, linkname="/etc")]))

    return make


def pax_bundle(env: Env) -> list[str]:
    """A PAX extended header before the image (it could rename or resize it)."""
    data = new_firmware("VarStore")
    doc, _ = one("VarStore", data)
    head = crafted_bundle(env.keys.private, doc, [])[: -2 * 512]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("i.bin")
        info.size = len(data)
        info.pax_headers = {"comment": "hello"}
        tar.addfile(info, io.BytesIO(data))
    return install(env, head.rstrip(b"\0")[:0] + _members_only(head) + buf.getvalue())


def _members_only(archive: bytes) -> bytes:
    """The archive without its end marker and record padding."""
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
        last = tar.getmembers()[-1]
    return archive[: last.offset_data + -(-last.size // 512) * 512]


def long_name(env: Env) -> list[str]:
    data = new_firmware("VarStore")
    name = "n" * 120 + ".bin"
    doc = manifest_doc([("VarStore", name, data)])
    raw = crafted_bundle(env.keys.private, doc, [Member(name, data)], fmt=tarfile.GNU_FORMAT)
    return install(env, raw)


def manifest_field(**change: object) -> Callable[[Env], list[str]]:
    def make(env: Env) -> list[str]:
        doc, members = one("VarStore", new_firmware("VarStore"))
        for key, value in change.items():
            if key.startswith("image_"):
                doc["images"][0][key.removeprefix("image_")] = value
            elif value is None:
                doc.pop(key)
            else:
                doc[key] = value
        return install(env, signed(env, doc, members))

    return make


def boot_image(make_image: Callable[[int], bytes], target: str = "TZ") -> Callable:
    def make(env: Env) -> list[str]:
        size = env.gpt().find(target).size
        return ["install", str(env.bundle({target: make_image(size)}))]

    return make


def no_release_string(size: int) -> bytes:
    return imagegen.build_elf([b"code without strings" * 100], bytes(120))


def hash_v5(size: int) -> bytes:
    return imagegen.build_elf([b"QCOM_SCM_RELEASE_STRING=REL-1\0" + b"c" * 5000], bytes(120), 5)


def release_mix(env: Env) -> list[str]:
    env.write_config(Q6A)
    size = env.gpt().find("XBL_SC").size
    return ["install", str(env.bundle({"XBL_SC": imagegen.qcom_image("XBL_SC", size, 2, "REL-2")}))]


def no_activate_under_sets(env: Env) -> list[str]:
    env.write_config(Q6A)
    size = env.gpt().find("TZ").size
    return ["install", "--no-activate", str(env.bundle({"TZ": imagegen.qcom_image("TZ", size, 2)}))]


def dry_run_stdin(_env: Env) -> list[str]:
    return ["install", "--dry-run", "-"]


# ------------------------------------------------------------------ the device and its table


def gpt_case(edit: Callable[[G.Gpt], G.Gpt], target: str = "recoveryinfo") -> Callable:
    def make(env: Env) -> list[str]:
        table = env.gpt()
        data = new_firmware(target) or b"\x11" * 4096  # recoveryinfo starts erased
        bundle = env.bundle({target: data})  # while the table is still good
        write_table(env, edit(table))
        return ["install", str(bundle)]

    return make


def covers_header(t: G.Gpt) -> G.Gpt:
    """[defect 3] CRCs valid, but the usable range and a partition cover the primary header."""
    p = t.find("recoveryinfo")
    return moved(replace(t, first_usable=1), "recoveryinfo", 1, p.last_lba - p.first_lba + 1)


def covers_backup(t: G.Gpt) -> G.Gpt:
    last = t.last_lba
    p = t.find("logfs")
    size = p.last_lba - p.first_lba
    return moved(replace(t, last_usable=last - 1), "logfs", last - 1 - size, last - 1)


def entries_inside_logfs(env: Env) -> list[str]:
    """CRC-valid primary header whose entry array lies inside 'logfs' (a sibling of defect 3)."""
    table = env.gpt()
    bundle = env.bundle({"logfs": new_firmware("logfs")})
    ss, logfs = table.sector_size, table.find("logfs")
    data = bytearray(env.image())
    header = bytearray(data[ss : ss + 92])
    entries = data[2 * ss : 2 * ss + table.num_entries * table.entry_size]
    data[logfs.offset : logfs.offset + len(entries)] = entries
    header[72:80] = (logfs.offset // ss).to_bytes(8, "little")  # PartitionEntryLBA
    header[16:20] = bytes(4)
    header[16:20] = zlib.crc32(header).to_bytes(4, "little")
    data[ss : ss + 92] = header
    env.nor.write_bytes(bytes(data))
    return ["install", str(bundle)]


def past_device(t: G.Gpt) -> G.Gpt:
    p = t.find("logfs")
    return moved(p and t, "logfs", p.first_lba, t.last_lba + 100)


def overlapping(t: G.Gpt) -> G.Gpt:
    a = t.find("VarStore")
    return moved(t, "DPP", a.first_lba, a.last_lba)


def duplicate_name(t: G.Gpt) -> G.Gpt:
    parts = tuple(replace(p, name="VarStore") if p.name == "DPP" else p for p in t.partitions)
    return replace(t, partitions=parts)


def erased_nor(env: Env) -> list[str]:
    bundle = env.bundle(["VarStore"])
    env.nor.write_bytes(b"\xff" * len(env.image()))
    return ["install", str(bundle)]


def both_gpts_broken(env: Env) -> list[str]:
    bundle = env.bundle(["VarStore"])
    data = bytearray(env.image())
    data[4096 + 20] ^= 0xFF
    data[-4096 + 20] ^= 0xFF
    env.nor.write_bytes(bytes(data))
    return ["install", str(bundle)]


def device_is_dir(env: Env) -> list[str]:
    (env.root / "devdir").mkdir()
    return ["--device", str(env.root / "devdir"), "status"]


def device_odd_size(env: Env) -> list[str]:
    odd = _write(env, "odd.img", b"\xff" * (1 << 20) + b"\xff" * 100)
    return ["--device", str(odd), "status"]


# ------------------------------------------------------------------ state


def mark_bad_last_slot(env: Env) -> list[str]:
    """[defect 6] slot b is bad; marking a bad would leave none."""
    assert run_quiet(env, "mark-bad", "b") == 0
    return ["mark-bad", "a"]


def history_is_a_directory(env: Env) -> list[str]:
    bundle = env.bundle(["dtb"])
    env.state.mkdir(parents=True, exist_ok=True)
    (env.state / "history.jsonl").mkdir()
    return ["install", str(bundle)]


def journal_is_dir(env: Env) -> list[str]:
    env.state.mkdir(parents=True, exist_ok=True)
    (env.state / "journal").mkdir()
    return ["resume"]


def damaged_plan(env: Env) -> list[str]:
    """[defect 4] committed, then the plan record damaged: refused, not dropped (exit 13)."""
    data = new_firmware("VarStore")
    image = _write(env, "v.bin", data)
    nor = SimNor.open_image(env.nor)
    env.state.mkdir(parents=True, exist_ok=True)
    with Journal(env.state / "journal") as j:
        spec = ImageSpec("VarStore", image, len(data), sha256=hashlib.sha256(data).hexdigest())
        plan_install(nor, j, env.gpt(), [spec]).commit()
        rec = j.last(RecordType.PLAN)
        assert rec is not None
        at = rec.payload_offset + len(rec.payload) // 2
    nor.close()
    raw = bytearray((env.state / "journal").read_bytes())
    raw[at] ^= 0x20
    (env.state / "journal").write_bytes(bytes(raw))
    return ["resume"]


def config_text(text: str | bytes) -> Callable[[Env], list[str]]:
    def make(env: Env) -> list[str]:
        env.config.write_bytes(text.encode() if isinstance(text, str) else text)
        return ["status"]

    return make


def run_quiet(env: Env, *argv: str) -> int:
    from scm_fwupdate import cli

    return cli.main(["--config", str(env.config), "--progress", "none", *argv])


CASES: dict[str, tuple[Callable[[Env], list[str]], int, str]] = {
    # names
    "member-dtb_a": (member_target("dtb_a"), 5, "one copy of the A/B group 'dtb'"),
    "member-dtb_b": (member_target("dtb_b"), 5, "name the group"),
    "member-XBL_SC_BACKUP": (member_target("XBL_SC_BACKUP"), 5, "primary/backup pair 'XBL_SC'"),
    "member-uefisecapp_a": (member_target("uefisecapp_a"), 5, "A/B group 'uefisecapp'"),
    # images
    "empty-boot-image": (empty_boot_image, 12, "is empty"),
    "empty-without-erase": (empty_without_erase, 3, "erase: true"),
    "erase-with-data": (erase_with_data, 3, "only an empty image"),
    "erase-an-ab-pair": (erase_a_pair("qweslicstore"), 5, "two copies"),
    "erase-a-primary-backup-pair": (erase_a_pair("ddr"), 5, "two copies"),
    "boot-image-not-elf": (boot_image(lambda n: b"\x5a" * 10000), 12, "not an ELF image"),
    "boot-image-digest": (
        boot_image(lambda n: imagegen.corrupt(imagegen.qcom_image("TZ", n, 2), "digest")),
        12,
        "digest 2 mismatch",
    ),
    "boot-image-truncated": (
        boot_image(lambda n: imagegen.corrupt(imagegen.qcom_image("TZ", n, 2), "truncate")),
        12,
        "outside the image",
    ),
    "boot-image-first-block-erased": (
        boot_image(
            lambda n: imagegen.corrupt(imagegen.qcom_image("TZ", n, 2), "first-block-erased")
        ),
        12,
        "not an ELF image",
    ),
    "boot-image-no-release": (boot_image(no_release_string), 12, "no release string"),
    "boot-image-hash-v5": (boot_image(hash_v5), 12, "version 5"),
    "boot-image-too-large": (
        boot_image(lambda n: imagegen.qcom_image("TZ", n * 2, 2, fill=0.9)),
        5,
        "larger than",
    ),
    "release-mix": (release_mix, 12, "from another release"),
    "no-activate-under-sets": (no_activate_under_sets, 5, "no separate step"),
    # archives
    "trailing-bytes": (trailing_bytes, 3, "after the end of the archive"),
    "directory": (directory_bundle, 3, "is a directory"),
    "control-characters": (control_chars, 3, "\\x1b[31m\\x07"),
    "dev-zero": (dev_zero, 3, "empty"),
    "garbage-fifo": (garbage_fifo, 3, "ustar"),
    "not-a-tar": (not_a_tar, 3, "ustar"),
    "empty-file": (empty_file, 3, ""),
    "zero-blocks": (zero_blocks, 3, "empty"),
    "only-manifest": (only_manifest, 4, "not signed"),
    "huge-signature": (huge_signature, 4, "implausible size"),
    "manifest-not-yaml": (manifest_not_yaml, 3, "manifest"),
    "manifest-a-list": (manifest_a_list, 3, "manifest"),
    "manifest-too-big": (manifest_too_big, 3, "larger than"),
    "duplicate-target": (duplicate_target, 3, "duplicate target"),
    "unlisted-member": (unlisted_member, 3, "not listed"),
    "out-of-order": (out_of_order, 3, "out of order"),
    "size-mismatch": (size_mismatch, 3, "the manifest says"),
    "symlink-member": (member_type(tarfile.SYMTYPE), 3, "symlink"),
    "hardlink-member": (member_type(tarfile.LNKTYPE), 3, "hardlink"),
    "directory-member": (member_type(tarfile.DIRTYPE), 3, "directory"),
    "fifo-member": (member_type(tarfile.FIFOTYPE), 3, "fifo"),
    "device-member": (member_type(tarfile.CHRTYPE), 3, "character device"),
    "pax-header": (pax_bundle, 3, ""),
    "gnu-long-name": (long_name, 3, ""),
    "format-2": (manifest_field(format=2), 3, "format"),
    "no-compatible": (manifest_field(compatible=None), 3, "compatible"),
    "bad-version": (manifest_field(version="1 .0"), 3, "version"),
    "negative-size": (manifest_field(image_size=-1), 3, "size"),
    "sha256-uppercase": (manifest_field(image_sha256="A" * 64), 3, "sha256"),
    "unknown-image-key": (manifest_field(image_mode=7), 3, "mode"),
    "dry-run-stdin": (dry_run_stdin, 3, "--dry-run"),
    # the table and the device
    "gpt-covers-primary-header": (gpt_case(covers_header), 7, "overlaps a GPT copy"),
    "gpt-covers-backup": (gpt_case(covers_backup, "logfs"), 7, "overlaps a GPT copy"),
    "gpt-past-device": (gpt_case(past_device, "logfs"), 7, "past the end of the device"),
    "gpt-entries-inside-a-partition": (entries_inside_logfs, 7, "entries at LBA"),
    "gpt-overlap": (gpt_case(overlapping, "DPP"), 7, "overlap"),
    "gpt-duplicate-name": (gpt_case(duplicate_name, "VarStore"), 7, "declared 2 times"),
    "erased-nor": (erased_nor, 7, "no valid GPT"),
    "both-gpts-broken": (both_gpts_broken, 7, "no valid GPT"),
    "device-is-directory": (device_is_dir, 6, "devdir"),
    "device-odd-size": (device_odd_size, 6, "geometry"),
    # state
    "mark-bad-last-slot": (mark_bad_last_slot, 11, "no bootable slot"),
    "history-is-a-directory": (history_is_a_directory, 1, "install history"),
    "journal-is-directory": (journal_is_dir, 8, "journal"),
    "damaged-plan": (damaged_plan, 13, "its plan is damaged"),
    "activate-unknown-slot": (lambda env: ["activate", "c"], 11, "unknown slot"),
    # configuration
    "config-bad-rule": (config_text("board: {boot_rule: best-guess}\n"), 2, "board.boot_rule"),
    "config-bad-profile": (config_text("board: {profile: acme}\n"), 2, "board.profile"),
    "config-relative-path": (config_text("state_dir: var/lib\n"), 2, "absolute"),
    "config-duplicate-key": (config_text("device: a\ndevice: b\n"), 2, "duplicate"),
    "config-backend-vs-rule": (
        config_text("board: {profile: radxa-dragon-q6a}\nboot: {backend: uboot-env}\n"),
        2,
        "ab-attributes",
    ),
    "config-not-utf8": (config_text(b"compatible: \xff\n"), 2, "UTF-8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_input_is_refused_in_one_line_and_nothing_written(
    env: Env, capsys, case: str
) -> None:
    make, code, needle = CASES[case]
    before = hashlib.sha256(env.image()).digest()
    argv = make(env)
    after_setup = hashlib.sha256(env.image()).digest()  # some cases break the table first
    rc, _out, err = run(env, capsys, *argv)
    lines = error_lines(err)
    assert rc == code, err
    assert len(lines) == 1 and lines[0].startswith("scm-fwupdate: error: "), err
    assert "Traceback" not in err and "\x1b" not in err and "\x07" not in err
    assert needle in lines[0], lines[0]
    assert hashlib.sha256(env.image()).digest() == after_setup
    if argv[0] != "mark-bad":
        assert after_setup == before or case.startswith(("gpt-", "erased", "both-"))
    staged = env.state / "staged.bundle"
    assert not staged.exists() or staged.stat().st_size < 64 << 10


def test_at_least_sixty_cases() -> None:
    assert len(CASES) >= 60


def _stream_into_install(env: Env, data_source: Callable[[], bytes], limit: int) -> tuple[int, int]:
    """Run ``install -`` in a child, feed it, return (exit code, bytes it consumed)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scm_fwupdate", "--config", str(env.config), "install", "-"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=str(AGENT_SRC)),
    )
    sent = 0
    try:
        while sent < limit:
            chunk = data_source()
            proc.stdin.write(chunk)  # type: ignore[union-attr]
            sent += len(chunk)
    except (BrokenPipeError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
    proc.wait(60)
    return proc.returncode, sent


def test_garbage_on_stdin_costs_at_most_a_few_kib(env: Env) -> None:
    """[defect 5] 24 MiB of garbage were copied before the refusal."""
    before = env.image()
    rc, sent = _stream_into_install(env, lambda: os.urandom(65536), 24 << 20)
    assert rc == 3
    assert sent < 2 << 20, f"{sent} bytes consumed before the refusal"
    assert not (env.state / "staged.bundle").exists()
    assert env.image() == before


def test_a_huge_declared_manifest_is_refused_before_it_is_read(env: Env) -> None:
    """[resources] nothing but a 512-byte header is needed to refuse it (the pipe holds 64 KiB)."""
    info = tarfile.TarInfo("manifest.yaml")
    info.size = 1 << 20
    head = [info.tobuf(format=tarfile.USTAR_FORMAT)]
    rc, sent = _stream_into_install(env, lambda: head.pop(0) if head else b"#" * 16384, 4 << 20)
    assert rc == 3
    assert sent < 256 << 10, f"{sent} bytes consumed before the refusal"


def test_a_stream_longer_than_its_manifest_allows_is_refused(env: Env) -> None:
    bundle = env.bundle(["VarStore"]).read_bytes()
    tail = [bundle] + [os.urandom(65536)] * 64
    rc, _sent = _stream_into_install(
        env, lambda: tail.pop(0) if tail else b"", len(bundle) + 4 << 20
    )
    assert rc == 3
    assert not (env.state / "staged.bundle").exists()


def _efbig(limit: int) -> Callable[[], None]:
    def pre() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return pre


def test_journal_write_error_says_what_failed(env: Env) -> None:
    """[small] "File too large" alone; now: which file, and nothing on the flash."""
    before = env.image()
    bundle = env.bundle({"VarStore": imagegen.firmware("VarStore", 512 << 10, 2, changed=1)})
    out = subprocess.run(
        [sys.executable, "-m", "scm_fwupdate", "--config", str(env.config), "install", str(bundle)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(AGENT_SRC), SCM_FWUPDATE_CMDLINE="/dev/null"),
        preexec_fn=_efbig(100 << 10),  # the journal's redo images pass 100 KiB
    )
    lines = [x for x in error_lines(out.stderr) if x.startswith("scm-fwupdate: error:")]
    assert out.returncode == 8 and len(lines) == 1, out.stderr
    assert "cannot write journal" in lines[0] and "File too large" in lines[0]
    assert env.image() == before


def test_flash_write_error_says_what_failed(env: Env, tmp_path: Path) -> None:
    """[small] a NOR image file the agent cannot write: the offset and the errno text."""
    small = tmp_path / "nor.img"
    # A 2 MiB NOR whose table holds a VarStore at 1 MiB; writes past 1 MiB fail.
    table = G.Gpt(
        4096,
        2 << 20,
        uuid.uuid4(),
        6,
        500,
        128,
        128,
        (G.Partition(0, "VarStore", uuid.uuid4(), uuid.uuid4(), 256, 300, 0, 4096),),
    )
    image = bytearray(b"\xff" * (2 << 20))
    for copy in table.copies():
        for off, data in copy:
            image[off : off + len(data)] = data
    small.write_bytes(bytes(image))
    env.write_config("")
    bundle = env.bundle({"VarStore": b"\x00" * 8192})
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "scm_fwupdate",
            "--config",
            str(env.config),
            "--device",
            str(small),
            "install",
            str(bundle),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(AGENT_SRC), SCM_FWUPDATE_CMDLINE="/dev/null"),
        preexec_fn=_efbig(1 << 20),
    )
    lines = [x for x in error_lines(out.stderr) if x.startswith("scm-fwupdate: error:")]
    assert out.returncode == 6 and len(lines) == 1, out.stderr
    assert "write at 0x" in lines[0] and "File too large" in lines[0]
    assert small.read_bytes() == bytes(image)


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs util-linux setpriv")
def test_a_history_it_cannot_write_is_found_before_the_flash_is(env: Env) -> None:
    """[defect 7] the install wrote and activated the slot, then failed on the history."""
    env.state.mkdir(parents=True, exist_ok=True)
    (env.state / "history.jsonl").write_text("")
    (env.state / "history.jsonl").chmod(0o444)
    bundle = env.bundle(["dtb"])
    before = env.image()
    # Root without CAP_DAC_OVERRIDE: file modes apply, as to the agent's service user.
    drop = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    agent = [sys.executable, "-m", "scm_fwupdate", "--config", str(env.config)]
    out = subprocess.run(
        [*drop, *agent, "install", str(bundle)],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(AGENT_SRC), SCM_FWUPDATE_CMDLINE="/dev/null"),
    )
    lines = [x for x in error_lines(out.stderr) if x.startswith("scm-fwupdate: error:")]
    assert out.returncode == 1 and len(lines) == 1, out.stderr
    assert "cannot write install history" in lines[0] and "Permission denied" in lines[0]
    assert env.image() == before


def test_compatible_constant() -> None:
    assert COMPATIBLE == "radxa,dragon-q6a"
    assert history.read(Path("/nonexistent/x")) == []


# ------------------------------------------------------------------ properties and kills

BOOT_FREE = ("VarStore", "DPP", "cdt", "limits", "SYSFW_VERSION", "logfs")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    targets=st.lists(
        st.sampled_from((*BOOT_FREE, "dtb", "uefisecapp")), min_size=1, max_size=3, unique=True
    ),
    fill=st.floats(0.0, 1.0),
    seed=st.integers(0, 1 << 16),
)
def test_an_accepted_bundle_changes_no_byte_outside_its_targets(
    env: Env, capsys, targets: list[str], fill: float, seed: int
) -> None:
    """Property (issue 12): whatever bundle the CLI accepts, only its targets' copies change."""
    env.nor.write_bytes(imagegen.build().image)
    for p in (env.state / "journal", env.state / "history.jsonl"):
        p.unlink(missing_ok=True)
    table = env.gpt()
    images = {}
    for t in targets:
        part = table.find(t if t in table.names() else f"{t}_a")
        if t in ("dtb", "uefisecapp"):
            images[t] = imagegen.qcom_image(t, part.size, 2 + seed % 5)
        else:
            n = max(1, int(part.size * fill))
            images[t] = bytes((seed + i) % 251 for i in range(n))
    before = env.image()
    rc, _out, err = run(env, capsys, "install", str(env.bundle(images, version=f"2026.{seed}")))
    assert rc == 0, err
    after = env.image()
    allowed = [
        (p.offset, p.offset + p.size)
        for p in table.partitions
        if p.name.removesuffix("_a").removesuffix("_b").removesuffix("_BACKUP") in targets
    ]
    ss = table.sector_size  # the GPT blocks change with the A/B activation
    allowed += [(0, table.first_usable * ss), ((table.last_usable + 1) * ss, len(before))]
    for block in range(0, len(before), 4096):
        if before[block : block + 4096] != after[block : block + 4096]:
            assert any(lo <= block < hi for lo, hi in allowed), f"block 0x{block:x} changed"


def _install_killed(env: Env, bundle: Path, when: str) -> None:
    """``install`` in a child, SIGKILLed at a chosen point of its progress."""
    marks = {
        "staging": '"phase": "verify bundle"',
        "planning": '"phase": "plan"',
        "committed": '"phase": "mark slot',  # the first step after the COMMIT
        "writing": '"phase": "write',
        "activating": '"phase": "activate',
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scm_fwupdate",
            "--config",
            str(env.config),
            "--progress",
            "json",
            "install",
            str(bundle),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(
            os.environ, PYTHONPATH=str(AGENT_SRC), SCM_FWUPDATE_CMDLINE=str(env.root / "cmdline")
        ),
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if marks[when].encode() in line:
            break
    proc.kill()
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, f"install ended before the kill ({when})"


@pytest.mark.parametrize("when", ["staging", "planning", "committed", "writing", "activating"])
def test_sigkill_at_chosen_points_then_resume_reaches_old_or_new(
    env: Env, capsys, when: str
) -> None:
    target = new_firmware("dtb")
    bundle = env.bundle({"dtb": target})
    before = env.image()
    _install_killed(env, bundle, when)
    rc, _out, err = run(env, capsys, "resume")
    assert rc == 0, err
    st = json.loads(run(env, capsys, "status", "--json")[1])
    assert st["journal"]["state"] in ("idle", "done")
    if when in ("committed", "writing", "activating"):  # after the COMMIT: finished
        assert st["journal"]["state"] == "done"
    slot = st["boot"]["next"]
    copy = env.part(f"dtb_{slot}")[: len(target)]
    if st["journal"]["state"] == "done":
        assert slot == "b" and copy == target  # finished: the new slot, whole
    else:
        assert env.image() == before  # dropped before the commit: nothing written


def test_control_characters_in_a_bundle_never_reach_stdout(env: Env, capsys) -> None:
    """[small, stdout] 'bundle info' of an unverified bundle prints its fields escaped."""
    doc, members = one("VarStore", b"x" * 4096)
    doc["description"] = "pwn \x1b[31m red \x07 bell\nsignature:  valid (trusted)"
    path = _write(env, "ctl.bundle", signed(env, doc, members))
    rc, out, err = run(env, capsys, "bundle", "info", str(path))
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert rc == 0 and "\\x1b[31m red \\x07 bell\\x0asignature:" in out, (rc, out, err)
    # one signature line: the description cannot forge a second
    assert sum(line.startswith("signature:") for line in out.splitlines()) == 1, out


def test_staging_refuses_a_stream_that_the_free_space_cannot_hold(
    env: Env, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[resources] free space is checked against the manifest's bound before staging."""
    from scm_fwupdate import staging

    real = os.statvfs
    monkeypatch.setattr(
        staging.os, "statvfs", lambda p: os.statvfs_result((*real(p)[:4], 1, *real(p)[5:]))
    )
    monkeypatch.setattr(
        sys, "stdin", io.TextIOWrapper(io.BytesIO(env.bundle(["VarStore"]).read_bytes()))
    )
    before = env.image()
    rc, _out, err = run(env, capsys, "install", "-")
    assert rc == 3 and "not enough space" in err, err
    assert not list(env.state.glob("staged*"))
    assert env.image() == before


def test_mark_bad_force_may_leave_no_bootable_slot(env: Env, capsys) -> None:
    """[state] the refusal's documented override."""
    assert run(env, capsys, "mark-bad", "b")[0] == 0
    rc, _out, err = run(env, capsys, "mark-bad", "--force", "a")
    assert rc == 0, err
    from oracle.gpt import read_gpt_bytes  # the bits read by the independent reader

    table = read_gpt_bytes(env.image())
    assert table is not None
    assert table.partitions["dtb_a"].ab.unbootable and table.partitions["dtb_b"].ab.unbootable


def test_resume_set_aside_keeps_a_damaged_journal_and_frees_the_board(env: Env, capsys) -> None:
    """[journal] exit 13, then '--set-aside' keeps the bytes for inspection."""
    argv = damaged_plan(env)
    journal = env.state / "journal"
    damaged = journal.read_bytes()
    assert run(env, capsys, *argv)[0] == 13
    assert journal.read_bytes() == damaged  # refused, never truncated
    rc, out, err = run(env, capsys, "resume", "--set-aside")
    assert rc == 0, err
    kept = [p for p in env.state.iterdir() if p.name.startswith("journal") and p != journal]
    assert len(kept) == 1 and kept[0].read_bytes() == damaged, out
    rc, _out, err = run(env, capsys, "install", str(env.bundle(["VarStore"])))
    assert rc == 0, err
