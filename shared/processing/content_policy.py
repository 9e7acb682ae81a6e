"""What a generated message may point the person to: only contacts the project itself supplied.

Request fields reach the model, so a request can try to make the model write a link or a number
of the requester's choosing, and the message would go out from the company's own number. Before
anything is sent, every link, phone number and email address in the generated text must be one
of the project's: its contact channels (the company's senders), its ``company_rep`` details, the
link domains of ``allowed_link_domains`` (and their subdomains), or the recipient's own address.
Anything else fails the conversation with ``failed_content_check``.

Detection errs towards finding too much (a false alarm fails one message; a miss sends a
stranger's link from the company's number). The text is normalised first so that common
obfuscations are read as what they are: full-width and other compatibility characters (NFKC),
invisible format characters, ``[.]``/``(dot)``/``[at]``/``hxxp``/``[:]`` spellings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.log_masking import mask_email, mask_phone
from shared.models.context import ContextMessage, ProjectSlice
from shared.processing.errors import ContentCheckFailed

# Separators of a phone number's digit groups: one punctuation mark, optionally spaced.
_SEP = r"(?:\s?[.\-\u2010-\u2015]\s?|\s)?"
_GROUP = r"(?:\(\s?\d{1,5}\s?\)|\d+)"
_PHONE = re.compile(rf"(?<![\w+])\+?\s?{_GROUP}(?:{_SEP}{_GROUP})*")
# Fewer digits than this is a quantity, a time or a short reference, not a reachable number.
_MIN_PHONE_DIGITS = 7
# A bare run of digits (no "+", no separators) is an id until it is as long as a national number.
_MIN_BARE_PHONE_DIGITS = 10
# The shortest national number matched against an allowed international one.
_MIN_NATIONAL_DIGITS = 8
# Dates and year ranges are digit groups too; a candidate that is one (or one and an hour, as in
# "25.11.2026 10:30") is not a phone. Day and month must be possible, so "19-00-555 0100" is a number.
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?!\d)"
_MONTH = r"(?:1[0-2]|0?[1-9])(?!\d)"
_YEAR = r"(?:19|20)\d{2}(?!\d)"
_DATE = re.compile(
    rf"{_YEAR}[-./]{_MONTH}[-./]{_DAY}|{_DAY}[-./]{_DAY}[-./](?:{_YEAR}|\d{{2}})|{_YEAR}\s?[-\u2013]\s?(?:{_YEAR}|\d{{2}})"
)
_TRUNK_ZERO = re.compile(r"(?<=\d)\s?\(\s?0\s?\)")
_HOUR_AFTER_DATE = re.compile(r"[\s.\-\u2010-\u2015]*\d{1,2}")

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
# A top-level domain: letters (any script) or an IDNA "xn--" label; never digits only.
_TLD = r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{2,59})"
_HOST = rf"(?:{_LABEL}\.)+{_TLD}"
_EMAIL = re.compile(rf"[\w.!#$%&'*+/=?^`{{|}}~-]+@({_HOST})", re.IGNORECASE)
_SCHEME_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|(?<![\w@.-])www\.)[^\s<>\"']+", re.IGNORECASE)
_BARE_HOST = re.compile(
    rf"(?<![\w@.-])(?:{_HOST}|\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?!\d))(?::\d+)?(?:[/?#][^\s<>\"']*)?", re.IGNORECASE
)
_TRAILING = ".,;:!?)]}'\""

_OBFUSCATIONS = (
    (re.compile(r"\s?[\[({]\s?(?:\.|dot)\s?[\])}]\s?", re.IGNORECASE), "."),
    (re.compile(r"\s?[\[({]\s?(?:@|at)\s?[\])}]\s?", re.IGNORECASE), "@"),
    (re.compile(r"\[\s?:\s?\]"), ":"),
    (re.compile(r"\bhxxp(s?)\b", re.IGNORECASE), r"http\1"),
    (re.compile("[\u3002\uff61]"), "."),  # ideographic full stops act as dots in domain names
)


@dataclass(frozen=True)
class Found:
    """The links, phone numbers (digits only) and email addresses of a text."""

    hosts: frozenset[str]
    phones: frozenset[str]
    emails: frozenset[str]


@dataclass(frozen=True)
class AllowedContacts:
    link_domains: frozenset[str]  # the host itself or any subdomain of it
    phones: frozenset[str]  # digits only
    emails: frozenset[str]  # lower case

    def allows_host(self, host: str) -> bool:
        return any(host == domain or host.endswith(f".{domain}") for domain in self.link_domains)

    def allows_phone(self, digits: str) -> bool:
        return any(_same_number(digits, allowed) for allowed in self.phones)

    def allows_email(self, address: str) -> bool:
        return address in self.emails or self.allows_host(_idna(address.rpartition("@")[2]))


def normalise(text: str) -> str:
    """The text as a reader sees it: compatibility forms folded, invisible characters removed."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")  # zero-width, soft hyphen, bidi
    for pattern, replacement in _OBFUSCATIONS:
        text = pattern.sub(replacement, text)
    return text


