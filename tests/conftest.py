"""Session-wide test settings."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _temp_files_under_basetemp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every temporary file the suite and the processes it starts make (tempfile, nvcc,
    multiprocessing) goes under pytest's own basetemp, which pytest rotates: the suite leaves
    no folder of its own in /tmp."""
    folder = tmp_path_factory.mktemp("tmpdir")
    patch = pytest.MonkeyPatch()
    patch.setenv("TMPDIR", str(folder))
    patch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    yield
    patch.undo()
