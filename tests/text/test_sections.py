from qa_service.text.clean import clean
from qa_service.corpus.store import build_document
from qa_service.text.sections import split_sections
from conftest import REPORT


def test_shipped_report_headings_and_captions(index):
    doc = index.docs[0]
    names = [s.name for s in doc.sections]
    for heading in ("Abstract", "Introduction", "Case report", "Discussion", "Conclusion"):
        assert heading in names
    captions = [s for s in doc.sections if s.kind == "caption"]
    assert [s.name for s in captions] == ["Figure 1", "Figure 2a", "Figure 2b", "Figure 3", "Figure 4"]
    fig1 = next(s for s in captions if s.name == "Figure 1")
    assert doc.text[fig1.start:fig1.end] == "Chest radiograph demonstrates cardiomegaly with a right pleural effusion."
    # The body sentence after Fig. 2b is not glued to the caption.
    fig2b = next(s for s in captions if s.name == "Figure 2b")
    assert "dermatologists" not in doc.text[fig2b.start:fig2b.end]
    body = [s for s in doc.sections if s.name == "Case report"]
    assert any(doc.text[s.start:s.end].startswith("The dermatologists confirmed") for s in body)


def test_inline_uppercase_headings_of_web_pages():
    text = clean("Title of page. Keywords: fever, rash INTRODUCTION Fever is common. CASE REPORT A 30-year-old man "
                 "had fever. DISCUSSION Fever is discussed. REFERENCES 1. Smith J. Fever.").text
    secs = split_sections(text)
    assert [s.name for s in secs] == ["Front matter", "Keywords", "Introduction", "Case report", "Discussion", "References"]
    case = next(s for s in secs if s.name == "Case report")
    assert text[case.start:case.end] == "A 30-year-old man had fever."


def test_navigation_menu_is_not_a_heading():
    text = clean("Menu Abstract Introduction Case presentation Discussion References Case report Open Access. "
                 "Case presentation A 53-year-old woman had diarrhoea. Discussion It is rare.").text
    secs = split_sections(text)
    assert [s.name for s in secs][-2:] == ["Case report", "Discussion"]


def test_unknown_layout_is_one_body_section():
    doc = build_document("x", "A 40-year-old man had a cough. He was treated with amoxicillin.")
    assert [s.name for s in doc.sections] == ["Body"]
    assert len(doc.sentences) == 2


def test_sentence_offsets_index_the_text(index):
    for doc in index.docs:
        for s in doc.sentences:
            chunk = doc.text[s.start:s.end]
            assert chunk == chunk.strip() and chunk
    doc = index.docs[0]
    texts = [doc.text[s.start:s.end] for s in doc.sentences]
    assert "Ulcers were noted on her thighs." in texts
    # The splitter does not break on "Fig." or decimals.
    assert any(t.endswith("(Fig. 1), and radiographs of the hips and hands demonstrated widespread calcifications "
                          "in the soft tissue and no evidence of arthropathy (Figs 2a and b).") for t in texts)


def test_raw_offsets_point_back_to_the_file(index):
    raw = REPORT.read_text(encoding="utf-8")
    doc = index.docs[0]
    s = next(s for s in doc.sentences if doc.text[s.start:s.end] == "Ulcers were noted on her thighs.")
    assert raw[s.raw_start:s.raw_end] == "Ulcers were \nnoted on her thighs."
