"""One sanitiser for every tenant- or user-supplied field put in a system prompt."""

from __future__ import annotations

import re
import unicodedata

MAX_PROMPT_FIELD = 100

# Role markers and prompt-structure tokens a field must never carry. No leading
# word boundary: "xHuman:" must lose its "Human:" too.
_ROLE_MARKERS = re.compile(
    r"(?i)((human|assistant|system|user)\s*:|</?\s*(system|assistant|user|human|instructions?)"
    r"\s*/?>|\[/?\s*(inst|system)\s*\]|<\|[^|]*\|>|#{2,}|`{3,})"
)
_WS = re.compile(r"\s+")


def _strip_controls(text: str) -> str:
    # str.isprintable() is False exactly for categories C* and Z* other than
    # the ASCII space: the common, clean case costs one C call.
    if text.isprintable():
        return text
    return "".join(
        " " if unicodedata.category(ch)[0] in ("C", "Z") and ch != " " else ch for ch in text
    )


def sanitize_for_prompt(value: object, max_len: int = MAX_PROMPT_FIELD) -> str:
    """Collapse whitespace, drop control chars and role markers, cap the length.

    Removal repeats until stable so that markers split by other markers
    ("Hu<system>man:") cannot reassemble.
    """
    text = _strip_controls(str(value))
    while True:
        cleaned = _ROLE_MARKERS.sub(" ", text)
        cleaned = _WS.sub(" ", cleaned)
        if cleaned == text:
            break
        text = cleaned
    text = text.strip()[:max_len].strip()
    # Capping can't create a marker (it only removes a tail), but re-check cheaply.
    return _ROLE_MARKERS.sub(" ", text).strip() if _ROLE_MARKERS.search(text) else text
