from qa_service.text.clean import clean
from qa_service.clinical.rarity import is_word


def c(raw: str) -> str:
    return clean(raw, is_word).text


def test_hyphenation_across_lines_keeps_compound_and_joins_split_word():
    assert c("in the soft-\ntissue of the arm") == "in the soft-tissue of the arm"
    assert c("the various pharmacologi-\ncal treatment") == "the various pharmacological treatment"


def test_page_break_mid_sentence_is_joined():
    assert c("She \n\nwas again admitted to hospital.") == "She was again admitted to hospital."


def test_paragraphs_that_end_a_sentence_stay_apart():
    assert c("First paragraph ends.\n\nSecond one starts.") == "First paragraph ends.\n\nSecond one starts."


def test_missing_space_after_comma_between_words():
    assert c("joints of her hands,elbows and knees") == "joints of her hands, elbows and knees"


def test_citation_markers_dropped_but_numbers_kept():
    assert c("rarely described in SLE.1,2 A review") == "rarely described in SLE. A review"
    assert c("skin lesions3-5 were seen") == "skin lesions were seen"
    assert c("described as damaging,6 disfiguring") == "described as damaging, disfiguring"
    kept = "She took 2.5 mg daily for a 6-year period, 20–30 days, 19,000/mm3 platelets (Fig. 1)."
    assert c(kept) == kept


def test_offset_map_points_at_the_same_characters():
    raw = "Her current complaints were\npolyarthritis of her hands,elbows.1,2 She was soft-\ntissue pale."
    ct = clean(raw, is_word)
    for i, ch in enumerate(ct.text):
        if ch.isalnum():
            assert raw[ct.to_raw[i]] == ch
    start = ct.text.index("elbows")
    rs, re_ = ct.raw_span(start, start + len("elbows"))
    assert raw[rs:re_] == "elbows"


def test_caption_interrupting_a_sentence_moves_after_it():
    raw = "The scan showed calcifications (Figs 2a\n\nFig. 2a. Frontal radiograph of the pelvis.\n\nand b) in the tissue."
    text = c(raw)
    assert "calcifications (Figs 2a and b) in the tissue." in text
    assert text.endswith("Fig. 2a. Frontal radiograph of the pelvis.")
