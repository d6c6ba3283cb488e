"""One sanitiser for every tenant- or user-supplied field put in a system prompt.

A customer's words reach the system prompt through the history summary, so
any end user controls some of this text. It must not carry a role marker or
prompt-structure token the model could read as a new turn or instruction:
`Human:`/`Assistant:`/`System:`/`User:` (any colon look-alike), tags named
after a role or instructions with any attributes or odd spelling
(`<system priority="x">`, `</instructions foo>`, `<system/ >`, `<<SYS>>`,
`<</SYS>>`, `<system_prompt`), `[INST]`/`[/INST]`, `<|...|>`, `##`, and
code fences.

Markers are matched in the *folded* text (`fold.py`: NFKC look-alikes such
as `\\uff1csystem\\uff1e` and `System\\uff1a`, case folds such as
`\\u017fystem:`, fillers and combining characters inside a word such as
`sys\\u034ftem:`, plus the colon, angle, bracket, slash and pipe look-alikes
NFKC leaves alone), and removed from the original: the output keeps the
tenant's own spelling (accents, emoji presentation, Cyrillic names) everywhere
else. Format characters (zero-width space, joiners, BOM, soft hyphen) are
invisible and dropped; other controls and separators become spaces. Clean
ASCII text, the common case, folds to itself and is matched directly.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache

from .fold import fold_char

MAX_PROMPT_FIELD = 100

# No leading word boundary: "xHuman:" must lose its "Human:" too. An unclosed
# tag loses its head ("<system ..."). The lookahead lists every marker's
# possible first character, so the engine skips other positions at once
# (twice as fast on clean text as trying each alternative everywhere).
_ROLE_MARKERS = re.compile(
    r"(?=[hasuHASU<\[#`|])(?i:"
    r"(?:human|assistant|system|user)\s*:"
    r"|<+\s*/?\s*(?:sys|assistant|user|human|developer|inst|im_)[\w-]*(?:[^<>]*>+)?"
    r"|\[+\s*/?\s*(?:inst|sys|assistant|user|human)[\w-]*\s*\]+"
    r"|<\|[^|<>]*\|>|<\||\|>"
    r"|\#{2,}|`{3,})"
)


def _lookalikes() -> dict[str, str]:
    pairs = (
        (":", "\u02d0\u02f8\u0589\u05c3\u16ec\u2236\u205a\u2982\ua789"),
        ("<", "\u02c2\u1438\u2039\u27e8\u276c\u276e\u3008"),
        (">", "\u02c3\u1433\u203a\u27e9\u276d\u276f\u3009"),
        ("<<", "\u00ab\u27ea\u300a"),
        (">>", "\u00bb\u27eb\u300b"),
        ("[", "\u2045\u27e6\u3010\u3014\u3016\u301a"),
        ("]", "\u2046\u27e7\u3011\u3015\u3017\u301b"),
        ("/", "\u2044\u2215\u29f8"),
        ("|", "\u01c0\u2223\u2502\u2503\u23d0\u2758"),
        ("`", "\u02cb"),
    )
    return {ch: ascii_form for ascii_form, chars in pairs for ch in chars}


# Punctuation look-alikes NFKC does not fold (it folds the fullwidth and
# small forms: U+FF1C, U+FE64, U+FF1A, U+FE55, U+FF3B, U+FF5C, U+FF03, U+FF40).
LOOKALIKES: dict[str, str] = _lookalikes()


@lru_cache(maxsize=16384)
def _marker_char(ch: str) -> str:
    ascii_form = LOOKALIKES.get(ch)
    if ascii_form is not None:
        return ascii_form
    return "".join(LOOKALIKES.get(c, c) for c in fold_char(ch))


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on demand with `_marker_char` (bounded)."""

    def __missing__(self, key: int) -> str:
        if len(self) >= 16384:
            self.clear()
        value = self[key] = _marker_char(chr(key))
        return value


_FOLD_TABLE = _FoldTable()


def _remove_ascii_markers(text: str) -> tuple[str, int]:
    return _ROLE_MARKERS.subn(" ", text)


def _remove_folded_markers(text: str) -> tuple[str, int]:
    """Remove every marker found in the folded text from `text` itself."""
    folded = text.translate(_FOLD_TABLE)
    matches = list(_ROLE_MARKERS.finditer(folded))
    if not matches:
        return text, 0
    starts: list[int] = []  # starts[i]: where character i's fold begins in `folded`
    offset = 0
    for ch in text:
        starts.append(offset)
        offset += len(_marker_char(ch))
    pieces: list[str] = []
    kept_from = 0
    for m in matches:
        # The character owning a folded position is the last one starting at
        # or before it (characters that fold to nothing start there too).
        first = bisect_right(starts, m.start()) - 1
        last = bisect_right(starts, m.end() - 1) - 1
        pieces += (text[kept_from:first], " ")
        kept_from = last + 1
    pieces.append(text[kept_from:])
    return "".join(pieces), len(matches)


# ASCII control characters (C0 and DEL) to spaces, in one C call.
_ASCII_CONTROLS = {c: " " for c in (*range(32), 127)}
_WS = re.compile(r"\s+")


def _strip_controls(text: str) -> str:
    # str.isprintable() is False exactly for categories C* and Z* other than
    # the ASCII space: the common, clean case costs one C call. Format
    # characters (zero-width space, joiners, BOM, soft hyphen, bidi controls)
    # are invisible, so they go; other controls and separators become spaces.
    if text.isprintable():
        return text
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    return "".join(_control_char(ch) for ch in text)


def _control_char(ch: str) -> str:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ""
    return " " if category[0] in ("C", "Z") and ch != " " else ch


def sanitize_for_prompt(value: object, max_len: int = MAX_PROMPT_FIELD) -> str:
    """Collapse whitespace, drop control chars and role markers, cap the length.

    Removal repeats until stable so that markers split by other markers
    ("Hu<system>man:") cannot reassemble.
    """
    text = _strip_controls(str(value))
    # Whitespace inside a marker is matched by `\s*`, so collapsing it once at
    # the end cannot make a new marker; removing one can, hence the loop.
    remove = _remove_ascii_markers if text.isascii() else _remove_folded_markers
    count = 1
    while count:
        text, count = remove(text)
    # Capping only removes a tail, which cannot create a marker (folding is
    # per character, so the fold of a prefix is a prefix of the fold).
    return _WS.sub(" ", text).strip()[:max_len].strip()
