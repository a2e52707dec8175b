"""``X-Thread-Id`` on chat, and ``/v1/threads*`` over raw HTTP: persistence of both
streamed and plain replies, history prepended, per-user scope, Behest's error shape."""

from __future__ import annotations

from behest_local import sse

CHAT = "/v1/chat/completions"


def user(text: str) -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def as_user(client, name: str, thread: str | None = None) -> dict:
    headers = {**client.headers_auth, "X-End-User-Id": name}
    return {**headers, "X-Thread-Id": thread} if thread else headers


async def test_a_thread_keeps_plain_and_streamed_turns(gateway_client):
    c = gateway_client
    resp = await c.post(CHAT, json=user("My name is Bob"), headers=as_user(c, "ann", "t 1/x"))
    first = (await resp.json())["choices"][0]["message"]["content"]
    resp = await c.post(CHAT, json={**user("What is my name?"), "stream": True},
                        headers=as_user(c, "ann", "t 1/x"))
    chunks = sse.parse_json_events(await resp.read())
    streamed = "".join(ch["choices"][0]["delta"].get("content") or ""
                       for ch in chunks if ch.get("choices"))
    resp = await c.get("/v1/threads/t 1/x/messages", headers=as_user(c, "ann"))
    assert resp.status == 200 and resp.headers["X-Trace-Id"]
    messages = await resp.json()
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "My name is Bob"), ("assistant", first),
        ("user", "What is my name?"), ("assistant", streamed)]
    assert all(m["id"].startswith("msg_") and m["created_at"] for m in messages)
    thread = await (await c.get("/v1/threads/t 1/x", headers=as_user(c, "ann"))).json()
    assert (thread["id"], thread["messages_count"], thread["title"]) == ("t 1/x", 4,
                                                                         "My name is Bob")
    listed = await (await c.get("/v1/threads", headers=as_user(c, "ann"))).json()
    assert [t["id"] for t in listed] == ["t 1/x"]


async def test_the_history_reaches_the_model(gateway_client):
    c = gateway_client
    await c.post(CHAT, json=user("My name is Bob"), headers=as_user(c, "ann", "t2"))
    resp = await c.post(CHAT, json=user("What is my name?"), headers=as_user(c, "ann", "t2"))
    usage_with = (await resp.json())["usage"]["prompt_tokens"]
    resp = await c.post(CHAT, json=user("What is my name?"), headers=as_user(c, "ann"))
    usage_without = (await resp.json())["usage"]["prompt_tokens"]
    assert usage_with > usage_without


async def test_threads_are_scoped_to_the_user(gateway_client):
    c = gateway_client
    await c.post(CHAT, json=user("secret plans"), headers=as_user(c, "ann", "mine"))
    resp = await c.get("/v1/threads/mine", headers=as_user(c, "bob"))
    assert resp.status == 404
    body = await resp.json()
    assert body["error"]["code"] == "not_found" and "'bob'" in body["error"]["message"]
    assert await (await c.get("/v1/threads", headers=as_user(c, "bob"))).json() == []
    assert (await c.delete("/v1/threads/mine", headers=as_user(c, "bob"))).status == 404


async def test_delete_is_204_then_404(gateway_client):
    c = gateway_client
    await c.post(CHAT, json=user("hi"), headers=as_user(c, "ann", "gone"))
    resp = await c.delete("/v1/threads/gone", headers=as_user(c, "ann"))
    assert resp.status == 204 and await resp.read() == b"" and resp.headers["X-Trace-Id"]
    for path in ("/v1/threads/gone", "/v1/threads/gone/messages"):
        resp = await c.get(path, headers=as_user(c, "ann"))
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"


async def test_errors_on_thread_routes_are_nested(gateway_client):
    c = gateway_client
    resp = await c.get("/v1/threads")
    assert resp.status == 401 and set((await resp.json())["error"]) == {"code", "message"}
    resp = await c.put("/v1/threads/x", headers=c.headers_auth)
    assert resp.status == 405 and (await resp.json())["error"]["code"] == "method_not_allowed"
    resp = await c.post(CHAT, json=user("hi"), headers=as_user(c, "ann", "x" * 256))
    assert resp.status == 400 and (await resp.json())["error"]["param"] == "X-Thread-Id"


async def test_a_jwt_scopes_threads_to_its_uid(gateway_client):
    c = gateway_client
    resp = await c.post("/v1/auth/mint", json={"user_id": "carol"}, headers=c.headers_auth)
    token = {"Authorization": f"Bearer {(await resp.json())['jwt']}"}
    await c.post(CHAT, json=user("hello"), headers={**token, "X-Thread-Id": "c1",
                                                     "X-End-User-Id": "ignored"})
    listed = await (await c.get("/v1/threads", headers=token)).json()
    assert [t["id"] for t in listed] == ["c1"]
    assert await (await c.get("/v1/threads", headers=as_user(c, "carol"))).json() == listed
