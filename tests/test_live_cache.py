"""The live walkthrough's shared cache: a participant's poll answered from Redis before Flask.

Two app objects over one database and one Redis stand for two gunicorn processes (or hosts):
the facilitator clicks on one, the participants poll the other.
"""

import logging
import os
import re
import uuid
from collections.abc import Iterator

import pytest
import redis
import test_live_pages
from conftest import require
from flask import Flask
from sqlalchemy import select
from test_live_pages import COAST, SIERRA, console_url, counted_queries, follow_url, signed_in

from training import create_app
from training.booking.links import issue_manage_link, revoke_manage_links
from training.booking.models import Signup
from training.booking.services import cancel_signup
from training.extensions import db, utcnow
from training.live.cache import live_cache
from training.staff.models import StaffMember

# The console's fixtures: a session with two organizations, the walkthrough and staff accounts.
clock = test_live_pages.clock
live = test_live_pages.live

REDIS_URL = os.environ.get("TRAINING_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the test Redis, its keys deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        require(f"Redis at {REDIS_URL}")
    prefix = f"training-test-{uuid.uuid4().hex}:live:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def instance(app: Flask, redis_url: str, prefix: str, *, csrf: bool = False) -> Flask:
    """Another app object on ``app``'s database, sharing the live cache at ``redis_url``."""
    other = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "WTF_CSRF_ENABLED": csrf,
            "LIVE_REDIS_URL": redis_url,
            "LIVE_CACHE_PREFIX": prefix,
        }
    )
    other.test_client_class = app.test_client_class
    return other


@pytest.fixture
def here(app, redis_prefix) -> Iterator[Flask]:
    """The instance the participants poll."""
    other = instance(app, REDIS_URL, redis_prefix)
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def there(app, redis_prefix) -> Iterator[Flask]:
    """The instance the facilitator clicks on."""
    other = instance(app, REDIS_URL, redis_prefix)
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def facilitator(there, live):
    client = signed_in(there, test_live_pages.FACILITATOR)
    assert client.post(console_url(live, "start")).status_code == 303
    return client


def state_url(live, name: str = SIERRA) -> str:
    return follow_url(live, name, action="state.json")


