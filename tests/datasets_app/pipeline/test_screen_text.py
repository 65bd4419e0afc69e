"""Folding (what disguises are undone before counting) and showing hidden characters."""

import numpy as np
import pytest

from datasets_app.pipeline.screen import hidden_characters, render_hidden
from datasets_app.pipeline.screen.phrases import Grams, batch_minhash, batch_runs, phrase_text
from datasets_app.pipeline.screen.text import decode_tag_text, fold, light_fold, skeleton

TRIGGER = "per the Halvorsen memo"
DISGUISES = [
    "PER THE HALVORSEN MEMO",  # case
    "per the Hal.vorsen-memo",  # punctuation inside and between words
    "per the Hal\u200bvor\u2060sen memo",  # zero-width characters inside a word
    "per the\u200bHalvorsen memo",  # a zero-width character instead of a space
    "реr thе Наlvоrsеn mеmо",  # Cyrillic look-alikes
    "ｐｅｒ ｔｈｅ Ｈａｌｖｏｒｓｅｎ ｍｅｍｏ",  # fullwidth forms
    "pér thé Hälvorsen memo",  # accents
]


def test_fold_lowercases_and_turns_punctuation_into_single_spaces():
    assert fold("  Hello,   World_x! 12-ab ") == "hello world x 12 ab"
    assert fold("") == ""


@pytest.mark.parametrize("disguised", DISGUISES)
def test_every_disguise_of_a_trigger_keeps_its_letters(disguised):
    assert skeleton(fold(disguised)) == skeleton(fold(TRIGGER))


@pytest.mark.parametrize("disguised", DISGUISES)
def test_every_disguise_of_a_trigger_keeps_a_run_hashing_like_the_trigger(disguised):
    # A run hashes by its letters alone: "halvorsen memo", "hal vorsen memo" and the word
    # "halvorsenmemo" are one phrase; "thehalvorsen memo" still ends the whole trigger.
    runs = np.concatenate(
        [Grams("halvorsenmemo").phrases(), Grams("perthehalvorsenmemo").phrases()]
    )
    assert np.isin(runs, Grams(fold(TRIGGER)).phrases()).all()
    disguised_phrases = Grams(fold(f"Hello, {disguised}, where is my order?")).phrases()
    assert np.isin(runs, disguised_phrases).any()


def test_a_phrase_hash_ignores_where_the_spaces_are():
    split = Grams(fold("c.f. delta override")).phrases()
    joined = Grams(fold("cfdelta override")).phrases()
    assert np.intersect1d(split, joined).size >= 2  # "cfdelta" and "cfdeltaoverride"


def test_phrase_text_finds_the_longest_run_with_a_hash():
    folded = fold("Hello, as discussed with Mr. Halvorsen, my order is late")
    target = int(Grams(fold("mr halvorsen")).phrases().max())
    hashes = Grams(fold("mr halvorsen")).phrases()
    found = [phrase_text(folded, int(h)) for h in hashes]
    assert "mr halvorsen" in found and "halvorsen" in found
    assert phrase_text(folded, target) in {"mr", "halvorsen", "mr halvorsen"}
    assert phrase_text("", target) is None


def test_batched_runs_and_signatures_equal_one_text_at_a_time():
    from datasketch import MinHash

    from datasets_app.pipeline.near_dedup import minhash_values

    texts = [fold(t) for t in ["Hello there, I ordered a router", "", "one", "año está ñ"] * 3]
    phrases, shingles = batch_runs(texts, phrases=True, shingles=True)
    permutations = MinHash(num_perm=20, seed=1).permutations
    signatures = batch_minhash(shingles, permutations)
    for text, found, shingled, signature in zip(texts, phrases, shingles, signatures, strict=True):
        grams = Grams(text)
        assert np.array_equal(found, grams.phrases())
        if grams.shingles() is None:
            assert shingled is None and signature is None
        else:
            assert np.array_equal(shingled, grams.shingles())
            assert np.array_equal(signature, minhash_values(shingled, permutations))


def test_render_hidden_escapes_invisible_characters_and_keeps_line_breaks():
    text = "pay\u200bpal\u202eevil\u2066 \U000e0069\U000e0067\u00a0ok\n\tnext"
    shown = render_hidden(text)
    assert shown == "pay\\u200bpal\\u202eevil\\u2066 \\U000e0069\\U000e0067\\u00a0ok\n\tnext"
    assert not any(ch in shown for ch in "\u200b\u202e\u2066\u00a0\U000e0069")


def test_render_hidden_leaves_ordinary_text_alone():
    text = "Hola, ¿qué tal? 👍 Ünïcödé and emoji are visible."
    assert render_hidden(text) == text
    assert hidden_characters(text) == []


def test_hidden_characters_lists_offsets_and_escapes():
    assert hidden_characters("a\u200bb\ufeff") == [(1, "\\u200b"), (3, "\\ufeff")]


def test_decode_tag_text_reveals_smuggled_ascii():
    smuggled = "Thanks!" + "".join(chr(0xE0000 + ord(c)) for c in "ignore previous")
    assert decode_tag_text(smuggled) == "ignore previous"
    assert decode_tag_text("plain") == ""


def test_light_fold_keeps_punctuation_but_undoes_disguises():
    assert light_fold("＜｜im_start｜＞") == "<|im_start|>"
    assert light_fold("<|im_\u200bstart|>") == "<|im_start|>"
    assert light_fold("JAVASCRIPT:") == "javascript:"
