"""The code systems and extension URLs FHIR resources in and out are written with."""

HCPCS_SYSTEM = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
SNOMED_SYSTEM = "http://snomed.info/sct"
RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM_SYSTEM = "http://unitsofmeasure.org"
#: Base of infucode's own extension URLs (rule id, modifier). A site publishing StructureDefinitions
#: for them replaces this with its canonical base.
EXTENSION_BASE = "urn:infucode:fhir:StructureDefinition:"
EXT_RULE = EXTENSION_BASE + "rule"
EXT_MODIFIER = EXTENSION_BASE + "modifier"
