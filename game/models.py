"""Game data. Everything a room needs lives here, so any web process can serve any player."""

from __future__ import annotations

import secrets

from django.db import models

# No 0/O, 1/I/L: codes are read aloud and typed on phones.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


def new_room_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Phase(models.TextChoices):
    LOBBY = "lobby"
    CHOOSING = "choosing"
    DRAWING = "drawing"
    TURN_END = "turn_end"
    GAME_OVER = "game_over"


class Room(models.Model):
    code = models.CharField(max_length=CODE_LENGTH, unique=True, default=new_room_code)
    is_public = models.BooleanField(default=False)
    host = models.ForeignKey("Player", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Host settings (ranges enforced by the protocol schema and CheckConstraints).
    rounds = models.PositiveSmallIntegerField(default=3)
    draw_seconds = models.PositiveSmallIntegerField(default=80)
    word_choices = models.PositiveSmallIntegerField(default=3)
    max_players = models.PositiveSmallIntegerField(default=8)

    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.LOBBY)
    game_no = models.PositiveIntegerField(default=0)
    round_no = models.PositiveSmallIntegerField(default=0)
    # Drawing order of the current round (player ids) and who has drawn in it.
    round_order = models.JSONField(default=list, blank=True)
    drawn_this_round = models.JSONField(default=list, blank=True)
    current_turn = models.ForeignKey("Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # When the current phase ends by itself, and when the next hint is due.
    deadline = models.DateTimeField(null=True, blank=True, db_index=True)
    hint_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # Votekicks in progress: {"<target player id>": [voter ids]}.
    kick_votes = models.JSONField(default=dict, blank=True)
    # Addresses (address_limits.address_key) of removed players, who may not join again before
    # the time given: {"<address key>": epoch seconds}.
    bans = models.JSONField(default=dict, blank=True)
    # Bumped on every change: clients drop snapshots older than the one they hold.
    state_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    empty_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(rounds__gte=1, rounds__lte=10), name="room_rounds_1_10"),
            models.CheckConstraint(
                condition=models.Q(draw_seconds__gte=30, draw_seconds__lte=240), name="room_draw_30_240"
            ),
            models.CheckConstraint(
                condition=models.Q(word_choices__gte=1, word_choices__lte=5), name="room_choices_1_5"
            ),
            models.CheckConstraint(
                condition=models.Q(max_players__gte=2, max_players__lte=16), name="room_players_2_16"
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Player(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="players")
    name = models.CharField(max_length=20)
    # Secret kept in the browser: whoever holds it gets this seat (and score) back.
    token = models.CharField(max_length=64, default=new_token, db_index=True)
    is_ai = models.BooleanField(default=False)
    score = models.IntegerField(default=0)
    connections = models.PositiveSmallIntegerField(default=0)
    # Touched by every open socket every few seconds: a count left behind by a
    # web process that died goes stale and is cleared (services.housekeeping).
    last_seen = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)
    left = models.BooleanField(default=False)
    # A keyed hash of the address the seat was taken from (per-address rules: seats, votes, bans).
    address_key = models.CharField(max_length=32, blank=True)
    # Bumped by every socket that takes the seat: the newest one holds it, older ones give way.
    seat_epoch = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_connected(self) -> bool:
        return self.is_ai or self.connections > 0

    @property
    def voice(self) -> str:
        """Whose vote this player's is: one per address (two seats on one connection are one voice)."""
        return self.address_key or f"seat:{self.pk}"


class Turn(models.Model):
    """One player's drawing of one word; kept after the game as a labelled drawing for training."""

    room = models.ForeignKey(Room, on_delete=models.SET_NULL, null=True, related_name="turns")
    game_no = models.PositiveIntegerField(default=1)
    round_no = models.PositiveSmallIntegerField(default=1)
    drawer = models.ForeignKey(Player, on_delete=models.SET_NULL, null=True, related_name="turns")
    drawer_name = models.CharField(max_length=20, blank=True)
    choices = models.JSONField(default=list, blank=True)
    word = models.CharField(max_length=100, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Quick, Draw! raw format: [[xs], [ys], [ts ms since the turn started]] per stroke,
    # canvas coordinates; widths alongside for replay.
    strokes = models.JSONField(default=list, blank=True)
    stroke_widths = models.JSONField(default=list, blank=True)
    points_count = models.PositiveIntegerField(default=0)  # points in `strokes`, held to a limit per drawing
    canvas_width = models.PositiveIntegerField(default=0)
    canvas_height = models.PositiveIntegerField(default=0)
    revealed = models.JSONField(default=list, blank=True)  # letter positions given as hints
    ai_version = models.BigIntegerField(default=0)
    ai_latest = models.JSONField(default=list, blank=True)
    ai_timeline = models.JSONField(default=list, blank=True)  # [{"ms": .., "guesses": [[label, p], ..]}]
    ai_guessed_ms = models.IntegerField(null=True, blank=True)
    model_version_id = models.IntegerField(null=True, blank=True)
    excluded_from_training = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.word or '?'} by {self.drawer_name}"


class Guess(models.Model):
    """A correct guess: who, in what order, how fast, for how many points."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="guesses")
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="guesses")
    order = models.PositiveSmallIntegerField()
    ms = models.IntegerField()
    points = models.IntegerField()

    class Meta:
        ordering = ["order"]
        constraints = [models.UniqueConstraint(fields=["turn", "player"], name="one_correct_guess_per_turn")]

    def __str__(self) -> str:
        return f"guess #{self.order} on turn {self.turn_id}"
