"""gateway.stream_mask: a key in a stream's error is masked however the chunks split it."""

from __future__ import annotations

from burncloud.gateway.relay.stream_mask import StreamKeyMask
from tests.key_fragments import fragments_in

KEY = "sk-canary-stream-0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CONTENT = b'data: {"choices":[{"index":0,"delta":{"content":"hello"}}]}\n\n'
ERROR = b'data: {"error":{"message":"Incorrect API key: ' + KEY.encode() + b'","type":"x"}}\n\n'


def _through(mask: StreamKeyMask, chunks: list[bytes]) -> bytes:
    return b"".join(mask(chunk) for chunk in chunks) + mask.flush()


def test_chunks_without_an_error_pass_untouched() -> None:
    mask = StreamKeyMask(KEY)
    assert mask(CONTENT) is CONTENT and not mask.armed
    assert mask.flush() == b""


def test_an_error_split_anywhere_reaches_the_client_masked() -> None:
    stream = CONTENT + ERROR
    for first in range(len(CONTENT) - 3, len(stream)):
        for second in range(first + 1, len(stream), 7):
            chunks = [stream[:first], stream[first:second], stream[second:]]
            out = _through(StreamKeyMask(KEY), chunks).decode()
            assert fragments_in(out, KEY) == [], (first, second, out)
            assert out.startswith(CONTENT.decode()) and out.endswith('","type":"x"}}\n\n')


def test_a_short_key_split_in_two_short_halves_is_still_masked() -> None:
    key = "sk-canary-0123456789"  # 20 characters: two halves of 10 each slip under 12
    stream = b'data: {"error":{"message":"' + key.encode() + b'"}}\n\n'
    cut = stream.index(key.encode()) + 10
    out = _through(StreamKeyMask(key), [stream[:cut], stream[cut:]]).decode()
    assert key[:10] + key[10:] not in out and fragments_in(out, key) == []


def test_without_a_key_nothing_is_held_back() -> None:
    mask = StreamKeyMask("")
    assert mask(ERROR) is ERROR and mask.flush() == b""


def test_log_text_is_masked_then_cut() -> None:
    text = StreamKeyMask(KEY).text("x" * 490 + KEY, 500)
    assert len(text) <= 500 and KEY[:4] not in text
