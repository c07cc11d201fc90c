"""Schemathesis hooks: how to make valid values for Opsdeck's custom string formats.

The OpenAPI document marks strings whose grammar JSON Schema cannot state with a format
(`crates/web/src/api/schema.rs`); these strategies generate valid ones, so schema-valid requests
stay valid. Loaded through SCHEMATHESIS_HOOKS by scripts/schemathesis.sh.
"""

import datetime

from hypothesis import strategies as st

import schemathesis

# A cursor is opaque: only the server makes them. The empty cursor is the first page.
schemathesis.openapi.format("cursor", st.just(""))

# Local wall-clock times in a schedule's zone.
_dates = st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2099, 12, 31))
_times = st.times().map(lambda t: t.replace(microsecond=0))
schemathesis.openapi.format(
    "local-date-time", st.builds(lambda d, t: f"{d.isoformat()}T{t.isoformat()}", _dates, _times)
)
schemathesis.openapi.format("local-time", _times.map(lambda t: t.isoformat()))

# RRULE bodies the server accepts.
schemathesis.openapi.format(
    "rrule",
    st.sampled_from(
        ["FREQ=DAILY", "FREQ=WEEKLY", "FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=HOURLY;INTERVAL=6"]
    ),
)

# Report bounds: a date, or an RFC 3339 time in UTC.
schemathesis.openapi.format(
    "date-or-date-time",
    st.one_of(
        _dates.map(lambda d: d.isoformat()),
        st.builds(lambda d, t: f"{d.isoformat()}T{t.isoformat()}Z", _dates, _times),
    ),
)
