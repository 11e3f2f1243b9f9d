"""The peers' own completion ratios: what a model's output costs relative to its input
when the ``CompletionRatio`` option does not name it.

Both peers fall back to rules written in their code (by model-name prefix), and New API
"locks" some of them: a locked ratio wins even over the option. The rules are transcribed
as exact fractions of the literals the Go code divides (``4.0 / 3.0`` is 4/3, never the
float), so a converted price is the ratio the peer means.

Sources: songquanpeng/one-api ``relay/billing/ratio/model.go`` ``GetCompletionRatio`` and
``CompletionRatio`` (v0.6.10, as carried by nxsre/one-api 8f60d66); QuantumNous/new-api
``setting/ratio_setting/model_ratio.go`` ``GetCompletionRatio``,
``getHardcodedCompletionModelRatio``, ``FormatMatchingModelName`` and
``defaultCompletionRatio`` (00f6587).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

OPTION, BUILT_IN, LOCKED, NONE = "option", "built-in", "locked", "none"


@dataclass(frozen=True, slots=True)
class CompletionRatio:
    """A model's output/input ratio and where it came from: the peer's option, its
    built-in rules, a New API rule that overrides the option (locked), or none (1)."""

    ratio: Fraction
    source: str


def _f(numerator: str, denominator: str = "1") -> Fraction:
    return Fraction(Decimal(numerator)) / Fraction(Decimal(denominator))


# One API's CompletionRatio table (kept as DefaultCompletionRatio); the "(33)" entries are
# per channel type and never match a model name.
ONEAPI_DEFAULTS: Mapping[str, Fraction] = {
    "whisper-1": Fraction(0),
    "deepseek-chat": _f("0.28", "0.14"),
    "deepseek-reasoner": _f("2.19", "0.55"),
}
# New API's defaultCompletionRatio: the option's content until an operator saves it.
NEWAPI_DEFAULTS: Mapping[str, Fraction] = {
    "gpt-4-gizmo-*": Fraction(2),
    "gpt-4o-gizmo-*": Fraction(3),
    "gpt-4-all": Fraction(2),
    "gpt-image-1": Fraction(8),
}
_ONEAPI_EXACT: Mapping[str, Fraction] = {
    "llama2-70b-4096": _f("0.8", "0.64"),
    "llama3-8b-8192": Fraction(2),
    "llama3-70b-8192": _f("0.79", "0.59"),
    "command": Fraction(2),
    "command-light": Fraction(2),
    "command-nightly": Fraction(2),
    "command-light-nightly": Fraction(2),
    "command-r": Fraction(3),
    "command-r-plus": Fraction(5),
    "grok-beta": Fraction(3),
    "ibm-granite/granite-20b-code-instruct-8k": Fraction(5),
    "ibm-granite/granite-3.0-2b-instruct": _f("8.333333333333334"),
    "ibm-granite/granite-3.0-8b-instruct": Fraction(5),
    "ibm-granite/granite-8b-code-instruct-128k": Fraction(5),
    **dict.fromkeys(
        (
            "meta/llama-2-13b",
            "meta/llama-2-13b-chat",
            "meta/llama-2-7b",
            "meta/llama-2-7b-chat",
            "meta/meta-llama-3-8b",
            "meta/meta-llama-3-8b-instruct",
            "mistralai/mistral-7b-instruct-v0.2",
            "mistralai/mistral-7b-v0.1",
        ),
        Fraction(5),
    ),
    **dict.fromkeys(
        (
            "meta/llama-2-70b",
            "meta/llama-2-70b-chat",
            "meta/meta-llama-3-70b",
            "meta/meta-llama-3-70b-instruct",
        ),
        _f("2.750", "0.650"),
    ),
    "meta/meta-llama-3.1-405b-instruct": Fraction(1),
    "mistralai/mixtral-8x7b-instruct-v0.1": _f("1.000", "0.300"),
}


def completion_ratio(
    flavor: str, model: str, configured: Mapping[str, Decimal] | None
) -> CompletionRatio:
    """The output/input ratio ``flavor``'s peer bills ``model`` at, given its
    ``CompletionRatio`` option (None: the option is not set)."""
    option = {name: Fraction(value) for name, value in (configured or {}).items()}
    if flavor == "oneapi":
        return _oneapi(model, option)
    return _newapi(model, option if configured is not None else dict(NEWAPI_DEFAULTS))


def _oneapi(model: str, option: Mapping[str, Fraction]) -> CompletionRatio:
    if model.startswith("qwen-") and model.endswith("-internet"):
        model = model.removesuffix("-internet")
    if model in option:
        return CompletionRatio(option[model], OPTION)
    if model in ONEAPI_DEFAULTS:
        return CompletionRatio(ONEAPI_DEFAULTS[model], BUILT_IN)
    ruled = _oneapi_rule(model)
    return CompletionRatio(ruled, BUILT_IN) if ruled is not None else CompletionRatio(_ONE, NONE)


_ONE = Fraction(1)


def _oneapi_rule(name: str) -> Fraction | None:
    if name.startswith("gpt-3.5"):
        return _gpt35(name)
    if name.startswith("gpt-4"):
        if name.startswith("gpt-4o"):
            return Fraction(3) if name == "gpt-4o-2024-05-13" else Fraction(4)
        turbo = name.startswith("gpt-4-turbo") or name.endswith("preview")
        return Fraction(3) if turbo else Fraction(2)
    if name.startswith("o1"):
        return Fraction(4)
    if name == "chatgpt-4o-latest":
        return Fraction(3)
    for prefix, ratio in (("claude-3", 5), ("claude-", 3), ("mistral-", 3), ("gemini-", 3)):
        if name.startswith(prefix):
            return Fraction(ratio)
    if name.startswith("deepseek-"):
        return Fraction(2)
    return _ONEAPI_EXACT.get(name)


def _gpt35(name: str) -> Fraction:
    if name == "gpt-3.5-turbo" or name.endswith("0125"):
        return Fraction(3)
    if name.endswith("1106"):
        return Fraction(2)
    return Fraction(4, 3)


def _newapi(model: str, option: Mapping[str, Fraction]) -> CompletionRatio:
    name = _newapi_matching_name(model)
    if "/" in name and name in option:
        return CompletionRatio(option[name], OPTION)
    ruled, locked = _newapi_rule(name)
    if ruled is not None and locked:
        return CompletionRatio(ruled, LOCKED)
    if name in option:
        return CompletionRatio(option[name], OPTION)
    return CompletionRatio(ruled, BUILT_IN) if ruled is not None else CompletionRatio(_ONE, NONE)


def _newapi_matching_name(name: str) -> str:
    """New API's FormatMatchingModelName: thinking-budget variants and GPTs share a price."""
    for prefix in ("gemini-2.5-flash-lite", "gemini-2.5-flash", "gemini-2.5-pro"):
        if name.startswith(prefix):
            if "-thinking-" in name:
                return f"{prefix}-thinking-*"
            break
    if name.startswith("gpt-4-gizmo"):
        return "gpt-4-gizmo-*"
    if name.startswith("gpt-4o-gizmo"):
        return "gpt-4o-gizmo-*"
    return name


