"""``/v1/responses`` and ``/v1/conversations`` on the wire: bodies and error shapes the SDKs
read, and the gateway without its stored-responses database."""

from __future__ import annotations

from behest_local.home import database_file
from behest_local.stored.database import DB_FILE


async def test_delete_answers_openais_deleted_object(gateway_client):
    key = gateway_client.headers_auth
    created = await (await gateway_client.post("/v1/responses", json={"input": "Hi"},
                                               headers=key)).json()
    deleted = await gateway_client.delete(f"/v1/responses/{created['id']}", headers=key)
    assert deleted.status == 200
    assert await deleted.json() == {"id": created["id"], "object": "response", "deleted": True}


async def test_unknown_ids_are_404s_in_openais_error_shape(gateway_client):
    key = gateway_client.headers_auth
    for method, path, message in (
            ("GET", "/v1/responses/resp_x", "Response with id 'resp_x' not found."),
            ("POST", "/v1/responses/resp_x/cancel", "Response with id 'resp_x' not found."),
            ("GET", "/v1/responses/resp_x/input_items", "Response with id 'resp_x' not found."),
            ("GET", "/v1/conversations/conv_x", "Conversation with id 'conv_x' not found."),
            ("GET", "/v1/conversations/conv_x/items",
             "Conversation with id 'conv_x' not found.")):
        answer = await gateway_client.request(method, path, headers=key)
        assert answer.status == 404, path
        assert await answer.json() == {"error": {"message": message, "type":
                                                 "invalid_request_error", "param": None,
                                                 "code": None}}


async def test_stored_routes_need_the_projects_credentials(gateway_client):
    answer = await gateway_client.get("/v1/responses/resp_x")
    assert answer.status == 401


async def test_without_its_database_plain_responses_are_served_and_stateful_ones_503(
        make_gateway_client, tmp_path):
    home = tmp_path / "home"
    database_file(home, DB_FILE).mkdir(parents=True)  # a directory in its place
    client = await make_gateway_client(home=home)
    plain = await client.post("/v1/responses", json={"input": "Hi"}, headers=client.key)
    assert plain.status == 200
    chained = await client.post("/v1/responses", headers=client.key,
                                json={"input": "Hi", "previous_response_id": "resp_x"})
    assert chained.status == 503
    assert DB_FILE in (await chained.json())["error"]["message"]
    fetched = await client.get(f"/v1/responses/{(await plain.json())['id']}",
                               headers=client.key)
    assert fetched.status == 503
