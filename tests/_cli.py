"""Run the jitwarm CLI in-process, as a test sees it: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from jitwarm.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(argv))
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err
