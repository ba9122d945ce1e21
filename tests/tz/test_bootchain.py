"""The emulated boot chain (docs/boot-chain.md) on NOR images from imagegen.

Every power-on runs twice: bootchain-host (the chain's C sources on the
host, --write on a copy of the NOR) and the firmware in QEMU. Both must
print the same boot-image:/boot: lines, agree on the exit code and leave
the same NOR behind, so every case here also checks the host tool.

What the chain wrote is checked with parsers written here from the spec
tables (recoveryinfo) and the UEFI specification (GPT), never with the
agent's code. imagegen only makes the images.
"""

import dataclasses
import gzip
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from conftest import (
    EXIT_BOOT_ONLY,
    EXIT_BRICKED,
    EXIT_CONFIG_ERROR,
    EXIT_HUNG,
    EXIT_SYSTEM_OFF,
    PAYLOAD,
    ROOT,
    RUN_QEMU,
    TZ,
)

sys.path.insert(0, str(ROOT / "agent" / "src"))
from scm_fwupdate import imagegen

HOST = TZ / "build" / "bootchain-host"
BS = 4096
APPEND = "console=ttyAMA0 panic=-1 rdinit=/init"

SET_A = [
    "XBL_SC",
    "XBL_CONFIG",
    "AOP",
    "TZ",
    "HYP",
    "DEVCFG",
    "QUP",
    "UEFI",
    "dtb_a",
    "uefisecapp_a",
]
SET_B = [*(n + "_BACKUP" for n in SET_A[:8]), "dtb_b", "uefisecapp_b"]
BASES = [*SET_A[:8], "dtb", "uefisecapp"]

# A/B bits: byte 6 of the attribute field (reference section 1).
PRIO, ACTIVE, OK, UNBOOTABLE = 0x03, 0x04, 0x40, 0x80
RETRY_SHIFT = 3


def ab(
    prio: int = 0, active: bool = False, retry: int = 0, ok: bool = False, unb: bool = False
) -> int:
    return (
        prio
        | (ACTIVE if active else 0)
        | retry << RETRY_SHIFT
        | (OK if ok else 0)
        | (UNBOOTABLE if unb else 0)
    )


def retry_of(b: int) -> int:
    return (b >> RETRY_SHIFT) & 7


# ---- GPT, from the UEFI specification (5.3) ----


@dataclasses.dataclass
class GptCopy:
    lba: int
    alt_lba: int
    entries_lba: int
    num: int
    esize: int
    header: bytes
    entries: bytes


def _copy(img: bytes, lba: int, ss: int) -> GptCopy:
    h = img[lba * ss : lba * ss + ss]
    assert h[:8] == b"EFI PART", f"no GPT header at LBA {lba}"
    rev, hsize, hcrc = struct.unpack_from("<III", h, 8)
    assert rev == 0x00010000
    zeroed = h[:16] + b"\0\0\0\0" + h[20:hsize]
    assert zlib.crc32(zeroed) == hcrc, f"header CRC at LBA {lba}"
    my_lba, alt_lba = struct.unpack_from("<QQ", h, 24)
    assert my_lba == lba
    entries_lba, num, esize, ecrc = struct.unpack_from("<QIII", h, 72)
    ents = img[entries_lba * ss : entries_lba * ss + num * esize]
    assert zlib.crc32(ents) == ecrc, f"entry array CRC of the copy at LBA {lba}"
    return GptCopy(lba, alt_lba, entries_lba, num, esize, h[:hsize], ents)


def sector_size(img: bytes) -> int:
    """4096 or 512: where a GPT header is (primary, else backup)."""
    for ss in (4096, 512):
        if b"EFI PART" in (img[ss : ss + 8], img[len(img) - ss : len(img) - ss + 8]):
            return ss
    raise AssertionError("no GPT")


