"""Index: sentences of `Document`s made searchable.

Owns: `bm25` (the BM25 estimator over raw counts, the `Index`, its plain-file storage and the
`models/CURRENT` pointer), `segments` (main + delta - deleted as one view), `semantic` (sentence
and word encoders: WordLlama, the NumPy MiniLM).

May import: qa_service.clinical, qa_service.corpus, qa_service.text, qa_service.domain,
qa_service.config.
"""
