"""Concept matching, abbreviations, ConText assertion, entity offsets and labels, and what they do for
retrieval, on short clinical sentences written for these tests (not taken from the shipped report)."""
from __future__ import annotations

import pytest

from qa_service.config import Settings
from qa_service.clinical.entities import find_abbreviations

CARDIOMEGALY = "HP:0001640"
HYPERTENSION = "HP:0000822"
AKI = "HP:0001919"


def ents(nlp, text):
    return {e.text.lower(): e for e in nlp.entities(text)}


# ---------------------------------------------------------------- concepts

@pytest.mark.parametrize("phrase", ["enlarged heart", "heart enlarged", "cardiomegaly",
                                    "The chest film showed an enlarged heart.", "On echo the heart was enlarged."])
def test_order_free_concept_matching(matcher, phrase):
    assert CARDIOMEGALY in matcher.ids(phrase)


def test_order_free_entity_keeps_its_own_words(nlp):
    text = "On echo the heart was enlarged."
    (e,) = [e for e in nlp.entities(text) if e.concept == CARDIOMEGALY]
    assert e.text == "heart was enlarged" and e.label == "FINDING"


def test_lay_and_clinical_words_share_a_concept(matcher):
    assert "LAY:liver" in set(matcher.ids("the liver")) & set(matcher.ids("hepatic failure"))
    shared = set(matcher.ids("She has high blood pressure.")) & set(matcher.ids("known hypertension"))
    assert HYPERTENSION in shared and "LAY:high blood pressure" in shared


def test_static_abbreviation_list(matcher):
    assert "ABBR:CT" in set(matcher.ids("A CT of the abdomen")) & set(matcher.ids("computed tomography of the abdomen"))


def test_schwartz_hearst_finds_defined_abbreviations():
    text = "Two days after contrast she developed acute kidney injury (AKI), and AKI resolved with fluids."
    (ab,) = find_abbreviations(text)
    assert (ab.short, ab.long) == ("AKI", "acute kidney injury")
    assert text[ab.start:].startswith("(AKI)")
    # Not an abbreviation: a parenthesis whose letters do not spell out the words before it.
    assert find_abbreviations("He was given paracetamol (PRN) for fever.") == []


def test_defined_abbreviation_takes_the_concept_of_its_long_form(nlp):
    text = "He developed acute kidney injury (AKI) on day two. The AKI had resolved by discharge."
    akis = [e for e in nlp.entities(text) if e.text == "AKI"]
    assert len(akis) == 2 and all(e.concept == AKI and e.label == "FINDING" for e in akis)
    assert akis[1].assertion == "absent"  # "had resolved" follows it


def test_defined_abbreviation_follows_the_head_of_its_long_form(nlp):
    # A gene named after a disease is not the disease.
    text = "Mutations in the DM protein kinase gene (DMPK) were sought; DMPK was sequenced."
    assert not [e for e in nlp.entities(text) if e.text == "DMPK"]


# ---------------------------------------------------------------- assertion (ConText)

def test_negated(nlp):
    e = ents(nlp, "Chest radiography showed no pleural effusion.")["pleural effusion"]
    assert e.negated and e.assertion == "absent"
    e = ents(nlp, "Blood cultures were negative and pneumonia was ruled out.")["pneumonia"]
    assert e.negated


def test_negation_after_the_entity(nlp):
    assert ents(nlp, "Splenomegaly was not detected on ultrasound.")["splenomegaly"].negated


def test_hypothetical(nlp):
    e = ents(nlp, "Blood cultures were drawn to rule out sepsis.")["sepsis"]
    assert e.assertion == "hypothetical" and not e.negated


def test_historical(nlp):
    e = ents(nlp, "She has a history of asthma and now presents with chest pain.")["asthma"]
    assert e.assertion == "historical" and not e.negated


def test_present_by_default(nlp):
    e = ents(nlp, "The patient developed a high fever on the third day.")["fever"]
    assert e.assertion == "present" and not e.negated


def test_terminator_but_stops_negation(nlp):
    found = ents(nlp, "There was no fever but a productive cough persisted.")
    assert found["fever"].negated
    assert not found["productive cough"].negated and found["productive cough"].assertion == "present"


def test_sentence_end_stops_negation(nlp):
    found = ents(nlp, "No rash was seen. Jaundice appeared on day three.")
    assert found["rash"].negated and not found["jaundice"].negated


def test_negation_reaches_through_a_list(nlp):
    # List commas and "or" do not use up the trigger's six-token window.
    found = ents(nlp, "There was no rash, pallor, lymphadenopathy, or hepatosplenomegaly.")
    for word in ("rash", "pallor", "lymphadenopathy", "hepatosplenomegaly"):
        assert found[word].negated, word
    found = ents(nlp, "He denied fever, night sweats, weight loss or hemoptysis.")
    for word in ("fever", "night sweats", "weight loss", "hemoptysis"):
        assert found[word].negated, word


