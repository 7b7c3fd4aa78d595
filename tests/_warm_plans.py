"""Small plans for warm's tests (real planner, small serving limits so they run fast)."""

from jitwarm.models._loader import load_model
from jitwarm.plan import Plan, plan_serving
from jitwarm.serving import ServingConfig


def exact_plan(**serving: object) -> Plan:
    """DeepSeek-V3 at TP 8 on sm90: every entry has a selection model."""
    base = {"tp": 8, "max_batched_tokens": 512, "max_running_seqs": 16}
    return plan_serving(load_model("deepseek-v3"), ServingConfig(**{**base, **serving}))


def sweep_plan(**serving: object) -> Plan:
    """The same model on sm100 with a build that has no SM100 selection model (2.5.0), so
    every entry whose kernel may depend on M is a sweep."""
    base = {"tp": 8, "max_batched_tokens": 256, "max_running_seqs": 16, "arch": "sm100"}
    return plan_serving(
        load_model("deepseek-v3"),
        ServingConfig(**{**base, **serving}),
        build="tokenspeed-deepgemm-2.5.0",
    )
