"""Clinical: concepts, entities and word rarity over text.

Owns: `concepts` (the vocabulary compiler and the order-free matcher; the shipped files in
`vocab/`), `entities` (clinical entities and ConText: negation, hypothetical, historical),
`rarity` (word frequencies from wordfreq), `doc_entities` (entities of a whole document, cached).

May import: qa_service.text, qa_service.domain, qa_service.config.
"""
