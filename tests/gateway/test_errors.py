"""The error contract: 401, 413, 422, 400, unknown routes; always the JSON error shape."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from .conftest import LiveServer, new_session


def assert_error(r: httpx.Response, status: int, type_: str) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"}
    err: dict[str, object] = body["error"]
    assert err["type"] == type_
    assert isinstance(err["message"], str) and err["message"]
    assert "Traceback" not in r.text and 'File "' not in r.text
    return err


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer orc_not_a_real_key"},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "orc_key_without_scheme"},
    ],
)
def test_401_without_a_known_key(server: LiveServer, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=server.base_url, headers=headers) as c:
        for method, path in [
            ("GET", "/v1/proposals"),
            ("GET", "/v1/sessions/s_x"),
            ("GET", "/v1/audit"),
            ("POST", "/v1/proposals/p_x/confirm"),
        ]:
            r = c.request(method, path)
            assert_error(r, 401, "unauthorized")
            assert r.headers["www-authenticate"] == "Bearer"
        r = c.post("/v1/sessions", json={"agent": "chatbot", "subject": "u"})
        assert_error(r, 401, "unauthorized")


def test_ops_endpoints_need_no_auth(anon: httpx.Client) -> None:
    assert anon.get("/healthz").status_code == 200
    assert anon.get("/readyz").status_code == 200
    assert anon.get("/metrics").status_code == 200
    assert anon.get("/openapi.json").status_code == 200


@pytest.fixture(scope="module")
def session_id(api: httpx.Client) -> str:
    return str(new_session(api)["session_id"])


def test_413_over_16_kib_by_content_length(api: httpx.Client, session_id: str) -> None:
    r = api.post(f"/v1/sessions/{session_id}/messages", json={"text": "x" * 17_000})
    err = assert_error(r, 413, "payload_too_large")
    assert "16384" in str(err["message"])


def test_413_counts_bytes_not_characters(api: httpx.Client, session_id: str) -> None:
    ok = api.post(f"/v1/sessions/{session_id}/messages", json={"text": "é" * 6000})
    assert ok.status_code == 200
    r = api.post(f"/v1/sessions/{session_id}/messages", json={"text": "é" * 9000})
    assert_error(r, 413, "payload_too_large")


def test_413_for_chunked_uploads(api: httpx.Client, session_id: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"text": "'
        for _ in range(20):
            yield b"y" * 1024
        yield b'"}'

    r = api.post(
        f"/v1/sessions/{session_id}/messages",
        content=chunks(),
        headers={"Content-Type": "application/json"},
    )
    assert_error(r, 413, "payload_too_large")
    # a small chunked body is fine
    r = api.post(
        f"/v1/sessions/{session_id}/messages",
        content=iter([b'{"text": ', b'"chunked hello"}']),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text


def test_just_under_the_limit_is_accepted(api: httpx.Client, session_id: str) -> None:
    r = api.post(f"/v1/sessions/{session_id}/messages", json={"text": "z" * 16_000})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "body",
    [
        {"text": 5},
        {"text": None},
        {"text": ["a"]},
        {},
        {"txt": "hello"},
        {"text": ""},
        [],
        "just a string",
    ],
)
def test_422_message_schema(api: httpx.Client, session_id: str, body: object) -> None:
    r = api.post(f"/v1/sessions/{session_id}/messages", json=body)
    err = assert_error(r, 422, "validation_error")
    assert len(str(err["message"])) < 600


@pytest.mark.parametrize("where", ["message_id", "Idempotency-Key"])
def test_a_message_id_over_200_characters_is_400(
    api: httpx.Client, session_id: str, where: str
) -> None:
    url = f"/v1/sessions/{session_id}/messages"

    def post(key: str) -> httpx.Response:
        if where == "message_id":
            return api.post(url, json={"text": "hi", "message_id": key})
        return api.post(url, json={"text": "hi"}, headers={"Idempotency-Key": key})

    long = 20_000 if where == "Idempotency-Key" else 5_000  # (a body over 16 KiB is a 413)
    err = assert_error(post("k" * long), 400, "bad_request")
    assert err["message"] == f"{where} is {long} characters long; the limit is 200"
    assert_error(post("k" * 201), 400, "bad_request")
    first = post("k" * 200)
    assert first.status_code == 200, first.text
    assert post("k" * 200).json() == first.json()  # the same id: the same turn


def test_422_names_the_field(api: httpx.Client, session_id: str) -> None:
    r = api.post(f"/v1/sessions/{session_id}/messages", json={"text": 5})
    err = assert_error(r, 422, "validation_error")
    assert "text" in str(err["message"])


@pytest.mark.parametrize(
    "body",
    [
        {"agent": 5, "subject": "u"},
        {"agent": "chatbot"},
        {"subject": "u"},
        {"agent": "chatbot", "subject": ""},
        {"agent": "chatbot", "subject": "s" * 201},
        {"agent": "", "subject": "u"},
        {"agent": "chatbot", "subject": 12},
    ],
)
def test_422_session_schema(api: httpx.Client, body: object) -> None:
    assert_error(api.post("/v1/sessions", json=body), 422, "validation_error")


def test_subject_of_200_chars_is_fine(api: httpx.Client) -> None:
    r = api.post("/v1/sessions", json={"agent": "chatbot", "subject": "s" * 199 + "é"})
    assert r.status_code in (200, 201)


def test_unknown_agent_is_400(api: httpx.Client) -> None:
    r = api.post("/v1/sessions", json={"agent": "wizard", "subject": "u"})
    err = assert_error(r, 400, "bad_request")
    assert "wizard" in str(err["message"])


@pytest.mark.parametrize(
    "raw", [b"{", b'{"text": "unterminated', b"not json", b'{"text": "a",}', b"\xff\xfe"]
)
def test_malformed_json_is_400(api: httpx.Client, session_id: str, raw: bytes) -> None:
    r = api.post(
        f"/v1/sessions/{session_id}/messages",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code in (400, 422)
    assert_error(r, r.status_code, "bad_request" if r.status_code == 400 else "validation_error")


def test_malformed_json_on_create(api: httpx.Client) -> None:
    r = api.post("/v1/sessions", content=b"{oops", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "bad_request")


def test_bad_status_filter_is_422(api: httpx.Client) -> None:
    assert_error(api.get("/v1/proposals", params={"status": "DONE"}), 422, "validation_error")


def test_unknown_route_and_method(api: httpx.Client) -> None:
    assert_error(api.get("/v1/nothing-here"), 404, "not_found")
    r = api.put("/v1/sessions", json={})
    assert_error(r, 405, "method_not_allowed")
    assert "POST" in r.headers["allow"]