def gpt_copies(img: bytes) -> tuple[GptCopy, GptCopy]:
    """Both copies, each checked on its own (signature, CRCs, own LBA)."""
    ss = sector_size(img)
    primary = _copy(img, 1, ss)
    backup = _copy(img, len(img) // ss - 1, ss)
    assert primary.alt_lba == backup.lba and backup.alt_lba == 1
    return primary, backup


def entries(c: GptCopy) -> dict[str, tuple[int, int, int]]:
    """name -> (first_lba, last_lba, attributes) of the used entries."""
    out = {}
    for i in range(c.num):
        e = c.entries[i * c.esize : (i + 1) * c.esize]
        if e[:16] == bytes(16):
            continue
        first, last, attr = struct.unpack_from("<QQQ", e, 32)
        name = e[56:128].decode("utf-16-le").split("\0")[0]
        out.setdefault(name, (first, last, attr))
    return out


def ab_byte(img: bytes, name: str) -> int:
    """Byte 6 of the entry's attributes; both copies must agree."""
    p, b = gpt_copies(img)
    pa, ba = entries(p)[name][2], entries(b)[name][2]
    assert pa == ba, f"{name}: primary {pa:#x} backup {ba:#x}"
    return (pa >> 48) & 0xFF


def set_ab(img: bytearray, **names: int) -> None:
    """Set byte 6 of the named entries in both copies, CRCs recomputed."""
    ss = sector_size(img)
    for c in gpt_copies(img):
        ents = bytearray(c.entries)
        for i in range(c.num):
            off = i * c.esize
            name = ents[off + 56 : off + 128].decode("utf-16-le").split("\0")[0]
            if name in names:
                attr = struct.unpack_from("<Q", ents, off + 48)[0] & ~(0xFF << 48)
                struct.pack_into("<Q", ents, off + 48, attr | names[name] << 48)
        hdr = bytearray(c.header)
        struct.pack_into("<I", hdr, 88, zlib.crc32(ents))
        struct.pack_into("<I", hdr, 16, 0)
        struct.pack_into("<I", hdr, 16, zlib.crc32(hdr))
        img[c.entries_lba * ss : c.entries_lba * ss + len(ents)] = ents
        img[c.lba * ss : c.lba * ss + len(hdr)] = hdr


def span(img: bytes, name: str) -> tuple[int, int]:
    ss = sector_size(img)
    first, last, _ = entries(gpt_copies(img)[0])[name]
    return first * ss, (last - first + 1) * ss


def part(img: bytes, name: str) -> bytes:
    off, size = span(img, name)
    return bytes(img[off : off + size])


def put(img: bytearray, name: str, data: bytes) -> None:
    off, size = span(img, name)
    assert len(data) <= size
    img[off : off + size] = data + b"\xff" * (size - len(data))


# ---- recoveryinfo, from the table in docs/boot-chain.md ----


@dataclasses.dataclass
class Record:
    failed: int
    last_set: int
    fallbacks: int
    reason: str


def recoveryinfo(img: bytes) -> Record | None:
    raw = part(img, "recoveryinfo")[:64]
    if raw[:4] != b"QSRI":
        return None
    version, failed, last_set, fallbacks, reserved = struct.unpack_from("<5I", raw, 4)
    assert version == 1 and reserved == 0
    assert struct.unpack_from("<I", raw, 60)[0] == zlib.crc32(raw[:60]), "record CRC"
    reason = raw[24:60]
    assert reason.rstrip(b"\0").find(b"\0") < 0, "reason is NUL padded"
    return Record(failed, last_set, fallbacks, reason.rstrip(b"\0").decode())


# ---- power-ons ----


FIELD = re.compile(r'(\S+?)=("([^"]*)"|\S+)')


def fields(line: str) -> dict[str, str]:
    return {m[1]: m[3] if m[3] is not None else m[2] for m in FIELD.finditer(line)}


@dataclasses.dataclass
class PowerOn:
    rc: int
    out: str
    lines: list[str]

    @property
    def boots(self) -> list[dict[str, str]]:
        return [fields(ln) for ln in self.lines if ln.startswith("boot: ")]

    @property
    def boot(self) -> dict[str, str]:
        return self.boots[-1]

    @property
    def boot_line(self) -> str:
        return [ln for ln in self.lines if ln.startswith("boot: ")][-1]

    def images(self) -> list[dict[str, str]]:
        out = []
        for ln in self.lines:
            if ln.startswith("boot-image: "):
                f = fields(ln)
                f["image"] = ln.split()[1]
                out.append(f)
        return out

    def chain_ms(self) -> int:
        return int(re.search(r"boot chain: rule \S+ took (\d+) ms", self.out)[1])


def chain_lines(text: str) -> list[str]:
    return [
        ln
        for ln in text.replace("\r", "").splitlines()
        if ln.startswith(("boot: ", "boot-image: "))
    ]


HOST_CODE = {
    EXIT_BOOT_ONLY: 0,
    EXIT_SYSTEM_OFF: 0,
    EXIT_BRICKED: EXIT_BRICKED,
    EXIT_HUNG: EXIT_HUNG,
}


def power_on(nor: Path, rule: str | None = "sets", *sets: str, boot_only: bool = True) -> PowerOn:
    """One power-on of the firmware (payload kernel, read-only SCM so the
    payload cannot touch the NOR), checked against bootchain-host."""
    host_nor = nor.with_name(nor.name + ".host")
    shutil.copyfile(nor, host_nor)
    hcmd = [str(HOST), "--write", str(host_nor)]
    if rule:
        hcmd[1:1] = ["--rule", rule]
    for s in sets:
        if s.startswith("blocks="):  # the firmware's geometry
            hcmd[1:1] = ["--size", str(int(s.split("=")[1]) * BS)]
    h = subprocess.run(hcmd, capture_output=True, text=True, timeout=60)

    cmd = [str(RUN_QEMU), "--kernel", str(PAYLOAD), "--nor", str(nor), "--timeout", "60"]
    if rule:
        cmd += ["--set", f"boot_rule={rule}"]
    cmd += ["--set", f"boot_only={int(boot_only)}", "--set", "read_only=1"]
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, cwd=nor.parent, capture_output=True, text=True, timeout=120)
    out = p.stdout.replace("\r", "") + p.stderr
    run = PowerOn(p.returncode, out, chain_lines(p.stdout))

    assert run.lines == chain_lines(h.stdout), f"firmware:\n{out}\nhost:\n{h.stdout}{h.stderr}"
    assert h.returncode == HOST_CODE[p.returncode], (p.returncode, h.returncode, out)
    assert nor.read_bytes() == host_nor.read_bytes(), "host and firmware wrote different NORs"
    return run


