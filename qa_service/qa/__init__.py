"""Answering a question from the index, in stages (each a module):

query (analyse the question) -> candidates (retrieve sentences) -> features (one vector per
candidate) -> ranker (a fitted listwise model) -> answerability (a fitted model: does the report
answer at all?) -> focus (assemble the answer) -> answerer (the short orchestrator).

May import: qa_service.index, qa_service.analysis, qa_service.lexicon, qa_service.question,
qa_service.passages, qa_service.domain. Never the web or service layers.
"""
from .answerer import NO_ANSWER, Answerer, AskResult, UnknownDocument
from .followup import MAX_TURNS, Turn

__all__ = ["Answerer", "AskResult", "NO_ANSWER", "UnknownDocument", "Turn", "MAX_TURNS"]
