"""The agent's image check agrees with the boot chain's, image by image.

The agent refuses, before anything is written, an image the boot chain would
not boot (issue 10). An image it passes but the chain refuses gets written
into both sets and bricks the board, so the two must agree exactly. The
judge is the independent oracle (tests/oracle/image.py, written from
docs/boot-chain.md, which tests/tz holds against the emulated firmware);
hypothesis builds images with odd strings, metadata sizes and hash-segment
words around imagegen's well-formed ELF.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle.image import check_bytes

from scm_fwupdate import imagegen, mbn

MARKER = mbn.RELEASE_KEY
GOOD = MARKER + b"REL-7\0"
# First occurrences the chain judges: each decides validity on its own.
RELEASE_FORMS = {
    "good": GOOD,
    "empty": MARKER + b"\0",
    "63 characters": MARKER + b"R" * 63 + b"\0",
    "64 characters": MARKER + b"R" * 64 + b"\0",
    "control character": MARKER + b"REL\x07-7\0",
    "no NUL": MARKER + b"REL-7",  # the segment ends first
    "bad, then good": MARKER + b"\x01\0" + GOOD,
}
HASH_WORDS = imagegen.HASH_SEGMENT_OFFSET


def agent_verdict(image: bytes) -> tuple[bool, str | None, str | None]:
    info, _why = mbn.try_inspect(lambda o, n: image[o : o + n], len(image))
    return (info is not None, info and info.release, info and info.version)


def oracle_verdict(image: bytes) -> tuple[bool, str | None, str | None]:
    c = check_bytes(image)
    return (c.valid, c.release if c.valid else None, c.version if c.valid else None)


def image_with(segments: list[bytes], metadata: bytes = b"\0" * 120) -> bytes:
    return imagegen.build_elf(segments, metadata)


def with_word(image: bytes, index: int, value: int) -> bytes:
    data = bytearray(image)
    struct.pack_into("<I", data, HASH_WORDS + 4 * index, value)
    return bytes(data)


@pytest.mark.parametrize("form", RELEASE_FORMS)
@pytest.mark.parametrize("where", ["first segment", "second segment", "segment end"])
def test_release_strings_are_judged_alike(form: str, where: str) -> None:
    s = RELEASE_FORMS[form]
    code = bytes(range(256)) * 8
    if where == "first segment":
        segments = [code[:100] + s + code, code]
    elif where == "second segment":
        segments = [code, code[:7] + s + code[:50]]
    else:
        segments = [code + s]
    image = image_with(segments)
    assert agent_verdict(image) == oracle_verdict(image)


@pytest.mark.parametrize("form", ["good", "63 characters", "64 characters", "no NUL"])
def test_strings_across_the_read_chunks_are_judged_alike(form: str) -> None:
    """The agent reads segments in CHUNK-byte pieces: a marker or value cut by one is kept."""
    s = RELEASE_FORMS[form]
    for pad in range(mbn.CHUNK - 100, mbn.CHUNK + 20, 3):
        image = image_with([b"\x01" * pad + s + b"\x02" * 50])
        assert agent_verdict(image) == oracle_verdict(image), (form, pad)


@pytest.mark.parametrize("index", range(2, 12))
def test_every_hash_header_word_is_checked_alike(index: int) -> None:
    """A signature or chain size that breaks the sum bricks the chain: the agent must see it."""
    image = image_with([GOOD + bytes(5000)])
    for value in (0, 1, 96, 0xFFFFFFFF):
        mutated = with_word(image, index, value)
        assert agent_verdict(mutated) == oracle_verdict(mutated), (index, value)


def test_a_zeroed_signature_size_is_refused() -> None:
    """The case that bricked both sets: sig_size 0 leaves the total two words short."""
    image = image_with([GOOD + bytes(5000)])
    assert agent_verdict(image)[0]
    assert not agent_verdict(with_word(image, 7, 0))[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    segments=st.lists(
        st.tuples(
            st.binary(max_size=300),
            st.sampled_from([*sorted(RELEASE_FORMS), "none"]),
            st.binary(max_size=300),
        ),
        min_size=1,
        max_size=3,
    ),
    metadata=st.sampled_from([0, 8, 12, 119, 120, 200]),
    flips=st.lists(st.tuples(st.integers(0, 9000), st.integers(1, 255)), max_size=3),
    word=st.none() | st.tuples(st.integers(2, 11), st.integers(0, 1 << 16)),
)
def test_any_image_is_judged_alike(segments, metadata, flips, word) -> None:
    data = [pre + (RELEASE_FORMS.get(form, b"")) + post for pre, form, post in segments]
    image = bytearray(image_with([d or b"\0" for d in data], bytes(range(metadata))))
    for at, mask in flips:
        if at < len(image):
            image[at] ^= mask
    if word is not None:
        image = bytearray(with_word(bytes(image), *word))
    agent, oracle = agent_verdict(bytes(image)), oracle_verdict(bytes(image))
    assert agent == oracle
