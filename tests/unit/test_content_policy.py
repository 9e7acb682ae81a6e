"""A generated message may point the person only to contacts the project supplied: links on its
domains, its own numbers and addresses, the recipient's own. Everything else is found, however it
is written, and refused."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.channels import Channel
from shared.processing.content_policy import AllowedContacts, allowed_contacts, check_content, find_contacts
from shared.processing.errors import ContentCheckFailed
from tests.unit.processing_messages import context_message

EVIL = "19005550100"


def _project_contacts(**changes) -> AllowedContacts:
    message = context_message(Channel.SMS)
    for name, value in changes.items():
        setattr(message.project, name, value)
    return allowed_contacts(message)


@pytest.mark.parametrize(
    "text",
    [
        "Confirm at http://evil.example/pin",
        "Confirm at https://evil.example",
        "Confirm at www.evil.example",
        "Confirm at evil.example/pin",
        "Confirm at EVIL.EXAMPLE/pin.",
        "Confirm at hxxp://evil[.]example/pin",
        "Confirm at evil(dot)example/pin",
        "Confirm at evil\u200b.example/pin",  # a zero-width space inside the name
        "Confirm at \uff45\uff56\uff49\uff4c\uff0e\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45/pin",  # full-width
        "Confirm at evil\u3002example/pin",  # an ideographic full stop
        "Confirm at http://cucumber-recruitment.example@evil.example/pin",  # userinfo is not the host
    ],
)
def test_links_are_found_however_they_are_written(text):
    assert {host.removeprefix("www.") for host in find_contacts(text).hosts} == {"evil.example"}


@pytest.mark.parametrize(
    "text",
    [
        "Call +19005550100",
        "Call +1 900 555 0100",
        "Call +1-900-555-0100",
        "Call +1 (900) 555-0100",
        "Call 1 900.555.0100",
        "Call 1 (900) 555-0100",
        "Call tel:+19005550100",
        "Call 1 900 - 555 - 0100",
        "Call 1 9 0 0 5 5 5 0 1 0 0",
        "Call 19-00-555 0100",  # not a date: there is no month 00
        "Call \uff0b\uff11\uff19\uff10\uff10\uff15\uff15\uff15\uff10\uff11\uff10\uff10",  # full-width digits
    ],
)
def test_phone_numbers_in_common_formats_are_found_as_digits(text):
    assert find_contacts(text).phones == {EVIL}


@pytest.mark.parametrize("text", ["(900) 555-0100", "900.555.0100", "900-555-0100", "9005550100"])
def test_national_formats_are_found_too(text):
    assert find_contacts(text).phones == {"9005550100"}


@pytest.mark.parametrize(
    "text",
    [
        "Write to pin@evil.example",
        "Write to PIN@Evil.Example",
        "Write to pin [at] evil [dot] example",
        "pin(at)evil.example",
    ],
)
def test_email_addresses_are_found_and_their_domain_is_not_taken_for_a_link(text):
    found = find_contacts(text)
    assert found.emails == {"pin@evil.example"} and found.hosts == frozenset()


def test_internationalised_addresses_and_domains_are_found():
    found = find_contacts("Write to jösé.müller@exämple.com or see https://bücher.example/jobs")
    assert found.emails == {"jösé.müller@exämple.com"}
    assert found.hosts == {"xn--bcher-kva.example"}


@pytest.mark.parametrize(
    "text",
    [
        "Hi Alex, this is Carol from Cucumber Recruitment about the Healthcare Assistant role.",
        "Your interview is on 2026-11-25 at 09:30, or 25/11/2026, or 25.11.2026.",
        "Your interview is on 2026-11-25 10 am or 25.11.2026 10:30.",
        "There is a gap in your work history between 2021-2022 (Sept 2021 - Feb 2022).",
        "The salary is £45,000 to £55,000 for 37.5 hours a week, e.g. 7.5 hours a day.",
        "Job J-1042, reference 12345678, two years in care; the CV shows 18 months.",
    ],
)
def test_ordinary_message_text_has_no_contacts(text):
    found = find_contacts(text)
    assert (found.hosts, found.phones, found.emails) == (frozenset(), frozenset(), frozenset())


def test_the_projects_contacts_and_the_recipients_own_address_are_allowed():
    allowed = _project_contacts(
        allowed_link_domains=["cucumber-recruitment.example"],
        company_rep={"company_rep_1": "Carol", "company_rep_2": "Dan, 020 7946 0958, dan@partner.example"},
    )

    check_content(
        {
            "body": "Hi Alex, reply here, call +44 7700 900002 or 07700 900002, write to "
            "talent@cucumber-recruitment.example or dan@partner.example, ring Dan on +44 20 7946 0958 "
            "or +44 (0) 20 7946 0958, see "
            "https://careers.cucumber-recruitment.example/j/1042 or cucumber-recruitment.example. "
            "We have your number as +447700900123."
        },
        allowed,
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Confirm your PIN at http://evil.example/pin", "a link to evil.example"),
        ("Call +19005550100 to confirm", "the phone number 19*******00"),
        ("Write to pin@evil.example", "the email address p***@e***.example"),
        # A domain that merely ends like an allowed one is another domain.
        ("See https://evilcucumber-recruitment.example", "a link to evilcucumber-recruitment.example"),
        (
            "See https://cucumber-recruitment.example.evil.example",
            "a link to cucumber-recruitment.example.evil.example",
        ),
        # Another number that ends like the company's is another number.
        ("Call +1 447700900002", "the phone number"),
    ],
)
def test_anything_the_project_did_not_supply_fails_the_check_naming_it_masked(body, named):
    allowed = _project_contacts(allowed_link_domains=["cucumber-recruitment.example"])

    with pytest.raises(ContentCheckFailed) as failure:
        check_content({"subject": "Your application", "body": body}, allowed)

    assert named in failure.value.reason
    assert "19005550100" not in failure.value.reason and "pin@evil" not in failure.value.reason


def test_without_allowed_link_domains_no_link_may_be_written():
    with pytest.raises(ContentCheckFailed, match=r"cucumber-recruitment\.example"):
        check_content({"body": "See cucumber-recruitment.example/jobs"}, _project_contacts())


def test_every_field_is_checked():
    with pytest.raises(ContentCheckFailed, match=r"evil\.example"):
        check_content({"1": "Alex", "2": "Healthcare Assistant", "3": "evil.example"}, _project_contacts())


# -- properties ------------------------------------------------------------------------------------
_labels = st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)
_words = st.lists(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True), max_size=30).map(" ".join)
_separators = st.sampled_from(["", " ", "-", ".", " - ", "\u2013"])


@given(
    digits=st.from_regex(r"[1-9][0-9]{9,13}", fullmatch=True),
    cuts=st.lists(st.integers(min_value=1, max_value=13), max_size=4),
    separator=_separators,
    plus=st.booleans(),
    before=_words,
    after=_words,
)
def test_a_phone_number_split_into_groups_by_any_common_separator_is_found(
    digits, cuts, separator, plus, before, after
):
    bounds = sorted({0, *(c for c in cuts if c < len(digits)), len(digits)})
    written = separator.join(digits[a:b] for a, b in itertools.pairwise(bounds))
    text = f"{before} {'+' if plus else ''}{written} {after}"

    found = find_contacts(text)
    assert digits in found.phones or found.hosts  # 1.0.0.0.000000 reads as an IP address: a link
    with pytest.raises(ContentCheckFailed):
        check_content({"body": text}, AllowedContacts(frozenset(), frozenset(), frozenset()))


@given(subdomains=st.lists(_labels, max_size=3), path=st.from_regex(r"(/[a-z0-9]{0,8}){0,3}", fullmatch=True))
def test_any_subdomain_and_path_of_an_allowed_domain_is_allowed(subdomains, path):
    host = ".".join([*subdomains, "cucumber-recruitment", "example"])
    allowed = AllowedContacts(frozenset({"cucumber-recruitment.example"}), frozenset(), frozenset())

    check_content({"body": f"See https://{host}{path} or {host}{path}."}, allowed)


@given(
    label=_labels,
    tld=st.from_regex(r"[a-z]{2,6}", fullmatch=True),
    path=st.from_regex(r"(/[a-z0-9]{1,8}){0,2}", fullmatch=True),
)
def test_any_other_domain_is_refused(label, tld, path):
    host = f"{label}.{tld}"
    allowed = AllowedContacts(frozenset({"cucumber-recruitment.example"}), frozenset(), frozenset())

    with pytest.raises(ContentCheckFailed, match="a link to"):
        check_content({"body": f"Please visit {host}{path} today"}, allowed)


@given(text=_words)
def test_plain_words_contain_no_contacts(text):
    found = find_contacts(text)
    assert not (found.hosts or found.phones or found.emails)
