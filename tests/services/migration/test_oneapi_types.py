"""The channel type tables against the peers' own Go constants and base URLs, and the base
URLs each type implies here."""

from __future__ import annotations

import re

import pytest

from burncloud.errors import InvalidRequest
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.migration.oneapi.channel_types import (
    NEWAPI_TYPES,
    ONEAPI_TYPES,
    our_base_url,
    peer_type,
    peer_types,
)

# songquanpeng/one-api relay/channeltype/define.go (v0.6.11-preview line, as nxsre/one-api
# 84d21d2 carries it, less that fork's own AiPPT and AmapPOI).
ONEAPI_DEFINE_GO = """
const (
	Unknown = iota
	OpenAI
	API2D
	Azure
	CloseAI
	OpenAISB
	OpenAIMax
	OhMyGPT
	Custom
	Ails
	AIProxy
	PaLM
	API2GPT
	AIGC2D
	Anthropic
	Baidu
	Zhipu
	Ali
	Xunfei
	AI360
	OpenRouter
	AIProxyLibrary
	FastGPT
	Tencent
	Gemini
	Moonshot
	Baichuan
	Minimax
	Mistral
	Groq
	Ollama
	LingYiWanWu
	StepFun
	AwsClaude
	Coze
	Cohere
	DeepSeek
	Cloudflare
	DeepL
	TogetherAI
	Doubao
	Novita
	VertextAI
	Proxy
	SiliconFlow
	XAI
	Replicate
	BaiduV2
	XunfeiV2
	AliBailian
	OpenAICompatible
	GeminiOpenAICompatible
	Dummy
)
"""

# songquanpeng/one-api relay/channeltype/url.go (same line).
ONEAPI_URL_GO = """
var ChannelBaseURLs = []string{
	"",                              // 0
	"https://api.openai.com",        // 1
	"https://oa.api2d.net",          // 2
	"",                              // 3
	"https://api.closeai-proxy.xyz", // 4
	"https://api.openai-sb.com",     // 5
	"https://api.openaimax.com",     // 6
	"https://api.ohmygpt.com",       // 7
	"",                              // 8
	"https://api.caipacity.com",     // 9
	"https://api.aiproxy.io",        // 10
	"https://generativelanguage.googleapis.com", // 11
	"https://api.api2gpt.com",                   // 12
	"https://api.aigc2d.com",                    // 13
	"https://api.anthropic.com",                 // 14
	"https://aip.baidubce.com",                  // 15
	"https://open.bigmodel.cn",                  // 16
	"https://dashscope.aliyuncs.com",            // 17
	"",                                          // 18
	"https://ai.360.cn",                         // 19
	"https://openrouter.ai/api",                 // 20
	"https://api.aiproxy.io",                    // 21
	"https://fastgpt.run/api/openapi",           // 22
	"https://hunyuan.tencentcloudapi.com",       // 23
	"https://generativelanguage.googleapis.com", // 24
	"https://api.moonshot.cn",                   // 25
	"https://api.baichuan-ai.com",               // 26
	"https://api.minimax.chat",                  // 27
	"https://api.mistral.ai",                    // 28
	"https://api.groq.com/openai",               // 29
	"http://localhost:11434",                    // 30
	"https://api.lingyiwanwu.com",               // 31
	"https://api.stepfun.com",                   // 32
	"",                                          // 33
	"https://api.coze.com",                      // 34
	"https://api.cohere.ai",                     // 35
	"https://api.deepseek.com",                  // 36
	"https://api.cloudflare.com",                // 37
	"https://api-free.deepl.com",                // 38
	"https://api.together.xyz",                  // 39
	"https://ark.cn-beijing.volces.com",         // 40
	"https://api.novita.ai/v3/openai",           // 41
	"",                                          // 42
	"",                                          // 43
	"https://api.siliconflow.cn",                // 44
	"https://api.x.ai",                          // 45
	"https://api.replicate.com/v1/models/",      // 46
	"https://qianfan.baidubce.com",              // 47
	"https://spark-api-open.xf-yun.com",         // 48
	"https://dashscope.aliyuncs.com",            // 49
	"",                                          // 50

	"https://generativelanguage.googleapis.com/v1beta/openai/", // 51
}
"""

