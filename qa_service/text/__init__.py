"""Text: raw report text to cleaned text, sections, sentences and passages, and the tokenizer.

Owns: `clean` (PDF/web repairs with an offset map), `layout` and `sections` (headings, captions),
`passages` (sentence splitter, passage windows), `tokenize` (tokens, Snowball stems, the one stop
list and the one token regex).

May import: qa_service.domain, qa_service.config. Nothing else of the package.
"""
