"""Every user mistake is one line on stderr and a non-zero exit, never a traceback or a box."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from tests._cli import run


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("jitwarm: error: "), err
    assert "Traceback" not in err and "╭" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["plan", "--model", "deepseek-v3", "--tp", "abc"], "'--tp'"),
        (["plan", "--model", "deepseek-v3", "--arch", "sm80"], "'--arch'"),
        (["plan", "--bogus"], "--bogus"),
        (["warm", "--jobs", "0", "--model", "deepseek-v3"], "'--jobs'"),
        (["serve", "--port", "99999"], "'--port'"),
        (["verify", "--jobs", "x"], "'--jobs'"),
        (["bundle", "import"], "'bundle'"),
        (["cache", "ls", "--sort", "weird"], "'--sort'"),
        (["kernels", "--m-max", "10"], "--family"),
    ],
)
def test_click_usage_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    line = one_line_error(err)
    assert needle in line and "--help" in line


def test_a_group_without_a_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "cache")
    assert code == 2 and "ls" in out and "Traceback" not in err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--help")
    assert code == 0 and "--max-batched-tokens" in out


def test_run_help_shows_the_command_after_double_dash(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "run", "--help")
    assert code == 0 and "-- COMMAND" in out


def test_deeply_nested_config_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    code, _, err = run(capsys, "plan", "--model", str(config))
    assert code == 2
    assert str(config) in one_line_error(err)


@pytest.mark.parametrize("verb", [["plan", "--model", "deepseek-v3"], ["bundle", "export"]])
def test_an_output_file_that_is_a_folder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verb: list[str]
) -> None:
    code, _, err = run(capsys, *verb, "-o", str(tmp_path))
    assert code == 2 and "is a folder" in one_line_error(err)


def test_an_output_file_in_a_missing_folder_is_refused_not_created(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "no" / "such" / "plan.json"
    code, _, err = run(capsys, "plan", "--model", "deepseek-v3", "-o", str(target))
    assert code == 2 and "does not exist" in one_line_error(err)
    assert not (tmp_path / "no").exists()


def test_plan_json_is_a_flag_and_output_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # `--json` takes no value, so the next flag is read as a flag, not as a file name.
    code, out, _ = run(capsys, "plan", "--json", "--model", "deepseek-v3")
    assert code == 0 and json.loads(out)["model"]["name"] == "deepseek-v3"
    assert not (tmp_path / "--model").exists()


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--num-sms", "1000000000"], "--num-sms"),
        (["--indexer-block-size", "7"], "--indexer-block-size 7"),
        (["--max-batched-tokens", str(10**9)], "--max-batched-tokens"),
        (["--max-running-seqs", str(10**9)], "--max-running-seqs"),
        (["--tp", "8", "--ep", "3"], "--ep (3) must divide --tp (8)"),
        (["--tp", "8", "--ep", "8", "--max-batched-tokens", str(1 << 20)], "contiguous layout"),
    ],
)
def test_serving_values_no_server_reaches_are_one_line_naming_the_flag(
    capsys: pytest.CaptureFixture[str], flags: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "plan", "--model", "deepseek-v3", *flags)
    assert code == 2 and needle in one_line_error(err)


def _config_with(tmp_path: Path, **fields: object) -> Path:
    """DeepSeek-V3's shipped config.json with some fields replaced."""
    preset = resources.files("jitwarm.models") / "presets" / "deepseek-v3.json"
    cfg = json.loads(preset.read_text())
    cfg.update(fields)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"num_hidden_layers": 10**9}, "'num_hidden_layers'"),
        ({"hidden_size": 10**15}, "'hidden_size'"),
    ],
)
def test_config_sizes_no_model_has_are_refused_at_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fields: dict, needle: str
) -> None:
    code, _, err = run(capsys, "plan", "--model", str(_config_with(tmp_path, **fields)))
    assert code == 2 and needle in one_line_error(err)


