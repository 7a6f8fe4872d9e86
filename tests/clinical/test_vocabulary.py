"""The vocabulary as general knowledge: everyday English produces no clinical entity, ambiguous
abbreviations match only in their abbreviation reading, roots and suffixes stay out of everyday
words. Sentences written for these tests (none taken from the evaluation files)."""
from __future__ import annotations

import pytest


def clinical_ids(matcher, text):
    """Concepts other than broad retrieval families and context words (age, history...)."""
    return [c for c in matcher.ids(text) if not c.startswith("FAMILY:") and matcher.label(c) != "CONTEXT"]


EVERYDAY = [
    "Let us know if my master's diploma arrives.",
    "The splendid colour of the academy building ostensibly pleased everyone.",
    "Ed said er, well, he would call us later.",
    "My NCBI account lets me save searches.",
    "Tell us about it when you get a chance.",
    "Henry wrote part IV of the series last summer.",
    "The masterpiece hangs in a gallery in Colorado.",
    "Academia can feel like a colony of its own.",
    "She felt a deep nostalgia for her old neighbourhood.",
    "The colonel gave a splendid speech at the ceremony.",
    "He finished his diploma and moved to Oklahoma.",
    "The glossary at the end of the book explains every term.",
    "Our team ostensibly won the match, but the referee disagreed.",
    "The aroma of fresh coffee filled the kitchen.",
    "Please send us the colour photos from the trip.",
    "Mastering a new language takes years of practice.",
    "Let us meet at the café on Monday.",
    "The museum shows a mammoth skeleton from the ice age.",
    "The cardinal sat on the fence in the garden.",
    "They bought a new cardigan for the winter.",
    "Volume IV of the encyclopedia covers the letters M to P.",
    "The dichotomy between theory and practice surprised the students.",
    "Give us a call when the parcel arrives.",
    "She was the master of ceremonies at my sister's wedding.",
    "Her pet rabbit gets the gist of every game we play.",
    "Do re mi fa so, sang the children in chapter IV.",
]


@pytest.mark.parametrize("sentence", EVERYDAY)
def test_everyday_english_has_no_clinical_entity(nlp, matcher, sentence):
    assert nlp.entities(sentence) == []
    assert clinical_ids(matcher, sentence) == []


# ---------------------------------------------------------------- ambiguous abbreviations, both readings

@pytest.mark.parametrize("concept, clinical, everyday", [
    ("ABBR:US", "US of the abdomen showed gallstones.", "Tell us about it."),
    ("ABBR:US", "A renal US was normal.", "None of us had seen the letter."),
    ("ABBR:ER", "She was taken to the ER by ambulance.", "Er, I am not sure what you mean."),
    ("ABBR:ED", "He waited four hours in the ED.", "Ed drove his sister to work."),
    ("ABBR:PT", "PT and APTT were prolonged.", "The label was printed in 12 pt type."),
    ("ABBR:PE", "A CT angiogram confirmed a PE in the left lower lobe.", "The Hebrew letter pe comes after ayin."),
    ("ABBR:IV", "IV fluids were given overnight.", "She was found to have stage IV disease."),
    ("ABBR:IV", "He received IV antibiotics for ten days.", "The biopsy showed class IV lupus nephritis."),
    ("ABBR:IV", "Ceftriaxone was given IV once daily.", "Antibodies against type IV collagen were found."),
    ("ABBR:IV", "IV access was difficult.", "Grades III and IV were reported together."),
    ("ABBR:MI", "She had an MI two years ago.", "Do re mi fa so la ti do."),
    ("ABBR:RA", "Her RA was treated with methotrexate.", "Ra was the sun god of ancient Egypt."),
    ("ABBR:PET", "A PET scan showed uptake in the mediastinum.", "The family pet slept by the fire."),
    ("ABBR:GIST", "A gastric GIST was resected.", "That is the gist of the argument."),
])
def test_ambiguous_abbreviation_in_both_readings(matcher, nlp, concept, clinical, everyday):
    assert concept in matcher.ids(clinical)
    assert concept not in matcher.ids(everyday)
    assert all(e.concept != concept for e in nlp.entities(everyday))


def test_abbreviation_entity_keeps_its_label(nlp):
    (us,) = [e for e in nlp.entities("US of the abdomen showed gallstones.") if e.text == "US"]
    assert us.label == "TEST" and us.concept == "ABBR:US"
    assert not [e for e in nlp.entities("Tell us about it.")]


