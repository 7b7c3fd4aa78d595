"""The cubin validity check against real nvcc output, its corruptions, and random bytes."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from _cubin import real_cubin
from jitwarm.cache import EM_CUDA, cubin_problem


def test_real_cubin_is_valid() -> None:
    assert cubin_problem(real_cubin()) is None


def test_every_truncation_of_a_real_cubin_is_rejected() -> None:
    data = real_cubin()
    for n in range(len(data)):
        assert cubin_problem(data[:n]) is not None, f"prefix of {n} bytes passed"


def test_empty_text_and_foreign_elf_are_rejected() -> None:
    data = real_cubin()
    assert cubin_problem(b"") == "empty file"
    assert cubin_problem(b"nvrtc: error: compilation failed\n" * 4) == "not an ELF file"
    x86 = bytearray(data)
    struct.pack_into("<H", x86, 18, 62)  # e_machine = EM_X86_64
    assert "not CUDA" in (cubin_problem(bytes(x86)) or "")
    elf32 = bytearray(data)
    elf32[4] = 1
    assert cubin_problem(bytes(elf32)) == "not a 64-bit ELF"
    assert struct.unpack_from("<H", data, 18)[0] == EM_CUDA


def test_section_table_pointing_past_the_end_is_rejected() -> None:
    bad = bytearray(real_cubin())
    struct.pack_into("<Q", bad, 40, len(bad))  # e_shoff at the end of the file
    assert "section header table" in (cubin_problem(bytes(bad)) or "")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_crash(data: bytes) -> None:
    assert isinstance(cubin_problem(data), str | None)
    assert isinstance(cubin_problem(b"\x7fELF\x02\x01" + data), str | None)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_header_never_crashes(data: st.DataObject) -> None:
    cubin = bytearray(real_cubin())
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, 63))
        cubin[pos] = data.draw(st.integers(0, 255))
    result = cubin_problem(bytes(cubin))
    assert result is None or isinstance(result, str)
