"""``local.consent``: the send windows an operator types, and the window that opens in N minutes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.consent import ConsentError, parse_window, window_opening_in
from shared.models.company import SendWindow


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("mon-fri 09:00-17:00", {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "until": "17:00"}),
        ("sat,sun 10:00-12:00", {"days": ["sat", "sun"], "from": "10:00", "until": "12:00"}),
        ("FRI 22:00-02:00", {"days": ["fri"], "from": "22:00", "until": "02:00"}),
        ("mon,mon-tue 08:00-09:00", {"days": ["mon", "tue"], "from": "08:00", "until": "09:00"}),
    ],
)
def test_a_typed_window_is_the_records_window(text, window):
    assert parse_window(text) == window
    SendWindow.model_validate(window)


@pytest.mark.parametrize("text", ["weekdays 09:00-17:00", "fri-mon 09:00-17:00", "mon 09:00", "09:00-17:00", ""])
def test_a_window_that_is_not_days_and_hours_is_refused_with_an_example(text):
    with pytest.raises(ConsentError, match=r"e\.g\."):
        parse_window(text)


def test_a_window_opening_in_two_minutes_opens_at_the_next_whole_minute_in_the_zone():
    now = datetime(2026, 11, 26, 6, 16, 30, tzinfo=UTC)  # 23:16:30 on Wednesday in Phoenix (UTC-7)

    assert window_opening_in(2, "America/Phoenix", now=now) == {"days": ["wed"], "from": "23:19", "until": "23:49"}
    on_the_minute = datetime(2026, 11, 26, 6, 16, tzinfo=UTC)
    assert window_opening_in(2, "America/Phoenix", now=on_the_minute)["from"] == "23:18"


def test_a_window_opening_after_midnight_starts_on_the_next_day_and_may_cross_midnight():
    now = datetime(2026, 11, 26, 6, 59, 10, tzinfo=UTC)  # 23:59:10 on Wednesday in Phoenix

    window = window_opening_in(1, "America/Phoenix", now=now)
    assert window == {"days": ["thu"], "from": "00:01", "until": "00:31"}
    late = window_opening_in(2, "America/Phoenix", now=datetime(2026, 11, 26, 6, 40, tzinfo=UTC))
    assert late == {"days": ["wed"], "from": "23:42", "until": "00:12"}
    assert SendWindow.model_validate(late).crosses_midnight
