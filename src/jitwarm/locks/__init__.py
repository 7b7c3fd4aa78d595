"""Per-kernel locks under a cache root, so that concurrent warms (the ranks of one host, or
hosts sharing a root over a network filesystem) and GPU-free builds compile each kernel once.

The lock only avoids duplicate work: DeepGEMM's atomic publish (compile in a temp folder, one
rename) stays the authority, and every path here degrades to "compile it anyway". A lock lives
in ``<cache root>/jitwarm-locks/<scope>/<sha256(kernel id)>.lock``; the kernel id is whatever
the caller knows the kernel by (a work item's kernel key, an nvcc request's source-and-flags
key, a DeepJIT entry name).

How it is held (``JITWARM_LOCKS``, default ``auto``):

- flock on the lock file. The kernel releases it when the holder dies (SIGKILL, OOM: the file
  descriptor closes), so another process takes the kernel over within a poll (0.25 s). Linux
  NFS clients turn flock into POSIX byte-range locks that the server arbitrates between hosts
  (NFS v4, or v3 with NLM), so it also excludes other hosts; a lost host's locks go when the
  server's lock lease ends (90 s by default on NFS v4).
- plus a lease file beside it (``auto`` and ``lease``), for filesystems whose flock stays on
  one host (NFS mounted ``nolock`` or ``local_lock=flock|all``, Lustre without ``-o flock``,
  some FUSE filesystems) or is missing (then leases alone). The holder touches it every 5 s;
  another machine's lease is broken when it has not changed for ``JITWARM_LOCK_LEASE_S``
  (default 60 s, longer than upstream-JIT DeepGEMM holds the GIL in one compile) by the waiter's
  own clock; a lease of this machine whose holder is gone is broken at once.
- ``flock``: flock only; ``off``: no locks.

Work split (``BusyFirstQueue``, ``work_loop``): a job whose lock another process holds goes to
the back of this process's queue once (``KernelLocks.try_hold``), and is waited for only when
nothing else is left to start.

A process waits at most ``JITWARM_LOCK_WAIT_S`` (default 300 s) for one kernel, then compiles it
itself with a warning (a hung holder). Where no lock can be made (a read-only root, no
permission) one warning says duplicate work is possible, and everything goes on unlocked.
"""

from jitwarm.locks._busy_first import BlockingHold, BusyFirstQueue, TryHold, work_loop
from jitwarm.locks._kernel_locks import (
    LEASE_VAR,
    LOCKS_DIR,
    MODE_VAR,
    WAIT_VAR,
    Hold,
    KernelLocks,
    LockMode,
    LockSettings,
)
from jitwarm.locks._prune import prune_idle_locks

__all__ = [
    "LEASE_VAR",
    "LOCKS_DIR",
    "MODE_VAR",
    "WAIT_VAR",
    "BlockingHold",
    "BusyFirstQueue",
    "Hold",
    "KernelLocks",
    "LockMode",
    "LockSettings",
    "TryHold",
    "prune_idle_locks",
    "work_loop",
]
