"""Is a file a loadable-looking CUDA cubin? A header check, no CUDA needed.

A cubin is a 64-bit little-endian ELF with ``e_machine == EM_CUDA`` (190) and a section header
table that lies inside the file. This catches the poisoned entries seen in practice (empty
cubins, truncated copies, text or NVRTC error output written where a cubin should be).
"""

from __future__ import annotations

import struct
from pathlib import Path

EM_CUDA = 190
_ELF_MAGIC = b"\x7fELF"
_ELFCLASS64 = 2
_ELFDATA2LSB = 1
_EHDR = struct.Struct("<HHIQQQIHHHHHH")  # e_type .. e_shstrndx, after the 16-byte e_ident
_EHDR_SIZE = 16 + _EHDR.size  # 64
_SHDR = struct.Struct("<IIQQQQIIQQ")  # one 64-bit section header
_SHT_NOBITS = 8


def cubin_problem(data: bytes) -> str | None:
    """Why ``data`` is not a valid CUDA ELF, or None when its headers are sane."""
    if not data:
        return "empty file"
    if len(data) < _EHDR_SIZE or data[:4] != _ELF_MAGIC:
        return "not an ELF file"
    if data[4] != _ELFCLASS64:
        return "not a 64-bit ELF"
    if data[5] != _ELFDATA2LSB:
        return "not a little-endian ELF"
    (_, machine, _, _, phoff, shoff, _, ehsize, phentsize, phnum, shentsize, shnum, shstrndx) = (
        _EHDR.unpack_from(data, 16)
    )
    if machine != EM_CUDA:
        return f"ELF for machine {machine}, not CUDA ({EM_CUDA})"
    if ehsize != _EHDR_SIZE or shentsize != _SHDR.size:
        return "unexpected ELF header sizes"
    if shnum == 0 or shoff < _EHDR_SIZE or shoff + shnum * shentsize > len(data):
        return f"section header table outside the file ({len(data)} bytes): truncated?"
    if phnum and phoff + phnum * phentsize > len(data):
        return f"program header table outside the file ({len(data)} bytes): truncated?"
    if shstrndx >= shnum:
        return "section name table index out of range"
    for i in range(shnum):
        fields = _SHDR.unpack_from(data, shoff + i * shentsize)
        sh_type, sh_offset, sh_size = fields[1], fields[4], fields[5]
        if sh_type != _SHT_NOBITS and sh_offset + sh_size > len(data):
            return f"section {i} extends past the end of the file: truncated?"
    return None


def cubin_file_problem(path: Path) -> str | None:
    """Like :func:`cubin_problem` for a file; an unreadable file is a problem too."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    return cubin_problem(data)
