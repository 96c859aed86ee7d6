"""The knowledge layer over the rule base: code reference (lookup), search, the question answerer
(ask) and case intake (free-text note -> encounter -> coding memo). Everything here reads the same
tables the engine runs and codes situations with the engine itself; nothing is guessed or fetched.

    from infucode import load_ruleset
    from infucode.knowledge import lookup, search, ask, case_memo
    rs = load_ruleset()
    lookup("96366", rs).mue          # {'practitioner': {'value': 8, 'mai': 3}, 'hospital': {...}}
    ask("96366 vs 96367?", rs).rule_ids
    case_memo("IVIG started 08:30, completed 12:45 via L forearm PIV, office", rs).result.lines
"""
from .ask import Answer, ask
from .intake import Extraction, Memo, case_memo, parse_note, read_case_file, render_memo
from .lookup import CodeReference, lookup, render_reference
from .search import Hit, search

__all__ = ["lookup", "render_reference", "CodeReference", "search", "Hit", "ask", "Answer",
           "case_memo", "parse_note", "read_case_file", "render_memo", "Memo", "Extraction"]
