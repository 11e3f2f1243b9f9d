"""One tool-using turn of the OpenAI Agents SDK (``openai-agents``) against a base URL.

The agent has one ``@function_tool``, ``get_capital``; ``Runner.run`` uses the SDK's default
model provider (``OpenAIProvider``, Responses API over HTTP) and default model, given an
``AsyncOpenAI`` for the base URL and key. A turn is two requests: the model calls the tool,
the SDK runs it and sends its output back, the model answers. Tracing is off: the SDK would
otherwise export spans to api.openai.com with any key it finds.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from agents import Agent, RunConfig, Runner, function_tool, set_tracing_disabled
from agents.models.default_models import get_default_model
from agents.models.openai_provider import OpenAIProvider
from openai import AsyncOpenAI

DISTRIBUTION = "openai-agents"
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
PROMPT = "What is the capital of France?"
INSTRUCTIONS = "Answer in one sentence. Look capitals up with get_capital."
CAPITALS = {"France": "Paris"}


@dataclass(frozen=True, slots=True)
class AgentTurn:
    """What the run answered, and the countries its tool was called with."""

    final_output: str
    tool_calls: tuple[str, ...]


def pinned_version() -> str:
    """The ``openai-agents`` version pyproject.toml's ``dev`` extra pins with ``==``."""
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    for requirement in extras["dev"]:
        name, _, pinned = str(requirement).partition("==")
        if name.strip() == DISTRIBUTION:
            return pinned.strip()
    raise LookupError(f"pyproject.toml's dev extra does not pin {DISTRIBUTION}")


def installed_version() -> str:
    """The ``openai-agents`` version installed in this environment."""
    return version(DISTRIBUTION)


def default_model() -> str:
    """The model an agent without one asks for (``OPENAI_DEFAULT_MODEL``, else the SDK's)."""
    return get_default_model()


async def run_turn(base_url: str, api_key: str) -> AgentTurn:
    """Run the geography agent on PROMPT through ``base_url``, without retries or tracing."""
    set_tracing_disabled(True)
    calls: list[str] = []

    @function_tool
    def get_capital(country: str) -> str:
        """The capital city of a country."""
        calls.append(country)
        return CAPITALS[country]

    agent = Agent(name="Geographer", instructions=INSTRUCTIONS, tools=[get_capital])
    async with AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=0) as client:
        config = RunConfig(
            model_provider=OpenAIProvider(openai_client=client), tracing_disabled=True
        )
        result = await Runner.run(agent, PROMPT, run_config=config)
    return AgentTurn(str(result.final_output), tuple(calls))
