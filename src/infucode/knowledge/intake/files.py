"""Reading a case file (a nurse note as text, or an e-mail carrying one) safely.

A case file is refused, with a :class:`CaseFileError` that names the limit or the kind of content and
never quotes the file, when it is larger than :data:`MAX_CASE_FILE_BYTES`, when it is binary (NUL
bytes, control characters, bytes that are no text encoding) or when an e-mail has no text part. An
e-mail part in an unknown charset is decoded as UTF-8 with replacement characters and says so in
``notices``. HTML is turned into text by lxml (libxml2's parser, linear in the input; the stdlib
``html.parser`` of Python 3.11.7 takes minutes on 100 KB of unclosed tags).
"""
from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...model import InputError

__all__ = ["MAX_CASE_FILE_BYTES", "SENT_LABEL", "CaseFile", "CaseFileError", "email_text", "html_to_text", "read_case",
           "read_case_file", "read_email"]

# Policy (infucode, 2026-12): a case note is a few kilobytes; an e-mail with a long thread rarely
# reaches 200 KB. 2 MiB leaves ten times that and keeps one case under a second to read.
MAX_CASE_FILE_BYTES = 2 * 1024 * 1024

# the line an e-mail's Date: header becomes in the case text
SENT_LABEL = "Sent:"
# Share of control characters (other than tab, newlines, form feed) above which text is binary.
_MAX_CONTROL_SHARE = 0.01
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MAIL_HEADER = re.compile(rb"(?:From|Subject|Date|To|MIME-Version|Received|Return-Path|Message-ID):", re.I)
_CELL_TAGS = frozenset({"td", "th"})
_BLOCK_TAGS = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
                         "blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd"})


class CaseFileError(InputError):
    """A case file that cannot be read as a note. The message names the limit or the content kind only."""

    def __init__(self, message: str):
        super().__init__(None, message)


@dataclass
class CaseFile:
    text: str
    sent_date: str | None = None          # an e-mail's Date: header (ISO date), the default date of service
    notices: list[str] = field(default_factory=list)


def _refuse_binary(text: str, what: str) -> None:
    if "\x00" in text:
        raise CaseFileError(f"{what} is binary (it contains NUL bytes); a case note must be text")
    sample = text[:65536]
    if sample and len(_CONTROL.findall(sample)) > _MAX_CONTROL_SHARE * len(sample):
        raise CaseFileError(f"{what} is binary (control characters); a case note must be text")


def _decode_text(data: bytes, what: str) -> tuple[str, list[str]]:
    if b"\x00" in data:
        raise CaseFileError(f"{what} is binary (it contains NUL bytes); a case note must be text")
    try:
        text = data.decode("utf-8-sig")
        notices: list[str] = []
    except UnicodeDecodeError:
        # A Windows export (cp1252) is still text; anything cp1252 cannot read is not.
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise CaseFileError(f"{what} is not text (neither UTF-8 nor Windows-1252)") from None
        notices = [f"{what} is not UTF-8; it was read as Windows-1252."]
    _refuse_binary(text, what)
    return text, notices


def _check_size(size: int, what: str) -> None:
    if size > MAX_CASE_FILE_BYTES:
        raise CaseFileError(f"{what} is {size:,} bytes; the limit for a case file is {MAX_CASE_FILE_BYTES:,} bytes "
                            "(MAX_CASE_FILE_BYTES)")


def read_case(path: str | Path) -> CaseFile:
    """The text of a case file (size and content checked); for an e-mail the subject and text body."""
    p = Path(path)
    with p.open("rb") as fh:
        data = fh.read(MAX_CASE_FILE_BYTES + 1)
        if len(data) > MAX_CASE_FILE_BYTES:
            fh.seek(0, 2)
            _check_size(fh.tell(), "the case file")
    looks_like_mail = p.suffix.lower() == ".eml" or _MAIL_HEADER.match(data[:200])
    if looks_like_mail:
        return read_email(data)
    text, notices = _decode_text(data, "the case file")
    return CaseFile(text, None, notices)


def read_case_file(path: str | Path) -> str:
    """The text of a case file; for an e-mail (.eml) the subject, the sent date and the text body."""
    return read_case(path).text


def email_text(data: bytes | str) -> str:
    """The subject line and text body of an e-mail (text/plain, else text/html as text)."""
    return read_email(data).text


def _part_text(part, what: str, notices: list[str]) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    if not isinstance(payload, bytes):  # pragma: no cover - get_payload(decode=True) gives bytes for leaves
        payload = str(payload).encode("utf-8", "replace")
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        notices.append(f"The e-mail's {what} part names an unknown charset; it was read as UTF-8 and characters "
                       "that do not fit are shown as \N{REPLACEMENT CHARACTER}.")
        charset = "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except (LookupError, UnicodeError):  # pragma: no cover - a codec that fails even with replace
        text = payload.decode("utf-8", errors="replace")
    _refuse_binary(text, f"the e-mail's {what} part")
    return text


def read_email(data: bytes | str) -> CaseFile:
    """An e-mail as a :class:`CaseFile`: subject + body text, the ``Date:`` header as ``sent_date``."""
    if isinstance(data, str):
        data = data.encode("utf-8", errors="replace")
    _check_size(len(data), "the e-mail")
    if b"\x00" in data:
        raise CaseFileError("the e-mail is binary (it contains NUL bytes); a case note must be text")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    notices: list[str] = []
    try:
        body = msg.get_body(preferencelist=("plain",))
        html = None if body is not None else msg.get_body(preferencelist=("html",))
    except Exception:  # noqa: BLE001 - a malformed MIME tree is a refusal, not a crash
        raise CaseFileError("the e-mail's MIME structure cannot be read") from None
    if body is not None:
        text = _part_text(body, "text/plain", notices)
    elif html is not None:
        text = html_to_text(_part_text(html, "text/html", notices))
    else:
        raise CaseFileError("the e-mail has no text/plain or text/html part; attachments are not read")
    subject = _header(msg, "subject")
    sent = None
    raw_date = _header(msg, "date")
    if raw_date:
        try:
            sent = email.utils.parsedate_to_datetime(raw_date).date().isoformat()
        except (TypeError, ValueError, IndexError):
            notices.append("The e-mail's Date: header cannot be read.")
    subject = " ".join(subject.split()) if subject else None
    # the sent date is written into the text (as Outlook quotes a message, "Sent:") so the date read from
    # it is traced to words like any other; the date of service written in the body comes first
    return CaseFile((f"Subject: {subject}\n" if subject else "") + (f"{SENT_LABEL} {sent}\n" if sent else "") + text,
                    sent, notices)


def _header(msg, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - a header the policy cannot parse is treated as absent
        return None
    return str(value) if value is not None else None


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment, one line per block element; scripts and styles dropped."""
    if not html.strip():
        return ""
    import lxml.etree
    import lxml.html

    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, recover=True,
                                  encoding="utf-8")
    try:
        root = lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return ""
    lxml.etree.strip_elements(root, "script", "style", "head", with_tail=False)
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
        elif isinstance(el.tag, str) and el.tag.lower() in _CELL_TAGS:
            el.tail = " " + (el.tail or "")    # "<td>0900</td><td>infliximab</td>": "0900 infliximab"
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)