@pytest.fixture(scope="module")
def default_board() -> bytes:
    return imagegen.build().image


@pytest.fixture(scope="module")
def compact_board() -> bytes:
    return imagegen.build(rows=imagegen.compact_layout()).image


@pytest.fixture
def nor(tmp_path, compact_board, tz_build):
    """A writable NOR: nor(img) saves img, nor() the compact board."""

    def _nor(img: bytes | None = None) -> Path:
        path = tmp_path / "nor.img"
        path.write_bytes(compact_board if img is None else img)
        return path

    return _nor


# ---- sets ----


def test_default_nor_boots_set_a(tmp_path, default_board, tz_build):
    path = tmp_path / "nor.img"
    path.write_bytes(default_board)
    r = power_on(path)
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert (
        r.boot_line
        == 'boot: rule=sets set=A release=REL-1 result=boot fallback=0 reason="set A valid"'
    )
    imgs = r.images()
    assert [i["image"] for i in imgs] == BASES
    assert [i["part"] for i in imgs] == SET_A
    assert all(i["valid"] == "1" and i["release"] == "REL-1" for i in imgs)
    assert {i["image"]: i["sw_id"] for i in imgs}["TZ"] == "0x7"
    assert path.read_bytes() == default_board  # nothing to record
    # docs: "aim for well under 2 s" on TCG; generous for a busy machine.
    assert r.chain_ms() < 4000, r.out


def test_payload_entered_after_the_chain(nor):
    """Without boot_only the kernel (the payload) runs after the boot: line."""
    r = power_on(nor(), boot_only=False)
    assert r.rc == EXIT_SYSTEM_OFF, r.out
    assert r.out.index("boot: rule=sets") < r.out.index("DONE")


CORRUPTIONS = [
    ("digest", "TZ", "digest 2 mismatch"),
    ("truncate", "UEFI", "digest 2 mismatch"),
    ("not-elf", "dtb_a", "not ELF"),
    ("first-block-erased", "XBL_SC", "not ELF"),
]


