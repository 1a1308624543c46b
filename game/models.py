"""Game data. Everything a room needs lives here, so any web process can serve any player.

A room's game is one document, `Room.state` (game.state.GameState as JSON), changed only by
game.actions through game.machine under the room's row lock. Beside it: the seats' identities and
sockets (Player), and what games leave behind (Turn, Drawing: labelled drawings for training and
the gallery; ChatLine: the recent chat, for reloads).
"""

from __future__ import annotations

import secrets

from django.db import models

from game.rules import MODES, PHASES

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_room_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v.replace("_", " ")) for v in values]


class Room(models.Model):
    code = models.CharField(max_length=CODE_LENGTH, unique=True, default=new_room_code)
    # The game: game.state.GameState as JSON (see game.store). The columns below copy what
    # queries filter on, written with it.
    state = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=0)  # the state's version (what players' views show)
    revision = models.PositiveBigIntegerField(default=0)  # bumped by every save of the state
    mode = models.CharField(max_length=16, choices=_choices(MODES), default="classic")
    phase = models.CharField(max_length=16, choices=_choices(PHASES), default="lobby")
    is_public = models.BooleanField(default=False)
    # When time next changes the game (a deadline, a hint, a seat released): the clock's query.
    wakeup_at = models.DateTimeField(null=True, blank=True, db_index=True)
    empty_since = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.code


class Player(models.Model):
    """A seat's identity and sockets; the seat itself (name, score, connected) is in the room's state."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="players")
    name = models.CharField(max_length=20)
    # Secret kept in the browser: whoever holds it gets this seat (and score) back.
    token = models.CharField(max_length=64, default=new_token, db_index=True)
    # A keyed hash of the address the seat was taken from (per-address rules: seats, votes, bans).
    address_key = models.CharField(max_length=32, blank=True)
    connections = models.PositiveSmallIntegerField(default=0)
    # Bumped by every socket that takes the seat: the newest one holds it, older ones give way.
    seat_epoch = models.PositiveIntegerField(default=0)
    # Touched by every open socket every few seconds: a count left behind by a
    # web process that died goes stale and is cleared (game.actions.housekeeping).
    last_seen = models.DateTimeField(null=True, blank=True)
    left = models.BooleanField(default=False)  # the seat is gone (left, removed, released)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at", "id"]

    def __str__(self) -> str:
        return self.name


class Turn(models.Model):
    """One word of a game: who drew it (or raced it), who guessed, how it ended. Kept after the game."""

    room = models.ForeignKey(Room, on_delete=models.SET_NULL, null=True, related_name="turns")
    mode = models.CharField(max_length=16, choices=_choices(MODES), default="classic")
    game_no = models.PositiveIntegerField(default=1)
    round_no = models.PositiveSmallIntegerField(default=1)
    turn_no = models.PositiveIntegerField(default=0)  # the room's count of turns: names a turn in its room
    word = models.CharField(max_length=100, blank=True)
    drawer = models.ForeignKey(Player, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    drawer_name = models.CharField(max_length=20, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)
    # [{"player_id", "name", "ms", "points", "order", "before_ai"}], in the order they guessed
    guesses = models.JSONField(default=list, blank=True)
    ai_guessed_ms = models.IntegerField(null=True, blank=True)  # classic: when the AI named the word
    model_version_id = models.IntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["room", "turn_no"], name="one_turn_per_number")]

    def __str__(self) -> str:
        return f"{self.word or '?'} ({self.drawer_name or self.mode})"


class Drawing(models.Model):
    """One canvas of a turn (the drawer's, or one racer's): a labelled drawing for training and the gallery."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="drawings")
    owner = models.ForeignKey(Player, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    owner_name = models.CharField(max_length=20, blank=True)
    word = models.CharField(max_length=100, blank=True)
    # Quick, Draw! raw format: [[xs], [ys], [ts ms since the turn started]] per stroke,
    # canvas coordinates; widths and colours alongside for replay.
    strokes = models.JSONField(default=list, blank=True)
    stroke_widths = models.JSONField(default=list, blank=True)
    stroke_colors = models.JSONField(default=list, blank=True)
    points_count = models.PositiveIntegerField(default=0)  # points in `strokes`, held to a limit per drawing
    stroke_count = models.PositiveIntegerField(default=0)  # len(strokes), held to a limit per drawing
    # Its owner may draw on it now: from the start of the drawing until the turn ends or the owner
    # leaves the room (game.records). A stroke is stored against this flag, without the room's lock.
    accepting = models.BooleanField(default=False)
    canvas_width = models.PositiveIntegerField(default=0)
    canvas_height = models.PositiveIntegerField(default=0)
    ai_latest = models.JSONField(default=list, blank=True)  # [[label, p], ...] when the turn ended
    ai_timeline = models.JSONField(default=list, blank=True)  # [{"ms": .., "guesses": [[label, p], ..]}]
    recognised_ms = models.IntegerField(null=True, blank=True)  # when the AI named the word on this canvas
    excluded_from_training = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["turn", "owner"], name="one_drawing_per_canvas"),
            models.UniqueConstraint(fields=["owner"], condition=models.Q(accepting=True), name="one_open_canvas"),
        ]

    def __str__(self) -> str:
        return f"{self.word or '?'} by {self.owner_name}"


class ChatLine(models.Model):
    """A recent chat line, kept so a reload shows the turn's chat as that player was allowed to see it."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="chat_lines")
    turn_no = models.PositiveIntegerField(null=True, blank=True)
    audience = models.CharField(max_length=16)  # game.domain_events.AudienceKind
    audience_player = models.BigIntegerField(null=True, blank=True)
    audience_turn = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=16)
    text = models.CharField(max_length=300)
    player_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name or self.kind}: {self.text}"
