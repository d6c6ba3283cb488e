"""Soft-confirm consent: does the user's next message refuse a pending T2 proposal?

A T2 proposal executes when the user's next message is *not* a refusal
(DESIGN.md "Trust tiers"), so this one predicate decides whether a write runs.
Its errors are not symmetric: a refusal read as consent executes a write the
user declined (a defect); consent read as a refusal only makes the user ask
again (friction). Hence:

- A refusal marker anywhere in the message wins: "yes, but wait" refuses.
- Spelling does not hide a marker. The text is normalised first (`normalise`):
  folded as `fold.py` describes (NFKC look-alikes such as fullwidth `\\uff4e\\uff4f` and
  math letters, case, accents, zero-width and filler characters inside a word,
  Cyrillic homoglyphs), every apostrophe look-alike becomes `'`, every other
  punctuation character and every kind of whitespace (NBSP, tabs, newlines)
  one space. A message whose invisible characters separate words
  ("yes\\u200bno") is also read with them as spaces.
- The vocabulary is wide: plain refusals (no, nope, nah, cancel, abort,
  reject, decline, deny, 👎 ❌ 🛑 ✋ ...), pauses (stop, wait, hold on, hang
  on, one sec, pause), hesitation (maybe, not sure, unsure, hmm, let me
  think, 🤔), undoing (undo, revert, forget it, scratch that, never mind,
  changed my mind) and corrections (actually, instead, rather, wrong): a
  message that corrects the proposal does not consent to it as proposed.
- Words keep their boundaries, so "know", "notary", "snow", "noon" and
  "Ann's Nails" are not refusals. A word spelled letter by letter ("n o",
  "N.O.", "s-t-o-p") is read joined, and a zero inside a word as an o ("n0").

Two deliberate choices:

- "not" alone is a refusal, and so is every negated auxiliary ("don't",
  "isn't", "can't", with or without the apostrophe): a negation in a reply to
  a proposal is at best ambiguous ("not that one", "that's not right"). The
  cost is friction on "why not" and "not bad".
- "nothing" refuses only as the whole message ("nothing."), as does a bare
  "n": "nothing else" / "nothing more" close a request and stay consent.

The check runs on every user message of a session with a pending T2: one
precompiled regex over the normalised text, with a `str.translate` fast path
for ASCII messages.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from runtime.fold import FILLERS, fold_char

# Apostrophe and single-quote look-alikes. Checked before folding: NFKD turns
# some of them (U+00B4, U+1FFD, U+0384) into a space plus a combining mark.
APOSTROPHES = (
    "'`\u00b4\u02b9\u02bb\u02bc\u02bd\u02be\u02bf\u02c8\u02ca\u02cb\u02ee\u0384\u055a"
    "\u05f3\u1fbd\u1fbf\u1fef\u1ffd\u1ffe\u2018\u2019\u201a\u201b\u2032\u2035\ua78b"
    "\ua78c\uff07\uff40"
)
_APOSTROPHE_SET = frozenset(APOSTROPHES)

_NEGATED_AUXILIARIES = (
    "do|does|did|wo|would|should|could|ca|is|are|was|were|have|has|had|must|need|sha|ai|might"
)
# Each entry is a regex over normalised text (lower case, one space between
# words, `'` the only apostrophe), matched as whole words.
REFUSAL_WORDS: tuple[str, ...] = (
    # no, in its spellings
    r"no+",
    r"nope+",
    r"nah+",
    r"naw+",
    r"nay",
    r"nuh",
    r"uh uh",
    r"nix",
    r"none",
    r"negative",
    # negation (see the module docstring)
    r"not",
    r"never",
    r"nevermind",
    r"nvm",
    r"cannot",
    r"\w+n't",
    rf"(?:{_NEGATED_AUXILIARIES})n ?t",
    # stop, wait
    r"st+o+p+(?:s|ped|ping)?",
    r"halt(?:s|ed|ing)?",
    r"wa+i+t+(?:s|ed|ing)?",
    r"paus(?:e|ed|es|ing)",
    r"hold (?:on|off|up|it|that|fire)",
    r"hol up",
    r"hang (?:on|tight)",
    r"(?:one|1|just a) (?:sec|second|moment|min|minute)s?",
    r"whoa+",
    r"woah+",
    r"slow down",
    # cancel, undo
    r"cancel\w*",
    r"abort\w*",
    r"reject\w*",
    r"declin(?:e|ed|es|ing)",
    r"den(?:y|ied|ies|ying)",
    r"refus(?:e|ed|es|ing)",
    r"veto(?:ed|es)?",
    r"disagree[sd]?",
    r"undo(?:ne)?",
    r"revert\w*",
    r"roll ?back",
    r"go back",
    r"back out",
    r"take (?:it|that) back",
    r"scrap(?:s|ped|ping)?",
    r"scratch (?:that|it)",
    r"skip(?:s|ped|ping)?",
    r"forg[eo]t\w*",
    r"quit",
    r"drop (?:it|that)",
    r"leave it",
    r"(?:i'?ll|i will|i'd|i) pass",
    r"pass on (?:it|that|this)",
    # hesitation
    r"maybe",
    r"unsure",
    r"uncertain",
    r"doubt\w*",
    r"hesitant",
    r"h+m+",
    r"let me think",
    r"think (?:about it|it over)",
    r"(?:another|some other) time",
    # corrections
    r"wrong",
    r"incorrect",
    r"mistake\w*",
    r"actually",
    r"instead",
    r"rather",
    r"changed? (?:my|your) mind",
    r"change of plans?",
    r"(?:on )?second thoughts?",
)
# Refusals only as the whole message.
REFUSAL_MESSAGES: tuple[str, ...] = ("n", "nothing")
# 👎 ✋ 🤚 🛑 ❌ ❎ ✖ ✗ ✘ ⛔ 🚫 🙅 ⏸ ⏹ 🤔 (skin tones and presentation selectors
# around them do not matter: an emoji needs no word boundary).
REFUSAL_EMOJI = (
    "\U0001f44e\u270b\U0001f91a\U0001f6d1\u274c\u274e\u2716\u2717\u2718\u26d4"
    "\U0001f6ab\U0001f645\u23f8\u23f9\U0001f914"
)

_REFUSAL = re.compile(
    rf"\b(?:{'|'.join(REFUSAL_WORDS)})\b"
    rf"|^(?:{'|'.join(REFUSAL_MESSAGES)})$"
    rf"|[{REFUSAL_EMOJI}]"
)

# ASCII: apostrophe look-alikes to `'`, other punctuation and controls to a space.
_ASCII_TABLE = {
    c: ("'" if chr(c) in _APOSTROPHE_SET else " ")
    for c in range(128)
    if not chr(c).isalnum() and chr(c) not in " '"
}


@lru_cache(maxsize=16384)
def _normal_char(ch: str) -> str:
    if ch in _APOSTROPHE_SET:
        return "'"
    out = []
    for c in fold_char(ch):
        if c.isascii():
            out.append(c.translate(_ASCII_TABLE))  # as the ASCII fast path does
        elif c in _APOSTROPHE_SET:
            out.append("'")
        elif unicodedata.category(c)[0] in "PZC":
            out.append(" ")
        else:
            out.append(c)  # letters, digits, symbols (emoji)
    return "".join(out)


def normalise(text: str) -> str:
    """The text refusals are matched in: folded, one kind of apostrophe, single spaces."""
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_TABLE).split())
    return " ".join("".join(map(_normal_char, text)).split())


# Letters one by one ("n o", "N.O.", "s-t-o-p" normalise to single-letter words)
# are read joined, and a zero inside a word as an o ("n0", "st0p").
_SPELLED_OUT = re.compile(r"(?<!\w)\w(?: \w)+(?!\w)")
_ZERO_IN_WORD = re.compile(r"(?<=[a-z])0|0(?=[a-z])")


def _refuses(normal: str) -> bool:
    if _REFUSAL.search(normal) is not None:
        return True
    variant = _ZERO_IN_WORD.sub("o", _SPELLED_OUT.sub(lambda m: m[0].replace(" ", ""), normal))
    return variant != normal and _REFUSAL.search(variant) is not None


def _separates(ch: str) -> bool:
    return ch in FILLERS or unicodedata.category(ch) == "Cf"


def is_refusal(text: str) -> bool:
    """Does the user's next message refuse what was proposed? (module docstring)"""
    if _refuses(normalise(text)):
        return True
    if text.isascii() or not any(map(_separates, text)):
        return False
    # Invisible characters also read as word separators: "yes\u200bno".
    spaced = "".join(" " if _separates(ch) else ch for ch in text)
    return _refuses(normalise(spaced))
