"""infucode: CPT drug-administration codes (96360-96549) from documented administrations,
with the rule and source behind every line."""
from .engine import code_encounter, decode_encounter
from .model import ChargeLine, Encounter, ErrorResult, Finding, InputError, Result
from .ruleset import Ruleset, load_ruleset

__version__ = "0.1.0"
__all__ = ["code_encounter", "decode_encounter", "load_ruleset", "Ruleset", "Encounter", "Result", "ChargeLine",
           "Finding", "ErrorResult", "InputError", "__version__"]
