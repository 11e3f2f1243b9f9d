"""multipart/form-data bodies (RFC 7578), read in place from the bytes the relay holds.

An upload is read once, into one ``bytes``; this module finds its parts without copying
them: text fields are decoded (they are small: a model name, a prompt), file parts are
``memoryview`` slices of the body. The body then goes upstream as it came, or with one text
field spliced in (``Form.with_text``: the channel's model name), never re-encoded.

Strict, because the relay bills by what it reads here and the upstream serves by what it
reads: a body two parsers could read differently is refused (InvalidRequest, a 400) rather
than guessed at. So: no preamble or transport padding, every part a ``form-data`` part
with a name, no ``Content-Transfer-Encoding``, UTF-8 text, and a field that is not an
array (``name[]``) given at most once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from burncloud.errors import InvalidRequest

FORM_DATA = b"multipart/form-data"
MAX_PARTS = 256  # far above any OpenAI upload (a file, a mask, a dozen fields)
MAX_HEAD_BYTES = 8 * 1024  # one part's header block
CRLF = b"\r\n"
_BOUNDARY = re.compile(rb"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;"\s]*)\s*')
_QUOTED_PAIR = re.compile(r"\\(.)")


@dataclass(frozen=True, slots=True)
class TextField:
    """A text part: its name, its value, where the value's bytes are in the body, and where
    its part begins (its boundary line)."""

    name: str
    value: str
    start: int
    end: int
    part: int


@dataclass(frozen=True, slots=True)
class FilePart:
    """A file part; ``data`` is a view of the body's bytes (no copy)."""

    name: str
    filename: str
    content_type: str
    data: memoryview


@dataclass(frozen=True, slots=True)
class Form:
    """A parsed multipart/form-data body."""

    body: bytes
    boundary: bytes
    texts: tuple[TextField, ...]
    files: tuple[FilePart, ...]

    @property
    def content_type(self) -> str:
        """The Content-Type header the body goes with."""
        return f"multipart/form-data; boundary={self.boundary.decode('ascii')}"

    def text(self, name: str) -> str | None:
        """The value of text field ``name`` (given at most once), None when absent."""
        return next((field.value for field in self.texts if field.name == name), None)

    def file(self, name: str) -> FilePart | None:
        """The file part ``name`` (given at most once), None when absent."""
        return next((part for part in self.files if part.name == name), None)

    def fields(self) -> dict[str, str | list[str]]:
        """The text fields by name; an array field (``name[]``) as the list of its values,
        under its name without the brackets."""
        fields: dict[str, str | list[str]] = {}
        for field in self.texts:
            if field.name.endswith("[]"):
                values = fields.setdefault(field.name[:-2], [])
                if isinstance(values, list):
                    values.append(field.value)
            else:
                fields[field.name] = field.value
        return fields

    def without(self, names: frozenset[str]) -> bytes:
        """The body without the text fields called one of ``names`` (whole parts cut out)."""
        pieces, kept = [], 0
        for field in self.texts:
            if field.name in names:
                pieces.append(self.body[kept : field.part])
                kept = field.end + len(CRLF)  # the next part's boundary line starts here
        return b"".join([*pieces, self.body[kept:]])

    def with_text(self, name: str, value: str) -> bytes:
        """The body with text field ``name`` set to ``value``: its value's bytes replaced in
        place, or a part added before the closing boundary when it has none."""
        encoded = value.encode()
        if b"\r" in encoded or b"\n" in encoded or b"--" + self.boundary in encoded:
            raise InvalidRequest(f"'{name}' cannot be written into a form: {value!r}")
        field = next((field for field in self.texts if field.name == name), None)
        if field is not None:
            return b"".join((self.body[: field.start], encoded, self.body[field.end :]))
        closing = self.body.rindex(CRLF + b"--" + self.boundary + b"--")
        head = f'--{self.boundary.decode("ascii")}\r\nContent-Disposition: form-data; name="{name}"'
        part = CRLF + head.encode() + CRLF + CRLF + encoded
        return b"".join((self.body[:closing], part, self.body[closing:]))


