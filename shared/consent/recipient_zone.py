"""The time zone a recipient's send windows are read in (issue 12).

In order: the request's ``recipient_data.recipient_timezone``; for WhatsApp and SMS, the zone of
the phone number's country when that country has exactly one (``COUNTRY_ZONES``); else the
project's ``send_windows.default_time_zone``. Email addresses say nothing about a place, so an
email recipient without a zone in the request always gets the default.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from shared.models.request import InitiateRequest

# Used when the project sets no send windows and the request names no zone: it only labels a
# ``send_at`` schedule, which needs no zone to be computed.
FALLBACK_ZONE = "UTC"

# E.164 calling code -> (ISO 3166 country, its one clock). Curated, not exhaustive: a country is
# listed only when every zone tzdata's zone.tab gives it keeps the same time (a unit test checks
# it; Germany's Europe/Busingen keeps Berlin's), so +1,
# +7, +61, +55, +52, +62, +86 (Asia/Urumqi), +34 (Atlantic/Canary), +351 (Atlantic/Azores), +64
# (Pacific/Chatham), +56 (Pacific/Easter), +60, +380 and the like fall back to the default.
# Calling codes are prefix-free, so at most one entry matches a number.
COUNTRY_ZONES: dict[str, tuple[str, str]] = {
    "+20": ("EG", "Africa/Cairo"),
    "+27": ("ZA", "Africa/Johannesburg"),
    "+30": ("GR", "Europe/Athens"),
    "+31": ("NL", "Europe/Amsterdam"),
    "+32": ("BE", "Europe/Brussels"),
    "+33": ("FR", "Europe/Paris"),
    "+36": ("HU", "Europe/Budapest"),
    "+39": ("IT", "Europe/Rome"),
    "+40": ("RO", "Europe/Bucharest"),
    "+41": ("CH", "Europe/Zurich"),
    "+43": ("AT", "Europe/Vienna"),
    "+44": ("GB", "Europe/London"),
    "+45": ("DK", "Europe/Copenhagen"),
    "+46": ("SE", "Europe/Stockholm"),
    "+47": ("NO", "Europe/Oslo"),
    "+48": ("PL", "Europe/Warsaw"),
    "+49": ("DE", "Europe/Berlin"),
    "+51": ("PE", "America/Lima"),
    "+57": ("CO", "America/Bogota"),
    "+58": ("VE", "America/Caracas"),
    "+63": ("PH", "Asia/Manila"),
    "+65": ("SG", "Asia/Singapore"),
    "+66": ("TH", "Asia/Bangkok"),
    "+81": ("JP", "Asia/Tokyo"),
    "+82": ("KR", "Asia/Seoul"),
    "+84": ("VN", "Asia/Ho_Chi_Minh"),
    "+90": ("TR", "Europe/Istanbul"),
    "+91": ("IN", "Asia/Kolkata"),
    "+92": ("PK", "Asia/Karachi"),
    "+94": ("LK", "Asia/Colombo"),
    "+98": ("IR", "Asia/Tehran"),
    "+234": ("NG", "Africa/Lagos"),
    "+254": ("KE", "Africa/Nairobi"),
    "+352": ("LU", "Europe/Luxembourg"),
    "+353": ("IE", "Europe/Dublin"),
    "+354": ("IS", "Atlantic/Reykjavik"),
    "+356": ("MT", "Europe/Malta"),
    "+358": ("FI", "Europe/Helsinki"),
    "+370": ("LT", "Europe/Vilnius"),
    "+371": ("LV", "Europe/Riga"),
    "+372": ("EE", "Europe/Tallinn"),
    "+385": ("HR", "Europe/Zagreb"),
    "+386": ("SI", "Europe/Ljubljana"),
    "+420": ("CZ", "Europe/Prague"),
    "+421": ("SK", "Europe/Bratislava"),
    "+506": ("CR", "America/Costa_Rica"),
    "+507": ("PA", "America/Panama"),
    "+852": ("HK", "Asia/Hong_Kong"),
    "+880": ("BD", "Asia/Dhaka"),
    "+966": ("SA", "Asia/Riyadh"),
    "+971": ("AE", "Asia/Dubai"),
    "+972": ("IL", "Asia/Jerusalem"),
    "+974": ("QA", "Asia/Qatar"),
    "+977": ("NP", "Asia/Kathmandu"),
}
_LONGEST_CODE = max(len(code) for code in COUNTRY_ZONES)


def number_zone(e164: str) -> str | None:
    """The zone of the number's country when it has exactly one (and is listed), else None."""
    for length in range(_LONGEST_CODE, 1, -1):
        listed = COUNTRY_ZONES.get(e164[:length])
        if listed is not None:
            return listed[1]
    return None


def recipient_zone(request: InitiateRequest, default_zone: str | None) -> ZoneInfo:
    """The recipient's zone; ``default_zone`` is the project's ``send_windows.default_time_zone``."""
    named = request.recipient_data.recipient_timezone
    if named is None and request.channel.uses_phone_number:
        named = number_zone(request.recipient_address)
    return ZoneInfo(named or default_zone or FALLBACK_ZONE)
