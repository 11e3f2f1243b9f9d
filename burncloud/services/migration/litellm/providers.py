"""LiteLLM's providers as burncloud channel kinds: which ``<provider>/`` prefixes of
``litellm_params.model`` have a kind, where LiteLLM sends them when the entry names no
``api_base``, and where it finds their key when the entry names no ``api_key``.

The defaults are LiteLLM's own (``litellm/litellm_core_utils/get_llm_provider_logic.py``
and each provider's ``_get_openai_compatible_provider_info``): an entry without
``api_base`` is imported to the URL LiteLLM would call, not to burncloud's default, so
traffic goes where it went (``dashscope/`` defaults to DashScope's international host in
LiteLLM, not the mainland one burncloud's ``qwen`` kind defaults to). Servers that speak
the OpenAI API at an address (vLLM, LM Studio, Ollama, another LiteLLM proxy, and hosted
OpenAI-compatible providers) become ``openai-compatible`` channels.

Providers without a kind are refused with their reason: Vertex AI needs Google
service-account tokens, SageMaker SigV4 for another service, Hugging Face and Cohere their
own request formats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPENAI_HOST = "api.openai.com"


@dataclass(frozen=True, slots=True)
class Provider:
    """A LiteLLM provider prefix that has a channel kind."""

    kind: str
    base_url: str | None = None  # LiteLLM's default api_base; None: the kind's, or required
    base_env: tuple[str, ...] = ()  # variables LiteLLM reads api_base from
    key_env: tuple[str, ...] = ()  # variables LiteLLM reads the key from
    keyless: bool = False  # a local server: no key needed (LiteLLM sends a placeholder)
    note: str = ""  # what differs from LiteLLM's call, said in the report


def _compatible(
    base_url: str | None, prefix: str, key_env: tuple[str, ...] = (), note: str = ""
) -> Provider:
    """An OpenAI-compatible provider; its variables are named ``<PREFIX>_API_BASE`` /
    ``<PREFIX>_API_KEY`` unless given."""
    return Provider(
        "openai-compatible",
        base_url,
        (f"{prefix}_API_BASE",),
        key_env or (f"{prefix}_API_KEY",),
        note=note,
    )


def _local(prefix: str, base_url: str | None = None, note: str = "") -> Provider:
    return Provider(
        "openai-compatible",
        base_url,
        (f"{prefix}_API_BASE",),
        (f"{prefix}_API_KEY",),
        keyless=True,
        note=note,
    )


_OPENAI = Provider("openai", None, ("OPENAI_BASE_URL", "OPENAI_API_BASE"), ("OPENAI_API_KEY",))
_OLLAMA_NOTE = "served through Ollama's OpenAI-compatible /v1 API"

PROVIDERS: dict[str, Provider] = {
    "openai": _OPENAI,
    "text-completion-openai": _OPENAI,
    "azure": Provider(
        "azure", None, ("AZURE_API_BASE",), ("AZURE_API_KEY", "AZURE_OPENAI_API_KEY")
    ),
    "anthropic": Provider(
        "anthropic", None, ("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL"), ("ANTHROPIC_API_KEY",)
    ),
    "gemini": Provider("gemini", None, ("GEMINI_API_BASE",), ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
    "bedrock": Provider(
        "bedrock", None, ("AWS_BEDROCK_RUNTIME_ENDPOINT",), ("AWS_BEARER_TOKEN_BEDROCK",)
    ),
    "dashscope": Provider(
        "qwen",
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        ("DASHSCOPE_API_BASE",),
        ("DASHSCOPE_API_KEY",),
    ),
    "deepseek": _compatible("https://api.deepseek.com/beta", "DEEPSEEK"),
    "openrouter": _compatible(
        "https://openrouter.ai/api/v1", "OPENROUTER", ("OPENROUTER_API_KEY", "OR_API_KEY")
    ),
    "groq": _compatible("https://api.groq.com/openai/v1", "GROQ"),
    "mistral": _compatible("https://api.mistral.ai/v1", "MISTRAL"),
    "codestral": _compatible("https://codestral.mistral.ai/v1", "CODESTRAL"),
    "together_ai": _compatible(
        "https://api.together.xyz/v1",
        "TOGETHER_AI",
        ("TOGETHER_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_TOKEN"),
    ),
    "fireworks_ai": _compatible(
        "https://api.fireworks.ai/inference/v1",
        "FIREWORKS",
        ("FIREWORKS_API_KEY", "FIREWORKS_AI_API_KEY", "FIREWORKSAI_API_KEY", "FIREWORKS_AI_TOKEN"),
    ),
    "xai": _compatible("https://api.x.ai/v1", "XAI"),
    "perplexity": _compatible(
        "https://api.perplexity.ai", "PERPLEXITY", ("PERPLEXITYAI_API_KEY", "PERPLEXITY_API_KEY")
    ),
    "deepinfra": _compatible("https://api.deepinfra.com/v1/openai", "DEEPINFRA"),
    "cerebras": _compatible("https://api.cerebras.ai/v1", "CEREBRAS"),
    "sambanova": _compatible("https://api.sambanova.ai/v1", "SAMBANOVA"),
    "nvidia_nim": _compatible("https://integrate.api.nvidia.com/v1", "NVIDIA_NIM"),
    "volcengine": _compatible("https://ark.cn-beijing.volces.com/api/v3", "VOLCENGINE"),
    "azure_ai": _compatible(None, "AZURE_AI"),
    "litellm_proxy": _compatible(None, "LITELLM_PROXY"),
    "hosted_vllm": _local("HOSTED_VLLM"),
    "xinference": _local("XINFERENCE", "http://127.0.0.1:9997/v1"),
    "llamafile": _local("LLAMAFILE", "http://127.0.0.1:8080/v1"),
    "lm_studio": _local("LM_STUDIO"),
    "ollama": _local("OLLAMA", "http://localhost:11434", _OLLAMA_NOTE),
    "ollama_chat": _local("OLLAMA", "http://localhost:11434", _OLLAMA_NOTE),
}

REFUSED = {
    "vertex_ai": "Vertex AI needs Google Cloud service-account tokens (gemini/ takes keys)",
    "vertex_ai_beta": "Vertex AI needs Google Cloud service-account tokens",
    "sagemaker": "SageMaker endpoints have no channel kind",
    "huggingface": "Hugging Face's inference API has no channel kind",
    "cohere": "Cohere's own API has no channel kind",
    "cohere_chat": "Cohere's own API has no channel kind",
    "replicate": "Replicate has no channel kind",
    "watsonx": "watsonx needs IBM Cloud IAM tokens",
}

# Bare models LiteLLM recognises from its model list (get_llm_provider): the common
# families, by name, so the report can say which provider the entry meant.
_INFERRED = (
    (
        re.compile(
            r"^(gpt-|chatgpt-|o[134](-|$)|ft:gpt|text-embedding-|dall-e-|whisper-|tts-"
            r"|omni-moderation|text-moderation|gpt-image-|davinci|babbage)"
        ),
        "openai",
    ),
    (re.compile(r"^claude-"), "anthropic"),
    (
        re.compile(
            r"^((us|eu|apac|au|jp|global)\.)?(anthropic|amazon|meta|mistral|cohere|ai21"
            r"|deepseek|writer|qwen)\.[\w.:-]+$"
        ),
        "bedrock",
    ),
    (re.compile(r"^(gemini-|text-bison|chat-bison|code-bison|textembedding-gecko)"), "vertex_ai"),
    (re.compile(r"^(command|embed-)"), "cohere"),
)
BEDROCK_ROUTES = ("converse/", "invoke/")  # LiteLLM's route hints inside bedrock/ models
BEDROCK_DEFAULT_REGION = "us-west-2"  # LiteLLM's when neither the entry nor AWS_REGION* says


def split_model(model: str, custom_provider: str | None) -> tuple[str | None, str, bool]:
    """(LiteLLM provider, upstream model, whether the provider was inferred from a bare
    model name); the provider is None when LiteLLM would not know it either."""
    prefix, sep, rest = model.partition("/")
    if custom_provider:
        named = custom_provider.strip().lower()
        return named, rest if sep and prefix == named else model, False
    if sep:
        return prefix.strip().lower(), rest, False
    for pattern, provider in _INFERRED:
        if pattern.match(model):
            return provider, model, True
    return None, model, False


def bedrock_model(upstream: str) -> str:
    """A ``bedrock/`` model less LiteLLM's ``converse/`` or ``invoke/`` route hint
    (burncloud uses InvokeModel for Claude and Converse for the rest)."""
    for route in BEDROCK_ROUTES:
        if upstream.startswith(route):
            return upstream.removeprefix(route)
    return upstream