# QuantumNous/new-api constant/channel.go (to Codex = 57; later ids are forks' own).
NEWAPI_CHANNEL_GO = """
	ChannelTypeUnknown        = 0
	ChannelTypeOpenAI         = 1
	ChannelTypeMidjourney     = 2
	ChannelTypeAzure          = 3
	ChannelTypeOllama         = 4
	ChannelTypeMidjourneyPlus = 5
	ChannelTypeOpenAIMax      = 6
	ChannelTypeOhMyGPT        = 7
	ChannelTypeCustom         = 8
	ChannelTypeAILS           = 9
	ChannelTypeAIProxy        = 10
	ChannelTypePaLM           = 11
	ChannelTypeAPI2GPT        = 12
	ChannelTypeAIGC2D         = 13
	ChannelTypeAnthropic      = 14
	ChannelTypeBaidu          = 15
	ChannelTypeZhipu          = 16
	ChannelTypeAli            = 17
	ChannelTypeXunfei         = 18
	ChannelType360            = 19
	ChannelTypeOpenRouter     = 20
	ChannelTypeAIProxyLibrary = 21
	ChannelTypeFastGPT        = 22
	ChannelTypeTencent        = 23
	ChannelTypeGemini         = 24
	ChannelTypeMoonshot       = 25
	ChannelTypeZhipu_v4       = 26
	ChannelTypePerplexity     = 27
	ChannelTypeLingYiWanWu    = 31
	ChannelTypeAws            = 33
	ChannelTypeCohere         = 34
	ChannelTypeMiniMax        = 35
	ChannelTypeSunoAPI        = 36
	ChannelTypeDify           = 37
	ChannelTypeJina           = 38
	ChannelCloudflare         = 39
	ChannelTypeSiliconFlow    = 40
	ChannelTypeVertexAi       = 41
	ChannelTypeMistral        = 42
	ChannelTypeDeepSeek       = 43
	ChannelTypeMokaAI         = 44
	ChannelTypeVolcEngine     = 45
	ChannelTypeBaiduV2        = 46
	ChannelTypeXinference     = 47
	ChannelTypeXai            = 48
	ChannelTypeCoze           = 49
	ChannelTypeKling          = 50
	ChannelTypeJimeng         = 51
	ChannelTypeVidu           = 52
	ChannelTypeSubmodel       = 53
	ChannelTypeDoubaoVideo    = 54
	ChannelTypeSora           = 55
	ChannelTypeReplicate      = 56
	ChannelTypeCodex          = 57
"""

# New API's ChannelTypeNames (display names) and ChannelBaseURLs, same file.
NEWAPI_NAMES_GO = """
	ChannelTypeUnknown:        "Unknown",
	ChannelTypeOpenAI:         "OpenAI",
	ChannelTypeMidjourney:     "Midjourney",
	ChannelTypeAzure:          "Azure",
	ChannelTypeOllama:         "Ollama",
	ChannelTypeMidjourneyPlus: "MidjourneyPlus",
	ChannelTypeOpenAIMax:      "OpenAIMax",
	ChannelTypeOhMyGPT:        "OhMyGPT",
	ChannelTypeCustom:         "Custom",
	ChannelTypeAILS:           "AILS",
	ChannelTypeAIProxy:        "AIProxy",
	ChannelTypePaLM:           "PaLM",
	ChannelTypeAPI2GPT:        "API2GPT",
	ChannelTypeAIGC2D:         "AIGC2D",
	ChannelTypeAnthropic:      "Anthropic",
	ChannelTypeBaidu:          "Baidu",
	ChannelTypeZhipu:          "Zhipu",
	ChannelTypeAli:            "Ali",
	ChannelTypeXunfei:         "Xunfei",
	ChannelType360:            "360",
	ChannelTypeOpenRouter:     "OpenRouter",
	ChannelTypeAIProxyLibrary: "AIProxyLibrary",
	ChannelTypeFastGPT:        "FastGPT",
	ChannelTypeTencent:        "Tencent",
	ChannelTypeGemini:         "Gemini",
	ChannelTypeMoonshot:       "Moonshot",
	ChannelTypeZhipu_v4:       "ZhipuV4",
	ChannelTypePerplexity:     "Perplexity",
	ChannelTypeLingYiWanWu:    "LingYiWanWu",
	ChannelTypeAws:            "AWS",
	ChannelTypeCohere:         "Cohere",
	ChannelTypeMiniMax:        "MiniMax",
	ChannelTypeSunoAPI:        "SunoAPI",
	ChannelTypeDify:           "Dify",
	ChannelTypeJina:           "Jina",
	ChannelCloudflare:         "Cloudflare",
	ChannelTypeSiliconFlow:    "SiliconFlow",
	ChannelTypeVertexAi:       "VertexAI",
	ChannelTypeMistral:        "Mistral",
	ChannelTypeDeepSeek:       "DeepSeek",
	ChannelTypeMokaAI:         "MokaAI",
	ChannelTypeVolcEngine:     "VolcEngine",
	ChannelTypeBaiduV2:        "BaiduV2",
	ChannelTypeXinference:     "Xinference",
	ChannelTypeXai:            "xAI",
	ChannelTypeCoze:           "Coze",
	ChannelTypeKling:          "Kling",
	ChannelTypeJimeng:         "Jimeng",
	ChannelTypeVidu:           "Vidu",
	ChannelTypeSubmodel:       "Submodel",
	ChannelTypeDoubaoVideo:    "DoubaoVideo",
	ChannelTypeSora:           "Sora",
	ChannelTypeReplicate:      "Replicate",
	ChannelTypeCodex:          "Codex",
"""

