"""The peers' numeric channel types and what each becomes here.

A One API or New API channel names its upstream by an integer ``type``; each type implies a
default base URL (the peers' ``ChannelBaseURLs``) and an adaptor that decides the URL a
request goes to. A type maps to one of our kinds only where we can reach the same upstream
the same way: types the peers send through their OpenAI adaptor at
``{base}/v1/chat/completions`` become ``openai-compatible`` channels at ``{base}/v1``
(``path`` is what the peer puts between its base URL and ``/chat/completions``). Types with
a protocol we do not speak (Midjourney, Baidu, Zhipu's v3 API, Tencent, Xunfei's
websocket, Coze, ...) are skipped with the reason, never guessed.

Sources (read with the search tool):
- One API: songquanpeng/one-api ``relay/channeltype/define.go`` and ``url.go`` at f9c4384
  (to SiliconFlow = 44), and the v0.6.11-preview tables (to GeminiOpenAICompatible = 51)
  as carried by forks that track upstream (nxsre/one-api 84d21d2); the adaptors'
  ``GetRequestURL`` (``relay/adaptor/openai/adaptor.go``, ``doubao``, ``novita``,
  ``baiduv2``, ``alibailian``, ``geminiv2``, ``minimax``) and ``channeltype/helper.go``.
- New API: QuantumNous/new-api ``constant/channel.go`` (to Codex = 57) and
  ``relay/channel/openai/adaptor.go`` (Custom = 8 holds the whole request URL).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from burncloud.errors import InvalidRequest

FLAVORS = ("oneapi", "newapi")
_CLOUDFLARE_GATEWAY = "https://gateway.ai.cloudflare.com"  # the peers' OpenAI skips /v1 there


@dataclass(frozen=True, slots=True)
class PeerType:
    """One peer channel type: its name there, its default base URL, and what it becomes
    (``kind`` None: skipped, ``reason`` says why). ``path`` turns the peer's base URL into
    our SDK-style one; ``full_url``: the peer stores the whole chat URL (New API custom)."""

    code: int
    name: str
    default_base_url: str
    kind: str | None
    path: str = ""
    reason: str = ""
    full_url: bool = False


def _compat(code: int, name: str, url: str, path: str = "/v1") -> PeerType:
    return PeerType(code, name, url, "openai-compatible", path)


def _skip(code: int, name: str, url: str, reason: str) -> PeerType:
    return PeerType(code, name, url, None, reason=reason)


_NATIVE = "its own protocol, which burncloud does not speak"
_MEDIA = "a media or task API (not chat completions), which burncloud does not serve"
_GOOGLE = "https://generativelanguage.googleapis.com"
_MINIMAX = "MiniMax's /v1/text/chatcompletion_v2 path, which burncloud cannot reach"

ONEAPI_TYPES: Mapping[int, PeerType] = {
    t.code: t
    for t in (
        _skip(0, "Unknown", "", "the peer's own 'unknown' type"),
        PeerType(1, "OpenAI", "https://api.openai.com", "openai", "/v1"),
        _compat(2, "API2D", "https://oa.api2d.net"),
        PeerType(3, "Azure", "", "azure"),
        _compat(4, "CloseAI", "https://api.closeai-proxy.xyz"),
        _compat(5, "OpenAISB", "https://api.openai-sb.com"),
        _compat(6, "OpenAIMax", "https://api.openaimax.com"),
        _compat(7, "OhMyGPT", "https://api.ohmygpt.com"),
        _compat(8, "Custom", ""),
        _compat(9, "Ails", "https://api.caipacity.com"),
        _compat(10, "AIProxy", "https://api.aiproxy.io"),
        _skip(11, "PaLM", _GOOGLE, "Google's retired PaLM API"),
        _compat(12, "API2GPT", "https://api.api2gpt.com"),
        _compat(13, "AIGC2D", "https://api.aigc2d.com"),
        PeerType(14, "Anthropic", "https://api.anthropic.com", "anthropic"),
        _skip(15, "Baidu", "https://aip.baidubce.com", f"Baidu ERNIE: {_NATIVE}"),
        _skip(16, "Zhipu", "https://open.bigmodel.cn", f"Zhipu's signed-token API: {_NATIVE}"),
        PeerType(17, "Ali", "https://dashscope.aliyuncs.com", "qwen", "/compatible-mode/v1"),
        _skip(18, "Xunfei", "", f"Xunfei Spark over websockets: {_NATIVE}"),
        _compat(19, "AI360", "https://ai.360.cn"),
        _compat(20, "OpenRouter", "https://openrouter.ai/api"),
        _skip(21, "AIProxyLibrary", "https://api.aiproxy.io", f"a knowledge-base API: {_NATIVE}"),
        _compat(22, "FastGPT", "https://fastgpt.run/api/openapi"),
        _skip(23, "Tencent", "https://hunyuan.tencentcloudapi.com", f"Hunyuan: {_NATIVE}"),
        PeerType(24, "Gemini", _GOOGLE, "gemini"),
        _compat(25, "Moonshot", "https://api.moonshot.cn"),
        _compat(26, "Baichuan", "https://api.baichuan-ai.com"),
        _skip(27, "Minimax", "https://api.minimax.chat", _MINIMAX),
        _compat(28, "Mistral", "https://api.mistral.ai"),
        _compat(29, "Groq", "https://api.groq.com/openai"),
        _compat(30, "Ollama", "http://localhost:11434"),
        _compat(31, "LingYiWanWu", "https://api.lingyiwanwu.com"),
        _compat(32, "StepFun", "https://api.stepfun.com"),
        PeerType(33, "AwsClaude", "", "bedrock"),
        _skip(34, "Coze", "https://api.coze.com", f"Coze bots: {_NATIVE}"),
        _skip(35, "Cohere", "https://api.cohere.ai", f"Cohere's chat API: {_NATIVE}"),
        _compat(36, "DeepSeek", "https://api.deepseek.com"),
        _skip(
            37, "Cloudflare", "https://api.cloudflare.com", "Workers AI: needs the account's URL"
        ),
        _skip(38, "DeepL", "https://api-free.deepl.com", "a translation API, not chat"),
        _compat(39, "TogetherAI", "https://api.together.xyz"),
        _compat(40, "Doubao", "https://ark.cn-beijing.volces.com", "/api/v3"),
        _compat(41, "Novita", "https://api.novita.ai/v3/openai", ""),
        _skip(42, "VertextAI", "", f"Vertex AI with service-account keys: {_NATIVE}"),
        _skip(43, "Proxy", "", "a raw HTTP proxy channel"),
        _compat(44, "SiliconFlow", "https://api.siliconflow.cn"),
        _compat(45, "XAI", "https://api.x.ai"),
        _skip(46, "Replicate", "https://api.replicate.com/v1/models/", f"Replicate: {_NATIVE}"),
        _compat(47, "BaiduV2", "https://qianfan.baidubce.com", "/v2"),
        _compat(48, "XunfeiV2", "https://spark-api-open.xf-yun.com"),
        PeerType(49, "AliBailian", "https://dashscope.aliyuncs.com", "qwen", "/compatible-mode/v1"),
        _compat(50, "OpenAICompatible", "", ""),
        _compat(51, "GeminiOpenAICompatible", f"{_GOOGLE}/v1beta/openai/", ""),
    )
}

NEWAPI_TYPES: Mapping[int, PeerType] = {
    t.code: t
    for t in (
        _skip(0, "Unknown", "", "the peer's own 'unknown' type"),
        PeerType(1, "OpenAI", "https://api.openai.com", "openai", "/v1"),
        _skip(2, "Midjourney", "https://oa.api2d.net", f"Midjourney: {_MEDIA}"),
        PeerType(3, "Azure", "", "azure"),
        _compat(4, "Ollama", "http://localhost:11434"),
        _skip(5, "MidjourneyPlus", "https://api.openai-sb.com", f"Midjourney: {_MEDIA}"),
        _compat(6, "OpenAIMax", "https://api.openaimax.com"),
        _compat(7, "OhMyGPT", "https://api.ohmygpt.com"),
        PeerType(8, "Custom", "", "openai-compatible", full_url=True),
        _compat(9, "AILS", "https://api.caipacity.com"),
        _compat(10, "AIProxy", "https://api.aiproxy.io"),
        _skip(11, "PaLM", "", "Google's retired PaLM API"),
        _compat(12, "API2GPT", "https://api.api2gpt.com"),
        _compat(13, "AIGC2D", "https://api.aigc2d.com"),
        PeerType(14, "Anthropic", "https://api.anthropic.com", "anthropic"),
        _skip(15, "Baidu", "https://aip.baidubce.com", f"Baidu ERNIE: {_NATIVE}"),
        _skip(16, "Zhipu", "https://open.bigmodel.cn", f"Zhipu's signed-token API: {_NATIVE}"),
        PeerType(17, "Ali", "https://dashscope.aliyuncs.com", "qwen", "/compatible-mode/v1"),
        _skip(18, "Xunfei", "", f"Xunfei Spark over websockets: {_NATIVE}"),
        _compat(19, "360", "https://api.360.cn"),
        _compat(20, "OpenRouter", "https://openrouter.ai/api"),
        _skip(21, "AIProxyLibrary", "https://api.aiproxy.io", f"a knowledge-base API: {_NATIVE}"),
        _compat(22, "FastGPT", "https://fastgpt.run/api/openapi"),
        _skip(23, "Tencent", "https://hunyuan.tencentcloudapi.com", f"Hunyuan: {_NATIVE}"),
        PeerType(24, "Gemini", _GOOGLE, "gemini"),
        _compat(25, "Moonshot", "https://api.moonshot.cn"),
        _compat(26, "ZhipuV4", "https://open.bigmodel.cn", "/api/paas/v4"),
        _compat(27, "Perplexity", "https://api.perplexity.ai", ""),
        _compat(31, "LingYiWanWu", "https://api.lingyiwanwu.com"),
        PeerType(33, "AWS", "", "bedrock"),
        _skip(34, "Cohere", "https://api.cohere.ai", f"Cohere's chat API: {_NATIVE}"),
        _skip(35, "MiniMax", "https://api.minimax.chat", _MINIMAX),
        _skip(36, "SunoAPI", "", f"Suno: {_MEDIA}"),
        _skip(37, "Dify", "https://api.dify.ai", f"Dify apps: {_NATIVE}"),
        _skip(38, "Jina", "https://api.jina.ai", "embeddings and rerank only: add it by hand"),
        _skip(
            39, "Cloudflare", "https://api.cloudflare.com", "Workers AI: needs the account's URL"
        ),
        _compat(40, "SiliconFlow", "https://api.siliconflow.cn"),
        _skip(41, "VertexAI", "", f"Vertex AI with service-account keys: {_NATIVE}"),
        _compat(42, "Mistral", "https://api.mistral.ai"),
        _compat(43, "DeepSeek", "https://api.deepseek.com"),
        _skip(44, "MokaAI", "https://api.moka.ai", "embeddings only: add it by hand"),
        _compat(45, "VolcEngine", "https://ark.cn-beijing.volces.com", "/api/v3"),
        _compat(46, "BaiduV2", "https://qianfan.baidubce.com", "/v2"),
        _compat(47, "Xinference", ""),
        _compat(48, "xAI", "https://api.x.ai"),
        _skip(49, "Coze", "https://api.coze.cn", f"Coze bots: {_NATIVE}"),
        _skip(50, "Kling", "https://api.klingai.com", f"Kling video: {_MEDIA}"),
        _skip(51, "Jimeng", "https://visual.volcengineapi.com", f"Jimeng images: {_MEDIA}"),
        _skip(52, "Vidu", "https://api.vidu.cn", f"Vidu video: {_MEDIA}"),
        _skip(53, "Submodel", "https://llm.submodel.ai", "an adaptor of its own at the peer"),
        _skip(54, "DoubaoVideo", "https://ark.cn-beijing.volces.com", f"video: {_MEDIA}"),
        _skip(55, "Sora", "https://api.openai.com", f"Sora video: {_MEDIA}"),
        _skip(56, "Replicate", "https://api.replicate.com", f"Replicate: {_NATIVE}"),
        _skip(57, "Codex", "https://chatgpt.com", "ChatGPT sign-in (OAuth) credentials"),
    )
}


def peer_types(flavor: str) -> Mapping[int, PeerType]:
    """The type table of ``flavor`` ('oneapi' or 'newapi'); InvalidRequest otherwise."""
    if flavor == "oneapi":
        return ONEAPI_TYPES
    if flavor == "newapi":
        return NEWAPI_TYPES
    raise InvalidRequest(f"unknown peer {flavor!r}: use one of {', '.join(FLAVORS)}")


def peer_type(flavor: str, code: int) -> PeerType:
    """The peer type ``code`` of ``flavor``; an unknown code is a skipped type of its own."""
    found = peer_types(flavor).get(code)
    if found is not None:
        return found
    return _skip(code, "unknown", "", "a type code this importer does not know")


def our_base_url(peer: PeerType, stored: str) -> str:
    """The SDK-style base URL of a channel of ``peer`` type whose peer base URL is
    ``stored`` ('' for the type's default); InvalidRequest when there is none."""
    base = (stored or "").strip() or peer.default_base_url
    base = base.rstrip("/")
    if not base:
        raise InvalidRequest(f"{peer.name} channels have no default base URL and none is set")
    if peer.full_url:
        return _custom_url(base)
    if peer.kind == "openai" and base.startswith(_CLOUDFLARE_GATEWAY):
        return base
    return base + peer.path


def _custom_url(url: str) -> str:
    """New API's custom channel sends every request to its URL ({model} filled in): only
    a fixed chat completions URL has an equivalent (an openai-compatible base URL)."""
    if "{model}" in url:
        raise InvalidRequest(f"the URL {url} names the model ({{model}}): no equivalent")
    base, sep, _ = url.rpartition("/chat/completions")
    if not sep or not base or url != base + "/chat/completions":
        raise InvalidRequest(f"the URL {url} is not a chat completions URL: no equivalent")
    return base
