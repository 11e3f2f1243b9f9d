"""A LiteLLM proxy config.yaml as a burncloud migration: channels, priorities, weights,
prices and the report of what has no equivalent.

The configs are in the shape of LiteLLM's documentation (BerriAI/litellm,
docs/my-website/docs/): ``QUICK_START`` copies the structure of proxy/configs.md "Quick
Start", ``LOAD_BALANCING`` that of proxy/load_balancing.md "Quick Start - Load Balancing"
and routing.md "Deployment Ordering (Priority)", the Bedrock entries proxy/configs.md's
"Bedrock Completion/Chat" tab, credentials proxy/configs.md "Centralized Credential
Management". ``tests/fixtures/litellm/config.yaml`` is the realistic file the end-to-end
test imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services.manifest.model import ChannelSpec
from burncloud.services.migration.litellm.config import read_litellm_config
from burncloud.services.migration.report import Migration

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures/litellm/config.yaml"

QUICK_START = """
model_list:
  - model_name: gpt-4o ### RECEIVED MODEL NAME ###
    litellm_params: # all params accepted by litellm.completion()
      model: azure/gpt-4o-eu ### MODEL NAME sent to `litellm.completion()` ###
      api_base: https://my-endpoint-europe-berri-992.openai.azure.com/
      api_key: "os.environ/AZURE_API_KEY_EU" # does os.getenv("AZURE_API_KEY_EU")
      rpm: 6      # [OPTIONAL] Rate limit for this deployment: in requests per minute (rpm)
  - model_name: bedrock-claude-v1
    litellm_params:
      model: bedrock/anthropic.claude-instant-v1
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-ca
      api_base: https://my-endpoint-canada-berri992.openai.azure.com/
      api_key: "os.environ/AZURE_API_KEY_CA"
      rpm: 6
  - model_name: anthropic-claude
    litellm_params:
      model: bedrock/anthropic.claude-instant-v1
      ### [OPTIONAL] SET AWS REGION ###
      aws_region_name: us-east-1
  - model_name: vllm-models
    litellm_params:
      model: openai/facebook/opt-125m # the `openai/` prefix tells litellm it's openai compatible
      api_base: http://0.0.0.0:4000/v1
      api_key: none
      rpm: 1440
    model_info:
      version: 2
  - model_name: "*"
    litellm_params:
      model: "*"

litellm_settings:
  drop_params: True
  success_callback: ["langfuse"]

general_settings:
  master_key: sk-1234 # [OPTIONAL] Only use this if you to require all calls to contain this key
  alerting: ["slack"]
"""
QUICK_ENV = {
    "AZURE_API_KEY_EU": "azure-eu-key",
    "AZURE_API_KEY_CA": "azure-ca-key",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI",
}

LOAD_BALANCING = """
model_list:
  - model_name: gpt-3.5-turbo
    litellm_params:
      model: azure/gpt-turbo-small-eu
      api_base: https://my-endpoint-europe-berri-992.openai.azure.com/
      api_key: os.environ/AZURE_API_KEY
      api_version: "2024-10-21"
      rpm: 6
      order: 1
  - model_name: gpt-3.5-turbo
    litellm_params:
      model: azure/gpt-turbo-small-ca
      api_base: https://my-endpoint-canada-berri992.openai.azure.com/
      api_key: os.environ/AZURE_API_KEY
      api_version: "2024-10-21"
      rpm: 600
      order: 1
  - model_name: gpt-3.5-turbo
    litellm_params:
      model: azure/gpt-turbo-large
      api_base: https://openai-france-1234.openai.azure.com/
      api_key: os.environ/AZURE_API_KEY
      api_version: "2024-10-21"
      rpm: 1440
      order: 2

router_settings:
  routing_strategy: simple-shuffle # Literal["simple-shuffle", "least-busy", ...]
  model_group_alias: {"gpt-4": "gpt-3.5-turbo"} # all requests with `gpt-4` go to gpt-3.5-turbo
  num_retries: 2
  timeout: 30                                  # 30 seconds
  redis_host: <your redis host>
  redis_password: <your redis password>
  redis_port: 1992
