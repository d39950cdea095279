"""Limits counted in the database (models/throttle.py): a check counts no further than its limit, so
its cost stays bounded however busy a key is (the API checks one on every request)."""
from __future__ import annotations

from datetime import timedelta

from models import db
from models.throttle import count_events, note_event, within_limits


def test_a_count_stops_at_the_limit_it_is_asked_for(app):
    with app.app_context():
        for _ in range(5):
            note_event("api_request", "7")
        note_event("api_request", "8")
        db.session.commit()
        hour = timedelta(hours=1)
        assert count_events("api_request", "7", hour) == 5
        assert count_events("api_request", "7", hour, 3) == 3
        assert count_events("api_request", "7", hour, 9) == 5
        assert count_events("api_request", "8", hour, 3) == 1
        assert not within_limits("api_request", "7", [(5, hour)])
        assert within_limits("api_request", "7", [(6, hour)])
