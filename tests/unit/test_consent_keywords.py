"""Consent keywords: a keyword counts only as the whole message; Twilio's OptOutType wins."""

from __future__ import annotations

import pytest

from shared.consent.keywords import (
    HELP_WORDS,
    OPT_IN_WORDS,
    OPT_OUT_WORDS,
    ConsentKeyword,
    classify,
    classify_email,
)

OUT, IN, HELP = ConsentKeyword.OPT_OUT, ConsentKeyword.OPT_IN, ConsentKeyword.HELP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Twilio's defaults, any case, surrounding whitespace and punctuation ignored.
        ("STOP", OUT),
        ("stop", OUT),
        ("  Stop.  ", OUT),
        ("STOP!!!", OUT),
        ("Stop 🛑", OUT),
        ('"stop"', OUT),
        ("stopall", OUT),
        ("STOP ALL", OUT),
        ("Unsubscribe", OUT),
        ("end", OUT),
        ("Quit", OUT),
        ("revoke", OUT),
        ("optout", OUT),
        ("Opt out", OUT),
        ("opt-out", OUT),
        ("Cancel", OUT),
        # Other languages, accents optional.
        ("ARRÊT", OUT),
        ("arret", OUT),
        ("Désabonner", OUT),
        ("¡Alto!", OUT),
        ("baja", OUT),
        ("Parar", OUT),
        ("sair", OUT),
        ("Cancelar", OUT),
        ("Stopp", OUT),
        ("abmelden", OUT),
        ("Annulla", OUT),
        ("afmelden", OUT),
        ("uitschrijven", OUT),
        # Opt-in.
        ("START", IN),
        ("start.", IN),
        ("Unstop", IN),
        # Help.
        ("HELP", HELP),
        ("help?", HELP),
        ("Info", HELP),
        ("Aide", HELP),
        ("ayuda", HELP),
        # Near misses: conversation, never a keyword.
        ("stop by tomorrow", None),
        ("don't stop", None),
        ("Please stop messaging me about this job", None),
        ("STOP STOP", None),
        ("yes", None),  # YES is not an opt-in here (docs/decisions.md)
        ("Yes, March works.", None),
        ("starting Monday", None),
        ("I need help with the form", None),
        ("stopped", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("🛑", None),
    ],
)
def test_a_keyword_counts_only_as_the_whole_message(text, expected):
    assert classify(text) is expected


@pytest.mark.parametrize(
    ("text", "opt_out_type", "expected"),
    [
        ("Please remove me", "STOP", OUT),  # the tenant's own keyword, matched by Twilio
        ("yes", "START", IN),
        ("what is this?", "HELP", HELP),
        ("STOP", "START", IN),  # Twilio's word wins
        ("STOP", "help", HELP),
        ("STOP", "", OUT),  # blank: the text decides
        ("STOP", "SOMETHING_NEW", OUT),  # a type this code does not know: the text decides
        ("Sure", None, None),
    ],
)
def test_twilio_opt_out_type_wins_when_it_names_a_keyword(text, opt_out_type, expected):
    assert classify(text, opt_out_type) is expected


@pytest.mark.parametrize(
    ("text", "subject", "expected"),
    [
        ("unsubscribe", "Re: Your application", OUT),
        ("Unsubscribe\n\nAlex Morgan\nSent from my iPhone", "Re: Your application", OUT),
        ("STOP.\nI found another job, thanks.", None, OUT),
        ("\n\n  Stop  \n", None, OUT),
        ("START\n\n-- \nAlex Morgan\n+44 7700 900123", None, IN),
        ("Help\nSent from my iPhone", None, HELP),
        # HELP / START followed by a real message: a question, answered as one.
        ("Help\nI cannot open the attachment, can you resend it?", None, None),
        ("Start\nMonday works for me", None, None),
        # A keyword that is not the first line is conversation.
        ("Thanks for the offer.\nUnsubscribe", None, None),
        ("Please stop emailing me about this", None, None),
        # An empty body: the subject speaks, reply prefixes dropped.
        ("", "Re: unsubscribe", OUT),
        ("Sent from my iPhone", "RE: Fwd: STOP", OUT),
        ("", "Re: Your application", None),
        ("", None, None),
    ],
)
def test_an_email_reply_opts_out_on_its_first_line_and_opts_in_or_asks_for_help_only_alone(text, subject, expected):
    assert classify_email(text, subject) is expected


def test_the_word_lists_do_not_overlap_and_are_normalised():
    assert not (OPT_OUT_WORDS & OPT_IN_WORDS or OPT_OUT_WORDS & HELP_WORDS or OPT_IN_WORDS & HELP_WORDS)
    for word in OPT_OUT_WORDS | OPT_IN_WORDS | HELP_WORDS:
        assert word == word.upper() and word.isascii() and word.isalpha()
        assert classify(word.lower()) is not None