@pytest.mark.parametrize("how,victim,error", CORRUPTIONS)
def test_broken_set_a_boots_set_b(nor, compact_board, how, victim, error):
    img = bytearray(compact_board)
    good = part(img, victim)
    put(img, victim, imagegen.corrupt(good, how))
    path = nor(bytes(img))
    base = BASES[SET_A.index(victim)]
    why = f"{base}: {error}"

    r = power_on(path)
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert (
        r.boot_line
        == f'boot: rule=sets set=B release=REL-1 result=boot fallback=1 reason="set A: {why}"'
    )
    bad = [i for i in r.images() if i["valid"] == "0"]
    assert bad == [{"image": base, "part": victim, "valid": "0", "error": error}]
    assert [i["part"] for i in r.images()] == SET_A + SET_B
    assert recoveryinfo(path.read_bytes()) == Record(failed=1, last_set=1, fallbacks=1, reason=why)

    # Still broken: the count goes on.
    r = power_on(path)
    assert r.boot["set"] == "B"
    assert recoveryinfo(path.read_bytes()) == Record(1, 1, 2, why)

    # Set A repaired: it boots, bit 0 is cleared, the count kept.
    img = bytearray(path.read_bytes())
    put(img, victim, good)
    path.write_bytes(img)
    r = power_on(path)
    assert r.boot_line == (
        "boot: rule=sets set=A release=REL-1 result=boot fallback=0 "
        'reason="set A valid, failure record cleared"'
    )
    after = path.read_bytes()
    assert recoveryinfo(after) == Record(0, 0, 2, why)
    # And then nothing changes any more.
    r = power_on(path)
    assert r.boot["reason"] == "set A valid"
    assert path.read_bytes() == after


def test_both_sets_broken_is_bricked(nor, compact_board):
    img = bytearray(compact_board)
    put(img, "HYP", imagegen.corrupt(part(img, "HYP"), "digest"))
    put(img, "QUP_BACKUP", imagegen.corrupt(part(img, "QUP_BACKUP"), "not-elf"))
    path = nor(bytes(img))
    r = power_on(path)
    assert r.rc == EXIT_BRICKED, r.out
    assert r.boot_line == (
        "boot: rule=sets set=- release=- result=bricked fallback=1 "
        'reason="set A: HYP: digest 2 mismatch; set B: QUP: not ELF"'
    )
    assert recoveryinfo(path.read_bytes()) == Record(3, 0xFFFF, 0, "HYP: digest 2 mismatch")
    before = path.read_bytes()
    assert power_on(path).rc == EXIT_BRICKED
    assert path.read_bytes() == before  # same record: not rewritten


def mixed_board(compact_board: bytes) -> bytearray:
    """Set A with XBL_SC of release REL-2, the rest REL-1 (a torn update)."""
    img = bytearray(compact_board)
    size = span(img, "XBL_SC")[1]
    put(img, "XBL_SC", imagegen.qcom_image("XBL_SC", size, 2, release="REL-2"))
    return img


def test_mixed_set_a_boots_set_b(nor, compact_board):
    r = power_on(nor(bytes(mixed_board(compact_board))))
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert r.boot["set"] == "B" and r.boot["fallback"] == "1"
    assert r.boot["reason"] == "set A: mixed releases: XBL_SC REL-2, XBL_CONFIG REL-1"
    assert r.images()[0]["version"] == "XBL_SC.2"


def test_release_field_is_what_the_set_carries(nor, compact_board):
    img = bytearray(compact_board)
    for name in SET_B:
        put(
            img,
            name,
            imagegen.qcom_image(BASES[SET_B.index(name)], span(img, name)[1], 2, release="REL-2"),
        )
    put(img, "AOP", imagegen.corrupt(part(img, "AOP"), "digest"))
    r = power_on(nor(bytes(img)))
    assert r.boot["set"] == "B" and r.boot["release"] == "REL-2"


