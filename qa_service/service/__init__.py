"""Service: building, loading and changing the served index.

Owns: `build` (build / load / reuse an index, fingerprints, the change log, making the
`Answerer`), `ingest` (store or delete one report, all or nothing), `importer` (`qa-service
import`), `live` (incremental add/delete as delta segments, the background merge), `locking` (the
writer lock), `holder` (a worker's loaded index and answerer, reloaded when another worker wrote).

May import: qa_service.qa and everything below it (index, clinical, corpus, text, domain, config).
"""
