"""The X12 interchange as plain text, before and beside pyx12: what makes a file unreadable before any
claim (a cut ISA, no segment terminator, binary data), and the file split into segments for what pyx12
cannot tell (the file line of a segment, GS08 before parsing, CLM ids in a truncated file).
"""
from __future__ import annotations

import re

__all__ = ["RawSegments", "envelope_problem"]

#: Length of the fixed-width ISA segment, with its terminator (X12 5010 ISA: 16 fixed-width elements).
_ISA_LENGTH = 106


def envelope_problem(text: str) -> str | None:
    """What makes the file unreadable as X12 before any claim: a cut ISA, no segment terminator, binary
    data. None when the envelope can be parsed. Never quotes the file's content."""
    body = text.lstrip()
    if not body.startswith("ISA"):
        return "not an X12 interchange: it must start with an ISA segment"
    if len(body) < _ISA_LENGTH:
        return (f"the ISA segment is cut short ({len(body)} of its {_ISA_LENGTH} characters): the file is truncated "
                "or is not X12")
    element, terminator = body[3], body[_ISA_LENGTH - 1]
    if terminator.isalnum() or terminator in (element, " ") or body[:_ISA_LENGTH - 1].count(element) != 16:
        return (f"no valid segment terminator after the ISA segment (character {_ISA_LENGTH} must end it): the "
                "segments cannot be told apart")
    separators = {element, terminator, body[_ISA_LENGTH - 2], body[82], "\r", "\n", "\t"}
    control = "".join(re.escape(chr(c)) for c in [*range(32), 0x7F, 0xFFFD] if chr(c) not in separators)
    binary = re.search(f"[{control}]", body)
    if binary is not None:
        return (f"binary data (bytes that are not X12 text) in segment {body.count(terminator, 0, binary.start()) + 1}: "
                "the file is damaged or is not X12")
    if not body[_ISA_LENGTH:].strip(" \r\n\t" + terminator):
        return "the file holds only an ISA segment: no functional group (GS) and no claim"
    return None


class RawSegments:
    """The file split into segments (by the terminator ISA gives), for what pyx12 cannot tell: the file line
    of a segment (when segments are on lines of their own), GS08 before parsing, CLM ids in a truncated file."""

    def __init__(self, text: str):
        body = text.lstrip()
        self.segments: list[str] = []
        self.element = body[3] if len(body) > 3 else "*"
        self.lines: list[int] | None = None
        if len(body) < 106:
            return
        terminator = body[105]
        parts = body.split(terminator)
        self.segments = [p.strip() for p in parts]
        if "\n" not in body.strip() or terminator == "\n":
            return
        line = text.count("\n", 0, len(text) - len(body)) + 1
        lines = []
        for part in parts:
            lines.append(line + part.count("\n", 0, len(part) - len(part.lstrip())))
            line += part.count("\n")
        self.lines = lines

    def __call__(self, segment: int | None) -> int | None:
        """The file line of segment number ``segment`` (1 = ISA), or None when the file is one line."""
        if self.lines is None or segment is None or not 0 < segment <= len(self.lines):
            return None
        return self.lines[segment - 1]

    def values(self, seg_id: str, position: int) -> list[tuple[int, str]]:
        """(segment number, element value) of every ``seg_id`` segment."""
        out = []
        for number, seg in enumerate(self.segments, start=1):
            elements = seg.split(self.element)
            if elements[0] == seg_id:
                out.append((number, elements[position] if len(elements) > position else ""))
        return out
