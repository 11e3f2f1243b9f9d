"""End to end: /v1/audio/speech, /transcriptions and /translations through the router, driven
by the official openai SDK (async and sync) against the strict fake OpenAI and fake Azure,
with real WAV files made by ``wave``. Speech reaches the client as the upstream sends it;
every response_format of a transcription is relayed as it came and billed by what it
reports (tokens, seconds) or else by the file's own duration; uploads obey the body limit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import httpx
import httpx2  # the openai SDK's HTTP client
import openai
import orjson
import pytest
from openai.types import AudioResponseFormat
from openai.types.audio import Transcription, TranscriptionVerbose

from burncloud.crypto import SecretBox
from burncloud.db.base import Database
from burncloud.services.pricing import UnitUse
from tests.fakes import FakeOpenAI, running_fake_openai
from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.media_files import tone_wav
from tests.fakes.openai_media import speech_audio
from tests.gateway.media_harness import (
    async_client,
    edit,
    images,
    media_router,
    media_router_thread,
    minutes_cost,
    only_row,
    per_million,
    second_channel,
    serve,
    sync_client,
    units,
)
from tests.gateway.router_harness import logged_rows
from tests.gateway.test_images import spent
from tests.security.raw_http import BodyCounter, exchange, port_of

TEXT = "The quick brown fox jumps over the lazy dog."
NANO_PER_CHARACTER = 15_000  # tts-1: 15 USD per 1M characters
RECORDING = tone_wav(2.5)  # 2.5 s: the fake's usage rounds it up to 3


@pytest.fixture
async def upstream() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("sk-canary-audio-upstream") as fake:
        yield fake


def wav_file(data: bytes = RECORDING) -> tuple[str, bytes, str]:
    return ("hello.wav", data, "audio/wav")


def minutes(seconds: str) -> tuple[UnitUse, ...]:
    return (UnitUse("minute", Decimal(seconds)),)


# Speech


async def test_speech_streams_to_a_file_and_bills_its_characters(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    target = tmp_path / "speech.wav"
    async with media_router(tmp_path, upstream, quota="1") as router:
        client = async_client(router)
        async with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="alloy", input=TEXT, response_format="wav"
        ) as response:
            assert response.headers["content-type"] == "audio/wav"
            await response.stream_to_file(target)
        await client.close()
        assert upstream.last_request.json == {
            "model": "tts-1",
            "voice": "alloy",
            "input": TEXT,
            "response_format": "wav",
        }
    assert target.read_bytes() == speech_audio(TEXT)
    row = only_row(await logged_rows(router.db_url))
    assert (row["endpoint"], row["stream"], row["status"]) == ("audio.speech", 1, 200)
    assert units(row) == (UnitUse("characters", Decimal(len(TEXT))),)
    assert row["cost"] == len(TEXT) * NANO_PER_CHARACTER == await spent(router)


async def test_speech_audio_reaches_the_client_before_the_upstream_has_sent_it_all(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    """The fake holds its last write until the client has the first bytes: a relay that
    waited for the whole answer would never deliver them."""
    gate = upstream.media.speech_gate = threading.Event()
    upstream.media.speech_chunks = 4
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        async with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="nova", input=TEXT
        ) as response:
            chunks = response.iter_bytes()
            first = await asyncio.wait_for(anext(chunks), 5)
            writes_before = upstream.media.speech_writes
            gate.set()
            rest = b"".join([chunk async for chunk in chunks])
        await client.close()
    assert first and writes_before < 4
    assert first + rest == speech_audio(TEXT)


async def test_speech_cut_off_by_the_upstream_is_never_taken_for_a_whole_file(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.media.speech_cut_after = 2
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        with pytest.raises(httpx2.RemoteProtocolError, match="incomplete chunked read"):
            async with client.audio.speech.with_streaming_response.create(
                model="tts-1", voice="nova", input=TEXT
            ) as response:
                await response.read()
        await client.close()
    row = only_row(await logged_rows(router.db_url))
    assert (row["status"], row["error"]) == (502, "the upstream stream broke off")
    assert row["cost"] == len(TEXT) * NANO_PER_CHARACTER  # the upstream had the text


async def test_speech_as_sse_is_billed_by_the_tokens_it_reports(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        answer = await client.audio.speech.create(
            model="gpt-4o-mini-tts", voice="coral", input=TEXT, stream_format="sse"
        )
        await client.close()
    events = [
        orjson.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: ")
    ]
    assert [e["type"] for e in events][-1] == "speech.audio.done"
    usage = events[-1]["usage"]
    row = only_row(await logged_rows(router.db_url))
    assert (row["prompt_tokens"], row["completion_tokens"]) == (
        usage["input_tokens"],
        usage["output_tokens"],
    )
    assert row["audio_output_tokens"] == usage["output_tokens"] > 0
    cost = per_million(usage["input_tokens"], "0.6") + per_million(usage["output_tokens"], "12")
    assert row["cost"] == cost and units(row) == ()


def test_the_sync_client_streams_speech_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "speech.mp3"
    with (
        running_fake_openai("sk-canary-sync-audio") as fake,
        media_router_thread(tmp_path, fake) as router,
    ):
        client = sync_client(router)
        with client.audio.speech.with_streaming_response.create(
            model="tts-1", voice="echo", input=TEXT
        ) as response:
            response.stream_to_file(target)
        transcript = client.audio.transcriptions.create(model="whisper-1", file=wav_file())
        client.close()
    assert target.read_bytes() == speech_audio(TEXT)
    assert transcript.text == "Hello from a 2.5 second recording."
    rows = asyncio.run(logged_rows(router.db_url))
    assert [(r["endpoint"], r["cost"]) for r in rows] == [
        ("audio.speech", len(TEXT) * NANO_PER_CHARACTER),
        ("audio.transcriptions", minutes_cost(Decimal(3))),
    ]


# Transcriptions and translations


@pytest.mark.parametrize(
    ("response_format", "reported", "seconds"),
    [
        ("json", True, "3"),  # usage {"type": "duration", "seconds": 3}
        ("verbose_json", True, "3"),
        ("json", False, "2.5"),  # no usage: the WAV's own duration
        ("verbose_json", False, "2.5"),  # no usage: its "duration"
        ("text", True, "2.5"),  # text, srt, vtt never carry usage
        ("srt", True, "2.5"),
        ("vtt", True, "2.5"),
    ],
)
async def test_each_transcription_format_is_relayed_and_billed_by_the_minute(
    tmp_path: Path,
    upstream: FakeOpenAI,
    response_format: AudioResponseFormat,
    reported: bool,
    seconds: str,
) -> None:
    upstream.media.transcription_usage = reported
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        answer = await client.audio.transcriptions.create(
            model="whisper-1",
            file=wav_file(),
            response_format=response_format,
        )
        await client.close()
    spoken = "Hello from a 2.5 second recording."
    shown: object = answer  # text, srt, vtt: the SDK hands the text over
    if isinstance(answer, TranscriptionVerbose):
        shown = (answer.text, answer.duration)
    elif isinstance(answer, Transcription):
        shown = answer.text
    expected = {
        "json": spoken,
        "verbose_json": (spoken, 2.5),
        "text": spoken + "\n",
        "srt": f"1\n00:00:00,000 --> 00:00:02,500\n{spoken}\n\n",
        "vtt": f"WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n{spoken}\n\n",
    }[response_format]
    assert shown == expected
    row = only_row(await logged_rows(router.db_url))
    assert (row["endpoint"], row["model"], row["estimated"]) == (
        "audio.transcriptions",
        "whisper-1",
        0,
    )
    assert units(row) == minutes(seconds)
    assert row["cost"] == minutes_cost(Decimal(seconds))


async def test_gpt_4o_transcription_bills_its_audio_and_text_tokens(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        answer = await client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=wav_file(), prompt="a short greeting"
        )
        await client.close()
    assert answer.text.startswith("Hello")
    row = only_row(await logged_rows(router.db_url))
    audio, text_in, text_out = 25, 3, 6  # 2.5 s at the fake's 10 a second; words
    assert (row["prompt_tokens"], row["audio_input_tokens"]) == (audio + text_in, audio)
    assert row["completion_tokens"] == text_out
    cost = per_million(text_in, "2.5") + per_million(audio, "6") + per_million(text_out, "10")
    assert row["cost"] == cost  # the minutes logged too bill nothing: no price per minute
    assert units(row) in ((), minutes("2.5"))


async def test_a_streamed_transcription_relays_its_events_and_bills_the_done_usage(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        stream = await client.audio.transcriptions.create(
            model="gpt-4o-transcribe", file=wav_file(), stream=True
        )
        events = [event async for event in stream]
        await client.close()
    deltas = "".join(e.delta for e in events if e.type == "transcript.text.delta")
    assert events[-1].type == "transcript.text.done"
    assert deltas.strip() == events[-1].text == "Hello from a 2.5 second recording."
    row = only_row(await logged_rows(router.db_url))
    assert (row["stream"], row["prompt_tokens"], row["completion_tokens"]) == (1, 25, 6)
    assert row["cost"] == per_million(25, "6") + per_million(6, "10")


async def test_a_translation_is_billed_by_the_minute(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        with pytest.warns(DeprecationWarning):  # the SDK marks translations deprecated
            answer = await client.audio.translations.create(
                model="whisper-1", file=wav_file(tone_wav(61)), response_format="text"
            )
        await client.close()
    assert isinstance(answer, str) and answer.startswith("Translated: Hello from a 61.0 second")
    assert tone_wav(61) in upstream.last_request.body  # 1.9 MB, sent in slices, unchanged
    row = only_row(await logged_rows(router.db_url))
    assert (row["endpoint"], units(row)) == ("audio.translations", minutes("61"))
    assert row["cost"] == minutes_cost(Decimal(61))


async def test_a_client_that_leaves_before_the_answer_pays_for_the_audio_it_sent(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.stall_before_headers = 5.0  # a transcription that takes long
    async with media_router(tmp_path, upstream) as router:
        client = openai.AsyncOpenAI(
            api_key=router.key, base_url=router.base_url, max_retries=0, timeout=0.5
        )
        with pytest.raises(openai.APITimeoutError):
            await client.audio.transcriptions.create(model="whisper-1", file=wav_file())
        await client.close()
        await upstream.wait_until(lambda: upstream.cancelled == 1)  # the upstream call ended
    row = only_row(await logged_rows(router.db_url))
    assert (row["status"], row["estimated"], units(row)) == (499, 1, minutes("2.5"))
    assert row["cost"] == minutes_cost(Decimal("2.5"))


async def test_fields_no_client_may_set_never_reach_the_upstream(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with media_router(tmp_path, upstream) as router:
        client = async_client(router)
        await client.audio.transcriptions.create(
            model="whisper-1",
            file=wav_file(),
            extra_body={"api_base": "http://attacker.example", "language": "en"},
        )
        await client.close()
    sent = upstream.last_request.body
    assert b'name="language"' in sent and b"api_base" not in sent and RECORDING in sent


@pytest.mark.parametrize(
    ("fields", "files", "says"),
    [
        ({"model": "whisper-1"}, {}, "'file'"),
        ({}, {"file": wav_file()}, "model"),
    ],
)
async def test_a_transcription_without_its_file_or_model_is_a_400(
    tmp_path: Path,
    upstream: FakeOpenAI,
    fields: dict[str, str],
    files: dict[str, tuple[str, bytes, str]],
    says: str,
) -> None:
    async with media_router(tmp_path, upstream) as router, httpx.AsyncClient() as http:
        files = files or {"other": ("x.txt", b"x", "text/plain")}
        answer = await http.post(
            f"{router.base_url}/audio/transcriptions",
            data=fields,
            files=files,
            headers={"Authorization": f"Bearer {router.key}"},
        )
    assert answer.status_code == 400 and says in answer.json()["error"]["message"]
    assert upstream.request_count == 0


# Routing and limits


async def test_a_failing_channel_hands_speech_and_uploads_to_the_next(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    upstream.fail_with(503)
    async with FakeOpenAI("sk-canary-audio-second") as second:
        async with media_router(tmp_path, upstream) as router:
            await edit(router, second_channel(second))
            client = async_client(router)
            speech = await client.audio.speech.create(model="tts-1", voice="onyx", input=TEXT)
            text = await client.audio.transcriptions.create(model="whisper-1", file=wav_file())
            await client.close()
        assert [r.path for r in second.requests] == ["/v1/audio/speech", "/v1/audio/transcriptions"]
        assert upstream.requests[1].body == second.requests[1].body
    assert speech.content == speech_audio(TEXT) and text.text.startswith("Hello")
    rows = await logged_rows(router.db_url)
    assert [(r["status"], r["channel_id"]) for r in rows] == [(200, 2), (200, 2)]


async def test_azure_deployments_serve_audio_on_both_url_schemes(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async with FakeAzure() as azure, media_router(tmp_path, upstream) as router:
        deployments = {"deployments": "tts-1=tts,whisper-1=whisper"}
        classic = {**deployments, "api_version": "2025-03-01-preview"}
        await edit(
            router,
            serve(
                "tts-1",
                "whisper-1",
                type="azure",
                base_url=azure.base_url,
                key=azure.key,
                config=classic,
            ),
        )
        client = async_client(router)
        await client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT)
        await edit(
            router,
            serve(
                "tts-1",
                "whisper-1",
                type="azure",
                base_url=azure.base_url,
                key=azure.key,
                config=deployments,
            ),
        )
        await client.audio.transcriptions.create(model="whisper-1", file=wav_file())
        await client.close()
    speech, transcription = azure.requests
    assert (speech.path, speech.query) == (
        "/openai/deployments/tts/audio/speech",
        "api-version=2025-03-01-preview",
    )
    assert speech.json["model"] == "tts-1"  # classic: the deployment is in the path
    assert transcription.path == "/openai/v1/audio/transcriptions"
    assert b'name="model"\r\n\r\nwhisper\r\n' in transcription.body  # v1: it is the model
    assert azure.media.served == [("audio/speech", "tts-1"), ("audio/transcriptions", "whisper-1")]
    rows = await logged_rows(router.db_url)
    assert [r["cost"] for r in rows] == [len(TEXT) * NANO_PER_CHARACTER, minutes_cost(Decimal(3))]
    assert upstream.request_count == 0


async def test_azure_draws_images_on_its_deployment(tmp_path: Path, upstream: FakeOpenAI) -> None:
    async with FakeAzure() as azure, media_router(tmp_path, upstream) as router:
        await edit(
            router,
            serve(
                "dall-e-3",
                type="azure",
                base_url=azure.base_url,
                key=azure.key,
                config={"api_version": "2024-10-21"},
            ),
        )
        client = async_client(router)
        answer = await client.images.generate(model="dall-e-3", prompt="a fox", size="1792x1024")
        await client.close()
    assert images(answer)[0].url
    assert azure.requests[0].path == "/openai/deployments/dall-e-3/images/generations"
    row = only_row(await logged_rows(router.db_url))
    assert row["cost"] == 80_000_000  # 0.08 USD at 1792x1024/standard


@pytest.mark.parametrize("path", ["/audio/transcriptions", "/images/edits"])
async def test_an_upload_over_the_body_limit_is_413_without_reading_it(
    tmp_path: Path, upstream: FakeOpenAI, path: str
) -> None:
    limit = 64 * 1024
    counter = BodyCounter()
    async with media_router(tmp_path, upstream, max_body_bytes=limit, wrap=counter.wrap) as router:
        head = "\r\n".join(
            [
                f"POST /v1{path} HTTP/1.1",
                "Host: 127.0.0.1",
                f"Authorization: Bearer {router.key}",
                "Content-Type: multipart/form-data; boundary=b0undary",
                f"Content-Length: {50 * limit}",
            ]
        )
        answer = await exchange(port_of(router.base_url), (head + "\r\n\r\n").encode())
        assert counter.received == 0  # refused on its declared length, before any byte
        client = async_client(router)
        with pytest.raises(openai.APIStatusError) as refused:
            await client.audio.transcriptions.create(
                model="whisper-1",
                file=wav_file(tone_wav(10)),  # 320 KB
            )
        await client.close()
    assert answer.status == 413 and answer.json()["error"]["code"] == "request_too_large"
    assert counter.received <= limit + 1024 * 1024  # the SDK's upload: drained, then cut
    assert refused.value.status_code == 413
    assert upstream.request_count == 0
    rows = await logged_rows(router.db_url)
    assert [(r["status"], r["cost"]) for r in rows] == [(413, 0), (413, 0)]


async def test_a_channel_kind_without_audio_is_never_picked(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    async def qwen(db: Database, box: SecretBox) -> None:
        await serve("whisper-1", type="qwen")(db, box)

    async with media_router(tmp_path, upstream) as router:
        await edit(router, qwen)
        client = async_client(router)
        with pytest.raises(openai.NotFoundError) as refused:
            await client.audio.transcriptions.create(model="whisper-1", file=wav_file())
        await client.close()
    assert refused.value.code == "endpoint_not_served"
    assert (
        "transcriptions endpoint" in refused.value.message and "whisper-1" in refused.value.message
    )
    assert upstream.request_count == 0
