"""multipart/form-data read in place: what real clients send parses, file parts are views of
the body (no copy), one text field is spliced without re-encoding, and any body two parsers
could read differently is refused with a 400."""

from __future__ import annotations

import io

import httpx
import pytest
from werkzeug.formparser import parse_form_data

from burncloud.errors import InvalidRequest
from burncloud.protocols.multipart import MAX_PARTS, form_boundary, parse_form

AUDIO = b"RIFF\r\n--not-a-boundary\r\n\x00\xff binary"  # CRLFs and dashes inside a file


def sdk_body(
    data: dict[str, object], files: dict[str, tuple[str, bytes, str]]
) -> tuple[bytes, bytes]:
    """The body and boundary httpx (the openai SDK's client library) sends."""
    request = httpx.Request("POST", "http://x", data=data, files=files)
    return request.read(), form_boundary(request.headers["content-type"].encode())


def werkzeug_fields(body: bytes, boundary: bytes) -> dict[str, list[str]]:
    """The text fields as werkzeug (another parser) reads the same body."""
    environ = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": f"multipart/form-data; boundary={boundary.decode()}",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    _, form, files = parse_form_data(environ, silent=False)
    for _, stored in files.items(multi=True):
        stored.close()
    return {name: form.getlist(name) for name in form}


def raw(*parts: str, boundary: str = "b") -> bytes:
    return "".join(f"--{boundary}\r\n{part}\r\n" for part in parts).encode() + b"--b--\r\n"


def test_an_sdk_upload_parses_into_fields_and_views_of_the_body() -> None:
    body, boundary = sdk_body(
        {"model": "whisper-1", "timestamp_granularities[]": ["word", "segment"]},
        {"file": ("voice memo.wav", AUDIO, "audio/wav")},
    )
    form = parse_form(body, boundary)
    assert form.fields() == {"model": "whisper-1", "timestamp_granularities": ["word", "segment"]}
    part = form.file("file")
    assert part is not None and (part.filename, part.content_type) == (
        "voice memo.wav",
        "audio/wav",
    )
    assert bytes(part.data) == AUDIO and part.data.obj is body  # a view, not a copy
    assert form.text("model") == "whisper-1" and form.file("image") is None


def test_a_spliced_model_changes_only_its_own_bytes() -> None:
    body, boundary = sdk_body(
        {"model": "public-name", "language": "en"}, {"file": ("a.wav", AUDIO, "audio/wav")}
    )
    spliced = parse_form(body, boundary).with_text("model", "whisper-1")
    assert spliced == body.replace(b"public-name", b"whisper-1")
    assert werkzeug_fields(spliced, boundary) == {"model": ["whisper-1"], "language": ["en"]}


def test_a_model_the_body_lacks_is_added_as_a_part_of_its_own() -> None:
    body, boundary = sdk_body({"n": "2"}, {"image": ("a.png", b"\x89PNG", "image/png")})
    added = parse_form(body, boundary).with_text("model", "dall-e-2")
    assert werkzeug_fields(added, boundary) == {"n": ["2"], "model": ["dall-e-2"]}
    assert parse_form(added, boundary).fields() == {"n": "2", "model": "dall-e-2"}


def test_fields_are_cut_out_whole_and_the_rest_stays_as_it_was() -> None:
    body, boundary = sdk_body(
        {"api_key": "sk-x", "model": "whisper-1", "api_base": "http://x"},
        {"file": ("a.wav", AUDIO, "audio/wav")},
    )
    cut = parse_form(body, boundary).without(frozenset({"api_key", "api_base"}))
    assert werkzeug_fields(cut, boundary) == {"model": ["whisper-1"]}
    form = parse_form(cut, boundary)
    assert [f.name for f in form.texts] == ["model"] and form.file("file") is not None
    delimiter = b"--" + boundary
    kept = [part for part in body.split(delimiter) if b'name="api_' not in part]
    assert cut == delimiter.join(kept)  # byte for byte, but for the two parts


def test_a_value_that_would_break_the_form_cannot_be_spliced_in() -> None:
    form = parse_form(raw('Content-Disposition: form-data; name="model"\r\n\r\nx'), b"b")
    for value in ("two\r\nlines", "a --b b"):
        with pytest.raises(InvalidRequest):
            form.with_text("model", value)


def test_quoted_names_and_rfc_5987_filenames_are_read() -> None:
    body = raw(
        'Content-Disposition: form-data; name="a\\"b"\r\n\r\nquoted',
        "Content-Disposition: form-data; name=file; filename*=UTF-8''%E5%A3%B0.wav\r\n\r\nRIFF",
    )
    form = parse_form(body, b"b")
    assert form.text('a"b') == "quoted"
    part = form.file("file")
    assert part is not None and part.filename == "声.wav"
    assert part.content_type == "application/octet-stream"


OK_PART = 'Content-Disposition: form-data; name="model"\r\n\r\nx'
OTHER = 'Content-Disposition: form-data; name="n"\r\n\r\n1'


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"preamble\r\n" + raw(OK_PART), "begin with its boundary"),
        (raw(OK_PART)[: -len(b"--b--\r\n")], "closing boundary"),
        (raw(OK_PART) + b"epilogue", "after its closing boundary"),
        (raw(OK_PART, OTHER).replace(b"\r\n--b\r\n", b"\r\n--b \r\n"), "extra characters"),
        (raw("Content-Type: text/plain\r\n\r\nx"), "no Content-Disposition"),
        (raw('Content-Disposition: attachment; name="x"\r\n\r\nx'), "not a form-data part"),
        (raw("Content-Disposition: form-data\r\n\r\nx"), "no name"),
        (raw(OK_PART, "\r\nx"), "no header block"),
        (raw('Content-Disposition: form-data;\r\n name="x"\r\n\r\nx'), "malformed header"),
        (raw(f"{OK_PART[:-5]}\r\nContent-Transfer-Encoding: base64\r\n\r\nx"), "Transfer-Encoding"),
        (raw(OK_PART, OK_PART), "'model' is given more than once"),
        (raw(OK_PART).replace(b"\r\n\r\nx", b"\r\n\r\n\xff"), "not UTF-8"),
        (
            raw(
                *[
                    f'Content-Disposition: form-data; name="f{i}"\r\n\r\n'
                    for i in range(MAX_PARTS + 1)
                ]
            ),
            "parts",
        ),
    ],
)
def test_a_malformed_body_is_refused_as_a_400(body: bytes, says: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_form(body, b"b")
    assert refused.value.status == 400 and says in refused.value.message


@pytest.mark.parametrize(
    ("header", "boundary"),
    [
        (b"multipart/form-data; boundary=abc123", b"abc123"),
        (b'Multipart/Form-Data; charset=utf-8; boundary="with space"', b"with space"),
    ],
)
def test_the_boundary_is_read_from_the_content_type(header: bytes, boundary: bytes) -> None:
    assert form_boundary(header) == boundary


@pytest.mark.parametrize(
    "header",
    [
        None,
        b"application/json",
        b"multipart/form-data",
        b"multipart/form-data; boundary=",
        b"multipart/form-data; boundary=" + b"x" * 71,
        b"multipart/form-data; boundary=a; boundary=b",
        b"multipart/mixed; boundary=abc",
    ],
)
def test_a_content_type_without_a_usable_boundary_is_refused(header: bytes | None) -> None:
    with pytest.raises(InvalidRequest):
        form_boundary(header)
