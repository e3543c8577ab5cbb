"""Every form refuses a post without its CSRF token."""

import pytest
from conftest import page_text, signup_form


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.mark.parametrize(
    "path",
    [
        "/signup",
        "/signup/resend-link",
        "/manage/any-token/date",
        "/manage/any-token/contacts",
        "/manage/any-token/cancel",
    ],
)
def test_a_post_without_the_csrf_token_is_refused(csrf_app, make_session, path):
    session_id = make_session()
    response = csrf_app.test_client().post(path, data=signup_form(session_id))
    assert response.status_code == 400
    assert "This form has expired" in page_text(response)


def test_the_signup_form_carries_a_csrf_token(csrf_app, make_session):
    session_id = make_session()
    html = csrf_app.test_client().get(f"/signup?session={session_id}").get_data(as_text=True)
    assert 'name="csrf_token"' in html
