"""crypto.mask_in and public_error_text: a channel key is masked whole and in part, first."""

from __future__ import annotations

import base64
import random
from urllib.parse import quote

import pytest

from burncloud.crypto import FRAGMENT_CHARS, MASK, SecretBox, mask_in, public_error_text
from tests.key_fragments import fragments_in

KEY = "sk-canary-unit-4f3c9a1be27d8c6f05a4b3e2d1c0f9a8"
SLASHY = "AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+x"  # Bedrock-style, '/' and '+'


def test_the_whole_key_is_masked_in_every_known_form() -> None:
    raw = KEY.encode()
    for form in (
        KEY,
        quote(SLASHY, safe=""),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ):
        key = SLASHY if "%" in form else KEY
        masked = mask_in(f"error: {form} (sent)", key)
        assert masked.startswith("error: ***") and masked.endswith(" (sent)"), masked
        assert fragments_in(masked, key) == []


def test_the_key_inside_a_longer_base64_value_is_masked() -> None:
    for user in ("", "u", "us", "user:"):  # every byte alignment
        basic = base64.b64encode(f"{user}{KEY}".encode()).decode()
        masked = mask_in(f"Authorization: Basic {basic}", KEY)
        assert fragments_in(masked, KEY) == [], (user, masked)


def test_a_json_escaped_key_is_masked() -> None:
    escaped = SLASHY.replace("/", "\\/")
    assert fragments_in(mask_in(f'{{"message": "{escaped}"}}', SLASHY), SLASHY) == []


@pytest.mark.parametrize("length", range(FRAGMENT_CHARS, len(KEY) + 1, 5))
def test_every_run_of_twelve_or_more_characters_is_masked_wherever_it_starts(length) -> None:
    for start in range(len(KEY) - length + 1):
        text = f"bad key {KEY[start : start + length]} given"
        masked = mask_in(text, KEY)
        assert masked == f"bad key {MASK} given", (start, length, masked)


def test_a_run_of_eleven_characters_is_left_alone() -> None:
    for start in range(len(KEY) - FRAGMENT_CHARS + 2):
        text = f"bad key {KEY[start : start + FRAGMENT_CHARS - 1]} given"
        assert mask_in(text, KEY) == text


def test_partial_runs_of_the_encoded_forms_are_masked() -> None:
    for form in (base64.b64encode(KEY.encode()).decode(), quote(SLASHY, safe="")):
        key = SLASHY if "%" in form else KEY
        for start in (0, 7, len(form) - 20):
            masked = mask_in(f"[{form[start : start + 20]}]", key)
            assert masked.startswith(f"[{MASK}") and len(masked) <= 7, (form, start, masked)
            assert fragments_in(masked, key) == []


def test_overlapping_and_touching_runs_become_one_mask() -> None:
    text = KEY[:30] + KEY[10:40] + " and " + KEY[5:25] + KEY[5:25]
    assert mask_in(text, KEY) == f"{MASK} and {MASK}"


def test_a_key_with_repeats_is_masked_at_every_alignment() -> None:
    key = "sk-canary-" + "abcd" * 10
    text = "x" + "abcd" * 7 + "ab" + " sk-canary-abcdabc"
    masked = mask_in(text, key)
    assert fragments_in(masked, key) == [] and masked.startswith("x***"), masked


def test_a_key_shorter_than_twelve_is_masked_whole_only() -> None:
    key = "sk-short9"
    assert mask_in(f"key {key} and {key[:7]}", key) == f"key {MASK} and {key[:7]}"
    assert mask_in("a 7-char key never masks words", "abcdefg") == "a 7-char key never masks words"
    assert mask_in("anything", "") == "anything"


def test_random_texts_keep_no_fragment() -> None:
    rng = random.Random(1)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_ "
    for _ in range(300):
        pieces = []
        for _ in range(rng.randint(1, 6)):
            pieces.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
            start = rng.randrange(len(KEY))
            pieces.append(KEY[start : start + rng.randint(1, len(KEY))])
        text = "".join(pieces)
        assert fragments_in(mask_in(text, KEY), KEY) == [], text


@pytest.mark.parametrize("start", range(480, 506))
def test_public_error_text_masks_before_it_cuts(start: int) -> None:
    message = ("x" * start + KEY + "y" * 600)[:600]
    public = public_error_text(message, KEY, 500)
    assert len(public) <= 500 and fragments_in(public, KEY) == []
    assert KEY[:4] not in public  # masked whole first: not even a short head survives the cut


def test_public_error_text_leaves_short_text_whole() -> None:
    assert public_error_text("upstream overloaded", KEY, 500) == "upstream overloaded"
    assert public_error_text("z" * 20, "", 10) == "z" * 7 + "..."


def test_a_sealed_token_opens_only_for_its_purpose_and_its_secret() -> None:
    box = SecretBox.from_passphrase("one")
    token = box.seal(b'{"thinking": "x"}', b"reasoning")
    assert box.unseal(token, b"reasoning") == b'{"thinking": "x"}'
    assert box.unseal(token, b"other") is None
    assert SecretBox.from_passphrase("two").unseal(token, b"reasoning") is None
    assert box.unseal(token[:-4] + "AAAA", b"reasoning") is None
    assert box.unseal("not a token", b"reasoning") is None
    assert box.unseal("é", b"reasoning") is None
    assert box.unseal(box.encrypt("reasoning"), b"reasoning") is None  # a channel key's form
