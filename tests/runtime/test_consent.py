"""Refusal detection for soft-confirmed (T2) proposals: regressions, consent, fuzz.

A refusal read as consent executes a write the user declined, so the fuzz
perturbs refusal phrases every way a keyboard, a phone or a copy-paste can
(spacing, case, look-alike letters, apostrophe variants, invisible characters
inside a word, surrounding punctuation) and requires every one to refuse.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.proposals.consent import APOSTROPHES, is_refusal, normalise

# Each was taken as consent by the literal regex this module replaced.
REGRESSIONS = [
    # the defects of issue 15, item 3
    "do  not",
    "do\u00a0not",
    "don\u2018t",
    "don\u02bct",
    "don`t",
    "n\u200bo",
    "\uff4e\uff4f",
    "nah",
    "not yet",
    "hold on",
    "forget it",
    # more spellings of the same words
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
    "noooo",
    # the widened vocabulary
    "nay",
    "naw",
    "not now",
    "nvm",
    "hang on",
    "hold off",
    "hold up, is that right?",
    "one sec",
    "just a moment",
    "pause",
    "halt",
    "scratch that",
    "undo",
    "revert it",
    "roll back",
    "reject",
    "decline",
    "deny",
    "changed my mind",
    "I'd rather not",
    "not sure",
    "unsure",
    "maybe later",
    "negative",
    "that isn't right",
    "that's wrong",
    "actually make it 60",
    "make it 60 instead",
    "I can't afford that",
    "hmm",
    "nothing",
    "Nothing.",
    "N",
    "\U0001f44e",
    "\U0001f44e\U0001f3fd",
    "\u270b",
    "\U0001f6d1",
    "\u274c",
    "\u26d4\ufe0f",
    "\U0001f645\u200d\u2642\ufe0f",
    "yes\u200bbut\u200bhold on",
    # spelled out letter by letter, or with a zero for an o
    "n o",
    "N.O.",
    "n-o",
    "N0",
    "st0p",
    "s t o p",
    "C-A-N-C-E-L",
    "w.a.i.t!",
]

# Refusals before the change too, kept: invisible characters between words.
STILL_REFUSALS = ["no", "nope.", "yes\u200bno", "no\u00adpe", "ok\u2060stop"]

CONSENT = [
    "yes",
    "Yes!",
    "ok go ahead",
    "sure",
    "sounds good",
    "yes do it",
    "yes, go ahead",
    "yes please \U0001f44d",
    "thanks!",
    "great",
    "add service massage for 50 dollars",
    "my business is called Ann's Nails",
    "my business is called Ann\u2019s Nails",
    "open 9am to 5pm",
    "publish the site",
    "what is my setup progress?",
    "Update massage price to $60",
    "Please book a haircut tomorrow at 3pm",
    "know",
    "I know",
    "notary",
    "noted",
    "knot",
    "snow",
    "noon works",
    "nothing else",
    "nothing more, thanks",
    "donate",
    "stopwatch",
    "waiter",
    "Caf\u00e9 Z\u00fcrich \u2702\ufe0f",
    "",
    "   ",
]


@pytest.mark.parametrize("text", REGRESSIONS)
def test_regressions_are_refusals(text: str) -> None:
    assert is_refusal(text), repr(normalise(text))


@pytest.mark.parametrize("text", STILL_REFUSALS)
def test_still_refusals(text: str) -> None:
    assert is_refusal(text)


@pytest.mark.parametrize("text", CONSENT)
def test_consent_stays_consent(text: str) -> None:
    assert not is_refusal(text), repr(normalise(text))


@pytest.mark.parametrize(
    "text", ["yes, but wait", "ok \u2014 no, stop", "sure. actually, hold on", "go ahead \u274c"]
)
def test_a_refusal_anywhere_wins(text: str) -> None:
    assert is_refusal(text)


def test_not_alone_refuses_but_not_inside_a_word() -> None:
    assert is_refusal("not")
    assert is_refusal("why not")  # the documented friction
    assert not is_refusal("nothing else") and not is_refusal("notable")
    assert is_refusal("nothing") and is_refusal("  NOTHING!! ")


@pytest.mark.parametrize("apostrophe", APOSTROPHES)
def test_every_apostrophe_look_alike_reads_as_one(apostrophe: str) -> None:
    assert normalise(f"don{apostrophe}t") == "don't"
    assert is_refusal(f"don{apostrophe}t do it")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Do\u00a0\u00a0NOT!!", "do not"),
        ("  no,thanks\t\n", "no thanks"),
        ("\u201cno\u201d", "no"),
        ("\uff4e\u200b\uff4f", "no"),
        ("Ann\u2019s Nails", "ann's nails"),
        ("\u017ftop", "stop"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


# --- fuzz -----------------------------------------------------------------

PHRASES = [
    "no",
    "nope",
    "nah",
    "cancel",
    "stop",
    "wait",
    "don't",
    "dont",
    "do not",
    "not yet",
    "never mind",
    "nevermind",
    "hold on",
    "hang on",
    "forget it",
    "scratch that",
    "abort",
    "reject",
    "decline",
    "undo",
    "revert",
    "pause",
    "halt",
    "changed my mind",
    "rather not",
    "no thanks",
    "not sure",
    "maybe later",
    "negative",
    "can't",
]
# Lower-case and upper-case starts of alphabets NFKC folds to ASCII letters.
STYLES = [
    (0x61, 0x41),  # plain
    (0xFF41, 0xFF21),  # fullwidth
    (0x1D41A, 0x1D400),  # mathematical bold
    (0x1D5EE, 0x1D5D4),  # mathematical sans-serif bold
    (0x1D68A, 0x1D670),  # mathematical monospace
    (0x24D0, 0x24B6),  # circled
]
APOSTROPHE_VARIANTS = [
    "'",
    "\u2019",
    "\u2018",
    "\u02bc",
    "`",
    "\u00b4",
    "\u2032",
    "\uff07",
    "\u201b",
    "\u02bb",
]
INVISIBLES = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u034f",
    "\ufe0f",
    "\ufe00",
    "\u3164",
    "\u115f",
    "\u1160",
    "\u180e",
    "\u2061",
]
SPACES = [" ", "  ", "\t", "\u00a0", "\n", "\r\n", " \t ", "\u2003", "\u3000", "\u202f"]
PREFIXES = ["", " ", '"', "'", "\u201c", "\u00ab", "(", "*", "...", "yes, but ", "ok ", "\n"]
SUFFIXES = ["", ".", "!", "!!!", "?", '"', "\u201d", "\u00bb", ")", ",thanks", ", please", " "]


@st.composite
def perturbed_refusals(draw: st.DrawFn) -> str:
    words = []
    for word in draw(st.sampled_from(PHRASES)).split(" "):
        chars = []
        for i, ch in enumerate(word):
            if ch == "'":
                chars.append(draw(st.sampled_from(APOSTROPHE_VARIANTS)))
            else:
                lower, upper = draw(st.sampled_from(STYLES))
                start = draw(st.sampled_from([lower, upper]))
                chars.append(chr(start + ord(ch) - ord("a")))
            if i < len(word) - 1 and draw(st.integers(0, 3)) == 0:
                chars.append(draw(st.sampled_from(INVISIBLES)))
        words.append("".join(chars))
    text = words[0]
    for word in words[1:]:
        text += draw(st.sampled_from(SPACES)) + word
    return draw(st.sampled_from(PREFIXES)) + text + draw(st.sampled_from(SUFFIXES))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(perturbed_refusals())
def test_fuzz_perturbed_refusals_still_refuse(text: str) -> None:
    assert is_refusal(text), (text, normalise(text))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([p for p in PHRASES if " " not in p and "'" not in p]),
    st.sampled_from([" ", ".", "-", ". ", " - ", "\u00a0", "_", "/"]),
    st.booleans(),
    st.sampled_from(SUFFIXES),
)
def test_fuzz_refusals_spelled_letter_by_letter_still_refuse(
    word: str, sep: str, upper: bool, suffix: str
) -> None:
    text = sep.join(word.upper() if upper else word) + suffix
    assert is_refusal(text), (text, normalise(text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=40))
def test_fuzz_ascii_fast_path_agrees_with_the_unicode_path(text: str) -> None:
    # A zero-width space folds to nothing but sends the text down the non-ASCII path.
    assert normalise(text + "\u200b") == normalise(text)
    assert is_refusal(text + "\u200b") == is_refusal(text)