def test_bad_boot_rule_is_a_config_error(nor):
    p = subprocess.run(
        [
            str(RUN_QEMU),
            "--kernel",
            str(PAYLOAD),
            "--nor",
            str(nor()),
            "--set",
            "boot_rule=sideways",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == EXIT_CONFIG_ERROR


def test_blank_nor_is_bricked(tmp_path, tz_build):
    """A factory-fresh NOR has no GPT (tests booting one pass boot_rule=none)."""
    path = tmp_path / "blank.img"
    path.write_bytes(b"\xff" * 8192 * BS)
    r = power_on(path)
    assert r.rc == EXIT_BRICKED
    assert (
        r.boot_line
        == 'boot: rule=sets set=- release=- result=bricked fallback=0 reason="no valid GPT"'
    )


def test_512_byte_sector_gpt(tmp_path, tz_build):
    """512-byte LBAs: the GPT header shares erase block 0 with the MBR and
    partitions need not start on an erase block; writes keep neighbours."""
    board = imagegen.build(sector_size=512, rows=imagegen.compact_layout()).image
    path = tmp_path / "nor.img"
    path.write_bytes(board)
    r = power_on(path)
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert r.boot["set"] == "A"

    img = bytearray(board)
    put(img, "TZ", imagegen.corrupt(part(img, "TZ"), "digest"))
    path.write_bytes(img)
    r = power_on(path, "sets")
    assert r.boot["set"] == "B"
    after = path.read_bytes()
    assert recoveryinfo(after) == Record(1, 1, 1, "TZ: digest 2 mismatch")
    off, size = span(after, "recoveryinfo")
    assert after[:off] == img[:off] and after[off + size :] == img[off + size :]

    img = bytearray(board)
    set_ab(img, dtb_a=ab(prio=3, active=True, retry=7), dtb_b=ab(prio=2, retry=7, ok=True))
    path.write_bytes(img)
    r = power_on(path, "ab-attributes")
    assert r.boot["slot"] == "_a" and r.boot["retry"] == "6"
    after = path.read_bytes()
    assert retry_of(ab_byte(after, "dtb_a")) == 6
    assert after[:512] == img[:512]  # the protective MBR


def test_nor_smaller_than_its_gpt(tmp_path, default_board, tz_build):
    """A 16 MiB part with a 32 MiB table: the primary GPT is still good
    (its backup is not on the part), images beyond the end are missing."""
    path = tmp_path / "nor.img"
    path.write_bytes(default_board)
    r = power_on(path, "sets", "blocks=4096")
    assert r.rc == EXIT_BRICKED, r.out
    assert r.boot["reason"] == (
        "set A: dtb: partition outside NOR; set B: UEFI: partition outside NOR"
    )
    assert "GPT: backup copy invalid" in r.out
    assert path.read_bytes() == default_board


# ---- per-image ----


def test_per_image_takes_each_backup(nor, compact_board):
    img = bytearray(compact_board)
    put(img, "TZ", imagegen.corrupt(part(img, "TZ"), "digest"))
    put(img, "dtb_a", imagegen.corrupt(part(img, "dtb_a"), "not-elf"))
    path = nor(bytes(img))
    r = power_on(path, "per-image")
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert r.boot_line == (
        "boot: rule=per-image release=REL-1 result=boot "
        'reason="every image valid, some from their backup"'
    )
    used = {i["image"]: i["part"] for i in r.images() if i["valid"] == "1"}
    assert used["TZ"] == "TZ_BACKUP" and used["dtb"] == "dtb_b" and used["HYP"] == "HYP"
    assert path.read_bytes() == bytes(img)  # per-image records nothing


def test_per_image_mixed_hangs(nor, compact_board):
    r = power_on(nor(bytes(mixed_board(compact_board))), "per-image")
    assert r.rc == EXIT_HUNG, r.out
    assert r.boot_line == (
        "boot: rule=per-image release=REL-1 result=hang "
        'reason="mixed releases: XBL_SC REL-2, XBL_CONFIG REL-1"'
    )


def test_per_image_no_copy_is_bricked(nor, compact_board):
    img = bytearray(compact_board)
    for name in ("DEVCFG", "DEVCFG_BACKUP"):
        put(img, name, imagegen.corrupt(part(img, name), "truncate"))
    r = power_on(nor(bytes(img)), "per-image")
    assert r.rc == EXIT_BRICKED
    assert r.boot["reason"] == "DEVCFG: no valid copy"


# ---- ab-attributes ----

AB_NAMES = ["dtb", "uefisecapp", "qweslicstore"]


def slot_board(compact_board: bytes, a: int, b: int) -> bytearray:
    """The compact board with these A/B bytes on every _a and _b entry."""
    img = bytearray(compact_board)
    set_ab(img, **{f"{n}_a": a for n in AB_NAMES}, **{f"{n}_b": b for n in AB_NAMES})
    return img


def test_ab_active_successful_slot_boots(nor, compact_board):
    path = nor()
    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert r.boot_line == (
        "boot: rule=ab-attributes slot=_a release=REL-1 result=boot retry=7 "
        'reason="slot _a: successful"'
    )
    assert [i["part"] for i in r.images()] == SET_A
    assert path.read_bytes() == compact_board  # nothing changed, nothing written


def test_ab_unconfirmed_slot_then_fallback(nor, compact_board):
    """After an update to _b: 7 tries, then back to the successful _a."""
    # _b as SetActiveSlot leaves it (unconfirmed), _a the old good slot.
    img = slot_board(
        compact_board, a=ab(prio=2, retry=7, ok=True), b=ab(prio=3, active=True, retry=7)
    )
    path = nor(bytes(img))
    for n in range(7, 0, -1):
        r = power_on(path, "ab-attributes")
        assert r.rc == EXIT_BOOT_ONLY, r.out
        assert r.boot_line == (
            f"boot: rule=ab-attributes slot=_b release=REL-1 result=boot retry={n - 1} "
            f'reason="slot _b: not yet successful, retry {n} -> {n - 1}"'
        )
        now = path.read_bytes()
        assert retry_of(ab_byte(now, "dtb_b")) == n - 1  # both copies, valid CRCs
        # MarkPtnActive(_b): bit 50 on every _b entry, off on every _a.
        for name in AB_NAMES:
            assert ab_byte(now, f"{name}_b") & ACTIVE
            assert not ab_byte(now, f"{name}_a") & ACTIVE
        assert [i["part"] for i in r.images()][8:] == ["dtb_b", "uefisecapp_b"]

    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_BOOT_ONLY, r.out
    reset, boot = r.boots
    assert reset == {
        "rule": "ab-attributes",
        "slot": "_b",
        "release": "-",
        "result": "reset",
        "retry": "0",
        "reason": "slot _b: retries exhausted, switching to _a",
    }
    assert (
        boot["slot"] == "_a"
        and boot["result"] == "boot"
        and boot["reason"] == "slot _a: successful"
    )
    now = path.read_bytes()
    assert ab_byte(now, "dtb_b") == ab(prio=2, retry=0, unb=True)
    assert ab_byte(now, "dtb_a") == ab(prio=3, active=True, retry=7, ok=True)
    for name in AB_NAMES:
        assert ab_byte(now, f"{name}_a") & ACTIVE and not ab_byte(now, f"{name}_b") & ACTIVE


def test_ab_first_boot(nor, compact_board):
    """Factory tables carry no A/B bits: _a is made active with 7 tries."""
    path = nor(bytes(slot_board(compact_board, a=0, b=0)))
    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert r.boot_line == (
        "boot: rule=ab-attributes slot=_a release=REL-1 result=boot retry=6 "
        'reason="slot _a: first boot, retry 7 -> 6"'
    )
    now = path.read_bytes()
    assert ab_byte(now, "dtb_a") == ab(prio=3, active=True, retry=6)
    assert ab_byte(now, "uefisecapp_a") == ACTIVE  # MarkPtnActive only
    assert ab_byte(now, "dtb_b") == 0


def test_ab_no_qualifying_slot_is_bricked(nor, compact_board):
    # Successful but inactive slots: no GetActiveSlot pick, not a first boot.
    path = nor(bytes(slot_board(compact_board, a=ab(prio=3, ok=True), b=ab(prio=2, ok=True))))
    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_BRICKED, r.out
    want = (
        'boot: rule=ab-attributes slot=- release=- result=bricked retry=- reason="no active slot"'
    )
    assert r.boot_line == want


def test_ab_priority_decides(nor, compact_board):
    path = nor(
        bytes(
            slot_board(
                compact_board,
                a=ab(prio=1, active=True, ok=True),
                b=ab(prio=2, active=True, ok=True),
            )
        )
    )
    assert power_on(path, "ab-attributes").boot["slot"] == "_b"


def test_ab_bad_image_switches_to_successful_slot(nor, compact_board):
    img = slot_board(
        compact_board, a=ab(prio=2, retry=7, ok=True), b=ab(prio=3, active=True, retry=7)
    )
    put(img, "uefisecapp_b", imagegen.corrupt(part(img, "uefisecapp_b"), "digest"))
    path = nor(bytes(img))
    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_BOOT_ONLY, r.out
    assert [b["result"] for b in r.boots] == ["reset", "boot"]
    assert r.boots[0]["reason"] == "slot _b: uefisecapp_b: digest 2 mismatch, switching to _a"
    assert r.boot["slot"] == "_a"
    now = path.read_bytes()
    # The try was counted before the images were loaded.
    assert ab_byte(now, "dtb_b") == ab(prio=2, retry=6, unb=True)


def test_ab_switch_then_other_slot_bad_too(nor, compact_board):
    img = slot_board(
        compact_board, a=ab(prio=2, retry=7, ok=True), b=ab(prio=3, active=True, retry=7)
    )
    put(img, "dtb_b", imagegen.corrupt(part(img, "dtb_b"), "not-elf"))
    put(img, "dtb_a", imagegen.corrupt(part(img, "dtb_a"), "truncate"))
    path = nor(bytes(img))
    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_BRICKED, r.out
    assert [b["result"] for b in r.boots] == ["reset", "bricked"]
    assert r.boot["reason"] == "slot _a: dtb_a: digest 2 mismatch, slot _b unbootable"
    now = path.read_bytes()
    assert ab_byte(now, "dtb_a") & UNBOOTABLE and ab_byte(now, "dtb_b") & UNBOOTABLE


def test_ab_unsuccessful_other_slot_is_not_tried(nor, compact_board):
    img = slot_board(compact_board, a=ab(prio=2, retry=7), b=ab(prio=3, active=True, retry=0))
    r = power_on(nor(bytes(img)), "ab-attributes")
    assert r.rc == EXIT_BRICKED, r.out
    assert r.boot["reason"] == "slot _b: retries exhausted, slot _a never marked successful"


def test_ab_primary_backup_images_fall_back(nor, compact_board):
    img = bytearray(compact_board)
    put(img, "TZ", imagegen.corrupt(part(img, "TZ"), "not-elf"))
    r = power_on(nor(bytes(img)), "ab-attributes")
    assert r.boot["result"] == "boot"
    assert {i["part"] for i in r.images() if i["valid"] == "1"} >= {"TZ_BACKUP"}
    img = bytearray(compact_board)
    for name in ("AOP", "AOP_BACKUP"):
        put(img, name, imagegen.corrupt(part(img, name), "digest"))
    r = power_on(nor(bytes(img)), "ab-attributes")
    assert r.rc == EXIT_BRICKED and r.boot["reason"] == "AOP: no valid copy"


def test_ab_mixed_releases_hang_after_the_decrement(nor, compact_board):
    img = slot_board(
        compact_board, a=ab(prio=3, active=True, retry=7), b=ab(prio=2, retry=7, ok=True)
    )
    size = span(img, "UEFI")[1]
    put(img, "UEFI", imagegen.qcom_image("UEFI", size, 2, release="REL-2"))
    path = nor(bytes(img))
    r = power_on(path, "ab-attributes")
    assert r.rc == EXIT_HUNG, r.out
    assert (
        r.boot["result"] == "hang"
        and r.boot["reason"] == "mixed releases: XBL_SC REL-1, UEFI REL-2"
    )
    assert retry_of(ab_byte(path.read_bytes(), "dtb_a")) == 6


def test_ab_primary_gpt_broken_both_copies_rewritten(nor, compact_board):
    """The backup GPT is used; a write restores the primary from it."""
    img = slot_board(
        compact_board, a=ab(prio=3, active=True, retry=7), b=ab(prio=2, retry=7, ok=True)
    )
    img[BS : BS + 8] = b"EFI JUNK"
    path = nor(bytes(img))
    r = power_on(path, "ab-attributes")
    assert r.boot["slot"] == "_a" and r.boot["retry"] == "6"
    assert retry_of(ab_byte(path.read_bytes(), "dtb_a")) == 6


# ---- what Linux sees ----

CHOSEN_SCRIPT = """#!/bin/sh
for f in /sys/firmware/devicetree/base/chosen/scm-emu,*; do
	echo "${f##*/}=$(tr -d '\\000' < "$f")"
done
echo "cmdline=$(cat /proc/cmdline)"
"""


def newc(files: dict[str, tuple[int, bytes]]) -> bytes:
    """A cpio newc archive: path -> (mode, data)."""
    out = b""
    for ino, (name, (mode, data)) in enumerate([*files.items(), ("TRAILER!!!", (0, b""))], 1):
        nm = name.encode() + b"\0"
        hdr = b"070701" + b"".join(
            b"%08X" % v for v in (ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nm), 0)
        )
        out += hdr + nm
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return out


@pytest.fixture(scope="module")
def chosen_initrd(boot_files, tmp_path_factory) -> Path:
    extra = newc(
        {
            "etc": (0o40755, b""),
            "etc/tztest.d": (0o40755, b""),
            "etc/tztest.d/chosen": (0o100755, CHOSEN_SCRIPT.encode()),
        }
    )
    path = tmp_path_factory.mktemp("initrd") / "initrd"
    path.write_bytes(Path(boot_files["INITRD"]).read_bytes() + gzip.compress(extra))
    return path


def linux(boot_files, initrd: Path, path: Path, rule: str) -> tuple[int, dict[str, str], str, str]:
    fwlog = path.parent / "fw.log"
    cmd = [str(RUN_QEMU), "--kernel", boot_files["IMAGE"], "--initrd", str(initrd)]
    cmd += ["--nor", str(path), "--append", APPEND, "--fw-log", str(fwlog), "--timeout", "300"]
    cmd += ["--set", f"boot_rule={rule}"]
    p = subprocess.run(cmd, cwd=path.parent, capture_output=True, text=True, timeout=400)
    console = p.stdout.replace("\r", "")
    seen = dict(
        ln.split(": ", 2)[2].split("=", 1)
        for ln in console.splitlines()
        if ln.startswith("TZTEST: chosen: ")
    )
    return p.returncode, seen, console, fwlog.read_text(errors="replace").replace("\r", "")


def test_linux_sees_the_slot(boot_files, chosen_initrd, nor, compact_board):
    img = slot_board(
        compact_board, a=ab(prio=2, retry=7, ok=True), b=ab(prio=3, active=True, retry=7)
    )
    rc, seen, console, fwlog = linux(boot_files, chosen_initrd, nor(bytes(img)), "ab-attributes")
    assert rc == EXIT_SYSTEM_OFF, console + fwlog
    assert seen["scm-emu,boot-rule"] == "ab-attributes"
    assert seen["scm-emu,boot-slot"] == "_b"
    assert seen["scm-emu,boot-reason"] == "slot _b: not yet successful, retry 7 -> 6"
    assert seen["scm-emu,fallback"] == "0"
    assert "scm-emu,boot-set" not in seen
    assert seen["cmdline"] == APPEND + " androidboot.slot_suffix=_b"
    # The boot: line is on the console, and in the firmware log (log_uart=secure).
    line = [ln for ln in console.splitlines() if ln.startswith("boot: ")]
    assert line == [ln for ln in fwlog.splitlines() if ln.startswith("boot: ")]
    assert len(line) == 1 and "slot=_b" in line[0]


def test_linux_sees_the_fallback_set(boot_files, chosen_initrd, nor, compact_board):
    img = bytearray(compact_board)
    put(img, "TZ", imagegen.corrupt(part(img, "TZ"), "digest"))
    rc, seen, console, fwlog = linux(boot_files, chosen_initrd, nor(bytes(img)), "sets")
    assert rc == EXIT_SYSTEM_OFF, console + fwlog
    assert seen == {
        "scm-emu,boot-rule": "sets",
        "scm-emu,boot-set": "B",
        "scm-emu,boot-reason": "set A: TZ: digest 2 mismatch",
        "scm-emu,fallback": "1",
        "cmdline": APPEND,
    }