_NEWAPI_CLAUDE = (
    "claude-3",
    "claude-sonnet-4",
    "claude-opus-4",
    "claude-haiku-4",
    "claude-fable-5",
    "claude-sonnet-5",
    "claude-opus-5",
)


def _newapi_rule(name: str) -> tuple[Fraction | None, bool]:
    """(ratio, locked) of New API's hard-coded rules; None where no rule names it."""
    if name.endswith("-all") or name.endswith("-gizmo-*"):
        return Fraction(2), False
    if name.startswith("gpt-"):
        return _newapi_gpt(name)
    if name.startswith("o1") or name.startswith("o3"):
        return Fraction(4), True
    if name == "chatgpt-4o-latest":
        return Fraction(3), True
    if any(part in name for part in _NEWAPI_CLAUDE):
        return Fraction(5), True
    if name.startswith("mistral-"):
        return Fraction(3), True
    if name.startswith("gemini-"):
        return _newapi_gemini(name)
    if name.startswith("command"):
        fixed = {"command-r": 3, "command-r-plus": 5, "command-r-08-2024": 4}
        fixed["command-r-plus-08-2024"] = 4
        return (Fraction(fixed[name]), True) if name in fixed else (Fraction(4), False)
    if name.startswith(("ERNIE-Speed-", "ERNIE-Lite-", "ERNIE-Character", "ERNIE-Functions")):
        return Fraction(2), True
    exact = {"llama2-70b-4096": _f("0.8", "0.64"), "llama3-8b-8192": Fraction(2)}
    exact["llama3-70b-8192"] = _f("0.79", "0.59")
    return (exact[name], True) if name in exact else (None, False)


def _newapi_gpt(name: str) -> tuple[Fraction, bool]:
    if name.startswith("gpt-4o"):
        if name == "gpt-4o-2024-05-13":
            return Fraction(3), True
        return (Fraction(20), False) if name.startswith("gpt-4o-mini-tts") else (Fraction(4), False)
    if name.startswith("gpt-5"):
        if "." not in name:
            return Fraction(8), True
        if name.startswith("gpt-5.4"):
            return (_f("6.25"), True) if name.startswith("gpt-5.4-nano") else (Fraction(6), True)
        return Fraction(6), False
    if name.startswith("gpt-4.5-preview"):
        return Fraction(2), True
    if name.startswith("gpt-4-turbo") or name.endswith(("gpt-4-1106", "gpt-4-1105")):
        return Fraction(3), True
    return Fraction(2), False  # gpt-3.5 too: New API's own gpt-3.5 rule comes after this one


def _newapi_gemini(name: str) -> tuple[Fraction, bool]:
    if name.startswith(("gemini-1.5", "gemini-2.0")):
        return Fraction(4), True
    if name.startswith("gemini-2.5-pro"):
        return Fraction(8), False
    if name.startswith("gemini-2.5-flash"):
        if name.startswith("gemini-2.5-flash-preview"):
            return (
                (Fraction(4), False) if name.endswith("-nothinking") else (_f("3.5", "0.15"), False)
            )
        if name.startswith("gemini-2.5-flash-lite"):
            return Fraction(4), False
        return _f("2.5", "0.3"), False
    if name.startswith("gemini-robotics-er-1.5"):
        return _f("2.5", "0.3"), False
    if name.startswith("gemini-3-pro"):
        return (
            (Fraction(60), False) if name.startswith("gemini-3-pro-image") else (Fraction(6), False)
        )
    return Fraction(4), False
