"""The router's OpenAPI 3.1 document, served at ``GET /openapi.json``.

One description of every route the router serves: the relay endpoints and front doors,
the account endpoints, health and metrics, and the admin API. SDK generators read it, and
tests/security fuzzes the router from it and fails when a served route is missing here.
"""

from __future__ import annotations

from typing import Any

from burncloud import __version__
from burncloud.gateway.doors.openapi_media import MEDIA_SCHEMAS, media_paths
from burncloud.services.logs import MAX_BIGINT

JSON = dict[str, Any]
Security = list[dict[str, list[str]]]

USER: Security = [{"apiKey": []}]
ADMIN: Security = [{"adminKey": []}]
ANTHROPIC: Security = [{"apiKey": []}, {"anthropicKey": []}]
GEMINI: Security = [{"apiKey": []}, {"googleKey": []}, {"googleKeyQuery": []}]
METRICS: Security = [{}, {"metricsToken": []}]  # the token only when one is configured
PUBLIC: Security = []

SECURITY_SCHEMES: JSON = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "a relay key (sk-...)"},
    "adminKey": {"type": "http", "scheme": "bearer", "description": "an admin key"},
    "anthropicKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "googleKey": {"type": "apiKey", "in": "header", "name": "x-goog-api-key"},
    "googleKeyQuery": {"type": "apiKey", "in": "query", "name": "key"},
    "metricsToken": {"type": "http", "scheme": "bearer", "description": "BURNCLOUD_METRICS_TOKEN"},
}

STRING: JSON = {"type": "string"}
TEXT: JSON = {"type": "string", "minLength": 1}
INTEGER: JSON = {"type": "integer", "minimum": -MAX_BIGINT, "maximum": MAX_BIGINT}
POSITIVE: JSON = {"type": "integer", "minimum": 1, "maximum": MAX_BIGINT}
NUMBER: JSON = {"type": "number"}
BOOLEAN: JSON = {"type": "boolean"}
OBJECT: JSON = {"type": "object"}
DECIMAL: JSON = {"type": ["string", "number"], "description": 'a decimal, e.g. "1.5"'}
NAMES: JSON = {"type": ["array", "string"], "items": STRING, "description": "list or a,b,c"}
REF: JSON = {"type": ["string", "integer"], "description": "an id or a name"}
MODEL: JSON = {"type": "string", "minLength": 1, "maxLength": 256}
STRINGS: JSON = {"type": "array", "items": STRING}


def _ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: tuple[str, ...] = (), closed: bool = False, **properties: JSON) -> JSON:
    """An object schema; ``closed`` ones refuse unknown fields, as the admin API does."""
    schema: JSON = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


_ERROR_FIELDS = _obj(("message", "type", "code"), message=STRING, type=STRING, code=STRING)
_CHAT_MESSAGE = _obj(
    ("role",),
    role={"enum": ["system", "developer", "user", "assistant", "tool"]},
    content={"type": ["string", "array", "null"], "items": OBJECT},
    name=STRING,
    tool_call_id=STRING,
    tool_calls={"type": "array", "items": OBJECT},
)
_STREAMING: JSON = {
    "stream": BOOLEAN,
    "stream_options": _obj(include_usage=BOOLEAN),
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "top_p": {"type": "number", "minimum": 0, "maximum": 1},
    "stop": {"type": ["string", "array"], "items": STRING},
    "n": {"type": "integer", "minimum": 1, "maximum": 128},
    "max_tokens": POSITIVE,
    "user": STRING,
}
_ANTHROPIC_MESSAGE = _obj(
    ("role", "content"),
    role={"enum": ["user", "assistant"]},
    content={"type": ["string", "array"], "items": OBJECT},
)
_GEMINI_CONTENT = _obj(
    ("parts",),
    role={"enum": ["user", "model"]},
    parts={"type": "array", "items": _obj(text=STRING)},
)