NEWAPI_URL_GO = """
	"",                                    // 0
	"https://api.openai.com",              // 1
	"https://oa.api2d.net",                // 2
	"",                                    // 3
	"http://localhost:11434",              // 4
	"https://api.openai-sb.com",           // 5
	"https://api.openaimax.com",           // 6
	"https://api.ohmygpt.com",             // 7
	"",                                    // 8
	"https://api.caipacity.com",           // 9
	"https://api.aiproxy.io",              // 10
	"",                                    // 11
	"https://api.api2gpt.com",             // 12
	"https://api.aigc2d.com",              // 13
	"https://api.anthropic.com",           // 14
	"https://aip.baidubce.com",            // 15
	"https://open.bigmodel.cn",            // 16
	"https://dashscope.aliyuncs.com",      // 17
	"",                                    // 18
	"https://api.360.cn",                  // 19
	"https://openrouter.ai/api",           // 20
	"https://api.aiproxy.io",              // 21
	"https://fastgpt.run/api/openapi",     // 22
	"https://hunyuan.tencentcloudapi.com", //23
	"https://generativelanguage.googleapis.com", //24
	"https://api.moonshot.cn",                   //25
	"https://open.bigmodel.cn",                  //26
	"https://api.perplexity.ai",                 //27
	"",                                          //28
	"",                                          //29
	"",                                          //30
	"https://api.lingyiwanwu.com",               //31
	"",                                          //32
	"",                                          //33
	"https://api.cohere.ai",                     //34
	"https://api.minimax.chat",                  //35
	"",                                          //36
	"https://api.dify.ai",                       //37
	"https://api.jina.ai",                       //38
	"https://api.cloudflare.com",                //39
	"https://api.siliconflow.cn",                //40
	"",                                          //41
	"https://api.mistral.ai",                    //42
	"https://api.deepseek.com",                  //43
	"https://api.moka.ai",                       //44
	"https://ark.cn-beijing.volces.com",         //45
	"https://qianfan.baidubce.com",              //46
	"",                                          //47
	"https://api.x.ai",                          //48
	"https://api.coze.cn",                       //49
	"https://api.klingai.com",                   //50
	"https://visual.volcengineapi.com",          //51
	"https://api.vidu.cn",                       //52
	"https://llm.submodel.ai",                   //53
	"https://ark.cn-beijing.volces.com",         //54
	"https://api.openai.com",                    //55
	"https://api.replicate.com",                 //56
	"https://chatgpt.com",                       //57
"""


def go_iota(source: str) -> dict[int, str]:
    names = re.findall(r"^\t(\w+)(?: = iota)?$", source, re.MULTILINE)
    return {code: name for code, name in enumerate(names) if name != "Dummy"}


def go_urls(source: str) -> dict[int, str]:
    found = re.findall(r'"([^"]*)",\s*//\s*(\d+)', source)
    return {int(code): url for url, code in found}


def go_newapi_codes(source: str) -> dict[str, int]:
    return {name: int(code) for name, code in re.findall(r"(\w+)\s*=\s*(\d+)", source)}


def test_one_api_codes_and_names_are_its_own() -> None:
    codes = go_iota(ONEAPI_DEFINE_GO)
    assert len(codes) == 52  # Unknown .. GeminiOpenAICompatible
    assert {code: t.name for code, t in ONEAPI_TYPES.items()} == codes


def test_one_api_default_base_urls_are_its_own() -> None:
    urls = go_urls(ONEAPI_URL_GO)
    assert {code: t.default_base_url for code, t in ONEAPI_TYPES.items()} == urls


def test_new_api_codes_and_names_are_its_own() -> None:
    codes = go_newapi_codes(NEWAPI_CHANNEL_GO)
    names = dict(re.findall(r'(\w+):\s*"([^"]*)"', NEWAPI_NAMES_GO))
    expected = {codes[constant]: name for constant, name in names.items()}
    assert len(expected) == 54
    assert {code: t.name for code, t in NEWAPI_TYPES.items()} == expected


def test_new_api_default_base_urls_are_its_own_where_the_type_has_one() -> None:
    urls = go_urls(NEWAPI_URL_GO)
    ours = {code: t.default_base_url for code, t in NEWAPI_TYPES.items()}
    # 11 (PaLM) is "" in New API; every other code of the table carries its URL
    assert ours == {code: url for code, url in urls.items() if code in NEWAPI_TYPES}