def test_capitals_alone_do_not_make_an_abbreviation(matcher):
    assert "ABBR:US" not in matcher.ids("PLEASE TELL US MORE ABOUT YOUR VISIT")
    # ... but a list of abbreviations is still a list of abbreviations
    assert {"ABBR:CT", "ABBR:US", "ABBR:MRI"} <= set(matcher.ids("CT, US and MRI were normal."))


def test_unambiguous_abbreviations_match_in_any_case(matcher):
    assert "ABBR:CRP" in matcher.ids("her crp was raised")
    assert "ABBR:CRP" in matcher.ids("Her CRP was raised")


# ---------------------------------------------------------------- roots and suffixes

@pytest.mark.parametrize("word, concept", [
    ("splenectomy", "LAY:spleen"), ("hepatomegaly", "LAY:liver"), ("osteomyelitis", "LAY:bone"),
    ("mastectomy", "LAY:breast"), ("colonoscopy", "LAY:large bowel"), ("myalgia", "LAY:muscle"),
    ("lymphoma", "FAMILY:tumour"), ("bacteremia", "FAMILY:blood"), ("hematuria", "FAMILY:blood"),
    ("cardiovascular", "LAY:heart"), ("colorectal", "LAY:large bowel"), ("penicillin", "LAY:antibiotic"),
])
def test_roots_still_match_medical_words(matcher, word, concept):
    assert concept in matcher.ids(f"The {word} was noted.")


@pytest.mark.parametrize("word, concept", [
    ("splendid", "LAY:spleen"), ("ostensibly", "LAY:bone"), ("master", "LAY:breast"),
    ("masterpiece", "LAY:breast"), ("color", "LAY:large bowel"), ("colony", "LAY:large bowel"),
    ("academia", "FAMILY:blood"), ("diploma", "FAMILY:tumour"), ("diplomas", "FAMILY:tumour"),
    ("my", "LAY:muscle"), ("hemisphere", "FAMILY:blood"), ("nostalgia", "LAY:pain"),
    ("glossary", "LAY:tongue"), ("hysteria", "LAY:womb"),
])
def test_roots_do_not_match_inside_everyday_words(matcher, word, concept):
    assert concept not in matcher.ids(f"The {word} was noted.")


def test_short_roots_are_not_read_as_words():
    from qa_service.clinical.concepts import compile_vocabulary

    table = compile_vocabulary()
    assert all(len(k) >= 3 for k in [*table["prefixes"], *table["suffixes"]])
    assert "my" not in table["exact"]


# ---------------------------------------------------------------- rows that were question-specific

def test_lay_rows_hold_as_general_knowledge(matcher):
    # A temperature reading is not "cold"; being hypothermic is.
    assert "LAY:cold" not in matcher.ids("Her temperature was 38.5 C.")
    assert "LAY:cold" in matcher.ids("He was hypothermic on arrival.")
    # "bug" is any germ: an infection, not one bacterial genus.
    bug = set(matcher.ids("Which bug caused it?"))
    assert "FAMILY:infection" in bug and "LAY:bacteria" not in bug
    assert "LAY:bacteria" in matcher.ids("Klebsiella was grown from the urine.")
    # The head is not the brain; an infarction is not necessarily a heart attack.
    assert "LAY:brain" not in matcher.ids("a mass in the head of the pancreas")
    assert "LAY:heart attack" not in matcher.ids("a splenic infarction")
    assert "LAY:heart attack" in matcher.ids("an acute myocardial infarction")
    # Discharge from hospital is still "sent home".
    assert "LAY:sent home" in set(matcher.ids("When was he sent home?")) & set(matcher.ids("He was discharged on day 5."))


@pytest.mark.parametrize("question", ["On what grounds was sarcoidosis diagnosed?",
                                      "On what basis was the biopsy repeated?",
                                      "Based on what was the drug stopped?"])
def test_grounds_and_basis_questions_ask_for_a_cause(question):
    from qa_service.qa.question import analyze_question

    assert analyze_question(question, []).answer_type == "cause"


def test_abbreviation_before_a_proper_name_is_not_one(matcher):
    assert "ABBR:US" not in matcher.ids("The US National Library of Medicine hosts the archive.")
    assert "ABBR:US" not in matcher.ids("He trained at a US Air Force base.")
    assert "ABBR:US" in matcher.ids("An abdominal US showed a 3 cm cyst.")
