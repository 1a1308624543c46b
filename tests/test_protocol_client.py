"""The tools' one ProtocolClient over its two transports: Channels' communicator in process, and real sockets.

The same client joins, keeps the newest state and the canvas, waits for messages and conditions
(pulling frames itself, or with a listening task), refuses a join it did not get, and notes the
server's close code, whichever transport carries it.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from game import actions, consumers
from tests.wsclient import ws_app
from tools.addresses import LoopbackAddresses, is_loopback_host
from tools.client import BadFrame, Closed, CommunicatorTransport, JoinRefused, ProtocolClient
from tools.server import create_room_over_http, joined, room_client

STROKE = [[100, 100, 0], [200, 150, 16], [300, 120.5, 32]]


def in_process(code: str, name: str, address: str, **options) -> ProtocolClient:
    return ProtocolClient(CommunicatorTransport(ws_app, f"/ws/room/{code}/", address=address), name, **options)


async def _start_drawing(host: ProtocolClient, guest: ProtocolClient) -> ProtocolClient:
    """Start a game and choose a word; returns the drawer (the host draws first)."""
    await host.send({"type": "start"})
    choosing = await host.wait_state(lambda s: s["phase"] == "choosing")
    assert choosing["drawer_id"] == host.player_id
    await host.send({"type": "choose_word", "word": choosing["choices"][0]})
    assert await guest.until(lambda: guest.phase == "drawing", 10)
    return host


async def _exercise(host: ProtocolClient, guest: ProtocolClient, newcomer: ProtocolClient) -> None:
    """What every transport must do alike, with the host and guest joined and the newcomer connected."""
    assert host.me()["is_host"] and guest.player_id != host.player_id and guest.token
    await _start_drawing(host, guest)
    # Pull mode: a message that does not match stays in the inbox for a later wait.
    await host.send({"type": "stroke", "stroke": 0, "points": STROKE, "width": 10})
    await guest.send({"type": "ping"})
    pong = await guest.wait_for(lambda m: m["type"] == "pong")
    assert pong == {"type": "pong"}
    stroke = await guest.wait_for(lambda m: m["type"] == "stroke")
    assert stroke["points"] == [[100, 100], [200, 150], [300, 120.5]] and guest.canvas.points == 3
    # A newcomer gets the drawing in `canvas` chunks: the client puts them together.
    await newcomer.join()
    assert await newcomer.until(lambda: newcomer.canvas.points == 3, 10), (newcomer.canvas, newcomer.inbox)
    assert newcomer.canvas.turn_id == host.turn_id and newcomer.canvas.strokes[0]["width"] == 10
    # Push mode: a listening task reads; waits are answered from what it saw.
    guest.listen()
    await host.send({"type": "undo"})
    assert await guest.until(lambda: guest.canvas.points == 0, 10), "the undo's canvas frame emptied it"
    await guest.send({"type": "guess", "text": "a hat?"})
    chat = await guest.wait_for(lambda m: m["type"] == "chat" and m.get("text") == "a hat?")
    assert chat["name"] == guest.name
    assert guest.frames_received > 5 and guest.bytes_received > guest.max_frame_bytes > 0


@pytest.mark.django_db(transaction=True)
async def test_the_in_process_transport_joins_tracks_waits_refuses_and_notes_closes(settings):
    settings.SEATS_PER_ADDRESS = 2
    room = await sync_to_async(actions.do_create_room)()
    home = "192.0.2.50"
    host, guest = in_process(room.code, "Ana", home, record_sizes=True), in_process(room.code, "Bo", home)
    newcomer = in_process(room.code, "Cy", "198.51.100.9")
    for client in (host, guest, newcomer):
        await client.connect()
    welcome = await host.join()
    assert welcome["player_id"] == host.player_id and host.sizes and max(host.sizes) == host.max_frame_bytes
    await guest.join()
    # A third seat from the same address is refused: the error is the join's answer.
    third = in_process(room.code, "Dee", home)
    await third.connect()
    with pytest.raises(JoinRefused) as refused:
        await third.join()
    assert refused.value.code == "too_many_seats"
    await third.close()
    await _exercise(host, guest, newcomer)
    # Another tab on the guest's seat: the older socket is closed by the server, and says with what.
    tab = in_process(room.code, "Bo", home)
    await tab.connect()
    await tab.join(guest.token)
    assert await guest.until(lambda: guest.closed, 10) and guest.close_code == consumers.REPLACED_CLOSE_CODE
    assert guest.errors["replaced"] == 1
    with pytest.raises(Closed):
        await guest.wait_for(lambda m: False, 1)
    for client in (host, tab, newcomer):
        await client.close()


def test_the_websocket_transport_speaks_from_its_own_address(live_server_url):
    addresses = LoopbackAddresses()
    ana_at, bo_at, cy_at = (addresses.take() for _ in range(3))
    assert all(is_loopback_host(a) and not a.startswith("127.0.") for a in (ana_at, bo_at, cy_at))
    assert len({ana_at, bo_at, cy_at}) == 3

    async def main():
        code = create_room_over_http(live_server_url, source_address=ana_at)
        host, _ = await joined(live_server_url, code, "Ana", local_address=ana_at)
        guest, _ = await joined(live_server_url, code, "Bo", local_address=bo_at)
        newcomer = room_client(live_server_url, code, "Cy", local_address=cy_at)
        await newcomer.connect()
        await _exercise(host, guest, newcomer)
        # The server tells addresses apart: a vote against one of three households needs both others
        # (from one address it would need a single vote, the voters being one household).
        assert newcomer.snapshot["kick_votes_needed"] == 2, newcomer.snapshot["kick_votes_needed"]
        tab, _ = await joined(live_server_url, code, "Bo", token=guest.token, local_address=bo_at)
        assert await guest.until(lambda: guest.closed, 10) and guest.close_code == consumers.REPLACED_CLOSE_CODE
        await asyncio.gather(*(c.close() for c in (host, tab, newcomer)))
        assert all(c.close_code is None for c in (host, tab, newcomer)), "closing from this side is not the server's"

    asyncio.run(main())


class _Frames:
    """A transport that hands out the given frames, then nothing (the client's checks are what is tested)."""

    def __init__(self, *frames: str):
        self.frames = list(frames)

    async def open(self) -> None: ...

    async def send(self, frame) -> None: ...

    async def receive(self, timeout):
        return self.frames.pop(0) if self.frames else None

    async def close(self, code: int = 1000) -> None: ...

    def abort(self) -> None: ...


async def test_every_frame_is_held_to_the_protocol_unless_the_load_generator_leaves_that_to_the_tests():
    outside = '{"type": "no_such_message", "x": 1}'
    with pytest.raises(BadFrame):
        await ProtocolClient(_Frames(outside)).wait_for(lambda m: True, 5)
    unchecked = ProtocolClient(_Frames(outside), check_frames=False)
    assert await unchecked.wait_for(lambda m: True, 5) == {"type": "no_such_message", "x": 1}
    assert unchecked.frames_received == 1 and unchecked.max_frame_bytes == len(outside)


def test_the_load_generator_collects_seldom_while_it_runs_and_as_before_after():
    import gc

    from tools.loadtest import LOAD_GC_THRESHOLD, _collecting_seldom

    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    kept = [[i] for i in range(1000)]  # set up before the load: frozen out of the collector's way
    with _collecting_seldom():
        assert gc.get_threshold()[0] == LOAD_GC_THRESHOLD and gc.get_threshold()[1:] == before[1:]
        assert gc.get_freeze_count() >= frozen + len(kept)
    assert gc.get_threshold() == before