"""
LB_ENV = {"AZURE_API_KEY": "azure-key"}


def read(text: str, env: dict[str, str] | None = None) -> Migration:
    return read_litellm_config(text, env or {})


def channel(migration: Migration, name: str) -> ChannelSpec:
    assert migration.manifest.channels is not None
    found = [c for c in migration.manifest.channels if c.name == name]
    assert len(found) == 1, [c.name for c in migration.manifest.channels]
    return found[0]


def names(migration: Migration) -> list[str]:
    assert migration.manifest.channels is not None
    return [c.name for c in migration.manifest.channels]


def lines(migration: Migration, part: str) -> list[str]:
    return [line.line() for line in getattr(migration, part)]


def single(params: str) -> str:
    """A config of one entry ``m`` whose litellm_params are the flow mapping ``params``."""
    return f"model_list:\n  - {{model_name: m, litellm_params: {{{params}}}}}\n"


def one(text: str, params: str, env: dict[str, str] | None = None, info: str = "") -> Migration:
    """A config of one entry ``m`` with ``params`` (YAML lines under litellm_params)."""
    body = "\n".join(f"      {line}" for line in params.strip().splitlines())
    info_part = "\n".join(f"      {line}" for line in info.strip().splitlines())
    model_info = f"    model_info:\n{info_part}\n" if info else ""
    return read(
        f"model_list:\n  - model_name: m\n    litellm_params:\n{body}\n{model_info}{text}", env
    )


# -- the documentation's Quick Start -------------------------------------------------------


def test_quick_start_deployments_become_channels_of_their_public_names() -> None:
    migration = read(QUICK_START, QUICK_ENV)
    assert names(migration) == [
        "gpt-4o-azure",
        "bedrock-claude-v1-bedrock",
        "gpt-4o-azure-2",
        "anthropic-claude-bedrock",
        "vllm-models-openai",
    ]
    eu = channel(migration, "gpt-4o-azure")
    assert (eu.type, eu.models, eu.keys) == ("azure", ("gpt-4o",), ("azure-eu-key",))
    assert eu.base_url == "https://my-endpoint-europe-berri-992.openai.azure.com"
    assert eu.model_map == {"gpt-4o": "gpt-4o-eu"}  # the Azure deployment name
    assert channel(migration, "gpt-4o-azure-2").model_map == {"gpt-4o": "gpt-4o-ca"}
    vllm = channel(migration, "vllm-models-openai")
    assert (vllm.type, vllm.base_url, vllm.keys) == (
        "openai-compatible",
        "http://0.0.0.0:4000/v1",
        ("none",),
    )
    assert vllm.model_map == {"vllm-models": "facebook/opt-125m"}


def test_quick_start_bedrock_takes_the_aws_environment_and_litellms_default_region() -> None:
    migration = read(QUICK_START, QUICK_ENV)
    implicit = channel(migration, "bedrock-claude-v1-bedrock")
    assert implicit.keys == ("AKIDEXAMPLE:wJalrXUtnFEMI",)  # burncloud's Bedrock key form
    assert implicit.config == {"region": "us-west-2"}
    assert implicit.model_map == {"bedrock-claude-v1": "anthropic.claude-instant-v1"}
    assert channel(migration, "anthropic-claude-bedrock").config == {"region": "us-east-1"}
    said = " ".join(lines(migration, "mapped"))
    assert "key from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY" in said
    assert "region: LiteLLM's default" in said


def test_quick_start_reports_what_is_left_behind_without_secrets() -> None:
    migration = read(QUICK_START, QUICK_ENV)
    skipped = lines(migration, "skipped")
    assert any("model_list[5] (*)" in line and "wildcard" in line for line in skipped)
    assert any("model_list[0] (gpt-4o)" in line and "rpm 6 not carried" in line for line in skipped)
    assert any("rpm 1440 not carried" in line for line in skipped)
    assert any(line.startswith("setting general_settings.master_key: ") for line in skipped)
    assert any("litellm_settings.success_callback" in line for line in skipped)
    text = "\n".join(skipped + lines(migration, "mapped") + list(migration.notes))
    for secret in ("sk-1234", *QUICK_ENV.values()):
        assert secret not in text
    assert migration.money == ()
    assert migration.manifest.users is None and migration.manifest.tokens is None


def test_rpm_is_the_weight_when_no_weight_is_set_and_azure_gets_litellms_api_version() -> None:
    migration = read(QUICK_START, QUICK_ENV)
    assert channel(migration, "gpt-4o-azure").weight == channel(migration, "gpt-4o-azure-2").weight
    assert channel(migration, "gpt-4o-azure").config == {"api_version": "2025-02-01-preview"}
    assert any("api_version: LiteLLM's default" in line for line in lines(migration, "mapped"))


def test_a_missing_variable_is_an_error_naming_it_and_the_entry() -> None:
    env = {k: v for k, v in QUICK_ENV.items() if k != "AZURE_API_KEY_CA"}
    with pytest.raises(InvalidRequest) as caught:
        read(QUICK_START, env)
    assert caught.value.message == (
        "model_list[2] (gpt-4o).litellm_params.api_key: environment variable"
        " AZURE_API_KEY_CA is not set"
    )


def test_an_implicit_key_that_is_not_set_names_litellms_variable() -> None:
    env = {k: v for k, v in QUICK_ENV.items() if not k.startswith("AWS_")}
    with pytest.raises(InvalidRequest, match=r"^model_list\[1\] \(bedrock-claude-v1\): no aws_"):
        read(QUICK_START, env)
    with pytest.raises(InvalidRequest, match=r"no api_key, and ANTHROPIC_API_KEY"):
        one("", "model: anthropic/claude-sonnet-4-5")


# -- load balancing, order and weight ------------------------------------------------------


def test_order_becomes_priority_lower_order_first() -> None:
    migration = read(LOAD_BALANCING, LB_ENV)
    eu, ca, large = (
        channel(migration, n)
        for n in ("gpt-3.5-turbo-azure", "gpt-3.5-turbo-azure-2", "gpt-3.5-turbo-azure-3")
    )
    assert (eu.priority, ca.priority, large.priority) == (2, 2, 1)  # burncloud: higher first
    assert any("order 2 -> priority 1" in line for line in lines(migration, "mapped"))


def test_rpm_weights_are_scaled_to_their_ratio_inside_one_order() -> None:
    migration = read(LOAD_BALANCING, LB_ENV)
    eu, ca = channel(migration, "gpt-3.5-turbo-azure"), channel(migration, "gpt-3.5-turbo-azure-2")
    assert (eu.weight, ca.weight) == (1, 100)  # rpm 6 : 600
    assert channel(migration, "gpt-3.5-turbo-azure-3").weight == 1  # alone in its order


def test_a_deployment_without_order_among_ordered_ones_goes_last() -> None:
    config = """