def find_contacts(text: str) -> Found:
    """Every link host, phone number and email address in ``text``.

    Links with a scheme are taken out first (``http://a@b`` is a link to ``b``, not an address),
    then emails (their domain is not a link), then bare hosts, and only then phones (a number in
    a path is part of the link).
    """
    text = normalise(text)
    hosts = {host for match in _SCHEME_URL.finditer(text) if (host := _host(match.group(0)))}
    text = _SCHEME_URL.sub(" ", text)
    emails = {match.group(0).lower() for match in _EMAIL.finditer(text)}
    text = _EMAIL.sub(" ", text)
    hosts |= {host for match in _BARE_HOST.finditer(text) if (host := _host(match.group(0)))}
    text = _BARE_HOST.sub(" ", text)
    phones = {digits for match in _PHONE.finditer(text) if (digits := _phone_digits(match.group(0)))}
    return Found(hosts=frozenset(hosts), phones=frozenset(phones), emails=frozenset(emails))


def allowed_contacts(message: ContextMessage) -> AllowedContacts:
    """The contacts the project supplied, and the recipient's own address."""
    recipient = message.recipient_data
    return project_contacts(message.project, tel=recipient.recipient_tel, email=recipient.recipient_email)


def project_contacts(project: ProjectSlice, *, tel: str | None, email: str | None) -> AllowedContacts:
    """The contacts ``project`` supplied, and the person's own ``tel`` / ``email`` (replies use the record's)."""
    supplied = [*project.contact_channels.values(), *(value for value in project.company_rep.values() if value)]
    found = find_contacts(" \n ".join(supplied))
    phones = set(found.phones) | ({_digits(tel)} if tel else set())
    emails = set(found.emails) | ({email.lower()} if email else set())
    return AllowedContacts(
        link_domains=frozenset({*(_idna(d) for d in project.allowed_link_domains), *found.hosts}),
        phones=frozenset(phones),
        emails=frozenset(emails),
    )


def check_content(content: Mapping[str, str], allowed: AllowedContacts) -> None:
    """Raise ``ContentCheckFailed`` naming what is not allowed (phones and emails masked)."""
    found = find_contacts("\n".join(content.values()))
    problems = [
        *(f"a link to {host}" for host in sorted(found.hosts) if not allowed.allows_host(host)),
        *(f"the phone number {mask_phone(n)}" for n in sorted(found.phones) if not allowed.allows_phone(n)),
        *(f"the email address {mask_email(e)}" for e in sorted(found.emails) if not allowed.allows_email(e)),
    ]
    if problems:
        raise ContentCheckFailed(
            f"The AI's message contains {_listed(problems)}, which the project did not supply "
            "(contact channels, company_rep, allowed_link_domains); nothing was sent"
        )


def _host(candidate: str) -> str | None:
    candidate = candidate.rstrip(_TRAILING)
    if "://" not in candidate:
        candidate = f"//{candidate}"
    try:
        host = urlsplit(candidate).hostname
    except ValueError:  # e.g. an unbalanced IPv6 bracket: still a link nobody allowed
        return candidate.strip("/").lower()
    return _idna(host) if host else None


def _idna(domain: str) -> str:
    """A domain in the form two spellings of it share (lower case, IDNA ASCII, no trailing dot)."""
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def _phone_digits(candidate: str) -> str | None:
    candidate = candidate.strip()
    date = _DATE.match(candidate)
    if date and (date.end() == len(candidate) or _HOUR_AFTER_DATE.fullmatch(candidate, date.end())):
        return None
    # No upper bound: digits run together with a number must not hide it. "+44 (0) 20 ..." writes
    # the national trunk prefix beside the country code; it is not dialled.
    digits = _digits(_TRUNK_ZERO.sub("", candidate) if candidate.startswith("+") else candidate)
    minimum = _MIN_BARE_PHONE_DIGITS if candidate.isdigit() else _MIN_PHONE_DIGITS
    return digits if len(digits) >= minimum else None


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


def _same_number(found: str, allowed: str) -> bool:
    """The same number, written internationally or nationally: without the country code (1 to 3
    digits), with or without a trunk "0" (900 555 0100 for +19005550100, 07700 900001 for
    +447700900001). National numbers shorter than 8 digits are too ambiguous to match. A number
    the project wrote nationally matches only with its trunk "0" (so digits put in front of an
    allowed number never make it another allowed one)."""
    if found == allowed or _national_of(found, allowed):
        return True
    return allowed.startswith("0") and _national_of(allowed, found)


def _national_of(national: str, international: str) -> bool:
    national = national.removeprefix("0")
    country_code = len(international) - len(national)
    return len(national) >= _MIN_NATIONAL_DIGITS and international.endswith(national) and 1 <= country_code <= 3


def _listed(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
