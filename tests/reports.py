"""Synthetic reports for the ingest tests: facts that no other report holds."""
from __future__ import annotations

STONEFISH_TITLE = "Stonefish envenomation treated with hot water immersion"
STONEFISH = """Stonefish envenomation in a fisherman

Case report
A 34-year-old fisherman presented with severe pain and swelling of the left heel after stepping on a \
stonefish while wading in a tidal pool. The wound was immersed in hot water at 45 degrees Celsius for \
ninety minutes, which relieved the pain. Stonefish antivenom was administered intravenously. He was \
discharged on the third day without necrosis.

Discussion
Hot water immersion denatures the heat-labile venom proteins. Stonefish antivenom is reserved for \
systemic envenomation.
"""
STONEFISH_QUESTION = "Which antivenom was administered to the fisherman?"
STONEFISH_ANSWER = "Stonefish antivenom"

LEPROSY = """Case report
A 52-year-old armadillo hunter from Louisiana presented with anaesthetic hypopigmented patches on both \
forearms. Slit-skin smears showed acid-fast bacilli, and a skin biopsy confirmed borderline \
tuberculoid leprosy. Multidrug therapy with rifampicin, dapsone and clofazimine was started.
"""
LEPROSY_QUESTION = "What did the skin biopsy of the armadillo hunter confirm?"


def big_report(n_paragraphs: int = 400) -> str:
    """A long report (for a rebuild that takes a moment)."""
    words = ("erythema nodosum sarcoidosis hilar lymphadenopathy biopsy granuloma steroid tapering "
             "calcium angiotensin enzyme uveitis arthralgia fever cough dyspnoea").split()
    paras = ["Case report"]
    for i in range(n_paragraphs):
        w = [words[(i * 7 + j * 3) % len(words)] for j in range(24)]
        paras.append(f"Paragraph {i} notes {' '.join(w)}. The patient number {i} improved on day {i % 30}.")
    return "\n\n".join(paras)