model_list:
  - {model_name: m, litellm_params: {model: openai/a, api_key: k1, order: 1}}
  - {model_name: m, litellm_params: {model: openai/b, api_key: k2}}
  - {model_name: m, litellm_params: {model: openai/c, api_key: k3}, model_info: {order: 3}}
  - {model_name: n, litellm_params: {model: openai/d, api_key: k4}}
"""
    migration = read(config)
    priorities = {c.name: c.priority for c in migration.manifest.channels or ()}
    assert priorities == {"m-openai": 2, "m-openai-2": 0, "m-openai-3": 1, "n-openai": 0}
    assert any("LiteLLM never picks it" in line for line in lines(migration, "mapped"))


def test_fractional_weights_keep_their_ratio_and_a_missing_one_counts_zero() -> None:
    config = """
model_list:
  - {model_name: m, litellm_params: {model: openai/a, api_key: k1, weight: 0.25}}
  - {model_name: m, litellm_params: {model: openai/b, api_key: k2, weight: 0.75}}
  - {model_name: m, litellm_params: {model: openai/c, api_key: k3}}
"""
    migration = read(config)
    assert [c.weight for c in migration.manifest.channels or ()] == [1, 3, 0]
    assert any("weight 0.25 -> 1" in line for line in lines(migration, "mapped"))


def test_other_routing_strategies_keep_only_explicit_weights() -> None:
    config = """
model_list:
  - {model_name: m, litellm_params: {model: openai/a, api_key: k1, rpm: 10}}
  - {model_name: m, litellm_params: {model: openai/b, api_key: k2, rpm: 30}}
router_settings:
  routing_strategy: usage-based-routing-v2
"""
    migration = read(config)
    assert [c.weight for c in migration.manifest.channels or ()] == [1, 1]
    assert any(
        line.startswith("setting router_settings.routing_strategy: usage-based-routing-v2: no")
        for line in lines(migration, "skipped")
    )


def test_tpm_weighs_when_neither_weight_nor_rpm_is_set() -> None:
    config = """
model_list:
  - {model_name: m, litellm_params: {model: openai/a, api_key: k1, tpm: 100000}}
  - {model_name: m, litellm_params: {model: openai/b, api_key: k2, tpm: 300000}}
"""
    migration = read(config)
    assert [c.weight for c in migration.manifest.channels or ()] == [1, 3]
    skipped = lines(migration, "skipped")
    assert any("tpm 300000 not carried" in line for line in skipped)


# -- channels: kinds, names, merging -------------------------------------------------------


def test_deployments_sharing_kind_address_and_key_share_one_channel() -> None:
    config = """
model_list:
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY}
  - model_name: mini
    litellm_params: {model: openai/gpt-4o-mini, api_key: os.environ/OPENAI_API_KEY}
  - model_name: gpt-4o
    litellm_params: {model: openai/gpt-4o-2024-08-06, api_key: os.environ/OPENAI_API_KEY}
  - model_name: other
    litellm_params: {model: openai/gpt-4o, api_key: os.environ/OTHER_KEY}