def test_the_flavors_number_types_differently() -> None:
    assert ONEAPI_TYPES[2].kind == "openai-compatible"  # API2D
    assert NEWAPI_TYPES[2].kind is None  # Midjourney
    assert ONEAPI_TYPES[4].name == "CloseAI" and NEWAPI_TYPES[4].name == "Ollama"
    assert ONEAPI_TYPES[36].name == "DeepSeek" and NEWAPI_TYPES[43].name == "DeepSeek"


@pytest.mark.parametrize("table", [ONEAPI_TYPES, NEWAPI_TYPES])
def test_every_kind_is_one_we_serve_and_every_skip_says_why(table) -> None:
    for peer in table.values():
        if peer.kind is None:
            assert peer.reason, peer.name
        else:
            assert peer.kind in CHANNEL_KINDS, peer.name


def test_the_kinds_the_brief_names() -> None:
    for flavor in ("oneapi", "newapi"):
        assert peer_type(flavor, 1).kind == "openai"
        assert peer_type(flavor, 3).kind == "azure"
        assert peer_type(flavor, 14).kind == "anthropic"
        assert peer_type(flavor, 17).kind == "qwen"
        assert peer_type(flavor, 24).kind == "gemini"
        assert peer_type(flavor, 33).kind == "bedrock"
        assert peer_type(flavor, 15).kind is None  # Baidu
        assert peer_type(flavor, 16).kind is None  # Zhipu's native API
    assert peer_type("oneapi", 8).kind == "openai-compatible"
    assert peer_type("newapi", 8).kind == "openai-compatible"


@pytest.mark.parametrize(
    ("flavor", "code", "stored", "expected"),
    [
        ("oneapi", 1, "", "https://api.openai.com/v1"),
        ("oneapi", 1, "https://proxy.example.com/", "https://proxy.example.com/v1"),
        ("oneapi", 1, "https://gateway.ai.cloudflare.com/v1/a/b/openai", (
            "https://gateway.ai.cloudflare.com/v1/a/b/openai"
        )),
        ("oneapi", 29, "", "https://api.groq.com/openai/v1"),
        ("oneapi", 20, "", "https://openrouter.ai/api/v1"),
        ("oneapi", 36, "", "https://api.deepseek.com/v1"),
        ("oneapi", 40, "", "https://ark.cn-beijing.volces.com/api/v3"),
        ("oneapi", 41, "", "https://api.novita.ai/v3/openai"),
        ("oneapi", 47, "", "https://qianfan.baidubce.com/v2"),
        ("oneapi", 17, "", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("oneapi", 49, "https://dashscope-intl.aliyuncs.com", (
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
        )),
        ("oneapi", 50, "https://llm.example.com/openai/v1", "https://llm.example.com/openai/v1"),
        ("oneapi", 51, "", "https://generativelanguage.googleapis.com/v1beta/openai"),
        ("oneapi", 8, "https://relay.example.com", "https://relay.example.com/v1"),
        ("newapi", 26, "", "https://open.bigmodel.cn/api/paas/v4"),
        ("newapi", 45, "", "https://ark.cn-beijing.volces.com/api/v3"),
        ("newapi", 43, "", "https://api.deepseek.com/v1"),
        ("newapi", 8, "https://relay.example.com/v1/chat/completions", (
            "https://relay.example.com/v1"
        )),
        ("newapi", 14, "", "https://api.anthropic.com"),
    ],
)  # fmt: skip
def test_base_urls_become_ours(flavor: str, code: int, stored: str, expected: str) -> None:
    assert our_base_url(peer_type(flavor, code), stored) == expected


@pytest.mark.parametrize(
    ("flavor", "code", "stored", "message"),
    [
        ("oneapi", 8, "", "no default base URL"),
        ("oneapi", 50, " ", "no default base URL"),
        ("newapi", 8, "https://relay.example.com/{model}/chat", "names the model"),
        ("newapi", 8, "https://relay.example.com", "not a chat completions URL"),
        ("newapi", 8, "https://relay.example.com/v1/chat/completions/x", "not a chat"),
    ],
)
def test_base_urls_without_an_equivalent_are_refused(
    flavor: str, code: int, stored: str, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        our_base_url(peer_type(flavor, code), stored)


def test_an_unknown_code_is_skipped_never_guessed() -> None:
    found = peer_type("oneapi", 1000)
    assert found.kind is None
    assert found.reason == "a type code this importer does not know"
    assert peer_type("newapi", 58).kind is None  # a fork's own number


def test_an_unknown_flavor_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="unknown peer 'litellm'"):
        peer_types("litellm")
