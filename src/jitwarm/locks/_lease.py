"""A lease file: the lock for filesystems where flock does not reach other hosts.

``<id>.lease`` is created with ``O_CREAT | O_EXCL`` (atomic on local filesystems and on NFS v3
and later) and holds its holder's identity; the holder touches it every heartbeat. A waiter
judges it stale when

- its holder is on this machine and provably gone: the waiter holds the flock the holder held
  while alive, or (no flock) the holder's pid is not running in the waiter's pid namespace;
- or it has not changed for ``expiry_s`` as the waiter's own monotonic clock measures, which
  needs no agreement between the hosts' clocks.

A stale lease is renamed aside (one waiter wins the rename) and deleted. Two waiters on two
hosts can both break one stale lease in a window of milliseconds; the price is one duplicate
compile, never a wrong cache (DeepGEMM's atomic publish is the authority).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jitwarm.locks._identity import Holder, pid_alive, this_holder


@dataclass
class LeaseWatch:
    """What a waiter saw of someone else's lease, to tell a live one from an abandoned one."""

    seen: tuple[int, int, int] | None = None  # (inode, mtime_ns, size)
    since: float = field(default_factory=time.monotonic)

    def unchanged_for(self, state: tuple[int, int, int]) -> float:
        if state != self.seen:
            self.seen, self.since = state, time.monotonic()
        return time.monotonic() - self.since


def try_take(path: Path) -> bool:
    """Create the lease with this process as holder; False if one exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, this_holder().to_bytes())
    finally:
        os.close(fd)
    return True


def is_stale(path: Path, watch: LeaseWatch, *, expiry_s: float, flock_held: bool) -> bool:
    """Whether the lease at ``path`` (not ours) may be broken; False if it is gone already."""
    try:
        st = os.stat(path)
        data = path.read_bytes()
    except FileNotFoundError:
        return False
    holder = Holder.from_bytes(data)
    me = this_holder()
    if holder is not None and holder.same_machine(me):
        if flock_held:
            return True  # it would still hold the flock we now hold
        if holder.same_pid_space(me) and not pid_alive(holder.pid):
            return True
    return watch.unchanged_for((st.st_ino, st.st_mtime_ns, st.st_size)) >= expiry_s


def break_lease(path: Path) -> None:
    aside = path.with_name(f"{path.name}.broken-{uuid.uuid4().hex[:8]}")
    with contextlib.suppress(FileNotFoundError):
        os.rename(path, aside)
        aside.unlink(missing_ok=True)


def refresh(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def release(path: Path) -> None:
    """Delete the lease if it is still ours (a waiter may have broken it and taken its own)."""
    with contextlib.suppress(OSError):
        if Holder.from_bytes(path.read_bytes()) == this_holder():
            path.unlink()