SCHEMAS: JSON = {
    "Error": _obj(("error",), error=_ERROR_FIELDS),
    "AnthropicError": _obj(("type", "error"), type={"const": "error"}, error=OBJECT),
    "GeminiError": _obj(("error",), error=_obj(code=INTEGER, message=STRING, status=STRING)),
    "ChatCompletionRequest": _obj(
        ("model", "messages"),
        model=MODEL,
        messages={"type": "array", "minItems": 1, "items": _CHAT_MESSAGE},
        max_completion_tokens=POSITIVE,
        tools={"type": "array", "items": OBJECT},
        tool_choice={"type": ["string", "object"]},
        response_format=OBJECT,
        seed=INTEGER,
        **_STREAMING,
    ),
    "CompletionRequest": _obj(
        ("model", "prompt"),
        model=MODEL,
        prompt={"type": ["string", "array"], "minLength": 1, "minItems": 1, "items": STRING},
        best_of={"type": "integer", "minimum": 1, "maximum": 128},
        echo=BOOLEAN,
        suffix=STRING,
        **_STREAMING,
    ),
    "EmbeddingRequest": _obj(
        ("model", "input"),
        model=MODEL,
        input={"type": ["string", "array"], "minLength": 1, "minItems": 1, "items": STRING},
        encoding_format={"enum": ["float", "base64"]},
        dimensions=POSITIVE,
        user=STRING,
    ),
    "ModerationRequest": _obj(
        ("input",),
        model=MODEL,  # default: omni-moderation-latest
        input={"type": ["string", "array"], "minLength": 1, "minItems": 1},
    ),
    "RerankRequest": _obj(
        ("model", "query", "documents"),
        model=MODEL,
        query=STRING,
        documents={"type": "array", "minItems": 1},
        top_n=POSITIVE,
        return_documents=BOOLEAN,
    ),
    "ResponseRequest": _obj(
        ("model", "input"),
        model=MODEL,
        input={"type": ["string", "array"], "minLength": 1, "minItems": 1, "items": OBJECT},
        instructions=STRING,
        max_output_tokens=POSITIVE,
        tools={"type": "array", "items": OBJECT},
        tool_choice={"type": ["string", "object"]},
        text=OBJECT,
        reasoning=OBJECT,
        store=BOOLEAN,
        stream=BOOLEAN,
        stream_options=OBJECT,
    ),
    "MessagesRequest": _obj(
        ("model", "max_tokens", "messages"),
        model=MODEL,
        max_tokens=POSITIVE,
        messages={"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
        system={"type": ["string", "array"], "items": OBJECT},
        stream=BOOLEAN,
        temperature={"type": "number", "minimum": 0, "maximum": 1},
        stop_sequences=STRINGS,
        tools={"type": "array", "items": OBJECT},
        tool_choice=OBJECT,
        metadata=OBJECT,
        thinking=OBJECT,
    ),
    "CountTokensRequest": _obj(
        ("model", "messages"),
        model=MODEL,
        messages={"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
        system={"type": ["string", "array"], "items": OBJECT},
        tools={"type": "array", "items": OBJECT},
    ),
    "GenerateContentRequest": _obj(
        ("contents",),
        contents={"type": "array", "minItems": 1, "items": _GEMINI_CONTENT},
        systemInstruction=_GEMINI_CONTENT,
        generationConfig=_obj(
            temperature=NUMBER,
            topP=NUMBER,
            maxOutputTokens=POSITIVE,
            stopSequences=STRINGS,
            candidateCount=POSITIVE,
        ),
        tools={"type": "array", "items": OBJECT},
        toolConfig=OBJECT,
    ),
}

# Every kind a price may name (USD per 1M tokens; ``request``: USD per request).
_PRICE_KINDS: JSON = {
    kind: DECIMAL
    for kind in (
        "input", "output", "cached", "cache_write", "cache_write_1h", "request",
        "audio_input", "audio_output", "image_input", "image_output",
    )
}  # fmt: skip
_UNIT_PER: JSON = {"type": "string", "enum": ["image", "minute", "characters", "search", "call"]}

_CHANNEL_FIELDS: JSON = {
    "type": STRING,
    "name": STRING,
    "key": STRING,
    "base_url": STRING,
    "models": NAMES,
    "groups": NAMES,
    "weight": INTEGER,
    "priority": INTEGER,
    "model_map": {"type": "object", "additionalProperties": STRING},
    "config": {"type": "object", "additionalProperties": STRING},
    "cost_ratio": DECIMAL,
    "keys": STRINGS,
    "key_selection": {"type": "string", "enum": ["random", "round-robin"]},
    "tags": NAMES,
    "rpm": INTEGER,
    "tpm": INTEGER,
    "max_concurrency": INTEGER,
    "auto_sync": {**INTEGER, "description": "seconds between model syncs; 0 off"},
    "balance_api": STRING,
    "balance_every": {**INTEGER, "description": "seconds between balance checks; 0 never"},
    "balance_alert_below": DECIMAL,
    "overrides": {
        "type": "object",
        "description": "set_headers {NAME: VALUE}, set_params {NAME: JSON}, drop_params [NAME]",
    },
}
_TOKEN_FIELDS: JSON = {"name": STRING, "quota": DECIMAL, "expires": REF, "models": NAMES}
_LIMITS: JSON = {"rpm": INTEGER, "tpm": INTEGER, "max_concurrency": INTEGER}
_USER_FIELDS: JSON = {"name": STRING, "role": STRING, "group": STRING}
_PLAN_FIELDS: JSON = {
    "budgets": NAMES,  # "20/month", "gpt-4o=5/5h"
    "models": NAMES,
    "rpm": INTEGER,
    "tpm": INTEGER,
    "group": STRING,
}

ADMIN_SCHEMAS: JSON = {
    "Empty": _obj(closed=True),
    "Amount": _obj(("amount",), True, amount=DECIMAL),
    "ChannelCreate": _obj(("type", "name"), True, **_CHANNEL_FIELDS),
    "ChannelUpdate": _obj(closed=True, **_CHANNEL_FIELDS),
    "ChannelDisable": _obj(closed=True, reason=STRING),
    "ChannelKeys": _obj(("keys",), True, keys=NAMES, weight=INTEGER),
    "ModelSync": _obj(closed=True, add_only=BOOLEAN, dry_run=BOOLEAN),
    "Capabilities": _obj(
        ("capabilities",),
        True,
        capabilities={
            "type": "object",
            "description": 'NAME or MODEL:NAME -> value, e.g. {"vision": false}',
        },
    ),
    "Probe": _obj(closed=True, model=STRING),
    "ChannelKeyChange": _obj(
        closed=True,
        status={"type": "string", "enum": ["enabled", "disabled"]},
        reason=STRING,
        weight=INTEGER,
    ),
    "TokenCreate": _obj(("name",), True, user=REF, ips=NAMES, **_TOKEN_FIELDS),
    "TokenUpdate": _obj(closed=True, ips=NAMES, **_TOKEN_FIELDS, **_LIMITS),
    "UserCreate": _obj(("name",), True, balance=DECIMAL, invite=STRING, **_USER_FIELDS),
    "UserUpdate": _obj(closed=True, **_USER_FIELDS, **_LIMITS),
    "GroupRatio": _obj(("ratio",), True, ratio=DECIMAL),
    "Price": _obj(closed=True, alias=STRING, **_PRICE_KINDS),
    "PriceTier": _obj(("above",), True, above=INTEGER, **_PRICE_KINDS),
    "PriceUnit": _obj(
        ("per", "usd"), True, per=_UNIT_PER, usd=DECIMAL, size=STRING, quality=STRING, tool=STRING
    ),
    "PriceCatalog": OBJECT,
    "RedemptionCreate": _obj(("quota",), True, quota=DECIMAL, count=INTEGER),
    "RedemptionUse": _obj(("code", "user"), True, code=STRING, user=REF),
    "Budget": _obj(("amount", "period"), True, amount=DECIMAL, period=STRING, model=STRING),
    "PlanCreate": _obj(("name",), True, name=STRING, **_PLAN_FIELDS),
    "PlanUpdate": _obj(closed=True, name=STRING, remove_budgets=NAMES, **_PLAN_FIELDS),
    "PlanChoice": _obj(("plan",), True, plan={"type": ["string", "integer", "null"]}),
    "AlertCreate": _obj(
        ("url", "events"),
        True,
        url=STRING,
        events=NAMES,
        format={"type": "string", "enum": ["json", "slack", "discord", "telegram"]},
        secret=STRING,
        thresholds={"type": ["string", "array"], "items": {"type": ["integer", "string"]}},
        chat_id=STRING,
    ),
}


def openapi_document() -> JSON:
    """The whole document; the schema tables inside are shared, so treat it as read-only."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "burncloud",
            "version": __version__,
            "description": "An OpenAI-compatible LLM gateway; errors are always "
            '{"error": {"message", "type", "code"}} (the front doors use their own shape).',
        },
        "paths": {**_relay_paths(), **_account_paths(), **_admin_paths()},
        "components": {
            "schemas": {**SCHEMAS, **MEDIA_SCHEMAS, **ADMIN_SCHEMAS},
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _operation(
    summary: str,
    security: Security,
    body: str | None = None,
    params: tuple[JSON, ...] = (),
    error: str = "Error",
    answer: str = "application/json",
) -> JSON:
    operation: JSON = {
        "summary": summary,
        "security": security,
        "responses": {
            "200": {"description": "OK", "content": {answer: {"schema": {}}}},
            "4XX": {"description": "refused", "content": {"application/json": _of(error)}},
            "5XX": {"description": "failed", "content": {"application/json": _of(error)}},
        },
    }
    if body is not None:
        content = {"application/json": _of(body)}
        operation["requestBody"] = {"required": body != "Empty", "content": content}
    if params:
        operation["parameters"] = list(params)
    return operation


def _of(schema: str) -> JSON:
    return {"schema": _ref(schema)}


def _param(name: str, where: str = "path", schema: JSON = TEXT) -> JSON:
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


def _relay_paths() -> JSON:
    return {
        "/v1/chat/completions": {
            "post": _operation("Chat completion", USER, "ChatCompletionRequest"),
        },
        "/v1/completions": {"post": _operation("Text completion", USER, "CompletionRequest")},
        "/v1/embeddings": {"post": _operation("Embeddings", USER, "EmbeddingRequest")},
        "/v1/responses": {
            "post": _operation(
                "Responses: untouched on channels serving the API, converted on the others",
                USER,
                "ResponseRequest",
            )
        },
        "/v1/responses/input_tokens": {
            "post": _operation("Count a Responses request's input tokens", USER, "ResponseRequest")
        },
        "/v1/responses/{response_id}": {
            "get": _operation("A stored response", USER, params=(_param("response_id"),)),
            "delete": _operation("Delete a stored response", USER, params=(_param("response_id"),)),
        },
        "/v1/responses/{response_id}/input_items": {
            "get": _operation(
                "A stored response's input items",
                USER,
                params=(
                    _param("response_id"),
                    _param("limit", "query", INTEGER),
                    _param("after", "query"),
                    _param("before", "query"),
                    _param("order", "query"),
                ),
            )
        },
        "/v1/moderations": {
            "post": _operation("Moderations (OpenAI channels)", USER, "ModerationRequest")
        },
        "/v1/rerank": {"post": _operation("Rerank, Cohere/Jina shape", USER, "RerankRequest")},
        **media_paths(USER),
        "/v1/messages": {
            "post": _operation(
                "Anthropic Messages", ANTHROPIC, "MessagesRequest", error="AnthropicError"
            ),
        },
        "/v1/messages/count_tokens": {
            "post": _operation(
                "Anthropic token count", ANTHROPIC, "CountTokensRequest", error="AnthropicError"
            ),
        },
        **_gemini_paths("/v1beta/models/"),
        **_gemini_paths("/v1/models/"),
    }


def _gemini_paths(prefix: str) -> JSON:
    model = _param("model", schema={"type": "string", "pattern": "^[^/:]+$"})
    alt = _param("alt", "query", {"enum": ["sse"]})
    return {
        f"{prefix}{{model}}:generateContent": {
            "post": _operation(
                "Gemini generateContent", GEMINI, "GenerateContentRequest", (model,), "GeminiError"
            )
        },
        f"{prefix}{{model}}:streamGenerateContent": {
            "post": _operation(
                "Gemini streamGenerateContent (SSE)",
                GEMINI,
                "GenerateContentRequest",
                (model, alt),
                "GeminiError",
                "text/event-stream",
            )
        },
    }


def _account_paths() -> JSON:
    return {
        "/v1/models": {"get": _operation("Models this key may use", USER)},
        "/v1/models/{model}": {
            "get": _operation("One model this key may use", USER, params=(_param("model"),))
        },
        "/v1/dashboard/billing/subscription": {"get": _operation("Spending limit", USER)},
        "/v1/dashboard/billing/usage": {"get": _operation("Spent so far", USER)},
        "/healthz": {"get": _operation("Liveness and config version", PUBLIC)},
        "/metrics": {"get": _operation("Prometheus metrics", METRICS, answer="text/plain")},
        "/openapi.json": {"get": _operation("This document", PUBLIC)},
    }


def _admin_paths() -> JSON:
    channel = _param("channel_id", schema={"type": "integer", "minimum": 0, "maximum": MAX_BIGINT})
    token = _param("token_id", schema={"type": "integer", "minimum": 0, "maximum": MAX_BIGINT})
    key = _param("key_id", schema={"type": "integer", "minimum": 0, "maximum": MAX_BIGINT})
    user, group, model = _param("user_ref"), _param("name"), _param("model")
    request_id = _param("request_id")
    plan, period = _param("plan_ref"), _param("period")
    budget_model = _param("model", "query", STRING)
    hook = _param("hook_id", schema={"type": "integer", "minimum": 0, "maximum": MAX_BIGINT})
    cost_of = _param("channel_id", "query", INTEGER)  # a channel's own cost price
    above = _param("above", "query", INTEGER)
    unit_keys = (
        _param("per", "query", _UNIT_PER),
        *(_param(name, "query", STRING) for name in ("size", "quality", "tool")),
    )
    flag = {"type": "string", "enum": ["true", "false", "1", "0"]}
    file_format = _param("format", "query", {"type": "string", "enum": ["json", "yaml", "litellm"]})
    replay = (
        file_format,
        _param("since", "query", INTEGER),
        _param("by", "query", {"type": "string", "enum": ["model", "user"]}),
    )
    catalog = (
        file_format,
        _param("dry_run", "query", flag),
        _param("prune", "query", flag),
        _param("only", "query", STRING),
    )
    numbers = ("since", "until", "token_id", "user_id", "channel_id", "status", "limit", "offset")
    texts = ("model", "request_id", "cursor", "sort", "order")
    log_filters = (
        *(_param(name, "query", INTEGER) for name in numbers),
        *(_param(name, "query", STRING) for name in texts),
    )
    paths: dict[str, dict[str, tuple[str, str | None, tuple[JSON, ...]]]] = {
        "/api/channels": {
            "get": (
                "List channels (tag: only those tagged so)",
                None,
                (_param("tag", "query", STRING),),
            ),
            "post": ("Add", "ChannelCreate", ()),
        },
        "/api/channels/tagged/{tag}/enable": {
            "post": ("Enable every channel tagged so", "Empty", (_param("tag"),))
        },
        "/api/channels/tagged/{tag}/disable": {
            "post": ("Disable every channel tagged so", "ChannelDisable", (_param("tag"),))
        },
        "/api/channels/{channel_id}": {
            "get": ("Show a channel", None, (channel,)),
            "patch": ("Update a channel", "ChannelUpdate", (channel,)),
            "delete": ("Delete a channel", None, (channel,)),
        },
        "/api/channels/{channel_id}/enable": {"post": ("Enable", "Empty", (channel,))},
        "/api/channels/{channel_id}/disable": {"post": ("Disable", "ChannelDisable", (channel,))},
        "/api/channels/{channel_id}/keys": {
            "get": ("A channel's keys (masked)", None, (channel,)),
            "post": ("Add keys to a channel", "ChannelKeys", (channel,)),
        },
        "/api/channels/{channel_id}/models": {
            "get": (
                "The channel's models and prices (fetch=1: what the upstream offers)",
                None,
                (channel, _param("fetch", "query", flag)),
            )
        },
        "/api/channels/{channel_id}/models/sync": {
            "post": ("Sync the channel's models with the upstream's", "ModelSync", (channel,))
        },
        "/api/channels/balances": {"get": ("Every channel's upstream balance", None, ())},
        "/api/channels/{channel_id}/balance": {
            "get": ("The upstream balance as last checked", None, (channel,)),
            "post": ("Check the upstream balance now", "Empty", (channel,)),
        },
        "/api/channels/{channel_id}/capabilities": {
            "get": ("What the channel supports, per model", None, (channel,)),
            "put": ("Set the operator's capabilities", "Capabilities", (channel,)),
        },
        "/api/channels/{channel_id}/probe": {
            "post": ("Measure the channel's capabilities", "Probe", (channel,))
        },
        "/api/channels/{channel_id}/keys/{key_id}": {
            "patch": ("Enable, disable or weigh a key", "ChannelKeyChange", (channel, key)),
            "delete": ("Remove a key", None, (channel, key)),
        },
        "/api/tokens": {
            "get": ("List tokens", None, (_param("user", "query", STRING),)),
            "post": ("Create a token (the key is shown once)", "TokenCreate", ()),
        },
        "/api/tokens/{token_id}": {
            "get": ("Show a token", None, (token,)),
            "patch": ("Update a token", "TokenUpdate", (token,)),
            "delete": ("Delete a token", None, (token,)),
        },
        "/api/tokens/{token_id}/revoke": {"post": ("Revoke a token", "Empty", (token,))},
        "/api/tokens/{token_id}/quota": {
            "get": ("A token's quota", None, (token,)),
            "put": ("Set a token's quota (USD, -1 unlimited)", "Amount", (token,)),
        },
        "/api/tokens/{token_id}/quota/add": {"post": ("Add to a quota", "Amount", (token,))},
        "/api/users": {"get": ("List users", None, ()), "post": ("Add a user", "UserCreate", ())},
        "/api/users/{user_ref}": {
            "get": ("Show a user", None, (user,)),
            "patch": ("Update a user", "UserUpdate", (user,)),
        },
        "/api/users/{user_ref}/enable": {"post": ("Enable a user", "Empty", (user,))},
        "/api/users/{user_ref}/disable": {"post": ("Disable a user", "Empty", (user,))},
        "/api/users/{user_ref}/balance": {
            "get": ("A user's balance", None, (user,)),
            "put": ("Set a balance (USD, -1 unlimited)", "Amount", (user,)),
        },
        "/api/users/{user_ref}/balance/add": {"post": ("Add to a balance", "Amount", (user,))},
        "/api/prices": {"get": ("List prices", None, (cost_of,))},
        "/api/prices/{model}": {
            "get": ("Show a price", None, (model, cost_of)),
            "put": ("Set a price (USD per 1M tokens) or an alias", "Price", (model, cost_of)),
            "delete": ("Delete a price", None, (model, cost_of)),
        },
        "/api/price-tiers/{model}": {
            "put": ("Set a context tier", "PriceTier", (model, cost_of)),
            "delete": ("Delete a context tier", None, (model, cost_of, above)),
        },
        "/api/price-units/{model}": {
            "put": ("Set a per-unit price", "PriceUnit", (model, cost_of)),
            "delete": ("Delete a per-unit price", None, (model, cost_of, *unit_keys)),
        },
        "/api/bill-replay": {
            "post": ("Replay logged requests at a price file's prices", "PriceCatalog", replay)
        },
        "/api/price-catalog": {
            "get": ("Every price as a catalog", None, ()),
            "post": ("Import a catalog or LiteLLM's file; the diff", "PriceCatalog", catalog),
        },
        "/api/groups": {"get": ("List groups", None, ())},
        "/api/groups/{name}": {
            "get": ("Show a group", None, (group,)),
            "put": ("Set a group's ratio", "GroupRatio", (group,)),
            "delete": ("Delete a group", None, (group,)),
        },
        "/api/redemptions": {
            "get": ("List codes", None, (_param("status", "query", STRING),)),
            "post": ("Create codes (shown once)", "RedemptionCreate", ()),
        },
        "/api/redemptions/use": {"post": ("Redeem a code", "RedemptionUse", ())},
        "/api/tokens/{token_id}/budgets": {
            "get": ("Every budget a token's requests count against, now", None, (token,)),
            "put": ("Set a token's budget for a period (and model)", "Budget", (token,)),
        },
        "/api/tokens/{token_id}/budgets/{period}": {
            "delete": ("Remove a token's budget", None, (token, period, budget_model)),
        },
        "/api/users/{user_ref}/budgets": {
            "get": ("A user's budgets (its own and its plan's), now", None, (user,)),
            "put": ("Set a user's budget for a period (and model)", "Budget", (user,)),
        },
        "/api/users/{user_ref}/budgets/{period}": {
            "delete": ("Remove a user's budget", None, (user, period, budget_model)),
        },
        "/api/users/{user_ref}/plan": {
            "put": ("Put a user on a plan (null: none)", "PlanChoice", (user,)),
        },
        "/api/plans": {
            "get": ("List plans", None, ()),
            "post": ("Create a plan", "PlanCreate", ()),
        },
        "/api/plans/{plan_ref}": {
            "get": ("Show a plan", None, (plan,)),
            "patch": ("Update a plan", "PlanUpdate", (plan,)),
            "delete": ("Delete a plan (its users go to no plan)", None, (plan,)),
        },
        "/api/default-plan": {
            "get": ("The plan new users get", None, ()),
            "put": ("Set the plan new users get (null: none)", "PlanChoice", ()),
        },
        "/api/alerts": {
            "get": ("List alerts", None, ()),
            "post": ("Add an alert (a webhook)", "AlertCreate", ()),
        },
        "/api/alerts/{hook_id}": {
            "get": ("Show an alert", None, (hook,)),
            "delete": ("Delete an alert", None, (hook,)),
        },
        "/api/alerts/{hook_id}/test": {"post": ("Send a test event now", "Empty", (hook,))},
        "/api/alerts/log": {
            "get": (
                "Alert deliveries, newest first",
                None,
                (
                    _param("status", "query", STRING),
                    _param("alert", "query", INTEGER),
                    _param("limit", "query", INTEGER),
                ),
            )
        },
        "/api/audit": {
            "get": (
                "Configuration changes, newest first",
                None,
                (
                    _param("since", "query", STRING),
                    _param("object", "query", STRING),
                    _param("limit", "query", INTEGER),
                ),
            )
        },
        "/api/logs": {"get": ("Request logs", None, log_filters)},
        "/api/logs/{request_id}": {"get": ("A request's bill, explained", None, (request_id,))},
    }
    return {
        path: {
            method: _operation(summary, ADMIN, body, params)
            for method, (summary, body, params) in methods.items()
        }
        for path, methods in paths.items()
    }
