"""Errors of the answering stage (low in the graph: the orchestrator and its helpers raise them)."""


class UnknownDocument(KeyError):
    """The question was restricted to a document the index does not hold."""