"""
    migration = read(config, {"OPENAI_API_KEY": "sk-a", "OTHER_KEY": "sk-b"})
    assert names(migration) == ["gpt-4o-openai", "gpt-4o-openai-2", "other-openai"]
    first = channel(migration, "gpt-4o-openai")
    assert (first.type, first.base_url, first.models) == ("openai", None, ("gpt-4o", "mini"))
    assert first.model_map == {"mini": "gpt-4o-mini"}
    # a channel lists a model once: the second gpt-4o deployment gets its own
    assert channel(migration, "gpt-4o-openai-2").model_map == {"gpt-4o": "gpt-4o-2024-08-06"}
    mapped = lines(migration, "mapped")
    assert sum("channel gpt-4o-openai:" in line for line in mapped) == 2


def test_deployments_that_differ_only_by_key_are_one_channel_of_several_keys() -> None:
    config = """
model_list:
  - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_key: k1}}
  - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_key: k2}}
  - {model_name: mini, litellm_params: {model: openai/gpt-4o-mini, api_key: k2}}
  - {model_name: mini, litellm_params: {model: openai/gpt-4o-mini, api_key: k1}}
  - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_key: k3, api_base: "https://proxy.example/v1"}}
  - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_key: k1}}
  - {model_name: solo, litellm_params: {model: openai/gpt-4o, api_key: k1}}
