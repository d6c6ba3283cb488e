"""One sanitiser for every tenant- or user-supplied field put in a system prompt."""

from __future__ import annotations

import re
import unicodedata

MAX_PROMPT_FIELD = 100

# Role markers and prompt-structure tokens a field must never carry. No leading
# word boundary: "xHuman:" must lose its "Human:" too. The lookahead lists every
# marker's possible first character, so the engine skips other positions at
# once (twice as fast on clean text as trying each alternative everywhere).
_ROLE_MARKERS = re.compile(
    r"(?=[hasuHASU<\[#`])(?i:(human|assistant|system|user)\s*:"
    r"|</?\s*(system|assistant|user|human|instructions?)\s*/?>"
    r"|\[/?\s*(inst|system)\s*\]|<\|[^|]*\|>|#{2,}|`{3,})"
)
# ASCII control characters (C0 and DEL) to spaces, in one C call.
_ASCII_CONTROLS = {c: " " for c in (*range(32), 127)}
_WS = re.compile(r"\s+")


def _strip_controls(text: str) -> str:
    # str.isprintable() is False exactly for categories C* and Z* other than
    # the ASCII space: the common, clean case costs one C call.
    if text.isprintable():
        return text
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    return "".join(
        " " if unicodedata.category(ch)[0] in ("C", "Z") and ch != " " else ch for ch in text
    )


def sanitize_for_prompt(value: object, max_len: int = MAX_PROMPT_FIELD) -> str:
    """Collapse whitespace, drop control chars and role markers, cap the length.

    Removal repeats until stable so that markers split by other markers
    ("Hu<system>man:") cannot reassemble.
    """
    text = _strip_controls(str(value))
    # Whitespace inside a marker is matched by `\s*`, so collapsing it once at
    # the end cannot make a new marker; removing one can, hence the loop.
    count = 1
    while count:
        text, count = _ROLE_MARKERS.subn(" ", text)
    # Capping only removes a tail, which cannot create a marker.
    return _WS.sub(" ", text).strip()[:max_len].strip()
