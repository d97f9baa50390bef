"""Parses an iCalendar feed with PyPI `icalendar` (for tests/cases/calendar.rs) and prints its
events as JSON: uid, summary, description, whether start/end are dates (all-day), their ISO
dates, and each alarm's action and absolute trigger (UTC, ISO 8601).

  ics_events.py FILE
"""

import datetime
import json
import sys

import icalendar


def iso(value):
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.isoformat()


def main(path):
    with open(path, "rb") as f:
        calendar = icalendar.Calendar.from_ical(f.read())
    events = []
    for event in calendar.walk("VEVENT"):
        start = event.decoded("DTSTART")
        end = event.decoded("DTEND")
        alarms = []
        for alarm in event.walk("VALARM"):
            trigger = alarm.decoded("TRIGGER")
            alarms.append({"action": str(alarm.get("ACTION")), "trigger": iso(trigger)})
        events.append({
            "uid": str(event.get("UID")),
            "summary": str(event.get("SUMMARY")),
            "description": str(event.get("DESCRIPTION")),
            "all_day": not isinstance(start, datetime.datetime) and not isinstance(end, datetime.datetime),
            "start": iso(start),
            "end": iso(end),
            "alarms": alarms,
        })
    print(json.dumps({
        "version": str(calendar.get("VERSION")),
        "prodid": str(calendar.get("PRODID")),
        "events": events,
    }))


if __name__ == "__main__":
    main(sys.argv[1])
