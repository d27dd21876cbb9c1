"""The desk's HTTP API against the real app on loopback: login, CSRF, roles, ownership, the case API, hostile text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestServer

from guichet.clock import FrozenClock
from tests.web.conftest import CASE, PASSWORD, Client, login, post_case

Operator = Callable[[str], Awaitable[tuple[Client, dict[str, str]]]]
NewClient = Callable[[], Awaitable[Client]]
HOSTILE = ["<script>alert('x')</script><img src=x onerror=alert(1)>", "مرحبا، أريد موعدا ‮gnp.exe", "😀👨‍👩‍👧 🇫🇷",
           "\"'; DROP TABLE cases; --", "&lt;b&gt;déjà échappé&lt;/b&gt;"]


async def error(response: Any) -> dict[str, str]:
    body: dict[str, dict[str, str]] = await response.json()
    return body["error"]


async def test_nothing_of_the_console_without_logging_in(new_client: NewClient) -> None:
    client = await new_client()
    case_id = (await (await post_case(client)).json())["id"]
    for method, path in (("GET", "/api/v1/console/cases"), ("GET", f"/api/v1/console/cases/{case_id}"),
                         ("POST", f"/api/v1/console/cases/{case_id}/claim"), ("GET", "/api/v1/console/me"),
                         ("GET", "/api/v1/console/appointments/today"), ("GET", "/api/v1/console/operators"),
                         ("GET", "/console/ws")):
        response = await client.request(method, path)
        assert response.status == 401, (method, path)
        assert "Connectez-vous" in (await error(response))["message"]
    page = await client.get("/console")  # the page itself is public: it shows the login form
    assert page.status == 200 and "default-src 'self'" in page.headers["Content-Security-Policy"]


async def test_login_needs_its_csrf_token_and_a_same_site_origin(new_client: NewClient) -> None:
    client = await new_client()
    body = {"username": "alice", "password": PASSWORD}
    assert (await client.post("/api/v1/console/login", json=body)).status == 403  # no token at all
    token = (await (await client.get("/api/v1/console/login")).json())["csrf"]
    forged = await client.post("/api/v1/console/login", json=body, headers={"X-CSRF-Token": token + "x"})
    assert forged.status == 403 and (await error(forged))["code"] == "csrf_failed"
    other_site = await client.post("/api/v1/console/login", json=body,
                                   headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
    assert other_site.status == 403
    ok = await client.post("/api/v1/console/login", json=body, headers={"X-CSRF-Token": token})
    assert ok.status == 200
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    me = await (await client.get("/api/v1/console/me")).json()
    assert me["operator"] == {"username": "alice", "role": "agent"} and me["csrf"]


async def test_wrong_passwords_are_rate_limited_per_user(new_client: NewClient) -> None:
    client = await new_client()

    async def attempt(username: str, password: str) -> Any:
        token = (await (await client.get("/api/v1/console/login")).json())["csrf"]
        return await client.post("/api/v1/console/login", json={"username": username, "password": password},
                                 headers={"X-CSRF-Token": token})

    for guess in ("azerty123", "motdepasse", "alice2026!"):
        wrong = await attempt("alice", guess)
        assert wrong.status == 401 and (await error(wrong))["message"] == "Identifiant ou mot de passe incorrect."
    blocked = await attempt("alice", PASSWORD)  # even the right password waits now
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    assert "Trop de tentatives" in (await error(blocked))["message"]
    assert (await attempt("bruno", PASSWORD)).status == 200  # another operator is not locked out
    unknown = await attempt("personne", "whatever12")
    assert unknown.status == 401 and (await error(unknown))["message"] == "Identifiant ou mot de passe incorrect."


async def test_state_changes_need_the_sessions_csrf_token(as_operator: Operator, new_client: NewClient) -> None:
    alice, headers = await as_operator("alice")
    _, bruno_headers = await as_operator("bruno")
    case_id = (await (await post_case(alice)).json())["id"]
    claim = f"/api/v1/console/cases/{case_id}/claim"
    for attempt in ({}, {"X-CSRF-Token": "forged"}, bruno_headers):  # none, wrong, another session's token
        response = await alice.post(claim, headers=attempt)
        assert response.status == 403 and (await error(response))["code"] == "csrf_failed"
    cross_site = await alice.post(claim, headers={**headers, "Origin": "https://evil.example"})
    assert cross_site.status == 403
    assert (await alice.post(claim, headers=headers)).status == 200
    assert (await alice.post("/api/v1/console/logout", headers=headers)).status == 200
    assert (await alice.get("/api/v1/console/cases")).status == 401


async def test_a_session_expires_after_the_idle_time(as_operator: Operator, desk_clock: FrozenClock) -> None:
    alice, _ = await as_operator("alice")
    assert (await alice.get("/api/v1/console/cases")).status == 200
    desk_clock.advance(timedelta(hours=8, minutes=1))
    assert (await alice.get("/api/v1/console/cases")).status == 401


async def test_one_operator_cannot_act_on_a_case_another_has_taken(as_operator: Operator) -> None:
    alice, a = await as_operator("alice")
    bruno, b = await as_operator("bruno")
    chef, c = await as_operator("chef")
    case_id = (await (await post_case(alice)).json())["id"]
    base = f"/api/v1/console/cases/{case_id}"
    not_yet = await bruno.post(f"{base}/resolve", json={"outcome": "rappele"}, headers=b)
    assert not_yet.status == 409 and "Prenez d'abord" in (await error(not_yet))["message"]
    assert (await alice.post(f"{base}/claim", headers=a)).status == 200
    taken = await bruno.post(f"{base}/claim", headers=b)
    assert taken.status == 409 and "alice" in (await error(taken))["message"]
    for path, body in ((f"{base}/resolve", {"outcome": "rappele"}), (f"{base}/reply", {"text": "Bonjour"}),
                       (f"{base}/handback", {})):
        refused = await bruno.post(path, json=body, headers=b)
        assert refused.status == 403 and (await error(refused))["code"] == "claimed_by_another", path
    assert (await (await bruno.get(base)).json())["status"] == "claimed"
    resolved = await chef.post(f"{base}/resolve", json={"outcome": "rappele", "note": "Rappelé à 11 h"}, headers=c)
    assert resolved.status == 200  # a supervisor may close anyone's case
    done = await (await alice.get(base)).json()
    assert (done["status"], done["outcome"], done["note"], done["claimed_by"]) == \
        ("resolved", "rappele", "Rappelé à 11 h", "alice")
    again = await alice.post(f"{base}/resolve", json={"outcome": "rappele"}, headers=a)
    assert again.status == 409


async def test_agents_cannot_do_supervisor_things(as_operator: Operator, new_client: NewClient) -> None:
    alice, a = await as_operator("alice")
    chef, c = await as_operator("chef")
    new = {"username": "dora", "password": "un-long-mot-de-passe", "role": "agent"}
    assert (await alice.get("/api/v1/console/operators")).status == 403
    assert (await alice.post("/api/v1/console/operators", json=new, headers=a)).status == 403
    assert (await alice.get("/api/v1/console/cases?status=resolved")).status == 403
    listed = await (await chef.get("/api/v1/console/operators")).json()
    assert {"username": "alice", "role": "agent"} in listed["operators"]
    weak = await chef.post("/api/v1/console/operators", json={**new, "password": "court"}, headers=c)
    assert weak.status == 400 and "10 caractères" in (await error(weak))["message"]
    assert (await chef.post("/api/v1/console/operators", json=new, headers=c)).status == 201
    assert (await chef.post("/api/v1/console/operators", json=new, headers=c)).status == 409
    await login(await new_client(), "dora", "un-long-mot-de-passe")
    assert (await chef.get("/api/v1/console/cases?status=resolved")).status == 200


async def test_the_case_api_needs_the_desk_token(new_client: NewClient) -> None:
    client = await new_client()
    assert (await client.post("/api/v1/cases", json=CASE)).status == 401
    wrong = await post_case(client, token="desk-token-for-test")
    assert wrong.status == 401 and (await error(wrong))["message"].startswith("Jeton")
    assert (await post_case(client)).status == 201


async def test_the_case_api_refuses_malformed_bodies_with_a_french_reason(new_client: NewClient) -> None:
    client = await new_client()
    auth = {"Authorization": "Bearer desk-token-for-tests"}
    not_json = await client.post("/api/v1/cases", data="{pas du json", headers={**auth,
                                                                                "Content-Type": "application/json"})
    assert not_json.status == 400 and "JSON" in (await error(not_json))["message"]
    assert (await client.post("/api/v1/cases", json=[1, 2], headers=auth)).status == 400
    bad = [{**CASE, "conversation_id": ""}, {**CASE, "conversation_id": "x" * 200}, {**CASE, "channel": "fax"},
           {**CASE, "reason": None}, {**CASE, "collected": "procedure=passport"}, {**CASE, "transcript": "bonjour"},
           {**CASE, "transcript": [{"from": "pirate", "text": "x"}]}, {**CASE, "transcript": [{"from": "citoyen"}]},
           {**CASE, "callback_only": "oui"}, {**CASE, "phone": 612345678}]
    for body in bad:
        response = await client.post("/api/v1/cases", json=body, headers=auth)
        assert response.status == 400, body
        message = (await error(response))["message"]
        assert message and message[0] in "«C", message  # a French sentence naming the field
    huge = await client.post("/api/v1/cases", data="x" * 300_000, headers={**auth, "Content-Type": "application/json"})
    assert huge.status == 413


async def test_posting_twice_for_one_conversation_returns_the_same_case(new_client: NewClient,
                                                                        as_operator: Operator) -> None:
    client = await new_client()
    first = await post_case(client)
    again = await post_case(client, {**CASE, "reason": "not_understood"})
    assert (first.status, again.status) == (201, 200)
    assert (await first.json())["id"] == (await again.json())["id"]
    chef, c = await as_operator("chef")
    case_id = (await first.json())["id"]
    await chef.post(f"/api/v1/console/cases/{case_id}/claim", headers=c)
    await chef.post(f"/api/v1/console/cases/{case_id}/resolve", json={"outcome": "renseigne"}, headers=c)
    later = await post_case(client)  # once resolved, a new hand-off is a new case
    assert later.status == 201 and (await later.json())["id"] != case_id


async def test_hostile_text_is_stored_verbatim_and_returned_as_json(as_operator: Operator) -> None:
    alice, _ = await as_operator("alice")
    long_line = "é" * 10_000
    transcript = [{"from": "citoyen", "text": t} for t in [*HOSTILE, long_line]]
    collected = {"person_name": HOSTILE[0], "procedure": "passport"}
    body = {**CASE, "conversation_id": "conv-hostile", "transcript": transcript, "collected": collected}
    case_id = (await (await post_case(alice, body)).json())["id"]
    response = await alice.get(f"/api/v1/console/cases/{case_id}")
    assert response.content_type == "application/json"
    case = await response.json()
    texts = [line["text"] for line in case["transcript"]]
    assert texts[:len(HOSTILE)] == HOSTILE
    assert len(texts[-1]) == 2000 and texts[-1].endswith("[…]")  # kept, cut to the desk's bound
    assert {"key": "person_name", "label": "Nom", "value": HOSTILE[0]} in case["known"]
    queue = await (await alice.get("/api/v1/console/cases")).json()
    assert [c["name"] for c in queue["cases"] if c["id"] == case_id] == [HOSTILE[0]]


async def test_operator_texts_over_2000_characters_are_refused(as_operator: Operator) -> None:
    alice, a = await as_operator("alice")
    case_id = (await (await post_case(alice, {**CASE, "channel": "socketio", "callback_only": False})).json())["id"]
    await alice.post(f"/api/v1/console/cases/{case_id}/claim", headers=a)
    too_long = await alice.post(f"/api/v1/console/cases/{case_id}/reply", json={"text": "a" * 2001}, headers=a)
    assert too_long.status == 400 and "2000 au plus" in (await error(too_long))["message"]
    empty = await alice.post(f"/api/v1/console/cases/{case_id}/reply", json={"text": "  "}, headers=a)
    assert empty.status == 400
    note = await alice.post(f"/api/v1/console/cases/{case_id}/resolve", json={"outcome": "renseigne",
                                                                              "note": "n" * 2001}, headers=a)
    assert note.status == 400
    bad_outcome = await alice.post(f"/api/v1/console/cases/{case_id}/resolve", json={"outcome": "<b>"}, headers=a)
    assert bad_outcome.status == 400 and "issue" in (await error(bad_outcome))["message"]
    unknown = await alice.get("/api/v1/console/cases/999999")
    assert unknown.status == 404 and (await error(unknown))["message"] == "Dossier introuvable."
    assert (await alice.get("/api/v1/console/cases/abc")).status == 400


async def test_what_the_bot_knows_is_shown_with_french_labels(as_operator: Operator) -> None:
    alice, _ = await as_operator("alice")
    collected = {"procedure": "both", "people": 3, "predemande_ids": ["AB12CD34EF"], "phone": "06 98 76 54 32",
                 "chosen_slot": {"id": "s1", "start": "2026-11-26T14:00:00+01:00"}, "case": "perte",
                 "when": {"earliest": True}}
    case_id = (await (await post_case(alice, {**CASE, "collected": collected})).json())["id"]
    known = {k["label"]: k["value"] for k in (await (await alice.get(f"/api/v1/console/cases/{case_id}")).json())
             ["known"]}
    assert known == {"Démarche": "Passeport et carte d'identité", "Nombre de personnes": "3 personnes",
                     "Situation": "Perte", "Numéros de pré-demande": "AB12CD34EF", "Date souhaitée":
                     "Le plus tôt possible", "Créneau choisi": "jeudi 26 novembre 2026 à 14 h 00",
                     "Téléphone": "06 98 76 54 32"}


async def test_public_endpoints(server: TestServer, new_client: NewClient) -> None:
    client = await new_client()
    assert await (await client.get("/health")).json() == {"status": "ok"}
    config = await client.get("/api/v1/widget/config", headers={"Origin": "https://www.mairie.example"})
    assert config.headers["Access-Control-Allow-Origin"] == "*"
    body = await config.json()
    assert body["socketio_path"] == "/socket.io" and body["town"] == "Villeneuve-sur-Mauldre"
    assert body["desk_url"] == str(server.make_url("")).rstrip("/")
    assert (await client.get("/static/../web/settings.py")).status == 404
    assert (await client.get("/static/console/console.js")).status == 200
    assert (await client.get("/static/vendor/socket.io.min.js")).status == 200


async def test_text_a_database_cannot_store_is_cleaned_not_refused_or_crashed(new_client: NewClient) -> None:
    """Lone surrogates are valid JSON escapes but not UTF-8: the case is stored, with "?" in their place."""
    client = await new_client()
    body = ('{"conversation_id": "conv-\\ud800", "channel": "rest", "reason": "asked", "phone": "06 12 34 56 78",'
            ' "collected": {"person_name": "Ana\\udfff"}, "transcript": [{"from": "citoyen", "text": "a\\ud800b"}]}')
    response = await client.post("/api/v1/cases", data=body, headers={"Authorization": "Bearer desk-token-for-tests",
                                                                       "Content-Type": "application/json"})
    assert response.status == 201, await response.text()
