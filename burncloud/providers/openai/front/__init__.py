"""The Responses API on channels that speak only chat: pure conversions, no sending.

A Responses request becomes an OpenAI chat request (``request.convert_request``), and the
chat answer becomes a Response, whole (``answer.chat_to_response``) or as ``response.*``
events (``stream.ResponsesFromChat``). ``ResponsesContext`` carries from one to the other
what the answer echoes and how the client named its tools. The package imports nothing of
the gateway, which calls it.
"""

from burncloud.providers.openai.front.answer import chat_to_response
from burncloud.providers.openai.front.context import ResponsesContext
from burncloud.providers.openai.front.errors import error_event, response_error
from burncloud.providers.openai.front.request import (
    Conversion,
    convert_request,
    responses_to_chat,
)
from burncloud.providers.openai.front.stream import ResponsesFromChat

__all__ = [
    "Conversion",
    "ResponsesContext",
    "ResponsesFromChat",
    "chat_to_response",
    "convert_request",
    "error_event",
    "response_error",
    "responses_to_chat",
]
