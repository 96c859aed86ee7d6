"""Adapters between the outside world and the coding engine: reading encounters from files and
writing results. The engine (``infucode.engine``, ``infucode.model``) never imports this package.
"""

from infucode.adapters.stream import code_stream
from infucode.adapters.encounter_io import iter_encounters, read_encounters
from infucode.adapters.input_limits import MAX_LINE_BYTES
from infucode.adapters.output import FORMATS, encode_json, error_line, make_writer, write_results
from infucode.adapters.yaml_documents import EncounterYamlLoader
from infucode.decoding import decode_encounter

__all__ = [
    "FORMATS",
    "MAX_LINE_BYTES",
    "EncounterYamlLoader",
    "code_stream",
    "decode_encounter",
    "encode_json",
    "error_line",
    "iter_encounters",
    "make_writer",
    "read_encounters",
    "write_results",
]
