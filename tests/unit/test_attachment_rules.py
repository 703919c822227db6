"""The pure parts of attachments: sniffing, names, ranges, signed tokens."""

from __future__ import annotations

import pytest

from resolvers.attachment_policy import AttachmentPolicy, ascii_fallback, clean_filename
from resolvers.signing import Purpose, Signer, TokenError, TokenExpiredError
from resolvers.sniff import effective_type, sniff
from resolvers.validation import Problems
from server.attachments import RangeNotSatisfiable, content_disposition, parse_range, served_type


@pytest.mark.parametrize(
    ("head", "executable"),
    [
        (b"\x7fELF\x02\x01", True),
        (b"MZ\x90\x00", True),
        (b"\xcf\xfa\xed\xfe", True),
        (b"\xca\xfe\xba\xbe", True),
        (b"#!/usr/bin/env python\n", True),
        (b"\xef\xbb\xbf  #!/bin/sh\n", True),
        (b"\x00asm\x01", True),
        (b"\x89PNG\r\n\x1a\n", False),
        (b"hello, world\n", False),
    ],
)
def test_executables_are_recognized_by_content(head: bytes, executable: bool) -> None:
    assert (sniff(head).executable is not None) is executable


@pytest.mark.parametrize(
    ("head", "declared", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/jpeg", "image/png"),
        (b"%PDF-1.7", "application/octet-stream", "application/pdf"),
        (b"a,b\n1,2\n", "text/csv", "text/csv"),
        (b"a,b\n1,2\n", "image/png", "text/plain"),
        (
            b"PK\x03\x04",
            "application/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.text",
        ),
        (b"  <!doctype html><p>", "text/plain", "text/html"),
        (b'<?xml version="1.0"?>\n<svg>', "image/png", "image/svg+xml"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", "image/webp"),
        ("grüße".encode()[:-1], "text/plain", "text/plain"),
        (b"\xff\xfe\x00\x01binary", "image/png", "application/octet-stream"),
    ],
)
def test_the_type_comes_from_the_bytes(head: bytes, declared: str, expected: str) -> None:
    assert effective_type(declared, sniff(head)) == expected


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\fakepath\\report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("shot.png.", "shot.png"),
        ('a<b>c:"d"|e?f*.txt', "a_b_c__d__e_f_.txt"),
        ("Cafe\u0301.png", "Café.png"),
    ],
)
def test_names_are_cleaned(raw: str, clean: str) -> None:
    problems = Problems()

    assert clean_filename(problems, raw) == clean
    assert problems.errors == []


@pytest.mark.parametrize(
    "raw", ["", "..", "a\u202eb.png", "a\u2066b", "tab\there", "nul.txt", "COM1", "x" * 256]
)
def test_bad_names_are_refused(raw: str) -> None:
    problems = Problems()

    clean_filename(problems, raw)

    assert [e.field for e in problems.errors] == ["filename"]


def test_the_ascii_fallback_is_plain_and_quotable() -> None:
    assert ascii_fallback('Überweisung "März" 😀.png') == "Uberweisung _Marz_ .png"
    disposition = content_disposition("naïve résumé.pdf")
    assert disposition.startswith('attachment; filename="naive resume.pdf"; ')
    assert disposition.endswith("filename*=UTF-8''na%C3%AFve%20r%C3%A9sum%C3%A9.pdf")


def test_active_types_are_served_as_bytes() -> None:
    assert served_type("text/html") == "application/octet-stream"
    assert served_type("image/svg+xml") == "application/octet-stream"
    assert served_type("text/plain") == "text/plain; charset=utf-8"
    assert served_type("image/png") == "image/png"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-0", (0, 1)),
        ("bytes=5-", (5, 100)),
        ("bytes=-10", (90, 100)),
        ("bytes=-1000", (0, 100)),
        ("bytes=90-1000", (90, 100)),
        ("bytes=0-1,3-4", None),
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=7-3", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_tokens_are_bound_to_purpose_file_viewer_and_expiry() -> None:
    signer = Signer(b"k" * 32)
    token, _ = signer.sign(Purpose.DOWNLOAD, 42, "c7", 60)

    grant = signer.verify(Purpose.DOWNLOAD, token)

    assert (grant.attachment_id, grant.viewer) == (42, "c7")
    attachment_id, expires, viewer, mac = token.split(".")

    def other(char: str) -> str:
        # The signature changes with the expiry (the clock): never "replace" a char by itself.
        return "B" if char == "A" else "A"

    for forged in (
        f"43.{expires}.{viewer}.{mac}",
        f"{attachment_id}.{int(expires) + 1}.{viewer}.{mac}",
        f"{attachment_id}.{expires}.c8.{mac}",
        f"{attachment_id}.{expires}.{viewer}.{other(mac[0])}{mac[1:]}",
        f"{attachment_id}.{expires}.{viewer}.{mac[:-1]}{other(mac[-1])}",
    ):
        with pytest.raises(TokenError):
            signer.verify(Purpose.DOWNLOAD, forged)
    with pytest.raises(TokenError):
        signer.verify(Purpose.UPLOAD, token)
    with pytest.raises(TokenError):
        Signer(b"j" * 32).verify(Purpose.DOWNLOAD, token)
    with pytest.raises(TokenExpiredError):
        signer.verify(Purpose.DOWNLOAD, token, now=int(expires) + 1)


def test_type_patterns() -> None:
    policy = AttachmentPolicy(allowed_types=("image/*", "application/pdf"))

    assert policy.allows("image/png")
    assert policy.allows("application/pdf")
    assert not policy.allows("application/pdfx")
    assert not policy.allows("text/plain")
