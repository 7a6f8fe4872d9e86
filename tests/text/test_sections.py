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


STORY = """Fever and a painful knee in a gardener

Chief Complaint
A 52-year-old gardener presented with fever and a swollen right knee for four days.

History of Present Illness
The pain began after he knelt on a rose thorn. He had no previous joint disease.

Physical Examination
The right knee was hot, red and tender, with a large effusion.

Investigations
Aspiration yielded turbid fluid; culture grew Pantoea agglomerans.

Treatment
He had arthroscopic washout and six weeks of ciprofloxacin.

Outcome and Follow-up
At three months he walked without pain.

Discussion
Plant thorn synovitis is rare and often missed.

Treatment
Treatment of such infections combines removal of the foreign body with antibiotics.
"""


def test_headings_of_the_patients_story_on_lines_of_their_own():
    from qa_service.qa.features import section_group

    doc = build_document("x", STORY)
    names = [s.name for s in doc.sections]
    assert names == ["Front matter", "Chief complaint", "History of present illness", "Physical examination",
                     "Investigations", "Treatment", "Outcome and follow-up", "Discussion", "Discussion"]
    assert [section_group(n) for n in names[1:7]] == ["narrative"] * 6
    sentences = [doc.text[s.start:s.end] for s in doc.sentences]
    # A heading is never part of an answer sentence.
    assert "The right knee was hot, red and tender, with a large effusion." in sentences
    assert not any(s.startswith(("Chief Complaint", "Physical Examination", "Investigations", "Treatment He"))
                   for s in sentences)
    assert "Treatment" not in sentences


def test_a_story_heading_inside_the_discussion_heads_a_paragraph_of_the_discussion():
    doc = build_document("x", STORY)
    last = doc.sections[-1]
    assert (last.name, last.heading) == ("Discussion", "Treatment")
    assert doc.text[last.start:last.end].startswith("Treatment of such infections")


def test_story_words_inside_prose_are_not_headings():
    doc = build_document("x", "Case report\nThe boy was started on\nTreatment with steroids helped. His\n"
                              "Diagnosis was made by biopsy. Physical examination revealed a rash.\n")
    assert [s.name for s in doc.sections] == ["Case report"]
    assert len(doc.sentences) == 3


def test_the_headings_of_a_clinical_note_before_their_colon():
    doc = build_document("x", "Chief Complaint: Chest pain.\nHPI: A 61-year-old man had chest pain for 2 hours.\n"
                              "Physical Exam: Diaphoretic, BP 90/60.\nAssessment and Plan: Inferior STEMI; PCI.\n")
    assert [(s.name, doc.text[s.start:s.end]) for s in doc.sections] == [
        ("Chief complaint", "Chest pain."), ("History of present illness", "A 61-year-old man had chest pain for 2 hours."),
        ("Physical examination", "Diaphoretic, BP 90/60."), ("Assessment and plan", "Inferior STEMI; PCI.")]


def test_a_story_told_before_the_first_heading_is_not_front_matter():
    doc = build_document("x", "Thorn synovitis of the knee\n\nA 52-year-old gardener presented with fever and a "
                              "swollen right knee four days after kneeling on a thorn.\n\nDiscussion\nIt is rare.\n")
    assert [(s.name, doc.text[s.start:s.end][:20]) for s in doc.sections] == [
        ("Front matter", "Thorn synovitis of t"), ("Body", "A 52-year-old garden"), ("Discussion", "It is rare.")]


def test_headings_marked_up_as_markdown():
    raw = ("Thorn synovitis\n\n## History of present illness\nA 52-year-old gardener had a swollen knee.\n\n"
           "**Physical examination**\nThe right knee was hot.\n\n## 3. Discussion\nIt is rare.\n\n"
           "## Some other words\n**He was well**\n")
    doc = build_document("x", raw)
    assert [s.name for s in doc.sections] == ["Front matter", "History of present illness", "Physical examination",
                                              "Discussion"]
    texts = [doc.text[s.start:s.end] for s in doc.sentences]
    assert texts[1:4] == ["A 52-year-old gardener had a swollen knee.", "The right knee was hot.", "It is rare."]
    # Marks around text that is no heading stay as written.
    assert "## Some other words **He was well**" in doc.text
    exam = doc.sentences[2]
    assert raw[exam.raw_start:exam.raw_end] == "The right knee was hot."