"""
    migration = read(config)
    assert names(migration) == ["gpt-4o-openai", "gpt-4o-openai-2", "gpt-4o-openai-3"]
    pool = channel(migration, "gpt-4o-openai")
    assert (pool.models, pool.keys, pool.key_selection) == (
        ("gpt-4o", "mini"),
        ("k1", "k2"),
        "random",
    )
    assert pool.model_map == {"mini": "gpt-4o-mini"}
    # LiteLLM picks each of the three gpt-4o deployments a third of the time: the pool of
    # two keys weighs 2 against the proxy's 1
    assert (pool.weight, channel(migration, "gpt-4o-openai-2").weight) == (2, 1)
    # k1 for gpt-4o a second time, and solo, which k2 does not serve
    repeat = channel(migration, "gpt-4o-openai-3")
    assert (repeat.models, repeat.keys, repeat.weight) == (("gpt-4o", "solo"), ("k1",), 1)
    assert (
        "channel gpt-4o-openai: 2 keys from 2 deployments that differ only by key, used at"
        " random; weight 2: one share per key" in lines(migration, "mapped")
    )
    mapped = lines(migration, "mapped")
    assert sum(line.split(": ", 1)[1].startswith("channel gpt-4o-openai:") for line in mapped) == 4


def test_model_info_id_names_the_channel() -> None:
    migration = one("", "model: openai/gpt-4o\napi_key: k", info="id: 'prod/eu #1'")
    assert names(migration) == ["prod-eu-1"]


@pytest.mark.parametrize(
    ("params", "kind", "base_url", "upstream"),
    [
        ("model: openai/gpt-4o", "openai", None, "gpt-4o"),
        ("model: openai/gpt-4o\napi_base: https://api.openai.com/v1/", "openai", None, "gpt-4o"),
        (
            "model: openai/llama3\napi_base: https://llm.example.com",
            "openai-compatible",
            "https://llm.example.com/v1",
            "llama3",
        ),
        ("model: anthropic/claude-sonnet-4-5", "anthropic", None, "claude-sonnet-4-5"),
        (
            "model: anthropic/claude-sonnet-4-5\napi_base: https://relay.example.com/v1/messages",
            "anthropic",
            "https://relay.example.com",
            "claude-sonnet-4-5",
        ),
        ("model: gemini/gemini-2.5-flash", "gemini", None, "gemini-2.5-flash"),
        (
            "model: dashscope/qwen-plus",
            "qwen",
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            "qwen-plus",
        ),
        (
            "model: deepseek/deepseek-chat",
            "openai-compatible",
            "https://api.deepseek.com/beta",
            "deepseek-chat",
        ),
        (
            "model: openrouter/anthropic/claude-3.5-sonnet",
            "openai-compatible",
            "https://openrouter.ai/api/v1",
            "anthropic/claude-3.5-sonnet",
        ),
        (
            "model: groq/llama3-8b-8192",
            "openai-compatible",
            "https://api.groq.com/openai/v1",
            "llama3-8b-8192",
        ),
        (
            "model: mistral/mistral-large-latest",
            "openai-compatible",
            "https://api.mistral.ai/v1",
            "mistral-large-latest",
        ),
        (
            "model: together_ai/meta-llama/Llama-3-8b-chat-hf",
            "openai-compatible",
            "https://api.together.xyz/v1",
            "meta-llama/Llama-3-8b-chat-hf",
        ),
        (
            "model: fireworks_ai/accounts/fireworks/models/llama-v3-70b-instruct",
            "openai-compatible",
            "https://api.fireworks.ai/inference/v1",
            "accounts/fireworks/models/llama-v3-70b-instruct",
        ),
        ("model: xai/grok-4", "openai-compatible", "https://api.x.ai/v1", "grok-4"),
        (
            "model: hosted_vllm/facebook/opt-125m\napi_base: https://hosted-vllm-api.co",
            "openai-compatible",
            "https://hosted-vllm-api.co/v1",
            "facebook/opt-125m",
        ),
        (
            "model: ollama/llama2\napi_base: http://localhost:11434",
            "openai-compatible",
            "http://localhost:11434/v1",
            "llama2",
        ),
        ("model: gpt-4o", "openai", None, "gpt-4o"),
        ("model: claude-3-5-sonnet-20240620", "anthropic", None, "claude-3-5-sonnet-20240620"),
        (
            "model: my-model\ncustom_llm_provider: groq",
            "openai-compatible",
            "https://api.groq.com/openai/v1",
            "my-model",
        ),
    ],
)
def test_provider_prefixes_map_to_kinds_and_litellms_addresses(
    params: str, kind: str, base_url: str | None, upstream: str
) -> None:
    env = {
        name: "key"
        for name in (
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "GEMINI_API_KEY",
            "DASHSCOPE_API_KEY",
            "DEEPSEEK_API_KEY",
            "OPENROUTER_API_KEY",
            "GROQ_API_KEY",
            "MISTRAL_API_KEY",
            "TOGETHERAI_API_KEY",
            "FIREWORKS_AI_API_KEY",
            "XAI_API_KEY",
        )
    }
    migration = one("", params, env)
    (found,) = migration.manifest.channels or ()
    assert (found.type, found.base_url) == (kind, base_url)
    assert found.model_map == ({} if upstream == "m" else {"m": upstream})


def test_a_bare_model_says_which_provider_was_inferred() -> None:
    migration = one("", "model: gpt-4o\napi_key: k")
    assert any(
        "provider openai inferred from the model name" in line
        for line in lines(migration, "mapped")
    )


def test_a_local_server_needs_no_key() -> None:
    migration = one("", "model: ollama/llama2")
    (found,) = migration.manifest.channels or ()
    assert (found.keys, found.base_url) == (("none",), "http://localhost:11434/v1")
    assert any("Ollama's OpenAI-compatible /v1 API" in line for line in lines(migration, "mapped"))


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ("model: vertex_ai/gemini-1.5-pro\nvertex_project: p", "vertex_ai/: Vertex AI needs"),
        ("model: gemini-1.5-pro", "vertex_ai/: Vertex AI needs"),
        ("model: sagemaker/jumpstart-dft-meta", "sagemaker/: SageMaker"),
        (
            "model: petals/petals-team/StableBeluga2",
            "no channel kind for LiteLLM provider 'petals'",
        ),
        ("model: my-own-model", "no provider prefix in 'my-own-model'"),
        (
            "model: azure/gpt-4o\napi_base: https://x.openai.azure.com\nazure_ad_token: ey",
            "Azure Entra ID tokens",
        ),
        (
            "model: bedrock/anthropic.claude-v2\naws_role_name: arn:aws:iam::1:role/r",
            "AWS role credentials",
        ),
        ("model: openai/*\napi_key: k", "wildcard"),
    ],
)
def test_entries_without_a_kind_are_skipped_with_the_reason(params: str, reason: str) -> None:
    migration = one("", params)
    assert migration.manifest.channels == ()
    (line,) = lines(migration, "skipped")
    assert line.startswith("channel model_list[0] (m) ") and f"skipped: {reason}" in line


def test_azure_needs_an_address_and_keeps_the_api_version() -> None:
    with pytest.raises(InvalidRequest, match=r"^model_list\[0\] \(m\): azure/ needs an api_base"):
        one("", "model: azure/chatgpt-v-2\napi_key: k")
    migration = one(
        "",
        "model: azure/chatgpt-v-2\napi_key: k\napi_base: os.environ/AZURE_API_BASE",
        {
            "AZURE_API_BASE": "https://openai-gpt-4-test-v-1.openai.azure.com/",
            "AZURE_API_VERSION": "2024-06-01",
        },
    )
    (found,) = migration.manifest.channels or ()
    assert found.config == {"api_version": "2024-06-01"}
    assert found.base_url == "https://openai-gpt-4-test-v-1.openai.azure.com"


def test_bedrock_keys_regions_and_endpoints() -> None:
    migration = one(
        "",
        """
model: "bedrock/converse/arn:aws:bedrock:eu-west-1:123456789012:inference-profile/\\
  eu.anthropic.claude-3-5-sonnet-20240620-v1:0"