def form_boundary(content_type: bytes | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; InvalidRequest for any other
    type or a missing or malformed boundary."""
    media, _, params = (content_type or b"").partition(b";")
    if media.strip().lower() != FORM_DATA:
        shown = (content_type or b"").decode("latin-1")[:100]
        raise InvalidRequest(f"Content-Type must be multipart/form-data, got {shown!r}")
    pairs = _params(";" + params.decode("latin-1") if params else "")
    found = [value for name, value in pairs if name == "boundary"]
    boundary = found[0].encode("latin-1") if len(found) == 1 else b""
    if not _BOUNDARY.match(boundary):
        raise InvalidRequest("the multipart/form-data Content-Type has no valid boundary")
    return boundary


def parse_form(body: bytes, boundary: bytes, max_parts: int = MAX_PARTS) -> Form:
    """The parts of ``body``; InvalidRequest when it is not a well-formed form."""
    delimiter = b"--" + boundary
    if not body.startswith(delimiter + CRLF):
        raise _malformed("it does not begin with its boundary")
    view, separator = memoryview(body), CRLF + delimiter
    texts: list[TextField] = []
    files: list[FilePart] = []
    start = len(delimiter) + 2
    while True:
        end = body.find(separator, start)
        if end < 0:
            raise _malformed("its closing boundary is missing")
        if len(texts) + len(files) == max_parts:
            raise _malformed(f"it has more than {max_parts} parts")
        _read_part(body, view, start, end, texts, files, start - len(delimiter) - 2)
        after = end + len(separator)
        marker = body[after : after + 2]
        if marker == b"--":
            _check_epilogue(body, after + 2)
            break
        if marker != CRLF:
            raise _malformed("a boundary line has extra characters")
        start = after + 2
    _check_unique(texts, files)
    return Form(body, boundary, tuple(texts), tuple(files))


def _read_part(
    body: bytes,
    view: memoryview,
    start: int,
    end: int,
    texts: list[TextField],
    files: list[FilePart],
    part: int,
) -> None:
    head_end = body.find(CRLF + CRLF, start, min(end, start + MAX_HEAD_BYTES))
    if head_end < 0 or body.startswith(CRLF, start):
        raise _malformed("a part has no header block")
    name, filename, content_type = _part_headers(body[start:head_end])
    data_start = head_end + 4
    if filename is None:
        try:
            value = body[data_start:end].decode()
        except UnicodeDecodeError:
            raise _malformed(f"field '{name}' is not UTF-8 text") from None
        texts.append(TextField(name, value, data_start, end, part))
    else:
        content_type = content_type or "application/octet-stream"
        files.append(FilePart(name, filename, content_type, view[data_start:end]))


def _part_headers(head: bytes) -> tuple[str, str | None, str | None]:
    """(name, filename or None for a text field, content type or None) of a part."""
    try:
        lines = head.decode().split("\r\n")
    except UnicodeDecodeError:
        raise _malformed("a part's headers are not UTF-8") from None
    disposition: str | None = None
    content_type: str | None = None
    for line in lines:
        key, colon, value = line.partition(":")
        if not colon or not key or key != key.strip():
            raise _malformed("a part has a malformed header line")
        key = key.lower()
        if key == "content-disposition":
            disposition = value.strip()
        elif key == "content-type":
            content_type = value.strip()
        elif key == "content-transfer-encoding":
            raise _malformed("Content-Transfer-Encoding is not allowed in form-data")
    name, filename = _disposition(disposition)
    return name, filename, content_type


def _disposition(disposition: str | None) -> tuple[str, str | None]:
    """The name and the filename (None when there is none) of a form-data disposition."""
    if disposition is None:
        raise _malformed("a part has no Content-Disposition header")
    kind, _, rest = disposition.partition(";")
    if kind.strip().lower() != "form-data":
        raise _malformed("a part is not a form-data part")
    params = dict(_params(";" + rest if rest else ""))
    name = params.get("name")
    if not name:
        raise _malformed("a part has no name")
    encoded = params.get("filename*")
    if encoded is not None:  # RFC 5987: charset'language'percent-encoded
        charset, _, tail = encoded.partition("'")
        if charset.lower() != "utf-8" or "'" not in tail:
            raise _malformed("a part's filename* is not UTF-8")
        return name, unquote(tail.partition("'")[2], errors="strict")
    return name, params.get("filename")


def _params(text: str) -> list[tuple[str, str]]:
    """The ``; name=value`` parameters of a header value, names lower-cased, quoted values
    unquoted; InvalidRequest for text that is not such a list."""
    params: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _PARAM.match(text, position)
        if match is None:
            raise _malformed("a header has malformed parameters")
        name, value = match.group(1).lower(), match.group(2)
        if value.startswith('"'):
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1])
        params.append((name, value))
        position = match.end()
    return params


def _check_epilogue(body: bytes, position: int) -> None:
    """After the closing boundary: nothing, or one line break."""
    rest = len(body) - position
    if rest and (rest != 2 or not body.endswith(CRLF)):
        raise _malformed("it has data after its closing boundary")


def _check_unique(texts: list[TextField], files: list[FilePart]) -> None:
    seen: set[str] = set()
    for name in [field.name for field in texts] + [part.name for part in files]:
        if name in seen and not name.endswith("[]"):
            raise InvalidRequest(f"'{name}' is given more than once")
        seen.add(name)


def _malformed(why: str) -> InvalidRequest:
    return InvalidRequest(f"the request body is not valid multipart/form-data: {why}")
