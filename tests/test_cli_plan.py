"""The plan and kernels verbs, called in-process: exit code, stdout and stderr apart."""

import json
from pathlib import Path

import pytest

from _cli import run
from jitwarm.plan import Plan


def kernel_index(kernels: list[dict], m: int) -> int:
    """Which of ``kernels`` (``jitwarm kernels --json``) serves ``m``."""
    return next(
        i for i, kn in enumerate(kernels) if any(lo <= m <= hi for lo, hi in kn["m_ranges"])
    )


def test_help_lists_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "plan" in out and "kernels" in out


def test_plan_table_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "plan", "--model", "deepseek-v3", "--tp", "8", "--max-batched-tokens", "8192"
    )
    assert code == 0 and err == ""
    assert "fp8_gemm_nt" in out and "m_grouped_fp8_gemm_nt_contiguous" in out
    assert "distinct kernels" in out and "estimated cold compile" in out


def test_plan_json_file_is_a_valid_manifest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "plan.json"
    code, _, err = run(
        capsys, "plan", "--model", "deepseek-v3.2", "--tp", "8", "--output", str(target)
    )
    assert code == 0 and "wrote plan" in err
    plan = Plan.load(target)
    assert plan.model.name == "deepseek-v3.2" and plan.serving.tp == 8
    code, out, _ = run(capsys, "plan", "--model", "deepseek-v3.2", "--tp", "8", "--json")
    assert code == 0 and Plan.from_json(out) == plan


def test_plan_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "plan", "--schema")
    assert code == 0
    schema = json.loads(out)
    assert {"schema_version", "entries", "arch", "num_sms"} <= set(schema["properties"])


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["plan"], "--model is required"),
        (["plan", "--model", "gpt-17"], "unknown model 'gpt-17'"),
        (["plan", "--model", "deepseek-v3", "--tp", "3"], "does not divide num_attention_heads"),
        (
            ["plan", "--model", "deepseek-v3", "--tp", "8", "--ep", "16"],
            "--ep (16) must divide --tp (8)",
        ),
        (["plan", "--model", "deepseek-v3", "--cuda-graph-bs", "1,x"], "--cuda-graph-bs"),
        # Only families with a selection model are offered.
        (["kernels", "--family", "fp8_mqa_logits", "--m-max", "10"], "'--family'"),
        (
            ["kernels", "--family", "fp8_fp4_mega_moe", "--n", "1", "--k", "1", "--m-max", "64"],
            "has no sm90 selection model",
        ),
    ],
)
def test_user_mistakes_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_architecture_in_a_config_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["MambaForCausalLM"]}))
    code, _, err = run(capsys, "plan", "--model", str(tmp_path))
    assert code == 2 and "unknown architecture 'MambaForCausalLM'" in err


def test_usage_errors_from_click_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "plan", "--model", "deepseek-v3", "--tp", "eight")
    assert code == 2 and "Traceback" not in err


def test_kernels_json_explains_one_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "kernels",
        "--family",
        "fp8_gemm_nt",
        "--n",
        "4096",
        "--k",
        "7168",
        "--m-max",
        "8192",
        "--arch",
        "sm90",
        "--num-sms",
        "132",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    kernels = data["kernels"]
    # The H100 ground truth counts 19 distinct kernels for this shape over M = 1..8192.
    assert len(kernels) == 19
    covered = sorted(m for kn in kernels for lo, hi in kn["m_ranges"] for m in range(lo, hi + 1))
    assert covered == list(range(1, 8193))
    assert {"block_m", "block_n", "num_stages", "multicast"} <= kernels[0].keys()

    # "Why does M=257 compile a new kernel?": it leaves BLOCK_M=256's single row of blocks.
    assert kernel_index(kernels, 256) != kernel_index(kernels, 257)


def test_kernels_grouped_contiguous_uses_total_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "kernels",
        "--family",
        "m_grouped_fp8_gemm_nt_contiguous",
        "--n",
        "4096",
        "--k",
        "7168",
        "--groups",
        "8",
        "--m-max",
        "16384",
        "--json",
    )
    assert code == 0
    kernels = json.loads(out)["kernels"]

    # Measured on the H100: M = 128, 256, ..., 16384 (powers of two) use 5 distinct kernels.
    assert len({kernel_index(kernels, 128 << i) for i in range(8)}) == 5
    assert all(lo % 128 == 0 for kn in kernels for lo, _ in kn["m_ranges"])


def test_kernels_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "kernels",
        "--family",
        "m_grouped_fp8_gemm_nt_masked",
        "--n",
        "4096",
        "--k",
        "7168",
        "--groups",
        "8",
        "--m-max",
        "256",
    )
    assert code == 0 and "3 distinct kernels" in out


def test_kernels_explains_mhc_split_buckets(capsys: pytest.CaptureFixture[str]) -> None:
    # DeepSeek-V4-Flash mHC: N = (2 + 4) x 4, K = 4 x 4096; the split count is baked.
    code, out, _ = run(
        capsys,
        "kernels",
        "--family",
        "tf32_hc_prenorm_gemm",
        "--n",
        "24",
        "--k",
        "16384",
        "--m-max",
        "512",
        "--json",
    )
    assert code == 0
    kernels = json.loads(out)["kernels"]
    assert [kn["num_splits"] for kn in kernels] == [64, 44, 33, 26, 22, 18, 16]
    assert kernels[0]["m_ranges"] == [[1, 128]]
