"""The official Python MCP SDK (PyPI `mcp`) as a client of Opsdeck's /mcp, for the `mcp` test.

    python3 mcp_client.py URL RESPONDER_TOKEN VIEWER_TOKEN INCIDENT PAGE_ID COMPONENT_ID MONITOR_ID

Lists the tools, resources and prompts, calls every read tool, acknowledges INCIDENT and adds
a note with the responder's token, tries the same acknowledgement with the viewer's token, and
prints one JSON object with what came back, for the Rust test to check.
"""
import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client


def attr(obj, snake, camel):
    """A field by its Python name (mcp 2) or its wire name (mcp 1)."""
    return getattr(obj, snake, getattr(obj, camel, None))


def failed(result):
    return bool(attr(result, "is_error", "isError"))


def text_of(result):
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def with_session(url, token, work):
    async with create_mcp_http_client(headers={"Authorization": f"Bearer {token}"}) as http:
        async with streamable_http_client(url, http_client=http) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)


async def as_responder(session, incident, page, component, monitor):
    out = {}
    tools = await session.list_tools()
    out["tools"] = sorted(t.name for t in tools.tools)
    out["read_only"] = sorted(
        t.name for t in tools.tools if t.annotations is not None and attr(t.annotations, "read_only_hint", "readOnlyHint")
    )
    reads = {
        "list_incidents": {},
        "get_incident": {"incident": incident},
        "who_is_on_call": {},
        "search_services": {"query": "check"},
        "monitor_status": {},
    }
    out["reads"] = {}
    for name, args in reads.items():
        r = await session.call_tool(name, args)
        out["reads"][name] = {"error": failed(r), "data": json.loads(text_of(r)) if not failed(r) else text_of(r)}
    one = await session.call_tool("monitor_status", {"monitor": monitor})
    out["reads"]["monitor_one"] = {"error": failed(one), "data": json.loads(text_of(one)) if not failed(one) else text_of(one)}
    update = await session.call_tool("post_status_update", {
        "incident": incident, "status_page_id": page, "status": "investigating",
        "body": "Payments are failing for some cards.", "components": {component: "partial_outage"}, "notify": False})
    out["status_update"] = {"error": failed(update), "text": text_of(update)}
    window = await session.call_tool("create_maintenance_window", {
        "name": "Database upgrade", "starts_at": "2030-01-01T02:00:00Z", "duration_minutes": 60})
    out["maintenance"] = {"error": failed(window), "text": text_of(window)}
    bad = await session.call_tool("get_incident", {"incident": incident, "extra": 1})
    out["bad_arguments"] = {"error": failed(bad), "text": text_of(bad)}
    ack = await session.call_tool("acknowledge_incident", {"incident": incident, "note": "looking, from the assistant"})
    out["acknowledge"] = {"error": failed(ack), "data": json.loads(text_of(ack)) if not failed(ack) else text_of(ack)}
    blank = await session.call_tool("add_incident_note", {"incident": incident, "body": "   "})
    out["blank_note"] = {"error": failed(blank), "text": text_of(blank)}
    try:
        await session.call_tool("no_such_tool", {})
        out["unknown_tool"] = "answered"
    except Exception as e:  # a JSON-RPC error, not a tool result
        out["unknown_tool"] = str(e)
    note = await session.call_tool("add_incident_note", {"incident": incident, "body": "Rolled back the deploy."})
    out["note"] = {"error": failed(note), "text": text_of(note)}
    resources = await session.list_resources()
    out["resources"] = [str(r.uri) for r in resources.resources]
    if resources.resources:
        first = await session.read_resource(resources.resources[0].uri)
        out["resource_text"] = first.contents[0].text
    prompts = await session.list_prompts()
    out["prompts"] = sorted(p.name for p in prompts.prompts)
    summary = await session.get_prompt("summarise_incident", {"incident": incident})
    out["prompt_text"] = summary.messages[0].content.text
    return out


async def as_viewer(session, incident):
    r = await session.call_tool("acknowledge_incident", {"incident": incident})
    listed = await session.call_tool("list_incidents", {"open": False})
    return {"error": failed(r), "text": text_of(r), "list_error": failed(listed)}


async def main(url, responder, viewer, incident, page, component, monitor):
    out = await with_session(url, responder, lambda s: as_responder(s, incident, page, component, monitor))
    out["viewer"] = await with_session(url, viewer, lambda s: as_viewer(s, incident))
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:8]))
