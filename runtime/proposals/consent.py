"""Soft-confirm consent: how the user's next message answers a pending T2 proposal.

`classify(text)` reads the message four ways (DESIGN.md "Soft confirm"):

- `CONSENT` confirms: an affirmative ("yes", "ok", "sure", "go ahead", 👍 and
  their equivalents in Spanish, French, German, Italian, Portuguese, Dutch,
  Russian, Mandarin, Japanese, Hindi, Arabic, Bengali and Urdu), with nothing
  else in the message but politeness ("yes please, thanks"), or a new
  instruction ("add massage for 50 dollars", "publish the site"),
  read in English only;
- `REFUSAL` rejects: no, cancel, stop, never mind... in the fourteen
  languages above and English, spelling variants and one-letter typos of the
  longer words included ("cancle", "canel");
- `CORRECTION` rejects too, as superseded: the message corrects what was
  proposed ("change it to 60 dollars", "too expensive", "oops"), and the
  agent proposes the corrected action;
- `UNCLEAR` changes nothing: pauses ("give me a sec", "later", "brb"),
  hesitation ("idk", "perhaps", "...", "?"), questions ("what?", "how much
  does it cost?"), mixed signals ("yes... actually no", "ok wait"), a script
  the rules do not know, and anything else they cannot place.

Consent needs positive evidence: a message is consent only when every word
of it is accounted for (an affirmative, politeness, a consent idiom) or it
starts as an instruction and carries no refusal, pause, hesitation, question
or correction. When the rules cannot tell, the answer is `UNCLEAR`, never
`CONSENT`. Precedence: correction, then mixed (a refusal and an affirmative
together: unclear), then refusal, then pause/hesitation/question/unknown
script (unclear), then consent.

"No problem", "no worries", "no rush", "can't wait", "I don't mind" (and their
equivalents) are idioms, read before any refusal word: "yes, no problem" is
consent. Negated pauses and doubts ("not yet", "not sure", "I don't know") are
read as pauses and doubts, not refusals.

Spelling does not hide a word. The text is read as `normalise` gives it:
per word, a word with Latin letters is folded as `fold.py` describes
(look-alikes such as fullwidth letters, accents, case, Cyrillic homoglyphs),
a word in another script is NFKC-normalised and case-folded; apostrophe
look-alikes become `'`, other punctuation and every kind of whitespace one
space, invisible characters inside a word are dropped (and, as a second
reading, taken as spaces: "yes\\u200bno"). A word spelled letter by letter
("n o", "s-t-o-p") is read joined, a zero inside a word as an o ("n0").
Words keep their boundaries: "know", "notary", "snow" are not refusals.
Scripts without spaces (Chinese, Japanese) and emoji match anywhere.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from functools import lru_cache

from runtime.fold import FILLERS, HOMOGLYPHS, fold_char


class Verdict(StrEnum):
    CONSENT = "consent"
    REFUSAL = "refusal"
    CORRECTION = "correction"  # a refusal that the corrected proposal supersedes
    UNCLEAR = "unclear"

    @property
    def rejects(self) -> bool:
        return self in (Verdict.REFUSAL, Verdict.CORRECTION)


# Apostrophe and single-quote look-alikes. Checked before folding: NFKD turns
# some of them (U+00B4, U+1FFD, U+0384) into a space plus a combining mark.
APOSTROPHES = (
    "'`\u00b4\u02b9\u02bb\u02bc\u02bd\u02be\u02bf\u02c8\u02ca\u02cb\u02ee\u0384\u055a"
    "\u05f3\u1fbd\u1fbf\u1fef\u1ffd\u1ffe\u2018\u2019\u201a\u201b\u2032\u2035\ua78b"
    "\ua78c\uff07\uff40"
)
_APOSTROPHE_SET = frozenset(APOSTROPHES)
QUESTION_MARKS = frozenset("?\uff1f\u00bf\u061f\u037e\u2047\u2048\u2049\u2753\u2754\u2e2e\ufe56")

# --- the text the rules read ------------------------------------------------


def _invisible(ch: str) -> bool:
    if ch in FILLERS or ch == "\u034f" or "\U0001f3fb" <= ch <= "\U0001f3ff":
        return True
    cat = unicodedata.category(ch)
    return cat in ("Cf", "Me") or (
        cat == "Mn" and ("\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef")
    )


@lru_cache(maxsize=16384)
def _separator(ch: str) -> bool:
    if ch in _APOSTROPHE_SET:
        return False
    return unicodedata.category(ch)[0] in "PZC" and not _invisible(ch)


@lru_cache(maxsize=16384)
def _latin(ch: str) -> bool:
    """Is `ch` a Latin letter (or a look-alike of one in a Latin word)?"""
    if ch.isascii():
        return ch.isalpha()
    if ch in HOMOGLYPHS:
        return False  # Latin only beside a real Latin letter
    folded = fold_char(ch)
    return bool(folded) and folded.isascii() and folded.isalpha()


def _word(raw: str) -> str:
    if raw.isascii():
        return raw.lower()
    if any(map(_latin, raw)):
        out = []
        for ch in raw:
            if ch in _APOSTROPHE_SET:
                out.append("'")
            else:
                out.append(fold_char(ch))
        return "".join(out)
    text = unicodedata.normalize("NFKC", "".join(c for c in raw if not _invisible(c)))
    return text.casefold().replace("\u2019", "'")


def _view(text: str, invisible_splits: bool) -> str:
    words: list[str] = []
    cur: list[str] = []
    for ch in text:
        if ch in _APOSTROPHE_SET:
            cur.append("'")
        elif _separator(ch) or (invisible_splits and _invisible(ch)):
            if cur:
                words.append("".join(cur))
                cur = []
        elif not _invisible(ch):
            cur.append(ch)
    if cur:
        words.append("".join(cur))
    out = []
    for raw in words:
        w = _word(raw)
        # folding may itself yield punctuation or spaces (NFKD of "½", "¨")
        w = "".join(" " if (c != "'" and _separator(c)) else c for c in w)
        out.extend(w.split())
    return " ".join(out)


def normalise(text: str) -> str:
    """The text the rules read: folded per word, one kind of apostrophe, single spaces."""
    return _view(text, invisible_splits=False)


# --- vocabulary -------------------------------------------------------------
# Plain phrases are written as a user types them and go through `normalise`
# (so "não" is matched as "nao"); `_re` entries are regexes over that text.


def _re(pattern: str) -> str:
    return "\x00" + pattern


AFFIRM = [
    # English
    _re(r"y+e+s+|ye+a+h*|ya+|yah|yep+|yup+|yas+|y|ok+|o+k+a+y+|okey|okie|oki|k+|mhm+"),
    _re(r"(?:all ?right|alright|aight)"),
    "sure",
    "sure thing",
    "surely",
    "certainly",
    "absolutely",
    "definitely",
    "of course",
    "ofc",
    "go ahead",
    "go for it",
    "go on",
    "go",
    "proceed",
    "continue",
    "carry on",
    "do it",
    "do that",
    "do so",
    "just do it",
    "please do",
    "make it so",
    "ship it",
    "confirm",
    "confirmed",
    "i confirm",
    "approve",
    "approved",
    "i approve",
    "agreed",
    "i agree",
    "agree",
    "deal",
    "fine",
    "fine by me",
    "fine with me",
    "works for me",
    "that works",
    "ok with me",
    "okay with me",
    "good",
    "great",
    "perfect",
    "cool",
    "nice",
    "awesome",
    "excellent",
    "wonderful",
    "brilliant",
    "lovely",
    "fantastic",
    "amazing",
    "super",
    "right",
    "correct",
    "exactly",
    "indeed",
    "precisely",
    "all good",
    "good to go",
    "let's do it",
    "lets do it",
    "let's go",
    "lets go",
    "you bet",
    "by all means",
    "affirmative",
    "roger",
    "roger that",
    "for sure",
    "totally",
    "sounds",
    "looks",
    "like a plan",
    "a plan",
    "that's it",
    "that's what i want",
    "accept",
    "accepted",
    "i accept",
    "save it",
    "add it",
    "publish it",
    "book it",
    "set it",
    "apply it",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "cheers",
    "appreciate it",
    "much appreciated",
    "happy with that",
    "happy with it",
    "i'm happy with that",
    "i'm fine with that",
    "i'm ok with that",
    "i'm okay with that",
    "no doubt",
    "why not",
    # emoji
    # Spanish
    "sí",
    "si",
    "claro",
    "claro que sí",
    "vale",
    "dale",
    "de acuerdo",
    "adelante",
    "hazlo",
    "por supuesto",
    "perfecto",
    "correcto",
    "está bien",
    "listo",
    "okey",
    "sale",
    "genial",
    "sin problema",
    "no hay problema",
    "gracias",
    "muy bien",
    "bien",
    # French
    "oui",
    "ouais",
    "ouai",
    "d'accord",
    "dac",
    "daccord",
    "vas-y",
    "allez-y",
    "bien sûr",
    "parfait",
    "entendu",
    "c'est bon",
    "ça marche",
    "volontiers",
    "tout à fait",
    "exactement",
    "très bien",
    "certainement",
    "avec plaisir",
    "merci",
    "pas de problème",
    "pas de souci",
    "pas de soucis",
    "c'est parfait",
    # German
    "ja",
    "jawohl",
    "jo",
    "jep",
    "klar",
    "na klar",
    "na gut",
    "na sicher",
    "na logo",
    "genau",
    "gerne",
    "gern",
    "mach das",
    "mach es",
    "mach weiter",
    "los",
    "los geht's",
    "einverstanden",
    "passt",
    "sicher",
    "natürlich",
    "selbstverständlich",
    "alles klar",
    "in ordnung",
    "gut",
    "sehr gut",
    "prima",
    "perfekt",
    "danke",
    "kein problem",
    "jawoll",
    "sehr gerne",
    # Italian
    "sì",
    "certo",
    "certamente",
    "va bene",
    "vai",
    "procedi",
    "fallo",
    "d'accordo",
    "daccordo",
    "perfetto",
    "esatto",
    "volentieri",
    "ovviamente",
    "benissimo",
    "grazie",
    "ottimo",
    "nessun problema",
    "non c'è problema",
    "va benissimo",
    # Portuguese
    "sim",
    "pode",
    "pode ser",
    "pode fazer",
    "beleza",
    "tá",
    "tá bom",
    "ta bom",
    "tudo bem",
    "combinado",
    "com certeza",
    "perfeito",
    "bora",
    "fechado",
    "isso",
    "isso mesmo",
    "obrigado",
    "obrigada",
    "exato",
    "manda ver",
    "sem problema",
    "não tem problema",
    "claro que sim",
    "certo",
    # Dutch
    "jazeker",
    "jawel",
    "zeker",
    "goed",
    "is goed",
    "doe maar",
    "ga je gang",
    "ga door",
    "akkoord",
    "oké",
    "oke",
    "natuurlijk",
    "graag",
    "top",
    "klopt",
    "dank je",
    "dank je wel",
    "bedankt",
    "geen probleem",
    "prima",
    # Russian
    "да",
    "ага",
    "угу",
    "конечно",
    "давай",
    "давайте",
    "хорошо",
    "ладно",
    "окей",
    "ок",
    "согласен",
    "согласна",
    "верно",
    "точно",
    "отлично",
    "спасибо",
    "нет проблем",
    "без проблем",
    "да, конечно",
    # Hindi (and in Latin letters)
    "हाँ",
    "हां",
    "हा",
    "जी",
    "जी हाँ",
    "जी हां",
    "ठीक है",
    "ठीक",
    "बिल्कुल",
    "ज़रूर",
    "जरूर",
    "कर दो",
    "कोई बात नहीं",
    "कोई समस्या नहीं",
    "haan",
    "han",
    "ji",
    "theek hai",
    "thik hai",
    "bilkul",
    "zaroor",
    "jaroor",
    "kar do",
    "koi baat nahi",
    "achha",
    "acha",
    # Arabic
    "نعم",
    "أجل",
    "اجل",
    "حسنا",
    "حسناً",
    "طيب",
    "موافق",
    "تمام",
    "ماشي",
    "أكيد",
    "اكيد",
    "بالتأكيد",
    "تفضل",
    "ايوه",
    "أيوه",
    "لا مشكلة",
    "لا بأس",
    "شكرا",
    # Bengali
    "হ্যাঁ",
    "হাঁ",
    "ঠিক আছে",
    "আচ্ছা",
    "অবশ্যই",
    "করো",
    "কোন সমস্যা নেই",
    # Urdu
    "جی",
    "ہاں",
    "جی ہاں",
    "ٹھیک ہے",
    "ضرور",
    "بالکل",
    "اچھا",
    "کر دو",
    "کوئی مسئلہ نہیں",
]
# Consent too when nothing else is said, but not an affirmative against a refusal
# ("no thanks", "don't do it"): thanks, and "do it" said of the proposal.
WEAK = [
    "do it",
    "do that",
    "do so",
    "just do it",
    "please do",
    "save it",
    "add it",
    "publish it",
    "book it",
    "set it",
    "apply it",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "cheers",
    "appreciate it",
    "much appreciated",
    "hazlo",
    "gracias",
    "merci",
    "danke",
    "grazie",
    "fallo",
    "obrigado",
    "obrigada",
    "pode fazer",
    "doe maar",
    "dank je",
    "dank je wel",
    "bedankt",
    "спасибо",
    "कर दो",
    "kar do",
    "شكرا",
    "করো",
    "کر دو",
    "mach das",
    "mach es",
    "isso",
]
# Scripts without spaces: matched anywhere.
AFFIRM_ANYWHERE = [
    "\U0001f44d",
    "\U0001f44c",
    "\u2705",
    "\u2714",
    "\u2611",
    "\U0001f646",
    "\U0001f197",
    "\U0001f642",
    "\U0001f60a",
    "\U0001f600",
    "\U0001f603",
    "\U0001f44f",
    "\U0001f4af",
    "\U0001f64f",
    "\u270c",
    "\U0001f91d",
    "\U0001f389",
    "好的",
    "好",
    "是的",
    "是",
    "对的",
    "对",
    "可以",
    "行",
    "没问题",
    "不错",
    "当然",
    "确认",
    "同意",
    "继续",
    "谢谢",
    "不介意",
    "はい",
    "ええ",
    "うん",
    "いいよ",
    "いいです",
    "お願いします",
    "おねがいします",
    "よろしく",
    "どうぞ",
    "了解",
    "承知しました",
    "かしこまりました",
    "分かりました",
    "わかりました",
    "進めて",
    "オーケー",
    "オッケー",
    "問題ない",
    "問題ありません",
    "ありがとう",
]
# Words that add nothing to an affirmative (politeness, fillers, idioms that
# carry no refusal).
BENIGN = [
    "please",
    "pls",
    "plz",
    "and",
    "also",
    "then",
    "now",
    "so",
    "well",
    "oh",
    "ah",
    "hey",
    "hi",
    "hello",
    "mate",
    "buddy",
    "dear",
    "sir",
    "ma'am",
    "madam",
    "man",
    "then",
    "that",
    "it",
    "this",
    "is",
    "that's",
    "it's",
    "its",
    "thats",
    "me",
    "to",
    "for",
    "with",
    "very",
    "so much",
    "a lot",
    "lot",
    "really good",
    "the",
    "one",
    "no rush",
    "no hurry",
    "can't wait",
    "cant wait",
    "can not wait",
    "cannot wait",
    "don't worry",
    "dont worry",
    "nothing else",
    "nothing more",
    "that's all",
    "that is all",
    "for now",
    "again",
    "just",
    "yes yes",
    "at all",
    "hoor",
    "totally",
    "por favor",
    "s'il vous plaît",
    "s'il te plaît",
    "stp",
    "svp",
    "bitte",
    "per favore",
    "por favor",
    "alsjeblieft",
    "alstublieft",
    "asseblief",
    "пожалуйста",
    "keine sorge",
    "geen zorgen",
    "no pasa nada",
    "non preoccuparti",
]
IDIOMS_CONSENT = [
    "no problem",
    "no problemo",
    "not a problem",
    "no prob",
    "no probs",
    "np",
    "no worries",
    "no worry",
    "i don't mind",
    "i dont mind",
    "don't mind",
    "dont mind",
    "i do not mind",
    "no objection",
    "no objections",
    "no complaints",
    "sin problema",
    "no hay problema",
    "pas de problème",
    "pas de souci",
    "pas de soucis",
    "kein problem",
    "nessun problema",
    "non c'è problema",
    "sem problema",
    "não tem problema",
    "geen probleem",
    "нет проблем",
    "без проблем",
    "कोई बात नहीं",
    "कोई समस्या नहीं",
    "koi baat nahi",
    "koi baat nahin",
    "لا مشكلة",
    "لا بأس",
    "কোন সমস্যা নেই",
    "কোনো সমস্যা নেই",
    "کوئی مسئلہ نہیں",
    "کوئی بات نہیں",
    "na klar",
    "na gut",
    "na sicher",
    "na logo",
    "no doubt",
    "why not",
]
IDIOMS_NEUTRAL = [
    "no rush",
    "no hurry",
    "can't wait",
    "cant wait",
    "can not wait",
    "cannot wait",
    "don't worry",
    "dont worry",
    "nothing else",
    "nothing more",
    "no pasa nada",
    "keine sorge",
    "geen zorgen",
    "non preoccuparti",
]
IDIOMS_ANYWHERE = ["没问题", "不错", "不客气", "不介意", "問題ない", "問題ありません"]

REFUSE = [
    # English
    _re(r"no+|nope+|nah+|naw+|nay|nuh uh|uh uh|nix|none|negative|no way|no thanks"),
    _re(
        r"not|never|nevermind|nvm|cannot|\w+n't|(?:do|does|did|wo|would|should|could|ca|is"
        r"|are|was|were|have|has|had|must|need|sha|ai|might)n ?t"
    ),
    _re(r"st+o+p+(?:s|ped|ping)?|halt(?:s|ed|ing)?|quit"),
    _re(r"cancel\w*|abort\w*|reject\w*|declin(?:e|ed|es|ing)|den(?:y|ied|ies|ying)"),
    _re(r"refus(?:e|ed|es|ing)|veto(?:ed|es)?|disagree[sd]?|undo(?:ne)?|revert\w*"),
    _re(r"roll ?back|back out|take (?:it|that) back|scrap(?:s|ped|ping)?|scratch (?:that|it)"),
    _re(r"skip(?:s|ped|ping)?|forg[eo]t\w*|drop (?:it|that|this)|leave it|call (?:it|that) off"),
    _re(r"(?:i'?ll|i will|i'd|i) pass|pass on (?:it|that|this)|not interested"),
    "changed my mind",
    "change my mind",
    "change of plans",
    "change of plan",
    # Spanish
    "nop",
    "nel",
    "cancela",
    "cancelar",
    "cancélalo",
    "cancelado",
    "anula",
    "anular",
    "anúlalo",
    "detente",
    "detenlo",
    "nunca",
    "jamás",
    "de ninguna manera",
    "ni hablar",
    "ni loco",
    "olvídalo",
    "olvídate",
    "déjalo",
    "mejor no",
    "no gracias",
    "rechazar",
    "rechazo",
    "basta",
    # French
    "non",
    "nan",
    "annule",
    "annuler",
    "annulez",
    "annulation",
    "arrête",
    "arrêtez",
    "arrêter",
    "jamais",
    "pas question",
    "hors de question",
    "laisse tomber",
    "laissez tomber",
    "surtout pas",
    "mieux vaut pas",
    "refuse",
    "refuser",
    "non merci",
    "pas du tout",
    "oublie",
    "oubliez",
    "oublie ça",
    # German
    "nein",
    "nee",
    "nö",
    "abbrechen",
    "abbruch",
    "brich ab",
    "stopp",
    "storno",
    "stornieren",
    "storniere",
    "auf keinen fall",
    "keinesfalls",
    "niemals",
    "nie",
    "lieber nicht",
    "lass es",
    "lass das",
    "lass mal",
    "vergiss es",
    "vergiss das",
    "nicht",
    "kein",
    "keine",
    "nein danke",
    "abgelehnt",
    "ablehnen",
    # Italian
    "annulla",
    "annullare",
    "annullalo",
    "cancella",
    "cancellare",
    "ferma",
    "fermati",
    "fermo",
    "mai",
    "per niente",
    "neanche",
    "nemmeno",
    "lascia perdere",
    "lascia stare",
    "meglio di no",
    "no grazie",
    "rifiuto",
    "mai più",
    # Portuguese
    "não",
    "nao",
    "nã",
    "nem",
    "cancele",
    "cancelar",
    "pare",
    "para com isso",
    "de jeito nenhum",
    "nem pensar",
    "esquece",
    "esqueça",
    "deixa pra lá",
    "deixa para lá",
    "melhor não",
    "não obrigado",
    "não obrigada",
    "recuso",
    "negativo",
    # Dutch
    "neen",
    "nee hoor",
    "nee dank je",
    "annuleer",
    "annuleren",
    "stoppen",
    "niet",
    "nooit",
    "laat maar",
    "laat maar zitten",
    "liever niet",
    "geen",
    "afbreken",
    "afwijzen",
    "vergeet het",
    # Russian
    "нет",
    "неа",
    "не",
    "не надо",
    "не нужно",
    "не хочу",
    "не стоит",
    "нельзя",
    "отмена",
    "отмени",
    "отменить",
    "отменяй",
    "стоп",
    "стой",
    "хватит",
    "никогда",
    "ни в коем случае",
    "отказ",
    "отказываюсь",
    "не делай",
    "net",
    "nyet",
    "niet",
    # Hindi / Urdu in Latin letters
    "nahi",
    "nahin",
    "nahee",
    "nai",
    "mat",
    "mat karo",
    "radd karo",
    "band karo",
    "na",
    # Hindi
    "नहीं",
    "नही",
    "ना",
    "न",
    "मत",
    "मत करो",
    "रद्द",
    "रद्द करो",
    "रोको",
    "बंद करो",
    "कैंसल",
    "कभी नहीं",
    # Arabic
    "لا",
    "كلا",
    "لأ",
    "لاء",
    "إلغاء",
    "الغاء",
    "ألغ",
    "الغ",
    "ألغي",
    "الغي",
    "توقف",
    "أوقف",
    "اوقف",
    "قف",
    "مستحيل",
    "أبدا",
    "ابدا",
    "لا شكرا",
    "laa",
    # Bengali
    "না",
    "নাহ",
    "বাতিল",
    "থামো",
    "থাম",
    "কখনো না",
    "চাই না",
    "দরকার নেই",
    "করো না",
    # Urdu
    "نہیں",
    "نہ",
    "مت",
    "منسوخ",
    "بند کرو",
    "کبھی نہیں",
    "نا",
    # emoji: 👎 ✋ 🤚 🛑 ❌ ❎ ✖ ✗ ✘ ⛔ 🚫 🙅
]
REFUSE_ANYWHERE = [
    "\U0001f44e",
    "\u270b",
    "\U0001f91a",
    "\U0001f6d1",
    "\u274c",
    "\u274e",
    "\u2716",
    "\u2717",
    "\u2718",
    "\u26d4",
    "\U0001f6ab",
    "\U0001f645",
    "\u23f9",
    # Mandarin
    "不",
    "别",
    "取消",
    "算了",
    "停",
    "拒绝",
    "没有",
    "否",
    # Japanese
    "いいえ",
    "いや",
    "いえ",
    "だめ",
    "ダメ",
    "駄目",
    "キャンセル",
    "取り消",
    "取消",
    "やめ",
    "止め",
    "中止",
    "結構です",
    "いらない",
    "要らない",
    "ノー",
    "ストップ",
    "拒否",
    "しないで",
]
# Refusals that contain an affirmative word ("absolutely not"): read first.
REFUSE_IDIOMS = [
    "absolutely not",
    "definitely not",
    "of course not",
    "certainly not",
    "surely not",
    "hell no",
    "heck no",
    "sure not",
    "por supuesto que no",
    "claro que no",
    "ni de broma",
    "bien sûr que non",
    "certainement pas",
    "natürlich nicht",
    "sicher nicht",
    "certo che no",
    "assolutamente no",
    "claro que não",
    "de jeito nenhum",
    "zeker niet",
    "natuurlijk niet",
    "конечно нет",
    "точно нет",
]
# Refusals only as the whole message.
REFUSE_WHOLE = [
    "n",
    "nothing",
    "pass",
    "para",
    "alto",
    "ne",
    "la",
    "bu",
    "bu yao",
    "buyao",
    "iie",
    "dame",
    "yamete",
]

CORRECT = [
    _re(
        r"(?:change|make|set|switch|update|edit|modify|adjust|put|turn) (?:it|that|this"
        r"|the (?:price|amount|cost|name|time|hours|day|date|duration|item))(?: \w+)? "
        r"(?:to|into|at|for|\d|\$)\S*"
    ),
    _re(r"make (?:it|that|this) \S+"),
    _re(r"(?:should|must|has to|needs to) be|i meant?|i said|meant to say|typo|oops+|whoops+"),
    _re(r"my bad|my mistake|wrong|incorrect|mistake\w*|not right|not correct|correction"),
    _re(
        r"too (?:expensive|cheap|much|little|high|low|early|late|long|short|many|few"
        r"|pricey|costly|big|small)|cheaper|pricier|less expensive|more expensive"
    ),
    _re(r"instead|rather|fix (?:it|that|this)|different (?:price|time|name|day|amount)"),
    _re(r"(?:lower|raise|reduce|increase) (?:it|that|the price)"),
    "cámbialo",
    "cambialo a",
    "demasiado caro",
    "plutôt",
    "trop cher",
    "stattdessen",
    "zu teuer",
    "eher",
    "invece",
    "troppo caro",
    "em vez",
    "muito caro",
    "in plaats van",
    "te duur",
    "слишком дорого",
    "вместо",
    "ошибка",
    "неправильно",
    "गलत",
    "خطأ",
    "غلط",
    "ভুল",
]
CORRECT_ANYWHERE = ["不对", "错了", "改成", "太贵", "違う", "間違", "高すぎ", "に変更"]

# Pauses and doubts: read (and taken out) before refusal words, as several
# carry a negation ("not yet", "I don't know").
PAUSE = [
    _re(r"wa+i+t+(?:s|ed|ing)?|hold (?:on|off|up|it|that|fire)|hol up|hang (?:on|tight)"),
    _re(
        r"(?:one|1|a|just a|give me a|gimme a|gimme|give me) (?:sec|second|moment|min|minute"
        r"|mo|tick|bit)s?"
    ),
    _re(r"secs?|gimme|brb|be right back|afk|later|l8r|laters|busy|pause[ds]?|pausing"),
    _re(r"on hold|not (?:now|yet|today|right now|at the moment|so fast)|slow down|whoa+|woah+"),
    _re(
        r"(?:ask|remind|ping|call|tell) me (?:later|tomorrow|again|next \w+|another time"
        r"|in \w+)|(?:maybe|until|till|do it|let's do it|talk|after) tomorrow|next week"
        r"|another time|some other time|another day"
    ),
    _re(r"let me (?:check|see|look|ask|verify|confirm|talk|get back|think|consult|sleep)"),
    _re(r"get back to you|in a (?:bit|moment|minute|sec|second|while)|need (?:a|some) time"),
    _re(r"(?:need|have|got) to (?:check|ask|think|talk|see|confirm|verify|go)"),
    "espera",
    "espere",
    "espérate",
    "esperen",
    "un momento",
    "un segundo",
    "momentito",
    "ahora no",
    "más tarde",
    "luego",
    "después",
    "todavía no",
    "aún no",
    "attends",
    "attendez",
    "un instant",
    "une seconde",
    "un moment",
    "plus tard",
    "pas maintenant",
    "pas encore",
    "tout à l'heure",
    "warte",
    "warten",
    "wartet",
    "moment",
    "momentchen",
    "sekunde",
    "später",
    "nicht jetzt",
    "noch nicht",
    "aspetta",
    "aspettate",
    "aspetti",
    "un attimo",
    "dopo",
    "più tardi",
    "non ora",
    "non ancora",
    "un secondo",
    "aguarda",
    "aguarde",
    "espera aí",
    "um momento",
    "um segundo",
    "depois",
    "mais tarde",
    "agora não",
    "ainda não",
    "wacht",
    "wacht even",
    "even wachten",
    "momentje",
    "straks",
    "niet nu",
    "nog niet",
    "подожди",
    "подождите",
    "погоди",
    "секунду",
    "минуту",
    "минутку",
    "позже",
    "потом",
    "не сейчас",
    "пока нет",
    "ещё нет",
    "еще нет",
    "रुको",
    "रुकिए",
    "रुको जरा",
    "एक मिनट",
    "बाद में",
    "अभी नहीं",
    "ruko",
    "ruk jao",
    "baad mein",
    "baad me",
    "abhi nahi",
    "abhi nahin",
    "ek minute",
    "انتظر",
    "انتظري",
    "لحظة",
    "لاحقا",
    "لاحقاً",
    "ليس الآن",
    "ليس بعد",
    "بعدين",
    "অপেক্ষা",
    "দাঁড়াও",
    "একটু দাঁড়াও",
    "পরে",
    "এখন না",
    "رکو",
    "ٹھہرو",
    "ایک منٹ",
    "بعد میں",
    "ابھی نہیں",
    "رک جاؤ",
]
PAUSE_ANYWHERE = [
    "待って",
    "まって",
    "ちょっと",
    "少々",
    "あとで",
    "後で",
    "まだ",
    "等一下",
    "等等",
    "稍等",
    "等会",
    "以后",
    "晚点",
    "先别",
    "还没",
    "现在不",
    "\u23f8",
]
DOUBT = [
    _re(r"maybe|perhaps|possibly|probably|idk|i dunno|dunno|i don't know|don't know"),
    _re(r"i do not know|dont know|i dont know|not sure|unsure|uncertain|not certain"),
    _re(r"h+m+|u+m+|u+h+|e+r+m*|eh|meh|i guess|i suppose|kinda|kind of|sort of|sorta"),
    _re(r"let me think|i need to think|think about it|think it over|sleep on it|i'll think"),
    _re(r"thinking|undecided|hard to say|we'll see|depends|doubt\w*|hesitant|on the fence"),
    _re(r"can't decide|cannot decide|haven't decided|no idea|not so sure|actually|but"),
    _re(r"however|although|though|if|unless|only if|hesitat\w*|sorry|hold that thought"),
    "quizás",
    "quizá",
    "tal vez",
    "a lo mejor",
    "no sé",
    "no lo sé",
    "no estoy seguro",
    "peut-être",
    "je sais pas",
    "je ne sais pas",
    "pas sûr",
    "pas sûre",
    "mais",
    "vielleicht",
    "weiß nicht",
    "weiss nicht",
    "keine ahnung",
    "nicht sicher",
    "aber",
    "forse",
    "non so",
    "non sono sicuro",
    "non sono sicura",
    "però",
    "ma",
    "talvez",
    "não sei",
    "sei lá",
    "não tenho certeza",
    "mas",
    "misschien",
    "weet niet",
    "weet ik niet",
    "geen idee",
    "niet zeker",
    "может быть",
    "может",
    "возможно",
    "не знаю",
    "наверное",
    "не уверен",
    "не уверена",
    "но",
    "хм",
    "शायद",
    "पता नहीं",
    "सोचता हूँ",
    "सोचना",
    "लेकिन",
    "shayad",
    "pata nahi",
    "sochta",
    "ربما",
    "يمكن",
    "لا أعرف",
    "لا اعرف",
    "مش عارف",
    "لكن",
    "হয়তো",
    "জানি না",
    "কিন্তু",
    "শায়দ",
    "شاید",
    "پتہ نہیں",
    "معلوم نہیں",
    "لیکن",
    "سوچتا",
]
DOUBT_ANYWHERE = [
    "\U0001f914",
    "也许",
    "可能",
    "不知道",
    "不确定",
    "考虑",
    "嗯",
    "但是",
    "多分",
    "たぶん",
    "かも",
    "わからない",
    "分からない",
    "考え",
    "でも",
    "…",
    "‥",
]
QUESTION = [
    _re(r"what|whats|what's|how|why|when|where|who|which|whose|huh|pardon|come again"),
    _re(r"say again|you sure|explain|tell me more|meaning|how much|how long"),
    "qué",
    "cómo",
    "cuánto",
    "cuánta",
    "por qué",
    "cuándo",
    "dónde",
    "cuál",
    "quién",
    "quoi",
    "comment",
    "pourquoi",
    "combien",
    "quand",
    "quel",
    "quelle",
    "qui",
    "est-ce que",
    "was",
    "wie",
    "warum",
    "wieso",
    "weshalb",
    "wann",
    "wo",
    "welche",
    "wer",
    "wieviel",
    "wie viel",
    "cosa",
    "che cosa",
    "come",
    "perché",
    "quanto",
    "quando",
    "dove",
    "quale",
    "chi",
    "o que",
    "que",
    "como",
    "quanto",
    "onde",
    "qual",
    "quem",
    "hoe",
    "waarom",
    "hoeveel",
    "wanneer",
    "waar",
    "welke",
    "wie",
    "что",
    "как",
    "почему",
    "зачем",
    "сколько",
    "когда",
    "где",
    "разве",
    "ли",
    "क्या",
    "कैसे",
    "क्यों",
    "कितना",
    "कितने",
    "कब",
    "कहाँ",
    "kya",
    "kaise",
    "kyun",
    "kitna",
    "ماذا",
    "ما",
    "كيف",
    "لماذا",
    "كم",
    "هل",
    "متى",
    "أين",
    "شو",
    "ايش",
    "কি",
    "কী",
    "কেন",
    "কত",
    "কিভাবে",
    "কখন",
    "کیا",
    "کیوں",
    "کتنا",
    "کیسے",
    "کب",
]
QUESTION_ANYWHERE = [
    "吗",
    "呢",
    "什么",
    "怎么",
    "为什么",
    "多少",
    "哪",
    "何",
    "なに",
    "なん",
    "どう",
    "いくら",
    "なぜ",
    "ですか",
    "ますか",
    "\u2753",
    "\u2754",
]
# Latin-script question words that are only questions at the start ("que" is also "that").
QUESTION_AT_START = {
    "que",
    "como",
    "come",
    "was",
    "wie",
    "wo",
    "wat",
    "qui",
    "chi",
    "quando",
    "quand",
    "cosa",
    "quanto",
    "quel",
    "quelle",
    "hoe",
    "waar",
    "wanneer",
    "welke",
    "wer",
}
# An English question by its word order: an auxiliary, then a subject.
_ASKS = re.compile(
    r"^(?:(?:ok|okay|so|and|but|sorry|wait|hey|um|uh|oh|well|hmm) )*(?:is|are|was|were|can|could"
    r"|would|will|does|did|should|shall|may|isn't|aren't|won't) (?:it|that|this|you|i|we"
    r"|there|they|he|she)(?!\S)|^do (?:you|i|we|they)(?!\S)"
)
# A new instruction (English): its first words after politeness.
INSTRUCTION = _re(
    r"(?:(?:please|pls|and|also|then|now|next|ok|okay|great|good|so|oh|hey|yes|sure)"
    r" )*(?:add|set|open|close|publish|create|update|book|show|list|schedule|rename"
    r"|register|enable|disable|delete|remove|check|find|get|send|upload|use|start|make"
    r"|change|move|let's|lets|write|post|save"
    r"|i want|i'd like|i would like|we want|we'd like|we would like"
    r"|(?:my|our|the) (?:business|shop|salon|store|company|name)(?: name)? is"
    r"|(?:it's|it is|we're|we are) (?:called|named|open)|our hours are|hours are"
    r"|we open)(?: .*)?"
)


# --- matching ---------------------------------------------------------------


def _alternation(entries: list[str]) -> str:
    parts = []
    for e in entries:
        if e.startswith("\x00"):
            parts.append(e[1:])
        else:
            parts.append(re.escape(normalise(e)))
    # longest first, so "no thanks" is tried before "no"
    return "|".join(sorted(set(parts), key=len, reverse=True))


def _words(entries: list[str]) -> re.Pattern[str]:
    return re.compile(rf"(?<!\S)(?:{_alternation(entries)})(?!\S)")


def _anywhere(entries: list[str]) -> re.Pattern[str]:
    forms = sorted({unicodedata.normalize("NFKC", e).casefold() for e in entries}, key=len)
    return re.compile("|".join(re.escape(e) for e in reversed(forms)))


_IDIOMS = _words(IDIOMS_CONSENT + IDIOMS_NEUTRAL)
_IDIOMS_CONSENT = _words(IDIOMS_CONSENT)
_IDIOMS_ANY = _anywhere(IDIOMS_ANYWHERE)
_REFUSE = _words(REFUSE)
_REFUSE_ANY = re.compile(r"不\S?|别\S?|" + _anywhere(REFUSE_ANYWHERE).pattern)
_REFUSE_IDIOMS = _words(REFUSE_IDIOMS)
_REFUSE_WHOLE = re.compile(rf"^(?:{_alternation(REFUSE_WHOLE)})$")
_CORRECT = _words(CORRECT)
_CORRECT_ANY = _anywhere(CORRECT_ANYWHERE)
_PAUSE = _words(PAUSE)
_PAUSE_ANY = _anywhere(PAUSE_ANYWHERE)
_DOUBT = _words(DOUBT)
_DOUBT_ANY = _anywhere(DOUBT_ANYWHERE)
_QUESTION = _words(QUESTION)
_QUESTION_ANY = _anywhere(QUESTION_ANYWHERE)
_AFFIRM_TOKENS = _words([e for e in AFFIRM if e not in WEAK])
_AFFIRM_ANY = _anywhere(AFFIRM_ANYWHERE)
_BENIGN = _words(BENIGN)
_WEAK = _words(WEAK)
_INSTRUCTION = re.compile(rf"^(?:{INSTRUCTION[1:]})$")

# Words a one-letter typo of which is still read as them, and real words that
# are one letter away from them but mean something else.
TYPO_TARGETS = (
    "cancel",
    "cancelled",
    "canceled",
    "reject",
    "decline",
    "refuse",
    "nevermind",
    "forget",
    "annulla",
    "annuler",
    "abbrechen",
    "cancelar",
    "stornieren",
    "revert",
    "scratch",
    "later",
    "wait",
    "stop",
    "nope",
    "hold",
    "pause",
)
NOT_TYPOS = frozenset(
    {
        "cancer",
        "recline",
        "reuse",
        "refuge",
        "eject",
        "defuse",
        "panel",
        "camel",
        "hold",
        "gold",
        "told",
        "bold",
        "fold",
        "sold",
        "cold",
        "mold",
        "hole",
        "hood",
        "shop",
        "step",
        "stops",
        "top",
        "atop",
        "slop",
        "stow",
        "wit",
        "what",
        "want",
        "wail",
        "bait",
        "cause",
        "refuel",
        "reverb",
        "revers",
        "forgot",
        "forge",
        "target",
        "alter",
        "latex",
        "layer",
        "lamer",
        "hater",
        "water",
        "cater",
        "eater",
        "rather",
        "ladder",
        "lather",
        "paused",
        "pose",
        "pulse",
        "phase",
        "purse",
        "nose",
        "note",
        "none",
        "rope",
        "hope",
        "cope",
        "node",
        "nape",
        "dope",
        "pope",
        "decide",
        "refile",
        "revent",
        "scotch",
        "retch",
        "canal",
        "cancan",
        "chancel",
        "cancels",
        "eager",
        "wails",
        "waits",
    }
)


def _edits_one(a: str, b: str) -> bool:
    """Are `a` and `b` one edit apart (insert, delete, substitute, swap adjacent)?"""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _swapped(a: str, b: str) -> bool:
    return len(a) == len(b) and a != b and _edits_one(a, b) and sorted(a) == sorted(b)


@lru_cache(maxsize=8192)
def _typo_of(word: str) -> str | None:
    """The refusal or pause word `word` is a one-letter typo of, if any."""
    if word in NOT_TYPOS or not word.isascii() or not word.isalpha():
        return None
    for target in TYPO_TARGETS:
        if len(target) <= 4:
            if _swapped(word, target):  # short words: only a swap ("stpo", "wiat")
                return target
        elif len(word) >= 5 and _edits_one(word, target):
            return target
    return None


def _fix_typos(normal: str) -> str:
    return " ".join(_typo_of(w) or w for w in normal.split(" "))


# Letters one by one ("n o", "N.O.", "s-t-o-p" normalise to single-letter words)
# are read joined, and a zero inside a word as an o ("n0", "st0p").
_SPELLED_OUT = re.compile(r"(?<![^\s])[a-z](?: [a-z])+(?![^\s])")
_ZERO_IN_WORD = re.compile(r"(?<=[a-z])0|0(?=[a-z])")
_REPEATS = re.compile(r"([a-z])\1{2,}")


def _readings(text: str) -> list[str]:
    normal = normalise(text)
    out = [normal]
    joined = _ZERO_IN_WORD.sub("o", _SPELLED_OUT.sub(lambda m: m[0].replace(" ", ""), normal))
    if joined != normal:
        out.append(joined)
    if not text.isascii() and any(map(_invisible, text)):
        spaced = _view(text, invisible_splits=True)
        if spaced not in out:
            out.append(spaced)
    return out


class _Signals:
    __slots__ = (
        "affirm",
        "correct",
        "doubt",
        "instruction",
        "pause",
        "question",
        "refuse",
        "uncovered",
        "unknown",
        "weak",
    )

    def __init__(self) -> None:
        self.refuse = self.correct = self.pause = self.doubt = self.question = False
        self.affirm = self.unknown = self.instruction = False
        self.uncovered = self.weak = False


_KNOWN_SCRIPTS = (
    "LATIN",
    "CYRILLIC",
    "CJK",
    "HIRAGANA",
    "KATAKANA",
    "ARABIC",
    "DEVANAGARI",
    "BENGALI",
    "FULLWIDTH",
    "HALFWIDTH",
    "MATHEMATICAL",
    "CIRCLED",
    "PARENTHESIZED",
    "SQUARED",
    "NEGATIVE",
)


@lru_cache(maxsize=16384)
def _unknown_letter(ch: str) -> bool:
    if ch.isascii() or not ch.isalpha():
        return False
    name = unicodedata.name(ch, "")
    return not name.startswith(_KNOWN_SCRIPTS) and not _latin(ch)


def _read(normal: str, sig: _Signals) -> None:
    text = _IDIOMS_ANY.sub(" ", normal)
    if _IDIOMS_CONSENT.search(text) or text != normal:
        sig.affirm = True
    text = _IDIOMS.sub(" ", text)
    # pauses and doubts first: several carry a negation
    for pattern, any_pattern, attr in (
        (_PAUSE, _PAUSE_ANY, "pause"),
        (_DOUBT, _DOUBT_ANY, "doubt"),
    ):
        if pattern.search(text) or any_pattern.search(text):
            setattr(sig, attr, True)
            text = any_pattern.sub(" ", pattern.sub(" ", text))
    if _REFUSE_IDIOMS.search(text):  # an affirmative word inside a refusal
        sig.refuse = True
        text = _REFUSE_IDIOMS.sub(" ", text)
    if _CORRECT.search(text) or _CORRECT_ANY.search(text):
        sig.correct = True
    squeezed = " ".join(text.split())
    if (
        _REFUSE.search(text)
        or _REFUSE_ANY.search(text)
        or _REFUSE_WHOLE.match(squeezed)
        or _REFUSE.search(_REPEATS.sub(r"\1", text))
    ):
        sig.refuse = True
    unrefused = _REFUSE_ANY.sub(" ", text)
    unaffirmed = _AFFIRM_TOKENS.sub(" ", _AFFIRM_ANY.sub(" ", unrefused))
    asked = " ".join(unaffirmed.split())
    for m in _QUESTION.finditer(asked):
        if m.start() == 0 or m.group(0) not in QUESTION_AT_START:
            sig.question = True
    if _ASKS.match(squeezed) or _QUESTION_ANY.search(text):
        sig.question = True
    if _AFFIRM_TOKENS.search(text) or _AFFIRM_ANY.search(unrefused):
        sig.affirm = True
    if _WEAK.search(unaffirmed):
        sig.weak = True
    rest = _BENIGN.sub(" ", _WEAK.sub(" ", unaffirmed))
    if rest.strip():
        sig.uncovered = True
    if _INSTRUCTION.match(squeezed) or _INSTRUCTION.match(
        " ".join(_BENIGN.sub(" ", _AFFIRM_TOKENS.sub(" ", text, count=1)).split())
    ):
        sig.instruction = True


def classify(text: str) -> Verdict:
    """How the user's next message answers a pending T2 proposal (module docstring)."""
    question_mark = any(ch in QUESTION_MARKS for ch in text)
    readings = _readings(text)
    if not any(ch.isalnum() or unicodedata.category(ch) == "So" for ch in readings[0]):
        return Verdict.UNCLEAR  # "", "...", "?", "!!!"
    sig = _Signals()
    sig.question = question_mark
    sig.unknown = any(map(_unknown_letter, readings[0]))
    for reading in readings:
        _read(reading, sig)
        fixed = _fix_typos(reading)
        if fixed != reading:
            probe = _Signals()
            _read(fixed, probe)
            sig.refuse |= probe.refuse
            sig.pause |= probe.pause
    base = _Signals()
    _read(readings[0], base)
    # the ScriptedModel's `!tools` directive is an instruction (its "!" is punctuation)
    base.instruction |= text.lstrip().startswith("!tools")
    if sig.correct:
        return Verdict.CORRECTION
    if sig.refuse and sig.affirm:
        return Verdict.UNCLEAR  # "yes... actually no": both
    if sig.refuse:
        return Verdict.REFUSAL
    if sig.pause or sig.doubt or sig.question or sig.unknown:
        return Verdict.UNCLEAR
    if (base.affirm or base.weak) and not base.uncovered:
        return Verdict.CONSENT
    if base.instruction:
        return Verdict.CONSENT
    return Verdict.UNCLEAR


def is_refusal(text: str) -> bool:
    """Does the message reject the proposal (a refusal or a correction)?"""
    return classify(text).rejects
