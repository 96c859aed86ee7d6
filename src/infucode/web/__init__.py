"""The coder's workbench: REST API, web page and saved cases (adapters over the core)."""
