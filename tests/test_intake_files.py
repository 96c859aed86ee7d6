"""Reading case files safely (issue 12): size and content-type limits, unknown charsets, HTML e-mails."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from infucode.cli import app
from infucode.knowledge.intake import MAX_CASE_FILE_BYTES, CaseFileError, read_case, read_case_file, read_email

runner = CliRunner()


def _mail(body: bytes, content_type: str, extra: str = "") -> bytes:
    return (f"From: a@example.org\nSubject: case\nDate: Tue, 2 Jul 2024 15:04:00 -0400\nMIME-Version: 1.0\n"
            f"Content-Type: {content_type}\n{extra}\n").encode() + body


def test_unknown_charset_is_read_with_replacement_and_said():
    # before: email's get_content() raised LookupError on the unknown charset
    case = read_email(_mail(b"Zofran 4 mg IVP at 10:15, clinic \xff", 'text/plain; charset="x-no-such-charset"'))
    assert "Zofran 4 mg IVP at 10:15" in case.text and "\N{REPLACEMENT CHARACTER}" in case.text
    assert any("unknown charset" in n for n in case.notices)


def test_eml_date_header_is_kept_as_the_sent_date():
    case = read_email(_mail(b"Zofran 4 mg IVP at 10:15", "text/plain"))
    assert case.sent_date == "2024-07-02"


def test_note_over_the_limit_is_refused(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"NS 1000 mL started 09:00, stopped 10:30. " * (MAX_CASE_FILE_BYTES // 40 + 1))
    with pytest.raises(CaseFileError, match="limit"):
        read_case_file(big)


def test_html_mail_over_the_limit_is_refused():
    with pytest.raises(CaseFileError, match="limit"):
        read_email(_mail(b"<" * (5 * 1024 * 1024), "text/html"))


def test_binary_file_is_refused(tmp_path):
    exe = tmp_path / "ls"
    exe.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    with pytest.raises(CaseFileError, match="binary"):
        read_case(exe)


def test_undecodable_bytes_are_refused(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes(b"IVIG started 08:30 \x81\x8d\x8f\x90\x9d")  # not UTF-8 and not Windows-1252
    with pytest.raises(CaseFileError, match="not text"):
        read_case(f)


def test_windows_1252_note_is_read_and_said(tmp_path):
    f = tmp_path / "x.txt"
    f.write_bytes("IVIG started 08:30 \u2013 completed 12:45. Office.".encode("cp1252"))
    case = read_case(f)
    assert "08:30 \u2013 completed" in case.text and any("Windows-1252" in n for n in case.notices)


def test_mail_with_only_an_attachment_is_refused():
    msg = _mail(b"--b\nContent-Type: application/octet-stream\n\nAAAA\n--b--\n", 'multipart/mixed; boundary="b"')
    with pytest.raises(CaseFileError, match="no text/plain or text/html"):
        read_email(msg)


def test_html_mail_is_text_without_markup_scripts_or_entities():
    html = (b"<html><head><style>p {color: red}</style></head><body><p>Zofran 4 mg IVP at 1:10 PM &amp; "
            b"Toradol 15 mg IM</p><script>var x = 'Benadryl';</script><div>ED</div></body></html>")
    text = read_email(_mail(html, 'text/html; charset="utf-8"')).text
    assert "Zofran 4 mg IVP at 1:10 PM & Toradol 15 mg IM\nED" in text
    assert "Benadryl" not in text and "color" not in text and "<" not in text


def test_cli_refuses_a_binary_file_without_coding_it(tmp_path):
    ls = shutil.which("ls")
    src = Path(ls) if ls else None
    # A folder name with "96" in it, as pytest's own temporary folders have (pytest-96).
    (tmp_path / "run-96").mkdir()
    exe = tmp_path / "run-96" / "ls"
    exe.write_bytes(src.read_bytes() if src else b"\x7fELF\x00\x00" * 100)
    res = runner.invoke(app, ["case", str(exe)])
    assert res.exit_code == 2
    # The message names the file; pytest's temporary path can itself hold "96" (pytest-96), so the
    # check for a code looks at the message with the path taken out.
    said = res.output.replace(str(exe), "<file>")
    assert "binary" in said and "<file>" in said
    assert "leucovorin" not in said.lower() and not re.search(r"\b96\d{3}\b", said)


def test_cli_uses_the_mail_date_when_the_note_has_none(tmp_path):
    f = tmp_path / "m.eml"
    f.write_bytes(_mail(b"Zofran 4 mg IVP at 10:15 in the office.", "text/plain"))
    res = runner.invoke(app, ["case", str(f)])
    assert res.exit_code == 0, res.output
    assert "date 2024-07-02" in res.output


# --- issue 13: the e-mail's sent date and HTML tables, read as the corpus reads them (read_case_file) ------------------

def test_sent_date_is_in_the_case_text_and_is_the_date_when_the_note_has_none(tmp_path):
    from infucode import load_ruleset
    from infucode.knowledge.intake import case_memo
    p = tmp_path / "q.eml"
    p.write_bytes(_mail(b"ED. 1320 Zofran 4 mg IVP via R AC PIV.", "text/plain"))
    text = read_case_file(p)
    memo = case_memo(text, load_ruleset("medicare"), default_date="2026-01-01")
    assert memo.encounter["date"] == "2024-07-02"
    assert any("e-mail was sent" in q for q in memo.questions)     # a question, not a silent guess


def test_a_date_written_in_the_note_beats_the_sent_date(tmp_path):
    from infucode import load_ruleset
    from infucode.knowledge.intake import case_memo
    p = tmp_path / "q.eml"
    p.write_bytes(_mail(b"ED. DOS 06/30/2024. 1320 Zofran 4 mg IVP via R AC PIV.", "text/plain"))
    memo = case_memo(read_case_file(p), load_ruleset("medicare"), default_date="2026-01-01")
    assert memo.encounter["date"] == "2024-06-30"


def test_a_reply_is_dated_by_the_quoted_message_it_answers(tmp_path):
    from infucode import load_ruleset
    from infucode.knowledge.intake import case_memo
    p = tmp_path / "q.eml"
    p.write_bytes(_mail(b"Which code?\n\n> Sent: Monday, July 1, 2024 4:55 PM\n> ED. 1320 Zofran 4 mg IVP via R AC PIV.",
                        "text/plain"))
    memo = case_memo(read_case_file(p), load_ruleset("medicare"), default_date="2026-01-01")
    assert memo.encounter["date"] == "2024-07-01"


def test_html_table_cells_are_separate_words():
    case = read_email(_mail(b"<table><tr><td>0900</td><td>infliximab 500 mg started</td></tr></table>",
                            'text/html; charset="utf-8"'))
    assert "0900 infliximab" in case.text
