"""The soft-confirm rule (`runtime.consent.classify`), tested by its table.

`consent_cases.tsv` holds hundreds of phrases, each labelled consent, refusal,
correction or unclear, in English and fourteen other languages; every phrase
of issue 24 is there. The fuzz perturbs refusals and pauses every way a
keyboard, a phone or a copy-paste can (spacing, case, look-alike letters,
apostrophes, invisible characters, one-letter typos, repeated letters,
surrounding punctuation): none of them may ever read as consent.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.proposals.consent import APOSTROPHES, Verdict, classify, is_refusal, normalise

TABLE = Path(__file__).with_name("consent_cases.tsv")


def load_cases() -> list[tuple[str, Verdict, str]]:
    cases = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        phrase, verdict, language = line.split("\t")
        cases.append((phrase, Verdict(verdict), language))
    return cases


CASES = load_cases()


def test_the_table_is_hundreds_of_phrases_in_fifteen_languages() -> None:
    assert len(CASES) >= 500
    languages = {lang for _, _, lang in CASES}
    assert {"en", "zh", "hi", "es", "fr", "ar", "bn", "pt", "ru", "ur"} <= languages
    assert {"de", "it", "nl", "ja"} <= languages
    for verdict in Verdict:
        assert sum(v is verdict for _, v, _ in CASES) >= 25


@pytest.mark.parametrize(("phrase", "verdict", "language"), CASES)
def test_table(phrase: str, verdict: Verdict, language: str) -> None:
    assert classify(phrase) is verdict, (phrase, normalise(phrase))


def test_plain_english_consents_execute() -> None:
    """At least 95 % (here: all) of the table's plain English consents are consent."""
    english = [p for p, v, lang in CASES if v is Verdict.CONSENT and lang == "en"]
    hits = sum(classify(p) is Verdict.CONSENT for p in english)
    assert hits == len(english) and len(english) >= 100


ISSUE_NOT_CONSENT = [
    "give me a sec",
    "gimme a minute",
    "later",
    "brb",
    "put it on hold",
    "ask me tomorrow",
    "I need to think",
    "perhaps",
    "idk",
    "?",
    "...",
    "what?",
    "how much does it cost?",
    "are you sure?",
    "what does that do?",
    "change it to 60 dollars",
    "too expensive",
    "oops",
    "cancle",
    "canel",
    "call it off",
    "pass",
    "na",
    "nein",
    "non",
    "nee",
    "não",
    "нет",
    "いいえ",
    "不要",
    "annulla",
    "espera",
    "attends",
    "warte",
    "sorry, my connection dropped - what did you say?",
    "yes... actually no",
    "ok wait",
]
ISSUE_CONSENT = [
    "yes, no problem",
    "sure, no worries",
    "no problem, go ahead",
    "go ahead, I don't mind",
]


@pytest.mark.parametrize("phrase", ISSUE_NOT_CONSENT)
def test_issue_24_phrases_do_not_consent(phrase: str) -> None:
    assert classify(phrase) is not Verdict.CONSENT


@pytest.mark.parametrize("phrase", ISSUE_CONSENT)
def test_issue_24_affirmatives_with_idioms_consent(phrase: str) -> None:
    assert classify(phrase) is Verdict.CONSENT


def test_corrections_and_refusals_reject_the_rest_does_not() -> None:
    assert is_refusal("no") and is_refusal("make it 40")
    assert not is_refusal("yes") and not is_refusal("hold on")
    assert Verdict.CORRECTION.rejects and not Verdict.UNCLEAR.rejects


# Regressions of issue 15: spellings that once hid a refusal (still never consent).
HIDDEN = [
    "do  not",
    "do\u00a0not",
    "don\u2018t",
    "don\u02bct",
    "don`t",
    "n\u200bo",
    "\uff4e\uff4f",
    "DO\tNOT",
    "do\nnot do that",
    "don\u00b4t",
    "don\u2032t",
    "don\uff07t",
    "n\u034fo",
    "n\ufe0fo",
    "n\u3164o",
    "ca\u00adncel",
    "c\u200dancel",
    "wa\u2060it",
    "\U0001d427\U0001d428",
    "\uff33\uff54\uff4f\uff50",
    "\u24dd\u24de",
    "\u0441ancel",
    "n\u043e",
    "no_thanks",
    "\U0001f44e\U0001f3fd",
    "\u26d4\ufe0f",
    "\U0001f645\u200d\u2642\ufe0f",
    "yes\u200bbut\u200bhold on",
    "yes\u200bno",
    "ok\u2060stop",
    "C-A-N-C-E-L",
    "w.a.i.t!",
    "st0p",
    "s t o p",
]


@pytest.mark.parametrize("text", HIDDEN)
def test_hidden_spellings_never_consent(text: str) -> None:
    assert classify(text) is not Verdict.CONSENT, (text, normalise(text))


@pytest.mark.parametrize(
    "text", ["know", "notary", "noted", "knot", "snow", "donate", "stopwatch", "waiter"]
)
def test_words_keep_their_boundaries(text: str) -> None:
    assert classify(text) is Verdict.UNCLEAR  # not a refusal, not consent either