aws_access_key_id: os.environ/KEY_ID
aws_secret_access_key: os.environ/SECRET
aws_session_token: tok
aws_bedrock_runtime_endpoint: https://bedrock-runtime.eu-west-1.amazonaws.com
""",
        {"KEY_ID": "AKID", "SECRET": "sec"},
    )
    (found,) = migration.manifest.channels or ()
    assert found.keys == ("AKID:sec:tok",)
    assert found.config == {"region": "eu-west-1"}  # from the model's ARN
    assert found.base_url is None  # the region's own endpoint: the kind's default
    assert found.model_map["m"].startswith("arn:aws:bedrock:eu-west-1")  # converse/ dropped
    bearer = one("", "model: bedrock/amazon.nova-pro-v1:0\napi_key: bedrock-api-key")
    assert (bearer.manifest.channels or ())[0].keys == ("bedrock-api-key",)
    with pytest.raises(InvalidRequest, match=r"^model_list\[0\] \(m\): not an AWS region"):
        one("", "model: bedrock/amazon.nova-pro-v1:0\napi_key: k\naws_region_name: mars")


# -- environment, credentials, YAML --------------------------------------------------------


def test_the_files_environment_variables_come_before_the_process_environment() -> None:
    config = """
environment_variables:
  GROQ_KEY: from-the-file
"""
    migration = one(
        config,
        "model: groq/llama3-8b-8192\napi_key: os.environ/GROQ_KEY",
        {"GROQ_KEY": "from-the-process"},
    )
    assert (migration.manifest.channels or ())[0].keys == ("from-the-file",)
    assert any(
        line.startswith("setting environment_variables: 1 variable,")
        for line in lines(migration, "mapped")
    )


def test_credentials_of_credential_list_are_merged_into_the_entries() -> None:
    config = """
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o
      litellm_credential_name: default_azure_credential  # Reference credential below
credential_list:
  - credential_name: default_azure_credential
    credential_values:
      api_key: os.environ/AZURE_API_KEY  # Load from environment
      api_base: os.environ/AZURE_API_BASE
      api_version: "2023-05-15"
    credential_info:
      description: "Production credentials for EU region"
"""
    migration = read(
        config, {"AZURE_API_KEY": "k", "AZURE_API_BASE": "https://eu.openai.azure.com"}
    )
    (found,) = migration.manifest.channels or ()
    assert (found.keys, found.base_url, found.config) == (
        ("k",),
        "https://eu.openai.azure.com",
        {"api_version": "2023-05-15"},
    )
    with pytest.raises(InvalidRequest, match="no credential 'nope' in credential_list"):
        read(
            config.replace(
                "litellm_credential_name: default_azure_credential", "litellm_credential_name: nope"
            )
        )


def test_yaml_anchors_share_params() -> None:
    config = """
x-defaults: &defaults
  api_key: os.environ/GROQ_API_KEY
  rpm: 30
model_list:
  - model_name: a
    litellm_params: {<<: *defaults, model: groq/llama3-8b-8192}
  - model_name: b
    litellm_params: {<<: *defaults, model: groq/llama3-70b-8192}
  - model_name: c
    litellm_params: {<<: *defaults, model: groq/gemma-7b-it, rpm: 60}
"""
    migration = read(config, {"GROQ_API_KEY": "gsk"})
    (found,) = migration.manifest.channels or ()
    assert found.models == ("a", "b", "c") and found.keys == ("gsk",)
    assert any("rpm 60 not carried" in line for line in lines(migration, "skipped"))
    assert any(
        line.startswith("setting x-defaults: no equivalent") for line in lines(migration, "skipped")
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model_list: [", "not valid YAML: "),
        ("- a\n- b\n", "not a LiteLLM proxy config"),
        ("general_settings: {}\n", "model_list: the config has no model_list"),
        ("model_list: {}\n", "model_list: expected a list, got a mapping"),
        (
            "model_list:\n  - model_name: m\n",
            "model_list[0] (m).litellm_params: expected a mapping",
        ),
        ("model_list:\n  - litellm_params: {model: openai/x}\n", "model_list[0].model_name:"),
        (
            "model_list:\n  - {model_name: m, litellm_params: {api_key: k}}\n",
            "model_list[0] (m).litellm_params.model: expected <provider>/<model>",
        ),
        (
            single("model: openai/x, model: openai/y"),
            "not valid YAML: ",
        ),
        (
            single("model: hosted_vllm/x, api_base: not a url"),
            "model_list[0] (m).litellm_params.api_base: ",
        ),
        (
            single("model: openai/x, api_key: k, order: 1.5"),
            "model_list[0] (m).litellm_params.order: expected a whole number",
        ),
        (
            single("model: openai/x, api_key: k, weight: -1"),
            "model_list[0] (m).litellm_params.weight: expected a number >= 0",
        ),
        (
            single("model: openai/x, api_key: k, timeout: soon"),
            "model_list[0] (m).litellm_params.timeout: expected a number",
        ),
        (
            "model_list:\n  - {model_name: m, litellm_params: {model: openai/x, api_key: 'a b'}}\n",
            "model_list[0] (m): a channel key must not contain whitespace",
        ),
        (
            "model_list: []\nrouter_settings: {timeout: 0}\n",
            "router_settings.timeout: expected seconds between 0 and 86400",
        ),
        (
            "model_list: []\nrouter_settings: []\n",
            "router_settings: expected a mapping, got a list",
        ),
    ],
)
def test_malformed_configs_are_refused_with_the_path(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        read(text)
    assert caught.value.message.startswith(message), caught.value.message


# -- prices --------------------------------------------------------------------------------


def test_costs_become_exact_list_prices() -> None:
    config = """
