"""Corpus: the report files, the input beside `text`.

Owns: `store` (ids, `<id>.txt` + `<id>.meta.json` sidecars, reading reports with per-report
errors, building a `Document` through `text`), `digest` (per-report hashes), `pdf` (the text layer
of a PDF).

May import: qa_service.text, qa_service.domain, qa_service.config.
"""
