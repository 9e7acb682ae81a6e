"""Consent keywords in the person's own message (issue 12): STOP, START and HELP and their kin.

A keyword counts only when it is the whole message: ``STOP`` is an opt-out, "stop by tomorrow"
and "don't stop" are conversation. Case, accents, surrounding whitespace, punctuation and emoji
are ignored, and the words of a two-word keyword may be joined, spaced or hyphenated ("STOP ALL",
"opt-out"), erring on the side of honouring an opt-out. Twilio's ``OptOutType`` (sent when the
tenant's Messaging Service runs Advanced Opt-Out) wins when present: Twilio matched the tenant's
own keyword list and already acts on it.

An email's reply carries a signature and the client's footer under a one-word answer: its first
line decides an opt-out, while START and HELP must be the whole new text (``classify_email``).
The lists and the choices (no YES, INFO is help) are in docs/decisions.md, "Consent (issue 12) —
keywords and provider events".
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum


class ConsentKeyword(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


# Normalised spellings (upper case, no accents, no separators). Twilio's defaults first.
OPT_OUT_WORDS: frozenset[str] = frozenset(
    {
        # Twilio's default opt-out keywords ("STOP ALL" and "OPT OUT" normalise to these).
        "STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL",
        "ARRET", "DESABONNER", "DESINSCRIRE",  # French (ARRÊT)
        "PARAR", "ALTO", "BAJA", "CANCELAR", "DETENER",  # Spanish
        "SAIR", "DESCADASTRAR",  # Portuguese (+ PARAR, CANCELAR)
        "STOPP", "ABMELDEN", "ENDE",  # German; STOPP also Nordic
        "ANNULLA", "DISISCRIVI", "DISISCRIVIMI",  # Italian
        "AFMELDEN", "STOPPEN", "UITSCHRIJVEN",  # Dutch
    }
)  # fmt: skip
# Not YES: Twilio's default opt-in, but "yes" is the most ordinary answer in a conversation.
OPT_IN_WORDS: frozenset[str] = frozenset({"START", "UNSTOP"})
# INFO as Twilio does; the others are HELP in the languages above.
HELP_WORDS: frozenset[str] = frozenset({"HELP", "INFO", "AIDE", "AYUDA", "AJUDA", "HILFE", "AIUTO", "HULP"})

_WORDS: dict[str, ConsentKeyword] = {
    **dict.fromkeys(OPT_OUT_WORDS, ConsentKeyword.OPT_OUT),
    **dict.fromkeys(OPT_IN_WORDS, ConsentKeyword.OPT_IN),
    **dict.fromkeys(HELP_WORDS, ConsentKeyword.HELP),
}
# Twilio's OptOutType values (Advanced Opt-Out).
_OPT_OUT_TYPES: dict[str, ConsentKeyword] = {
    "STOP": ConsentKeyword.OPT_OUT,
    "START": ConsentKeyword.OPT_IN,
    "HELP": ConsentKeyword.HELP,
}
# Longer than any keyword with its punctuation: not worth normalising.
_MAX_CHARS = 40
_SEPARATORS = re.compile(r"[\s_-]+")
# Where an email's own text ends: the signature delimiter and the footers mail apps add.
_SIGNATURE = re.compile(r"^(--|__+|sent from (my )?\S.*|get outlook for \S.*|envoy[ée] de mon \S.*)$", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|tr|rif)\s*:\s*)+", re.IGNORECASE)


def classify(text: str | None, opt_out_type: str | None = None) -> ConsentKeyword | None:
    """The keyword the whole message is, or None; Twilio's ``OptOutType`` wins when it names one."""
    if opt_out_type and (said := _OPT_OUT_TYPES.get(opt_out_type.strip().upper())) is not None:
        return said
    return _WORDS.get(_normalise(text or ""))


def classify_email(text: str | None, subject: str | None = None) -> ConsentKeyword | None:
    """The keyword of an email's new text (quoted history already removed).

    Its first line is an opt-out when it is an opt-out keyword, whatever follows ("Unsubscribe"
    then "Alex" then "Sent from my iPhone"); START and HELP must be the only line before the
    signature, so "Help" followed by a real question is answered as a question. An empty body
    lets the subject speak ("Re: unsubscribe").
    """
    lines = _own_lines(text or "")
    if not lines:
        return classify(_REPLY_PREFIX.sub("", subject or ""))
    first = classify(lines[0])
    if first is ConsentKeyword.OPT_OUT or len(lines) == 1:
        return first
    return None


def _normalise(text: str) -> str:
    value = text.strip()
    if not value or len(value) > _MAX_CHARS:
        return ""
    # Accents off (ARRÊT → ARRET), then case-folded to upper.
    decomposed = unicodedata.normalize("NFKD", value)
    value = "".join(char for char in decomposed if not unicodedata.combining(char)).upper()
    start, end = 0, len(value)
    while start < end and not value[start].isalnum():
        start += 1
    while end > start and not value[end - 1].isalnum():
        end -= 1
    return _SEPARATORS.sub("", value[start:end])


def _own_lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if _SIGNATURE.match(line):
            break
        if line:
            lines.append(line)
    return lines