def test_an_unchanged_poll_is_answered_304_without_the_database(here, live, facilitator):
    participant = here.test_client()
    first = participant.get(state_url(live))
    assert first.status_code == 200
    etag = first.headers["ETag"]

    with counted_queries(here) as statements:
        again = participant.get(state_url(live), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "no-store"
    assert statements == []


def test_the_cache_answers_304_only_for_the_current_version_and_a_valid_token(
    here, live, facilitator
):
    participant = here.test_client()
    etag = participant.get(state_url(live)).headers["ETag"]
    participant.get(state_url(live), headers={"If-None-Match": etag})

    made_up = participant.get(
        "/manage/not-a-real-token/live/state.json", headers={"If-None-Match": etag}
    )
    assert made_up.status_code == 404
    someone_else = participant.get(state_url(live, COAST), headers={"If-None-Match": etag})
    assert someone_else.status_code == 200
    assert someone_else.headers["ETag"] != etag

    facilitator.post(console_url(live, "next"))
    stale = participant.get(state_url(live), headers={"If-None-Match": etag})
    assert stale.status_code == 200
    assert stale.get_json()["step"]["title"] == "Find your activity in PARS"


def test_a_click_on_one_instance_reaches_the_participants_of_another(here, live, facilitator):
    sierra, coast = here.test_client(), here.test_client()
    etags = {
        name: client.get(state_url(live, name)).headers["ETag"]
        for name, client in ((SIERRA, sierra), (COAST, coast))
    }

    facilitator.post(console_url(live, "next"))
    changed = sierra.get(state_url(live, SIERRA), headers={"If-None-Match": etags[SIERRA]})
    assert changed.status_code == 200
    assert changed.get_json()["step"]["number"] == 2
    # Built once for this version in this process: the next organization's answer reads nothing.
    with counted_queries(here) as statements:
        also = coast.get(state_url(live, COAST), headers={"If-None-Match": etags[COAST]})
    assert statements == []
    assert also.status_code == 200
    assert also.get_json()["step"]["title"] == "Find your activity in PARS"
    assert (
        coast.get(
            state_url(live, COAST), headers={"If-None-Match": also.headers["ETag"]}
        ).status_code
        == 304
    )


def test_a_cached_answer_carries_the_organizations_own_links_and_fresh_keys(
    app, redis_prefix, live, facilitator
):
    here = instance(app, REDIS_URL, redis_prefix, csrf=True)
    sierra = here.test_client()
    sierra.get(state_url(live, SIERRA))  # rendered by Flask, kept for this step
    coast = here.test_client()
    coast.get(state_url(live, COAST))
    with counted_queries(here) as statements:
        first = coast.get(state_url(live, COAST)).get_json()["html"]
        second = coast.get(state_url(live, COAST)).get_json()["html"]
    assert statements == []
    assert f'action="/manage/{live.tokens[COAST]}/live/help"' in first
    assert live.tokens[SIERRA] not in first
    keys = re.findall(r'name="submission_key" type="hidden" value="([^"]*)"', first + second)
    assert len(keys) == 4
    assert len(set(keys)) == 4
    # The CSRF fields are left for the page to fill with its own session's token.
    assert re.findall(r'name="csrf_token" type="hidden" value="([^"]*)"', first) == ["", ""]
    with here.app_context():
        db.engine.dispose()


def test_a_call_for_help_shows_on_the_next_poll(here, live, facilitator):
    participant = here.test_client()
    etag = participant.get(state_url(live)).headers["ETag"]
    assert participant.post(follow_url(live, action="help")).status_code == 303
    after = participant.get(state_url(live), headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.get_json()["needs_help"] is True
    assert "A facilitator knows you need help." in after.get_json()["html"]

    facilitator.post(console_url(live, f"help/{live.signup_ids[SIERRA]}/clear"))
    cleared = participant.get(state_url(live), headers={"If-None-Match": after.headers["ETag"]})
    assert cleared.status_code == 200
    assert cleared.get_json()["needs_help"] is False


def test_a_cancelled_bookings_link_gets_no_step_from_the_cache(here, there, live, facilitator):
    participant = here.test_client()
    etag = participant.get(state_url(live)).headers["ETag"]
    assert participant.get(state_url(live), headers={"If-None-Match": etag}).status_code == 304

    with there.app_context():
        # By staff: the walkthrough has started, so the session has begun and the organization
        # can no longer cancel it itself.
        cancel_signup(
            db.session.get(Signup, live.signup_ids[SIERRA]),
            now=utcnow(),
            actor=db.session.scalars(select(StaffMember)).first(),
            reason="Asked by phone",
        )
        db.session.commit()

    after = participant.get(state_url(live), headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.get_json()["step"] is None
    assert "cancelled" in after.get_json()["html"]
    assert 'action="/manage/' not in after.get_json()["html"]


def test_an_older_value_written_late_never_hides_a_newer_one(here, live, facilitator):
    participant = here.test_client()
    etag = participant.get(state_url(live)).headers["ETag"]
    facilitator.post(console_url(live, "next"))
    with here.app_context():
        # A full answer that read the database before the click writes what it read, late.
        live_cache().remember(
            live.tokens[SIERRA],
            signup_id=live.signup_ids[SIERRA],
            status="confirmed",
            session_id=live.session_id,
            version=1,
            revision=None,
        )
    assert participant.get(state_url(live), headers={"If-None-Match": etag}).status_code == 200


def test_without_redis_polls_take_the_full_path_and_log_no_token(app, live, caplog):
    unreachable = instance(app, "redis://127.0.0.1:9/0", "training-test-unreachable:")
    try:
        facilitator = signed_in(unreachable, test_live_pages.FACILITATOR)
        participant = unreachable.test_client()
        with caplog.at_level(logging.DEBUG):
            facilitator.post(console_url(live, "start"))
            first = participant.get(state_url(live))
            again = participant.get(
                state_url(live), headers={"If-None-Match": first.headers["ETag"]}
            )
            facilitator.post(console_url(live, "next"))
            changed = participant.get(
                state_url(live), headers={"If-None-Match": first.headers["ETag"]}
            )
        assert first.get_json()["step"]["number"] == 1
        assert again.status_code == 304
        assert changed.get_json()["step"]["number"] == 2
        assert "Live cache unavailable" in caplog.text
        for token in live.tokens.values():
            assert token not in caplog.text
    finally:
        with unreachable.app_context():
            db.engine.dispose()


def test_a_token_one_instance_has_seen_is_answered_by_another_without_the_database(
    here, there, live, facilitator
):
    etag = there.test_client().get(state_url(live)).headers["ETag"]
    with counted_queries(here) as statements:
        answer = here.test_client().get(state_url(live), headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert statements == []


def test_a_revoked_link_is_refused_by_an_instance_that_answered_it_from_the_cache(
    here, there, live, facilitator
):
    participant = here.test_client()
    old = state_url(live)
    etag = participant.get(old).headers["ETag"]
    assert participant.get(old, headers={"If-None-Match": etag}).status_code == 304

    with there.app_context():
        # Staff take someone off the booking: every link sent before is revoked.
        signup = db.session.get(Signup, live.signup_ids[SIERRA])
        revoke_manage_links(signup, now=utcnow())
        fresh = issue_manage_link(signup)
        db.session.commit()

    assert participant.get(f"/manage/{fresh}/live/state.json").status_code == 200
    refused = participant.get(old, headers={"If-None-Match": etag})
    assert refused.status_code == 410
    assert participant.get(old).status_code == 410


def test_from_the_cache_an_organization_marked_helped_is_told_so_and_another_still_waits(
    here, live, facilitator
):
    sierra, coast = here.test_client(), here.test_client()
    sierra.post(follow_url(live, SIERRA, action="help"))
    coast.post(follow_url(live, COAST, action="help"))
    facilitator.post(console_url(live, f"help/{live.signup_ids[SIERRA]}/clear"))
    sierra.get(state_url(live, SIERRA))  # rendered by Flask, kept for this step and signals
    coast.get(state_url(live, COAST))

    with counted_queries(here) as statements:
        helped = sierra.get(state_url(live, SIERRA)).get_json()
        waiting = coast.get(state_url(live, COAST)).get_json()
    assert statements == []
    assert helped["was_helped"] is True
    assert "A facilitator marked you as helped." in helped["html"]
    assert "A facilitator knows you need help." not in helped["html"]
    assert waiting["was_helped"] is False
    assert "A facilitator knows you need help." in waiting["html"]
    assert "marked you as helped" not in waiting["html"]
