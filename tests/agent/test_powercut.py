"""Power-cut matrix: every cut point of every scenario, clean and torn.

Scenarios (issue 2): (a) A/B update of a 2 MiB slot with about 10% of its
blocks changed, (b) a primary/backup pair, (c) a single-copy partition in
place, (d) a GPT attribute flip, on 4096- and 512-byte sector tables.
"""

from __future__ import annotations

import random
from functools import cache
from pathlib import Path

import pytest
from powercut import (
    CUT_POINTS,
    Scenario,
    activate_operation,
    count_ops,
    gpt_of,
    gpt_regions,
    install_operation,
    padded,
    run_cut,
)

from scm_fwupdate import gpt as G
from scm_fwupdate import imagegen
from scm_fwupdate.flash import Geometry


@cache
def board(sector_size: int = 4096) -> imagegen.Board:
    return imagegen.build(sector_size=sector_size)


def _write_gpt(image: bytearray, table: G.Gpt) -> None:
    for copy in table.copies():
        for off, data in copy:
            image[off : off + len(data)] = data


@cache
def scenario(name: str) -> Scenario:
    b = board()
    table = b.gpt
    es = 4096
    original = b.image
    expected = bytearray(original)
    if name == "ab":
        part_a, part_b = table.find("dtb_a"), table.find("dtb_b")
        old = b.firmware["dtb"]
        new = imagegen.firmware("dtb", part_b.size, 2)
        expected[part_b.offset : part_b.offset + part_b.size] = padded(new, part_b.size)
        _write_gpt(expected, G.activate_slot(table, "b"))
        writable = [(p.offset, p.size) for p in table.partitions if p.name.endswith("_b")]
        assert part_a.size == part_b.size
        return Scenario(
            name,
            original,
            bytes(expected),
            ab={"dtb": (old, new)},
            old_slot="a",
            new_slot="b",
            writable=writable + gpt_regions(table, es),
            operation=install_operation([("dtb", new)]),
        )
    if name == "primary-backup":
        prim, back = table.find("HYP"), table.find("HYP_BACKUP")
        old = b.firmware["HYP"]
        new = imagegen.firmware("HYP", prim.size, 2)
        for p in (prim, back):
            expected[p.offset : p.offset + p.size] = padded(new, p.size)
        return Scenario(
            name,
            original,
            bytes(expected),
            primary_backup={"HYP": (old, new)},
            writable=[(prim.offset, prim.size), (back.offset, back.size)],
            operation=install_operation([("HYP", new)]),
            rule="per-image",  # a pair the chain falls back on image by image
        )
    if name == "single":
        p = table.find("VarStore")
        new = imagegen.firmware("VarStore", p.size, 2)
        expected[p.offset : p.offset + p.size] = padded(new, p.size)
        return Scenario(
            name,
            original,
            bytes(expected),
            writable=[(p.offset, p.size)],
            operation=install_operation([("VarStore", new)]),
        )
    if name.startswith("gpt-flip"):
        ss = int(name.rsplit("-", 1)[1])
        b = board(ss)
        expected = bytearray(b.image)
        _write_gpt(expected, G.activate_slot(b.gpt, "b"))
        return Scenario(
            name,
            b.image,
            bytes(expected),
            old_slot="a",
            new_slot="b",
            writable=gpt_regions(b.gpt, es),
            operation=activate_operation("b"),
        )
    raise KeyError(name)


SCENARIOS = ["ab", "primary-backup", "single", "gpt-flip-4096", "gpt-flip-512"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_uninterrupted_update_reaches_target(name: str, shm_path: Path) -> None:
    s = scenario(name)
    assert s.expected != s.original
    assert count_ops(s, shm_path) > 0
    result = run_cut(s, shm_path, None, False)
    assert not result.cut and result.committed


@pytest.mark.parametrize("torn", [False, True], ids=["clean", "torn"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_power_cut_at_every_operation(name: str, torn: bool, shm_path: Path) -> None:
    s = scenario(name)
    total = count_ops(s, shm_path)
    views = {"old": 0, "new": 0, "mixed": 0, None: 0}
    committed = 0
    for cut_at in range(total):
        result = run_cut(s, shm_path, cut_at, torn)
        assert result.cut, f"operation {cut_at} of {total} did not cut"
        views[result.boot_view] += 1
        committed += result.committed
    CUT_POINTS[f"{name} ({'torn' if torn else 'clean'})"] = total
    # The matrix must span the whole update: cuts before the commit and after.
    assert 0 < committed < total
    if s.old_slot or s.primary_backup:
        assert views["old"] and views["new"], views


@pytest.mark.parametrize("name", ["ab", "primary-backup", "single"])
def test_power_cut_during_resume_converges(name: str, shm_path: Path) -> None:
    """A second cut at every operation of the resume, after a cut mid-update."""
    s = scenario(name)
    total = count_ops(s, shm_path)
    first = total * 2 // 3
    rng = random.Random(name)
    for resume_cut in range(0, total - first + 8):
        run_cut(s, shm_path, first, rng.random() < 0.5, resume_cut=resume_cut)
    CUT_POINTS[f"{name} (cut during resume)"] = total - first + 8


def test_scenarios_are_realistic() -> None:
    """(a) is a multi-MiB slot with about 10% of its blocks changed."""
    s = scenario("ab")
    table = gpt_of(s.original)
    p = table.find("dtb_b")
    assert p.size >= 2 << 20
    old, new = s.ab["dtb"]
    blocks = len(new) // 4096
    changed = sum(old[i : i + 4096] != new[i : i + 4096] for i in range(0, len(new), 4096))
    assert 0.07 < changed / blocks < 0.13
    assert Geometry(len(s.original), 4096, 256).blocks == 8192