model_list:
  - model_name: my-gpt
    litellm_params: {model: openai/gpt-4o, api_key: k}
    model_info:
      input_cost_per_token: 0.0000025
      output_cost_per_token: 0.00001
      cache_read_input_token_cost: 1.25e-06
  - model_name: cheap
    litellm_params:
      {model: openai/gpt-4o-mini, api_key: k, input_cost_per_token: 1e-07,
       output_cost_per_token: 0.0000006}
"""
    migration = read(config)
    prices = migration.manifest.prices
    assert prices is not None and prices.channels == {}
    gpt = prices.prices["my-gpt"]
    assert (gpt.input, gpt.output, gpt.cached) == (
        parse_usd("2.5"),
        parse_usd("10"),
        parse_usd("1.25"),
    )
    cheap = prices.prices["cheap"]
    assert (cheap.input, cheap.output) == (parse_usd("0.1"), parse_usd("0.6"))
    assert (
        "price my-gpt: input $2.5, output $10, cached $1.25 per 1M tokens (model_list[0] (my-gpt))"
        in lines(migration, "mapped")
    )


def test_differing_prices_of_one_model_keep_the_first_and_report_the_rest() -> None:
    config = """
model_list:
  - model_name: m
    litellm_params: {model: openai/a, api_key: k1}
    model_info: {input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}
  - model_name: m
    litellm_params: {model: openai/b, api_key: k2}
    model_info: {input_cost_per_token: 0.000003, output_cost_per_token: 0.000002}
"""
    migration = read(config)
    assert migration.manifest.prices is not None
    assert migration.manifest.prices.prices["m"].input == parse_usd("1")
    assert any("model_list[1] (m) costs input $3" in line for line in lines(migration, "skipped"))


def test_models_without_a_price_are_named_in_a_note() -> None:
    migration = one("", "model: openai/gpt-4o\napi_key: k")
    assert migration.manifest.prices is None
    assert any(note.startswith("no price in the config for: m ") for note in migration.notes)


# -- settings ------------------------------------------------------------------------------


def test_router_settings_with_an_equivalent_are_carried() -> None:
    migration = read(LOAD_BALANCING, LB_ENV)
    for found in migration.manifest.channels or ():
        assert found.config["first_byte_timeout"] == "30"
        assert found.config["idle_timeout"] == "30"
        assert "connect_timeout" not in found.config  # 30 s is above burncloud's default
    eu = channel(migration, "gpt-3.5-turbo-azure")
    assert eu.models == ("gpt-3.5-turbo", "gpt-4")  # model_group_alias
    assert eu.model_map == {"gpt-3.5-turbo": "gpt-turbo-small-eu", "gpt-4": "gpt-turbo-small-eu"}
    assert (
        "router environment: BURNCLOUD_FAILOVER_ATTEMPTS=3 (from router_settings.num_retries)"
        in migration.notes
    )
    skipped = lines(migration, "skipped")
    assert any(line.startswith("setting router_settings.redis_host: ") for line in skipped)
    assert not any("<your redis password>" in line for line in skipped)
    mapped = lines(migration, "mapped")
    assert (
        "setting router_settings.model_group_alias.gpt-4: -> gpt-3.5-turbo:"
        " served by gpt-3.5-turbo's channels" in mapped
    )


def test_a_deployments_own_timeout_wins_and_a_short_one_also_bounds_connecting() -> None:
    config = """