def test_contracted_negation(nlp):
    assert ents(nlp, "She didn't have any seizures after the dose change.")["seizures"].negated


def test_because_ends_negation_scope(nlp):
    found = ents(nlp, "The nerve could not be identified because of bleeding from the thyroid bed.")
    assert not found["bleeding"].negated


# ---------------------------------------------------------------- offsets and labels

@pytest.mark.parametrize("text", [
    "A 67-year-old man with type 2 diabetes presented with dyspnoea and bilateral leg oedema.",
    "CT of the chest showed no pulmonary embolism; amoxicillin was started.",
    "She had acute kidney injury (AKI).\n\nAKI recovered after   intravenous fluids and furosemide.",
    "Ecografía: hepatomegalia? No — an ultrasound showed hepatomegaly and splenomegaly.",
])
def test_entity_offsets_point_at_the_entity_text(nlp, text):
    found = nlp.entities(text)
    assert found
    for e in found:
        assert text[e.start:e.end] == e.text
        assert e.start < e.end
    assert [e.start for e in found] == sorted(e.start for e in found)


def test_labels(nlp):
    found = ents(nlp, "He was given amoxicillin and lisinopril after an MRI of the liver showed hepatomegaly; "
                      "a colonoscopy was normal.")
    assert found["amoxicillin"].label == "DRUG"  # by its suffix: it is in no list
    assert found["lisinopril"].label == "DRUG"
    assert found["mri"].label == "TEST"
    assert found["liver"].label == "ANATOMY"
    assert found["hepatomegaly"].label == "FINDING"
    assert found["colonoscopy"].label == "TEST"


def test_measurements_of_the_person_are_not_findings(nlp):
    text = "A 45-year-old woman, 162 cm tall and weighing 70 kg, presented with fever."
    assert [e.text for e in nlp.entities(text) if e.label == "FINDING"] == ["fever"]


# ---------------------------------------------------------------- retrieval

REPORTS = {
    "farmer.txt": """Hepatomegaly in a farmer

Case report
A 58-year-old farmer presented with fatigue and right upper quadrant discomfort for three weeks. \
On examination the spleen was not palpable. Abdominal ultrasound revealed hepatomegaly with a liver span \
of 19 cm and no ascites. Chest radiograph showed no pleural effusion. Serology for hepatitis B was \
negative. He was treated with rest and followed up monthly.
""",
    "runner.txt": """Exertional collapse in a runner

Case report
A 24-year-old marathon runner collapsed at the finish line. His temperature was 41.2 degrees Celsius. \
He was cooled with ice water immersion and given intravenous saline. Creatine kinase peaked at \
25,000 U/L on the second day. He recovered fully and was discharged on day four.
""",
    "asthma.txt": """Asthma exacerbation after a wildfire

Case report
A 36-year-old teacher with a history of asthma presented with wheeze and shortness of breath after \
smoke exposure from a wildfire. Oxygen saturation was 89% on room air. She received nebulised \
salbutamol and oral prednisolone 40 mg daily for five days. Her peak flow returned to baseline within \
a week.
""",
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from qa_service.service.build import build, make_answerer

    base = tmp_path_factory.mktemp("tiny")
    corpus = base / "corpus"
    corpus.mkdir()
    for name, text in REPORTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    s = Settings(corpus_dir=corpus, models_dir=base / "models")
    return make_answerer(build(s).index, s)


def test_lay_question_finds_the_clinical_term(tiny):
    res = tiny.ask("Was his liver big?", top_k=3)
    assert res.answers and "revealed hepatomegaly" in res.answers[0].text
    assert res.answers[0].document_id == "farmer"


def test_question_is_answered_by_a_negated_mention(tiny):
    res = tiny.ask("Was there fluid around the lung?", top_k=3)
    assert res.answers and "no pleural effusion" in res.answers[0].text
    (e,) = [e for e in res.answers[0].entities if e.text == "pleural effusion"]
    assert e.negated


def test_fluid_collection_question_is_answered_by_a_negated_mention(tiny):
    res = tiny.ask("Did he have a fluid collection around the lung?", top_k=3)
    assert res.answers and "no pleural effusion" in res.answers[0].text


def test_words_shared_with_a_negated_sentence_still_find_it(tiny):
    res = tiny.ask("Did the spleen feel enlarged?", top_k=3)
    assert res.answers and "spleen was not palpable" in res.answers[0].text


def test_inflammation_words_keep_apart_from_their_organ():
    from qa_service.text.tokenize import terms

    assert terms("hepatic") != terms("hepatitis")
    assert terms("thyroid") != terms("thyroiditis")
    assert terms("arthritides") == terms("arthritis")
    assert terms("calcifications") == terms("calcification")