@pytest.mark.parametrize("apostrophe", APOSTROPHES)
def test_every_apostrophe_look_alike_reads_as_one(apostrophe: str) -> None:
    assert normalise(f"don{apostrophe}t") == "don't"
    assert classify(f"don{apostrophe}t do it") is Verdict.REFUSAL
    assert classify(f"go ahead, I don{apostrophe}t mind") is Verdict.CONSENT


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Do\u00a0\u00a0NOT!!", "do not"),
        ("  no,thanks\t\n", "no thanks"),
        ("\u201cno\u201d", "no"),
        ("\uff4e\u200b\uff4f", "no"),
        ("Ann\u2019s Nails", "ann's nails"),
        ("\u017ftop", "stop"),
        ("Нет, СПАСИБО", "нет спасибо"),
        ("não", "nao"),
        ("ダメ！", "ダメ"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


# --- fuzz -----------------------------------------------------------------

REFUSALS = [
    "no",
    "nope",
    "nah",
    "cancel",
    "stop",
    "don't",
    "dont",
    "do not",
    "never mind",
    "nevermind",
    "forget it",
    "scratch that",
    "abort",
    "reject",
    "decline",
    "undo",
    "revert",
    "halt",
    "changed my mind",
    "no thanks",
    "negative",
    "call it off",
    "cancel it",
    "nein",
    "non",
    "nee",
    "annulla",
    "annuler",
    "cancela",
    "abbrechen",
]
PAUSES = [
    "wait",
    "hold on",
    "hang on",
    "give me a sec",
    "gimme a minute",
    "later",
    "brb",
    "put it on hold",
    "ask me tomorrow",
    "not yet",
    "not now",
    "one sec",
    "pause",
    "let me think",
    "i need to think",
    "maybe",
    "perhaps",
    "not sure",
    "idk",
    "hmm",
    "espera",
    "attends",
    "warte",
    "aspetta",
    "wacht",
    "maybe later",
]
STYLES = [
    (0x61, 0x41),  # plain
    (0xFF41, 0xFF21),  # fullwidth
    (0x1D41A, 0x1D400),  # mathematical bold
    (0x1D68A, 0x1D670),  # mathematical monospace
    (0x24D0, 0x24B6),  # circled
]
APOSTROPHE_VARIANTS = ["'", "\u2019", "\u2018", "\u02bc", "`", "\u00b4", "\u2032", "\uff07"]
INVISIBLES = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u034f", "\ufe0f"]
SPACES = [" ", "  ", "\t", "\u00a0", "\n", "\r\n", "\u2003", "\u3000", "", "-", "_", "."]
PREFIXES = [
    "",
    " ",
    '"',
    "(",
    "*",
    "...",
    "ok ",
    "yes, but ",
    "sure ",
    "\n",
    "please ",
    "hey, ",
    "\U0001f44d ",
]
SUFFIXES = [
    "",
    ".",
    "!",
    "!!!",
    "?",
    '"',
    ")",
    ", thanks",
    ", please",
    " ",
    " \U0001f44d",
    " ok",
    " sure",
    " please",
]


def _typo(word: str, draw: st.DrawFn) -> str:
    if len(word) < 4 or "'" in word:
        return word
    i = draw(st.integers(0, len(word) - 2))
    kind = draw(st.sampled_from(["swap", "drop", "double", "none"]))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop" and len(word) >= 6:
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    return word


@st.composite
def perturbed(draw: st.DrawFn, phrases: list[str] = REFUSALS + PAUSES) -> str:
    words = []
    for word in draw(st.sampled_from(phrases)).split(" "):
        if draw(st.integers(0, 3)) == 0:
            word = _typo(word, draw)
        chars = []
        for i, ch in enumerate(word):
            if ch == "'":
                chars.append(draw(st.sampled_from(APOSTROPHE_VARIANTS)))
            elif "a" <= ch <= "z":
                lower, upper = draw(st.sampled_from(STYLES))
                chars.append(chr(draw(st.sampled_from([lower, upper])) + ord(ch) - ord("a")))
                if draw(st.integers(0, 9)) == 0:
                    chars.append(chars[-1] * draw(st.integers(1, 3)))  # "nooo"
            else:
                chars.append(ch)
            if i < len(word) - 1 and draw(st.integers(0, 5)) == 0:
                chars.append(draw(st.sampled_from(INVISIBLES)))
        words.append("".join(chars))
    text = words[0]
    for word in words[1:]:
        text += draw(st.sampled_from(SPACES)) + word
    return draw(st.sampled_from(PREFIXES)) + text + draw(st.sampled_from(SUFFIXES))


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbed())
def test_fuzz_refusals_and_pauses_never_consent(text: str) -> None:
    assert classify(text) is not Verdict.CONSENT, (text, normalise(text))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([p for p in REFUSALS if " " not in p and "'" not in p]),
    st.sampled_from([" ", ".", "-", ". ", " - ", "\u00a0", "_", "/"]),
    st.booleans(),
    st.sampled_from(["", ".", "!", "!!!", " ", "\u2026"]),
)
def test_fuzz_refusals_spelled_letter_by_letter_still_refuse(
    word: str, sep: str, upper: bool, suffix: str
) -> None:
    text = sep.join(word.upper() if upper else word) + suffix
    assert classify(text) is Verdict.REFUSAL, (text, normalise(text))


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(REFUSALS),
    st.sampled_from(["", " ", "  ", "\t", "\n", '"', "(", "*"]),
    st.sampled_from(["", ".", "!", "!!", " ", ")", '"', "\u2026"]),
    st.booleans(),
)
def test_fuzz_spacing_and_case_keep_a_refusal_a_refusal(
    phrase: str, prefix: str, suffix: str, upper: bool
) -> None:
    text = prefix + (phrase.upper() if upper else phrase) + suffix
    assert classify(text) is Verdict.REFUSAL, (text, normalise(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40))
def test_fuzz_ascii_text_reads_the_same_with_an_invisible_character(text: str) -> None:
    assert normalise(text + "\u200b") == normalise(text)
    assert classify(text + "\u200b") is classify(text)