def test_thousand_layers_plan_in_linear_time(tmp_path: Path) -> None:
    import time

    from jitwarm.models._loader import load_model

    start = time.monotonic()
    model = load_model(_config_with(tmp_path, num_hidden_layers=1024, first_k_dense_replace=3))
    assert time.monotonic() - start < 1.0
    assert model.dense_layers == (0, 1, 2) and model.moe_layers == tuple(range(3, 1024))


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--family", "fp8_gemm_nt", "--m-max", "100"], "--n and --k are required"),
        (
            [
                "--family",
                "fp8_gemm_nt",
                "--n",
                "8",
                "--k",
                "8",
                "--m-max",
                "99",
                "--alignment",
                "3",
            ],
            "'--alignment'",
        ),
        (
            [
                "--family",
                "fp8_gemm_nt",
                "--n",
                "8",
                "--k",
                "8",
                "--m-max",
                "99",
                "--alignment",
                "96",
            ],
            "power of two",
        ),
        (["--family", "fp8_gemm_nt", "--n", "8", "--k", "8", "--m-max", str(10**12)], "'--m-max'"),
        (["--family", "get_paged_mqa_logits_metadata", "--m-max", str(10**7)], "decode batch"),
        (["--family", "fp8_fp4_mega_moe", "--m-max", "9"], "no sm90 selection model"),
        (["--family", "fp8_mqa_logits", "--m-max", "9"], "'--family'"),
    ],
)
def test_kernels_refuses_values_that_cannot_be_right(
    capsys: pytest.CaptureFixture[str], flags: list[str], needle: str
) -> None:
    code, _, err = run(capsys, "kernels", *flags)
    assert code == 2 and needle in one_line_error(err)


def test_kernels_help_offers_only_modelled_families(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "kernels", "--help")
    assert code == 0 and "fp8_gemm_nt" in out and "fp8_mqa_logits" not in out


def _plan_with(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    from jitwarm import load_model, plan_serving
    from jitwarm.serving import ServingConfig

    raw = json.loads(plan_serving(load_model("deepseek-v3"), ServingConfig(tp=8)).to_json())
    edit(raw)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda p: p["entries"][0].update(m_values=[[-5, 10**12]]), "entries.0.m_values"),
        (lambda p: p["entries"][0].update(m_values=[]), "entries.0.m_values"),
        (lambda p: p["entries"][0].update(n=-1), "entries.0.n"),
        (lambda p: p["entries"][0].update(num_groups=0), "entries.0.num_groups"),
        (lambda p: p["entries"][0].update(family="fp8_gemm_tn"), "entries.0.family"),
        (lambda p: p["entries"][0]["kernels"][0].update(m=0), "entries.0.kernels.0.m"),
        (lambda p: p.update(num_sms=0), "'num_sms'"),
        (lambda p: p.update(arch="sm80"), "'arch'"),
        (
            lambda p: [e.update(m_values=[[1, 1 << 24]]) for e in p["entries"]],
            "M values, above",
        ),
    ],
)
@pytest.mark.parametrize("verb", ["verify", "warm"])
def test_plan_manifests_are_validated_on_load(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, edit, where: str, verb: str
) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, verb, "--plan", str(_plan_with(tmp_path, edit)))
    line = one_line_error(err)
    assert code == 2 and "invalid plan" in line and where in line


@pytest.mark.parametrize("verb", [["bundle", "inspect"], ["bundle", "import"]])
def test_a_bundle_path_that_is_a_folder_or_missing_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, verb: list[str]
) -> None:
    for path, needle in ((tmp_path, "is a directory"), (tmp_path / "no.tar", "does not exist")):
        code, _, err = run(capsys, *verb, str(path))
        assert code == 2 and needle in one_line_error(err)


def test_cache_dir_is_typed_alike_in_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    for verb in (["warm"], ["verify"], ["cache", "ls"], ["doctor"], ["bundle", "export"]):
        code, out, _ = run(capsys, *verb, "--help")
        (line,) = [x for x in out.splitlines() if "--cache-dir" in x]
        assert code == 0 and "<path>" in line, (verb, line)
