"""Tools that play the game from outside: bots, the load benchmark, the fuzzer, and the tests' clients.

Nothing at run time imports this package: the game server neither needs it nor
its package (`requirements-tools.txt`: `websockets`). It is a
Django app only so that `manage.py simulate_game`, `loadtest` and `fuzz` are
found; every WebSocket client here is one :class:`tools.client.ProtocolClient`.
"""
