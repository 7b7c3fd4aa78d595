"""warm's options: one frozen object, built from keywords, refused in one line when a switch
would do nothing in the combination given."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from tests._warm_plans import exact_plan

from jitwarm.errors import UsageError, WarmUsageError
from jitwarm.warmer._api import warm
from jitwarm.warmer._fake import FakeBackend
from jitwarm.warmer._options import WarmOptions


def test_keywords_build_the_options() -> None:
    opts = WarmOptions.of(None, {"jobs": 8, "exact": True})
    assert (opts.jobs, opts.exact, opts.ahead, opts.peer_wait_s) == (8, True, None, 3600.0)
    assert WarmOptions.of(opts, {}) is opts


def test_options_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        WarmOptions().jobs = 4  # type: ignore[misc]


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"jobz": 8}, "unknown warm option 'jobz' (did you mean jobs?)"),
        ({"jobs": 0}, "--jobs must be >= 1, got 0"),
        ({"peer_wait_s": -1.0}, "peer_wait_s must be >= 0"),
        (
            {"ahead": True, "backend": FakeBackend()},
            "ahead=True does not apply to a custom backend",
        ),
        ({"ahead": True, "full_sweep": True}, "ahead=True does not apply with full_sweep=True"),
        ({"exact": True, "full_sweep": True}, "exact=True does not apply with full_sweep=True"),
        ({"capture_backend": FakeBackend()}, "capture_backend= is used only with exact=True"),
    ],
)
def test_unknown_or_contradictory_options_are_refused_in_one_line(
    keywords: dict[str, object], message: str
) -> None:
    with pytest.raises(WarmUsageError) as raised:
        WarmOptions.of(None, keywords)
    text = str(raised.value)
    assert message in text and "\n" not in text
    assert isinstance(raised.value, UsageError)  # the CLI's exit 2


def test_options_and_keywords_together_are_refused() -> None:
    with pytest.raises(WarmUsageError, match="not both"):
        WarmOptions.of(WarmOptions(), {"jobs": 2})


def test_ahead_left_unset_applies_only_where_it_can() -> None:
    fake = FakeBackend()
    assert WarmOptions().compiles_ahead and WarmOptions().builds_locally_first
    assert not WarmOptions(backend=fake).compiles_ahead
    assert not WarmOptions(backend=fake).builds_locally_first
    assert WarmOptions(backend=fake, build=object()).builds_locally_first  # type: ignore[arg-type]
    assert not WarmOptions(full_sweep=True).compiles_ahead
    off = WarmOptions(ahead=False)
    assert not off.compiles_ahead and not off.builds_locally_first
    # asked for explicitly where it applies: accepted
    assert WarmOptions(ahead=True, backend=fake, build=object()).builds_locally_first  # type: ignore[arg-type]


def test_warm_refuses_before_starting_anything(tmp_path: Path) -> None:
    plan = exact_plan()
    with pytest.raises(WarmUsageError, match="ahead=True does not apply to a custom backend"):
        warm(plan, cache_dir=tmp_path / "root", backend=FakeBackend(), ahead=True)
    assert not (tmp_path / "root").exists()


def test_warm_takes_the_options_whole(tmp_path: Path) -> None:
    plan = exact_plan()
    report = warm(plan, WarmOptions(cache_dir=tmp_path, backend=FakeBackend(), jobs=2))
    assert report.ok and report.cache_root == str(tmp_path) and report.jobs == 2
    assert report.compiled == plan.num_kernels  # exact_plan knows its kernels: one item each