router_settings: {timeout: 600}
litellm_settings: {request_timeout: 20}
"""
    migration = one(config, "model: openai/gpt-4o\napi_key: k\ntimeout: 2.5")
    (found,) = migration.manifest.channels or ()
    assert found.config == {
        "first_byte_timeout": "2.5",
        "idle_timeout": "2.5",
        "connect_timeout": "2.5",
    }
    assert any(
        line == "setting litellm_settings.request_timeout: overridden by router_settings.timeout"
        for line in lines(migration, "skipped")
    )


def test_request_timeout_of_litellm_settings_applies_without_router_settings() -> None:
    migration = one(
        "litellm_settings: {request_timeout: 45, num_retries: 0}\n", "model: openai/x\napi_key: k"
    )
    (found,) = migration.manifest.channels or ()
    assert found.config["first_byte_timeout"] == "45"
    assert (
        "router environment: BURNCLOUD_FAILOVER_ATTEMPTS=1 (from litellm_settings.num_retries)"
        in migration.notes
    )


def test_an_alias_to_an_unknown_model_is_reported() -> None:
    migration = one(
        "router_settings: {model_group_alias: {gpt-4: {model: nope, hidden: true}}}\n",
        "model: openai/x\napi_key: k",
    )
    assert (migration.manifest.channels or ())[0].models == ("m",)
    assert any(
        "model_group_alias.gpt-4: -> nope: no imported" in line
        for line in lines(migration, "skipped")
    )


# -- the end-to-end fixture ----------------------------------------------------------------

FIXTURE_ENV = {
    "AZURE_API_BASE_EU": "http://127.0.0.1:18001",
    "AZURE_API_KEY_EU": "eu-key",
    "AZURE_API_BASE_CA": "http://127.0.0.1:18002",
    "AZURE_API_KEY_CA": "ca-key",
    "OPENAI_API_BASE": "http://127.0.0.1:18003",
    "OPENAI_API_KEY": "openai-key",
    "ANTHROPIC_API_BASE": "http://127.0.0.1:18004",
    "ANTHROPIC_API_KEY": "anthropic-key",
    "VLLM_API_BASE": "http://127.0.0.1:18005/v1",
    "GEMINI_API_BASE": "http://127.0.0.1:18006",
    "GEMINI_API_KEY": "gemini-key",
    "AWS_ACCESS_KEY_ID": "AKID",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "BEDROCK_RUNTIME_ENDPOINT": "http://127.0.0.1:18007",
}


def test_the_fixture_imports_to_channels_at_the_local_addresses() -> None:
    migration = read(FIXTURE.read_text(), FIXTURE_ENV)
    specs = {
        c.name: (c.type, c.base_url, c.models, c.priority, c.weight)
        for c in migration.manifest.channels or ()
    }
    assert specs == {
        "gpt-4o-eu": ("azure", "http://127.0.0.1:18001", ("gpt-4o", "gpt-4"), 2, 1),
        "gpt-4o-ca": ("azure", "http://127.0.0.1:18002", ("gpt-4o", "gpt-4"), 2, 2),
        "gpt-4o-openai": (
            "openai-compatible",
            "http://127.0.0.1:18003/v1",
            ("gpt-4o", "gpt-4"),
            1,
            1,
        ),
        "gpt-4o-mini-openai": (
            "openai-compatible",
            "http://127.0.0.1:18003/v1",
            ("gpt-4o-mini", "text-embedding-3-small"),
            0,
            1,
        ),
        "claude-sonnet-anthropic": (
            "anthropic",
            "http://127.0.0.1:18004",
            ("claude-sonnet",),
            0,
            1,
        ),
        "vllm-models-openai": (
            "openai-compatible",
            "http://127.0.0.1:18005/v1",
            ("vllm-models",),
            0,
            1,
        ),
        "gemini-flash-gemini": ("gemini", "http://127.0.0.1:18006", ("gemini-flash",), 0, 1),
        "bedrock-claude-bedrock": ("bedrock", "http://127.0.0.1:18007", ("bedrock-claude",), 0, 1),
    }
    assert channel(migration, "bedrock-claude-bedrock").keys == ("AKID:secret",)
    assert channel(migration, "claude-sonnet-anthropic").config["first_byte_timeout"] == "120"
    prices = migration.manifest.prices
    assert prices is not None
    served = {m for c in migration.manifest.channels or () for m in c.models}
    assert served == set(prices.prices)  # every model served has a price (gpt-4: an alias)
    assert prices.prices["gpt-4"].alias_of == "gpt-4o"
    assert any("model_list[9] (gemini-vertex)" in line for line in lines(migration, "skipped"))


def test_weights_beyond_a_stored_integer_are_rounded_to_their_ratio() -> None:
    config = """
model_list:
  - {model_name: m, litellm_params: {model: openai/a, api_key: k1, weight: 0.000001}}
  - {model_name: m, litellm_params: {model: openai/b, api_key: k2, weight: 0.999999}}
"""
    migration = read(config)
    assert [c.weight for c in migration.manifest.channels or ()] == [1, 10_000]


def test_an_unpriced_model_names_its_base_model_and_a_bad_cost_names_its_path() -> None:
    migration = one(
        "",
        "model: azure/my-dep\napi_key: k\napi_base: https://r.openai.azure.com",
        info="base_model: azure/gpt-4-1106-preview",
    )
    assert any("m (base_model azure/gpt-4-1106-preview)" in note for note in migration.notes)
    with pytest.raises(InvalidRequest) as caught:
        one("", "model: openai/x\napi_key: k", info="input_cost_per_token: cheap")
    assert caught.value.message.startswith(
        "model_list[0] (m).model_info.input_cost_per_token: expected a number"
    )
