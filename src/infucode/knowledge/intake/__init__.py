"""Case intake: a free-text nurse note (or an e-mail carrying one) -> the engine's encounter, every
extracted field traced to the words it came from, anything ambiguous raised as a question, then coded.

    memo = case_memo("IVIG (Gammagard) started 08:30, completed 12:45 via L forearm PIV. Office.", rs)
    memo.encounter["administrations"][0]["start"]        # '08:30'
    [(l.code, l.units) for l in memo.result.lines]       # [('96365', 1), ('96366', 3)]
    print(render_memo(memo))

Modules, each named after what it owns: ``files`` (reading a note or an e-mail safely), ``sections``
(heading, history, plan, prescriptions), ``context`` (negated, planned, hypothetical), ``events``
(the note as a timeline of events per drug), ``encounter`` (the timeline folded like a MAR action log),
``header`` (setting and date of service), ``memo`` (the coding memo).
"""
from __future__ import annotations

from .encounter import Extraction, Question
from .files import MAX_CASE_FILE_BYTES, CaseFile, CaseFileError, email_text, read_case, read_case_file, read_email
from .memo import MAX_NOTE_ADMINISTRATIONS, MAX_NOTE_CHARS, Memo, case_memo, parse_note, read_note, render_memo

__all__ = ["MAX_CASE_FILE_BYTES", "MAX_NOTE_ADMINISTRATIONS", "MAX_NOTE_CHARS", "CaseFile", "CaseFileError", "Extraction", "Memo",
           "Question", "case_memo",
           "email_text", "parse_note", "read_case", "read_case_file", "read_email", "read_note", "render_memo"]
