"""Folding text a user or tenant controls before matching it against a fixed list.

Two matchers compare such text with a fixed vocabulary: the refusal words that
stop a soft-confirmed proposal (`consent.py`) and the role markers the prompt
sanitiser removes (`sanitize.py`). A literal match is beaten by text that
*reads* the same but is spelled with other code points: fullwidth forms
(`\\uff4e\\uff4f` for "no", `\\uff1csystem\\uff1e`), mathematical
alphanumerics (`\\U0001d427\\U0001d428`), the long s (`\\u017fystem:`), a
combining grapheme joiner, variation selector or Hangul filler inside a word
(`sys\\u034ftem:`), a Cyrillic `\\u043e` for a Latin `o`.

`fold_char` maps one code point to the lower-case letters it should be matched
as: compatibility decomposition (NFKD, the folding NFKC does, without the
recomposition that would hide a base letter under its accent), case folding,
then dropping what is invisible or only decorates a letter (format characters,
combining and enclosing marks, variation selectors, Hangul and Braille
fillers), then a short table of Cyrillic, Greek and small-capital homoglyphs.
Folding is per code point, so the fold of a string is the concatenation of
the folds of its characters: a caller can map a match in the folded text back
to the original characters (the sanitiser does). Punctuation look-alikes
differ per matcher (an apostrophe for one, a colon or bracket for the other),
so each caller layers its own table on top.

Folding only decides what matches; nothing folded is shown to anyone.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Letters (Lo) and symbols (So) that render as nothing: Hangul fillers, the
# halfwidth filler (U+3164 decomposes to U+1160) and the blank Braille cell.
FILLERS: frozenset[str] = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# Format characters (zero-width space/joiners, word joiner, BOM, soft hyphen,
# bidi controls, tags), combining marks (U+034F, variation selectors, accents)
# and enclosing marks.
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


def _homoglyphs() -> dict[str, str]:
    pairs = (
        # Cyrillic capitals and small letters that look Latin
        ("АВЕКМНОРСТХУЅІЈҮԚԜҺ", "abekmhopctxysijyqwh"),
        ("аеорсухѕіјһԁԛԝүӏ", "aeopcyxsijhdqwyl"),
        # Greek capitals (before case folding: a capital Nu reads N, its small form v)
        ("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abezhikmnoptyx"),
        ("οαικνρυ", "oaikvpu"),
        # Latin small capitals and other letters NFKD leaves alone
        ("ᴀʙᴄᴅᴇɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢıȷɑɡ", "abcdeghijklmnoprstuvwyzijag"),
    )
    table: dict[str, str] = {}
    for src, dst in pairs:
        table.update(zip(src, dst, strict=True))
    return table


HOMOGLYPHS: dict[str, str] = _homoglyphs()


def is_invisible(ch: str) -> bool:
    """Does `ch` render as nothing of its own (and so fold to nothing)?"""
    return ch in FILLERS or unicodedata.category(ch) in _DROPPED_CATEGORIES


@lru_cache(maxsize=16384)
def fold_char(ch: str) -> str:
    """What one code point is matched as: "" for the invisible, else lower-case text."""
    glyph = HOMOGLYPHS.get(ch)
    if glyph is not None:
        return glyph
    # Case folding can produce text NFKD decomposes further ("İ" -> "i" + U+0307).
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", ch).casefold())
    return "".join(HOMOGLYPHS.get(c, c) for c in decomposed if not is_invisible(c))


def fold(text: str) -> str:
    """`fold_char` over `text` (the ASCII case is `str.lower`)."""
    if text.isascii():
        return text.lower()
    return "".join(map(fold_char, text))
