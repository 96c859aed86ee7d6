"""Speed of case intake and its refusals (issue 12).

    python benchmarks/intake_speed.py [--sizes 16384,65536,100000,1000000] [--unlimited] [--repeat 3]

Builds notes of the given sizes by repeating a realistic infusion note, prints the seconds that
reading the note into an encounter (``parse_note``) takes and the seconds for the whole memo (parse
+ engine), then shows that an over-limit note, a binary file and an HTML e-mail made of ``<`` are
refused (or read) at once. A note longer than ``memo.MAX_NOTE_CHARS`` is refused unread (a question,
``intake.note_too_long``): its row says so. ``--unlimited`` also reads every size with that limit lifted,
to show what reading itself costs (linear: 1 MB about ten times 100 KB).

Measured (2026-12-06, --unlimited, CPU seconds on the shared 2-core VM, whose load moves a reading by 10-25 %):
1 MB first reading 0.98-1.17 s and best 0.92-0.96 s at a7fb72b; 0.69-0.79 s and 0.66-0.79 s after that day's
work (100 KB: 0.06-0.09 s). Instructions for reading 200 KB (callgrind, the run of 200,000 characters minus the
run of none, each with its own start-up): 1,225M -> 823M (-33 %), with one more clock time per repeat read
(the "0825 L forearm" fix, +2 %).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from infucode import load_ruleset
from infucode.knowledge.intake import memo
from infucode.knowledge.intake import MAX_CASE_FILE_BYTES, CaseFileError, case_memo, parse_note, read_case, read_email

NOTE = """07/01/2024  Infusion note - Dr. Patel's office (physician infusion suite)
Dx: CIDP. Order: Gammagard Liquid 30 g IV per protocol.
0825 L forearm PIV placed, 22g, good blood return.
IVIG (Gammagard) started 08:30 at 30 mL/hr, titrated per protocol. Lot #LE12345.
VS stable throughout. Supervising MD present in suite.
Infusion completed 12:45. PIV flushed with NS and removed. Pt tolerated well.
Zofran 4 mg IVP at 13:15 then Benadryl 25 mg IVP at 13:20.
NS 1L bolus 1400-1530 for dehydration.
"""


def note_of(size: int) -> str:
    return (NOTE * (size // len(NOTE) + 1))[:size]


def timed(fn) -> tuple[float, object]:
    """CPU seconds of the call (the machine may be shared; wall time would measure the neighbours)."""
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16384,65536,100000,1000000")
    ap.add_argument("--unlimited", action="store_true", help="also read each note with MAX_NOTE_CHARS lifted")
    ap.add_argument("--repeat", type=int, default=3,
                    help="readings of each size with the limit lifted: the first and the best are printed (a shared "
                         "machine's noise is 10-25 %%)")
    args = ap.parse_args(argv)
    rs = load_ruleset("medicare")
    parse_note("warm-up: Zofran 4 mg IVP 10:15", rs, default_date="2024-07-01")
    print(f"{'note size':>10}  {'parse s':>8}  {'memo s':>8}  administrations   (CPU seconds)")
    for size in (int(s) for s in args.sizes.split(",")):
        text = note_of(size)
        secs, (enc, _, _) = timed(lambda text=text: parse_note(text, rs, default_date="2024-07-01"))
        msecs, _ = timed(lambda text=text: case_memo(text, rs, default_date="2024-07-01"))
        refused = "  refused unread (MAX_NOTE_CHARS)" if size > memo.MAX_NOTE_CHARS else ""
        print(f"{size:>10,}  {secs:>8.3f}  {msecs:>8.3f}  {len(enc['administrations']):<15}{refused}")
    if args.unlimited:
        print(f"with the note limit lifted (MAX_NOTE_CHARS {memo.MAX_NOTE_CHARS:,} -> none), {args.repeat} readings each:")
        print(f"{'note size':>10}  {'first s':>8}  {'best s':>8}  administrations")
        limit = memo.MAX_NOTE_CHARS
        memo.MAX_NOTE_CHARS = 1 << 62
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                text = note_of(size)
                runs = [timed(lambda text=text: parse_note(text, rs, default_date="2024-07-01"))
                        for _ in range(max(1, args.repeat))]
                enc = runs[0][1][0]
                print(f"{size:>10,}  {runs[0][0]:>8.3f}  {min(r[0] for r in runs):>8.3f}  {len(enc['administrations'])}")
        finally:
            memo.MAX_NOTE_CHARS = limit

    with tempfile.TemporaryDirectory() as tmp:
        over = Path(tmp) / "over.txt"
        over.write_text(note_of(MAX_CASE_FILE_BYTES + 1))
        binary = Path(tmp) / "binary"
        binary.write_bytes(Path("/bin/ls").read_bytes() if Path("/bin/ls").exists() else b"\x7fELF\x00" * 1000)
        for label, path in (("over-limit note", over), ("binary file", binary)):
            secs, outcome = timed(lambda path=path: _refusal(path))
            print(f"{label:<22} {secs:.3f} s  {outcome}")
    flood = b"Subject: x\nContent-Type: text/html\n\n" + b"<a " * (MAX_CASE_FILE_BYTES // 3 - 20)
    secs, text = timed(lambda: read_email(flood).text)
    print(f"{'HTML of 2 MB of <a':<22} {secs:.3f} s  read, {len(text)} characters of text")
    return 0


def _refusal(path: Path) -> str:
    try:
        read_case(path)
    except CaseFileError as exc:
        return f"refused: {exc}"
    return "read (not refused!)"


if __name__ == "__main__":
    raise SystemExit(main())
