"""A form a script sends (the sandbox upload) ends where the same form sent by the browser ends."""

from training.scripted import GO_TO_HEADER, SCRIPT_HEADER
from training.security import CONTENT_SECURITY_POLICY


def test_a_redirect_answering_a_script_names_the_address_with_the_pages_headers(client):
    plain = client.get("/staff/")
    assert plain.status_code in (302, 303)

    scripted = client.get("/staff/", headers={SCRIPT_HEADER: "1"})

    assert scripted.status_code == 204
    assert scripted.headers[GO_TO_HEADER] == plain.headers["Location"]
    assert "Location" not in scripted.headers
    assert scripted.get_data() == b""
    assert scripted.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert scripted.headers["X-Frame-Options"] == "DENY"


def test_a_page_answering_a_script_is_left_as_it_is(client):
    page = client.get("/", headers={SCRIPT_HEADER: "1"})

    assert page.status_code == 200
    assert GO_TO_HEADER not in page.headers
