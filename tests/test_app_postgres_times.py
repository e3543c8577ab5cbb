"""PostgreSQL: the app's connections read times in UTC, whatever zone the server is set to."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from training.booking.models import TrainingSession
from training.extensions import db

pytestmark = pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


@pytest.fixture
def server_in_new_york(app, postgres_admin):
    """The test database set to America/New_York for new connections, as a server might be."""
    with app.app_context():
        name = db.engine.url.database
        db.engine.dispose()
    postgres_admin.execute(f"ALTER DATABASE \"{name}\" SET TimeZone = 'America/New_York'")
    yield
    with app.app_context():
        db.engine.dispose()
    postgres_admin.execute(f'ALTER DATABASE "{name}" RESET TimeZone')


def test_a_session_time_reads_back_as_saved_on_a_server_set_to_another_zone(
    app, client, make_session, server_in_new_york
):
    starts_at = datetime(2031, 3, 9, 17, 30, tzinfo=UTC)
    session_id = make_session(starts_at=starts_at, ends_at=starts_at.replace(hour=19))
    with app.app_context():
        assert db.session.execute(text("SHOW TimeZone")).scalar() == "UTC"
        session = db.session.get(TrainingSession, session_id)
        assert session.starts_at == starts_at
        assert session.starts_at.utcoffset().total_seconds() == 0
        when = session.when
    assert when in client.get("/signup").get_data(as_text=True)
