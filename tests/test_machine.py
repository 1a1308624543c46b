"""The pure game machine, by example: each command, each mode, the views and the rules they use.

No database and no sockets: a room is a value driven through game.machine.apply.
"""

from __future__ import annotations

import json

import pytest

from game import commands as c
from game import rules
from game.domain_events import (
    AIGotIt,
    AIGuessesUpdated,
    AudienceKind,
    ChatLine,
    DrawingStarted,
    GameOver,
    PhaseChanged,
    PlayerJoined,
    PlayerRemoved,
    TurnEnded,
    TurnStarted,
    ViewsChanged,
    to_knowers,
    to_player,
)
from game.errors import GameError
from game.machine import apply, new_room, next_wakeup
from game.player_views import ai_guesses_for, chat_visible_to, view_for
from game.rules import AI_PLAYER_ID, Phase
from game.state import GameState, Limits, from_json, to_json

VOCAB = ("cat", "dog", "hot dog", "house plant", "t-shirt", "butterfly", "school bus", "ice cream")
T0 = 1_700_000_000_000
S = 1000  # ms


class Room:
    """A room driven through apply: the state, the clock, and what the last command produced."""

    def __init__(
        self,
        mode: str = "classic",
        *,
        players: int = 0,
        seed: str = "seed",
        vocabulary=VOCAB,
        limits: Limits | None = None,
        **settings,
    ):
        self.now = T0
        self.state: GameState = new_room(mode=mode, seed=seed, vocabulary=vocabulary, limits=limits, now=self.now)
        self.events: list = []
        for i in range(1, players + 1):
            self.do(c.Join(i, f"P{i}", f"10.0.0.{i}"))
        if settings:
            self.do(c.UpdateSettings(1, **settings))

    def do(self, command, after_s: float = 0) -> list:
        self.now += round(after_s * S)
        self.state, self.events = apply(self.state, command, self.now)
        return self.events

    def tick(self, after_s: float) -> list:
        return self.do(c.Tick(), after_s)

    def refused(self, command, code: str) -> GameError:
        before = self.state
        with pytest.raises(GameError) as refused:
            apply(self.state, command, self.now)
        assert refused.value.code == code
        assert self.state is before and to_json(self.state) == to_json(before)
        return refused.value

    # --- reads ---

    @property
    def turn(self):
        return self.state.turn

    def score(self, player_id: int) -> int:
        return self.state.player(player_id).score

    def lines(self, kind: str | None = None) -> list[ChatLine]:
        return [e for e in self.events if isinstance(e, ChatLine) and (kind is None or e.kind == kind)]

    def of(self, event_type) -> list:
        return [e for e in self.events if isinstance(e, event_type)]

    def guessers(self) -> list[int]:
        return [p.id for p in self.state.humans if p.id != self.turn.drawer_id]

    def choose(self, index: int = 0) -> str:
        word = self.turn.choices[index]
        self.do(c.ChooseWord(self.turn.drawer_id, word))
        return word

    def choose_word(self, word: str) -> None:
        """Put `word` on offer and choose it (tests that need a particular word)."""
        from dataclasses import replace

        self.state = replace(self.state, turn=replace(self.turn, choices=(word, *self.turn.choices[1:])))
        self.choose(0)

    def ai(self, guesses, *, owner: int | None = None, version: int | None = None, n_labels=None) -> list:
        owner = self.turn.drawer_id if owner is None else owner
        version = version if version is not None else self.state.canvas(owner).ai_version + 1
        return self.do(c.AIAnswer(owner, self.turn.turn_no, version, tuple(guesses), n_labels))


def started(mode: str = "classic", players: int = 3, **settings) -> Room:
    room = Room(mode, players=players, **settings)
    room.do(c.Start(1))
    return room


# --- creating rooms and seats ------------------------------------------------------------------------


def test_a_classic_room_seats_the_ai_first_and_other_rooms_do_not():
    classic = new_room(mode="classic", seed=1, vocabulary=VOCAB, now=T0)
    assert [(p.id, p.name, p.is_ai) for p in classic.players] == [(AI_PLAYER_ID, "AI", True)]
    assert classic.phase == Phase.LOBBY and classic.version == 0 and classic.host_id is None
    for mode in ("solo", "race"):
        assert new_room(mode=mode, seed=1, vocabulary=VOCAB, now=T0).players == ()
    race = new_room(mode="race", seed=1, vocabulary=VOCAB, is_public=True, now=T0)
    assert race.settings.draw_seconds == 60 and race.settings.is_public
    assert classic.settings.draw_seconds == 80 and not classic.settings.is_public
    assert new_room(mode="classic", seed=1, vocabulary=["cat", " cat", "", "dog"], now=T0).vocabulary == ("cat", "dog")


def test_the_first_human_hosts_and_names_are_cleaned():
    room = Room()
    events = room.do(c.Join(1, "  Ann\u200b  Lee ", "a"))
    assert room.state.player(1).name == "Ann Lee" and room.state.host_id == 1
    assert PlayerJoined(1, "Ann Lee") in events and isinstance(events[-1], ViewsChanged)
    assert room.state.version == 1 and room.state.player(1).connected
    room.do(c.Join(2, "Bob", "b"))
    assert room.state.host_id == 1 and [p.id for p in room.state.humans] == [1, 2]


@pytest.mark.parametrize("name", ["AI", "ai", "A.I.", "a i", "ＡＩ", "A\u200bI", "\u202eAI", "Аi", "ÁI"])
def test_the_ais_name_and_its_look_alikes_are_reserved(name):
    room = Room()
    err = room.refused(c.Join(1, name, "a"), "bad_name")
    assert "AI" in err.message


@pytest.mark.parametrize(
    ("name", "code_message"),
    [
        ("", "Pick a name"),
        ("\u200b\u200b", "Pick a name"),
        ("\u3164", "Pick a name"),
        ("...", "Pick a name with at least one letter or digit"),
        ("x" * 21, "at most 20"),
        ("bob", "already has that name"),
        (" B.O.B ", "already has that name"),
        ("Bób", "already has that name"),
    ],
)
def test_names_that_are_empty_invisible_too_long_or_taken_are_refused(name, code_message):
    room = Room()
    room.do(c.Join(1, "Bob", "a"))
    err = room.refused(c.Join(2, name, "b"), "bad_name")
    assert code_message in err.message


def test_name_rules_directly():
    assert rules.clean_name("A\u0000b\tc") == "A b c"
    assert rules.name_key("Zoë") == rules.name_key("zoe") == "zoe"
    assert rules.name_problem("Al", []) is None  # a real name, not the AI's
    assert rules.name_problem("😀", ["😃"]) is None and rules.name_problem("😀", ["😀"]) is not None


def test_full_rooms_solo_rooms_seats_per_address_and_rejoining():
    room = Room(players=2, max_players=2)
    room.refused(c.Join(3, "C", "c"), "room_full")
    solo = Room("solo", players=1)
    assert solo.refused(c.Join(2, "B", "b"), "room_full").message == "This is a solo game"
    shared = Room(limits=Limits(max_seats_per_address=2))
    shared.do(c.Join(1, "A", "home"))
    shared.do(c.Join(2, "B", "home"))
    shared.refused(c.Join(3, "C", "home"), "too_many_seats")
    shared.do(c.Join(3, "C", "elsewhere"))
    shared.refused(c.Join(3, "C2", "x"), "already_joined")
    shared.refused(c.Join(AI_PLAYER_ID, "Robot", "x"), "already_joined")


def test_connect_and_disconnect_keep_the_seat_and_record_when():
    room = Room(players=2)
    version = room.state.version
    room.do(c.Disconnect(2), after_s=5)
    assert not room.state.player(2).connected and room.state.player(2).disconnected_at == room.now
    assert room.state.version == version + 1
    assert room.do(c.Disconnect(2)) == [] and room.do(c.Disconnect(99)) == []
    room.do(c.Connect(2), after_s=5)
    assert room.state.player(2).connected and room.state.player(2).disconnected_at is None
    assert room.do(c.Connect(2)) == []  # already connected: nothing changes
    room.refused(c.Connect(99), "not_joined")
    room.refused(c.Connect(AI_PLAYER_ID), "not_joined")


def test_a_seat_is_held_for_a_minute_then_released_and_the_host_passes_on():
    room = Room(players=3)
    room.do(c.Disconnect(2))
    room.do(c.Disconnect(1), after_s=1)
    assert next_wakeup(room.state) == room.now - S + rules.SEAT_HOLD_SECONDS * S
    assert room.do(c.Tick(), after_s=rules.SEAT_HOLD_SECONDS - 1.001) == []
    room.tick(0.001)
    assert room.state.player(2) is None and room.state.player(1) is not None
    assert PlayerRemoved(2, "P2", "released") in room.events
    room.tick(1)
    assert room.state.player(1) is None
    assert room.state.host_id == 3, "the next connected human in join order"
    assert next_wakeup(room.state) is None


def test_leaving_passes_the_host_to_the_next_connected_human_in_join_order():
    room = Room(players=4)
    room.do(c.Disconnect(2))
    room.do(c.Leave(1))
    assert room.state.host_id == 3
    assert [line.text for line in room.lines()] == ["P1 left", "P3 is now the host"]
    room.refused(c.Leave(1), "not_joined")


def test_only_the_host_kicks_and_the_kicked_address_is_banned_for_a_while():
    room = Room(players=3)
    room.refused(c.Kick(2, 3), "not_host")
    room.refused(c.Kick(1, 1), "bad_target")
    room.refused(c.Kick(1, AI_PLAYER_ID), "bad_target")
    room.do(c.Kick(1, 3))
    assert room.state.player(3) is None and PlayerRemoved(3, "P3", "kicked") in room.events
    room.refused(c.Join(4, "Again", "10.0.0.3"), "banned")
    room.now += rules.KICK_BAN_SECONDS * S
    room.do(c.Join(4, "Again", "10.0.0.3"))
    assert room.state.player(4) is not None and room.state.bans == ()


def test_a_vote_counts_once_per_address_and_a_majority_of_other_addresses_removes():
    room = Room()
    for pid, address in [(1, "a"), (2, "b"), (3, "b"), (4, "c"), (5, "d")]:
        room.do(c.Join(pid, f"P{pid}", address))
    # Target 5 (address d): the electorate is addresses a, b, c: two are needed.
    room.do(c.VoteKick(2, 5))
    assert room.state.kick_tally(5) == (1, 2)
    room.do(c.VoteKick(3, 5))  # the same address as 2: still one voice
    assert room.state.kick_tally(5) == (1, 2)
    assert room.lines()[-1].text == "P3 voted to remove P5 (1/2)"
    room.refused(c.VoteKick(2, 5), "already_voted")
    room.refused(c.VoteKick(2, 3), "same_address")
    room.refused(c.VoteKick(2, 2), "bad_target")
    view = view_for(room.state, 1)
    assert next((p.kick_votes, p.kick_votes_needed) for p in view.players if p.id == 5) == (1, 2)
    room.do(c.VoteKick(4, 5))
    assert room.state.player(5) is None and PlayerRemoved(5, "P5", "voted_out") in room.events
    assert room.state.kick_votes == () and room.state.bans[0].address == "d"


def test_a_removed_voters_votes_go_with_them():
    room = Room(players=5)
    room.do(c.VoteKick(2, 5))
    room.do(c.Leave(2))
    assert room.state.kick_votes == ()


def test_settings_are_the_hosts_between_games_within_their_ranges():
    room = Room(players=3)
    room.refused(c.UpdateSettings(2, rounds=5), "not_host")
    assert "between 1 and 10" in room.refused(c.UpdateSettings(1, rounds=11), "bad_setting").message
    room.refused(c.UpdateSettings(1, draw_seconds=29), "bad_setting")
    room.refused(c.UpdateSettings(1, rounds=True), "bad_setting")
    room.refused(c.UpdateSettings(1, ai_mode="sometimes"), "bad_setting")
    room.refused(c.UpdateSettings(1, solo_words=13), "bad_setting")
    room.refused(c.UpdateSettings(1, max_players=2), "bad_setting")  # three are seated
    room.do(c.UpdateSettings(1, rounds=5, draw_seconds=30, max_players=3, is_public=True, solo_words=12))
    s = room.state.settings
    assert (s.rounds, s.draw_seconds, s.max_players, s.is_public, s.solo_words) == (5, 30, 3, True, 12)
    room.do(c.UpdateSettings(1, ai_mode="off"))
    assert room.state.ai_player is None
    room.do(c.UpdateSettings(1, ai_mode="hidden"))
    assert room.state.players[0].id == AI_PLAYER_ID and room.state.settings.ai_mode == "hidden"
    room.do(c.Start(1))
    room.refused(c.UpdateSettings(1, rounds=2), "wrong_phase")
    Room("solo", players=1).refused(c.UpdateSettings(1, max_players=4), "bad_setting")
    Room("race", players=2).refused(c.UpdateSettings(1, ai_mode="off"), "bad_setting")


def test_starting_needs_the_host_enough_connected_players_and_words():
    room = Room(players=1)
    room.refused(c.Start(1), "too_few_players")
    room.do(c.Join(2, "B", "b"))
    room.refused(c.Start(2), "not_host")
    room.do(c.Disconnect(2))
    room.refused(c.Start(1), "too_few_players")
    room.do(c.Connect(2))
    wordless = Room(players=2, vocabulary=())
    wordless.refused(c.Start(1), "no_words")
    room.do(c.Start(1))
    assert room.state.phase == Phase.CHOOSING and room.state.game_no == 1
    room.refused(c.Start(1), "wrong_phase")
    Room("solo", players=1).do(c.Start(1))
    Room("race", players=1).refused(c.Start(1), "too_few_players")


def test_play_again_goes_back_to_the_lobby_with_scores_at_zero():
    room = started(players=2, rounds=1)
    room.refused(c.PlayAgain(1), "wrong_phase")
    for _ in range(2):
        word = room.choose()
        room.do(c.Guess(room.guessers()[0], word), after_s=1)
        room.tick(rules.TURN_END_SECONDS)
    assert room.state.phase == Phase.GAME_OVER and any(p.score for p in room.state.players)
    assert room.state.turn is None and room.of(GameOver)
    room.refused(c.PlayAgain(2), "not_host")
    room.do(c.PlayAgain(1))
    assert room.state.phase == Phase.LOBBY and all(p.score == 0 for p in room.state.players)
    room.do(c.Start(1))
    assert room.state.game_no == 2 and room.state.round_no == 1


# --- classic --------------------------------------------------------------------------------------------


def test_the_drawer_chooses_one_of_the_offered_words():
    room = started()
    turn = room.turn
    assert len(turn.choices) == 3 and set(turn.choices) <= set(VOCAB) and turn.drawer_id == 1
    assert room.state.deadline == room.now + rules.CHOOSE_SECONDS * S
    room.refused(c.ChooseWord(2, turn.choices[0]), "not_drawer")
    room.refused(c.ChooseWord(1, "not offered"), "bad_word")
    room.do(c.ChooseWord(1, turn.choices[1]), after_s=2)
    assert room.state.phase == Phase.DRAWING and room.turn.word == turn.choices[1]
    assert room.turn.started_at == room.now and room.state.deadline == room.now + 80 * S
    assert DrawingStarted(turn.turn_no, turn.choices[1], room.now, (1,)) in room.events
    room.refused(c.ChooseWord(1, turn.choices[0]), "not_drawer")


def test_choosing_times_out_to_an_offered_word_the_same_for_the_same_seed():
    words = set()
    for _ in range(2):
        room = started()
        room.tick(rules.CHOOSE_SECONDS)
        assert room.state.phase == Phase.DRAWING and room.turn.word in room.turn.choices
        words.add(room.turn.word)
    assert len(words) == 1
    offers = set()
    for seed in range(20):
        other = Room(players=3, seed=str(seed))
        other.do(c.Start(1))
        offers.add(other.turn.choices)
    assert len(offers) > 1, "the seed decides"


def test_offered_words_avoid_the_words_drawn_in_this_game():
    room = started(players=2, rounds=4, word_choices=2)
    drawn = []
    for _ in range(4):
        assert not set(room.turn.choices) & set(drawn)
        drawn.append(room.choose())
        room.tick(80)
        room.tick(rules.TURN_END_SECONDS)
    assert len(set(drawn)) == 4


def test_guessers_score_by_speed_and_order_and_the_drawer_for_each_of_them():
    room = started(ai_mode="off")
    word = room.choose()
    a, b = room.guessers()
    room.do(c.Guess(a, word.upper()), after_s=8)
    assert room.score(a) == rules.guesser_points(8, 80, 1)
    assert room.lines() == [ChatLine("correct", f"P{a} guessed the word!", player_id=a, name=f"P{a}")]
    assert room.state.phase == Phase.DRAWING
    room.do(c.Guess(a, word), after_s=1)  # already guessed: just talk among those who know
    assert room.score(a) == rules.guesser_points(8, 80, 1)
    room.do(c.Guess(b, word), after_s=11)
    assert room.score(b) == rules.guesser_points(20, 80, 2)
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "everyone_guessed"
    assert room.score(1) == 2 * (rules.DRAWER_POINTS_PER_GUESSER + rules.DRAWER_POINTS_BEFORE_AI)
    (ended,) = room.of(TurnEnded)
    assert [g.player_id for g in ended.summary.guesses] == [a, b] and ended.summary.word == word
    assert room.lines()[-1].text == f"The word was '{word}' (everyone guessed it)"


def test_close_guesses_are_shown_with_a_private_hint_and_knowers_talk_among_themselves():
    room = started()
    room.choose_word("butterfly")
    a, b = room.guessers()
    room.do(c.Guess(a, "butterflies"))
    assert room.lines() == [
        ChatLine("close", "'butterflies' is close!", to_player(a)),
        ChatLine("guess", "butterflies", player_id=a, name=f"P{a}"),
    ]
    room.do(c.Guess(b, "  no   idea "))
    assert room.lines() == [ChatLine("guess", "no idea", player_id=b, name=f"P{b}")]
    room.do(c.Guess(a, "butterfly"))
    room.do(c.Guess(a, "easy one"))
    knowers = to_knowers(room.turn.turn_no)
    assert room.lines() == [ChatLine("guess", "easy one", knowers, player_id=a, name=f"P{a}")]
    assert [chat_visible_to(knowers, pid, room.state) for pid in (1, a, b)] == [True, True, False]
    room.do(c.Guess(1, "nice drawing, right?"))
    assert room.lines()[0].audience == knowers
    room.refused(c.Guess(b, "   "), "empty")
    room.refused(c.Guess(99, "hi"), "not_joined")


def test_the_drawer_may_chat_but_not_give_the_word_away():
    room = started()
    room.refused(c.Guess(1, f"I'll draw {room.turn.choices[0]}!"), "gives_word_away")
    room.do(c.Guess(1, "hmm, let me think"))
    room.choose_word("butterfly")
    for line in ("BUTTERFLY", "it's a butterfly!", "butterflies", "a buterfly", "butter-fly"):
        err = room.refused(c.Guess(1, line), "gives_word_away")
        assert err.message == "You can't give the word away in the chat"
    room.do(c.Guess(1, "it flies"))
    assert room.lines()[0].audience.kind == AudienceKind.KNOWERS


def test_a_guessers_line_that_contains_the_word_reaches_only_them():
    room = started()
    room.choose_word("hot dog")
    a, b = room.guessers()
    room.do(c.Guess(a, "is it a hot dog?"))
    (line,) = room.lines()
    assert line.audience == to_player(a) and room.score(a) == 0
    assert not chat_visible_to(line.audience, b, room.state) and chat_visible_to(line.audience, a, room.state)
    assert not room.state.knows_word(a)


def test_plain_chat_outside_a_drawing_reaches_everyone():
    room = Room(players=2)
    room.do(c.Guess(2, "ready?"))
    assert room.lines() == [ChatLine("guess", "ready?", player_id=2, name="P2")]
    assert not room.of(ViewsChanged), "chat travels as events, not in the views"


def test_the_ai_scores_once_when_it_names_the_word_and_later_guessers_score_half():
    room = started()
    word = room.choose()
    a, b = room.guessers()
    room.do(c.Guess(a, word), after_s=4)
    room.ai([("zebra", 0.9), (word, 0.05)], version=5)
    assert room.turn.ai_got_it_ms is None and room.of(AIGuessesUpdated)[0].version == 5
    assert room.ai([(word, 0.9)], version=4) == []  # older than the answer held
    assert room.do(c.AIAnswer(1, room.turn.turn_no - 1, 9, ((word, 0.9),))) == []  # another turn
    room.ai([(word, 0.2)])  # right but not confident
    assert room.turn.ai_got_it_ms is None
    room.ai([(word, 0.8), ("zebra", 0.1)])
    assert room.turn.ai_got_it_ms == room.now - room.turn.started_at
    ai_points = rules.guesser_points(4, 80, 2)
    assert room.score(AI_PLAYER_ID) == ai_points and room.of(AIGotIt)
    assert room.lines() == [ChatLine("ai", "The AI got it!")]
    assert room.state.phase == Phase.DRAWING, "the AI does not end the turn"
    room.ai([(word, 0.99)])
    assert room.score(AI_PLAYER_ID) == ai_points, "once per turn"
    room.do(c.Guess(b, word), after_s=6)
    assert room.score(b) == rules.after_ai_points(rules.guesser_points(10, 80, 3))
    assert room.state.phase == Phase.TURN_END
    # a beat the AI, b did not.
    assert room.score(1) == rules.classic_drawer_points(2, 1) == 2 * 60 + 40


def test_the_ais_probabilities_are_kept_as_valid_json():
    room = started()
    room.choose()
    room.ai([("zebra", float("nan")), ("lion", float("inf")), ("cat", 1.5)])
    assert room.state.canvas(1).ai_latest == (("zebra", 0.0), ("lion", 0.0), ("cat", 1.0))
    json.loads(json.dumps(to_json(room.state), allow_nan=False))


def test_with_the_ai_off_its_answers_are_ignored():
    room = started(ai_mode="off")
    word = room.choose()
    assert room.ai([(word, 0.99)]) == []
    assert room.state.ai_player is None and room.state.canvas(1).ai_version == 0
    assert ai_guesses_for(room.state, 1, 2) == []


def test_seekers_see_the_ais_labels_with_the_word_masked_or_not_at_all_when_hidden():
    room = started()
    room.choose_word("dog")
    room.ai([("hot dog", 0.5), ("dog", 0.3), ("cat", 0.1)])
    a, b = room.guessers()
    assert ai_guesses_for(room.state, 1, a) == [("hot ▮▮▮", 0.5), ("▮▮▮", 0.3), ("cat", 0.1)]
    assert ai_guesses_for(room.state, 1, 1) == [("hot dog", 0.5), ("dog", 0.3), ("cat", 0.1)]
    assert view_for(room.state, a).ai == (("hot ▮▮▮", 0.5), ("▮▮▮", 0.3), ("cat", 0.1))
    room.do(c.Guess(a, "dog"))
    assert ai_guesses_for(room.state, 1, a)[1] == ("dog", 0.3)
    hidden = started(ai_mode="hidden")
    hidden.choose_word("school bus")
    hidden.ai([("school bus", 0.2), ("truck", 0.1)])
    assert ai_guesses_for(hidden.state, 1, 2) is None and view_for(hidden.state, 2).ai is None
    assert ai_guesses_for(hidden.state, 1, 1) == [("school bus", 0.2), ("truck", 0.1)]
    assert ai_guesses_for(hidden.state, 1, 2, (("school bus", 0.9),)) is None
    hidden.tick(80)
    assert ai_guesses_for(hidden.state, 1, 2) == [("school bus", 0.2), ("truck", 0.1)], "revealed at the end"


def test_hints_reveal_letters_on_their_schedule_and_never_the_whole_word():
    room = started()
    room.choose_word("butterfly")
    start = room.turn.started_at
    times = rules.hint_times("butterfly", 80)
    assert room.state.hint_at == start + round(times[0] * S) == next_wakeup(room.state)
    assert room.do(c.Tick(), after_s=times[0] - 0.001) == []
    for i, t in enumerate(times):
        room.now = start + round(t * S)
        room.tick(0)
        assert len(room.turn.revealed) == i + 1
    assert room.state.hint_at is None
    mask = view_for(room.state, 2).word_mask
    assert mask.count("_") == len("butterfly") - len(times) and view_for(room.state, 2).word is None


def test_time_up_ends_the_turn_and_the_drawer_scores_only_for_guessers():
    room = started()
    word = room.choose()
    room.tick(80)
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "time_up"
    assert room.score(1) == 0 and room.lines()[-1].text == f"The word was '{word}' (time is up)"
    assert room.state.deadline == room.now + rules.TURN_END_SECONDS * S
    view = view_for(room.state, 2)
    assert view.word == word and view.reveal.word == word and view.reveal.reason == "time_up"


def test_the_drawer_leaving_ends_the_turn_and_the_game_goes_on():
    room = started(players=3)
    room.choose()
    room.do(c.Leave(1))
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "drawer_left"
    room.tick(rules.TURN_END_SECONDS)
    assert room.state.phase == Phase.CHOOSING and room.turn.drawer_id == 2


def test_a_drawer_leaving_while_choosing_skips_the_turn():
    room = started(players=3)
    room.do(c.Leave(1))
    assert room.state.phase == Phase.TURN_END and room.lines()[-1].text == "Turn skipped (the drawer left)"
    assert room.of(TurnEnded)[0].summary.word == ""


def test_too_few_players_ends_the_game_through_the_end_of_the_turn():
    room = started(players=2)
    room.choose()
    room.do(c.Leave(2))
    phases = [(e.old, e.new) for e in room.of(PhaseChanged)]
    assert phases == [(Phase.DRAWING, Phase.TURN_END), (Phase.TURN_END, Phase.GAME_OVER)]
    assert room.of(TurnEnded)[0].summary.reason == "too_few_players" and room.of(GameOver)


def test_a_drawer_who_lost_the_connection_gets_a_grace_period():
    room = started()
    room.choose()
    room.do(c.Disconnect(1), after_s=1)
    assert next_wakeup(room.state) == room.now + rules.DRAWER_GRACE_SECONDS * S
    room.tick(rules.DRAWER_GRACE_SECONDS - 1)
    room.do(c.Connect(1))
    room.tick(5)
    assert room.state.phase == Phase.DRAWING
    room.do(c.Disconnect(1))
    room.tick(rules.DRAWER_GRACE_SECONDS)
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "drawer_disconnected"


def test_a_guesser_disconnecting_can_leave_everyone_else_guessed():
    room = started(players=3)
    word = room.choose()
    a, b = room.guessers()
    room.do(c.Guess(a, word))
    room.do(c.Disconnect(b))
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "everyone_guessed"


def test_everyone_draws_once_per_round_late_joiners_at_the_end_of_it():
    room = started(players=2, rounds=2)
    drawers = []
    room.do(c.Join(3, "Late", "late"))
    while room.state.phase != Phase.GAME_OVER:
        drawers.append(room.turn.drawer_id)
        room.choose()
        room.tick(80)
        room.tick(rules.TURN_END_SECONDS)
    assert drawers == [1, 2, 3, 1, 2, 3]
    (over,) = room.of(GameOver)
    assert over.game_no == 1 and {pid for pid, _, _ in over.standings} == {0, 1, 2, 3}


def test_strokes_undo_and_clear_belong_to_the_drawer_while_drawing():
    room = started()
    for command in (c.Stroke(1), c.Undo(1), c.Clear(1)):
        room.refused(command, "not_drawer")  # still choosing
    room.choose()
    before = room.state
    for command in (c.Stroke(1), c.Stroke(1), c.Undo(1), c.Clear(1), c.Undo(1)):
        assert room.do(command) == []
    assert room.state is before, "the drawing is stored beside the room: its state does not change"
    for command in (c.Stroke(2), c.Undo(2), c.Clear(2)):
        assert room.refused(command, "not_drawer").message == "Only the drawer can draw, and only while drawing"
    room.refused(c.Stroke(99), "not_joined")
    room.tick((room.state.deadline - room.now) / S)
    assert room.state.phase == "turn_end"
    room.refused(c.Stroke(1), "not_drawer")


def test_a_new_vocabulary_is_used_by_new_turns_only():
    room = started(players=2)
    word = room.choose()
    room.do(c.SetVocabulary(("apple", "banana", "banana", " ")))
    assert room.state.vocabulary == ("apple", "banana") and room.turn.word == word
    room.tick(80)
    room.tick(rules.TURN_END_SECONDS)
    assert set(room.turn.choices) == {"apple", "banana"}
    room.refused(c.SetVocabulary(()), "no_words")


# --- solo -------------------------------------------------------------------------------------------------------


def test_solo_draws_words_against_the_clock_and_scores_the_ais_speed():
    room = started("solo", players=1, solo_words=3)
    assert room.state.phase == Phase.DRAWING and room.turn.drawer_id == 1 and room.state.hint_at is None
    assert room.state.deadline == room.now + rules.SOLO_SECONDS * S
    first = room.turn.word
    view = view_for(room.state, 1)
    assert view.word == first and view.round_no == 1 and view.rounds == 3 and view.phase_seconds == 20
    room.do(c.Stroke(1), after_s=5)
    room.ai([(first, 0.9)])
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "ai_got_it"
    assert room.score(1) == rules.solo_points(5000, rules.SOLO_SECONDS) == 50 + round(250 * 0.75)
    assert ChatLine("ai", f"Oh, I know, it's {first}!") in room.lines() and room.of(AIGotIt)
    assert room.state.deadline == room.now + rules.SOLO_TURN_END_SECONDS * S
    room.tick(rules.SOLO_TURN_END_SECONDS)
    second = room.turn.word
    assert second != first and room.state.round_no == 2
    room.tick(rules.SOLO_SECONDS)
    assert room.turn.end_reason == "time_up" and "couldn't guess it" in room.lines()[-1].text
    room.tick(rules.SOLO_TURN_END_SECONDS)
    room.tick(rules.SOLO_SECONDS)
    room.tick(rules.SOLO_TURN_END_SECONDS)
    assert room.state.phase == Phase.GAME_OVER and room.state.turns_started == 3


def test_the_solo_player_leaving_ends_the_game():
    room = started("solo", players=1)
    room.do(c.Leave(1))
    assert room.state.phase == Phase.GAME_OVER and room.state.host_id is None


# --- race --------------------------------------------------------------------------------------------------------


def test_a_race_round_everyone_draws_the_same_word_and_the_ai_ranks_them():
    room = started("race", players=4, rounds=2)
    room.do(c.Join(5, "Late", "late"))
    turn = room.turn
    assert room.state.phase == Phase.DRAWING and turn.drawer_id is None
    assert [cv.owner_id for cv in turn.canvases] == [1, 2, 3, 4]
    assert room.of(TurnStarted) == [] and view_for(room.state, 5).word == turn.word
    assert all(view_for(room.state, pid).word == turn.word for pid in range(1, 6))
    room.do(c.Stroke(3))
    room.refused(c.Stroke(5), "not_drawer")
    room.ai([(turn.word, 0.9)], owner=3)
    room.ai([("zebra", 0.9)], owner=1)
    room.ai([(turn.word, 0.7)], owner=2)
    assert room.turn.race_order == (3, 2) and room.score(3) == 100 and room.score(2) == 80
    view = view_for(room.state, 5)
    assert [(r.player_id, r.place) for r in view.racers] == [(1, None), (2, 2), (3, 1), (4, None)]
    assert view.racers[0].ai_top == ("zebra", 0.9)
    room.do(c.Guess(2, f"mine was a {turn.word}"))
    assert room.lines()[0].audience.kind == AudienceKind.EVERYONE
    room.ai([(turn.word, 0.9)], owner=1)
    room.ai([(turn.word, 0.9)], owner=4)
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "all_recognised"
    assert (room.score(1), room.score(4)) == (60, 50)
    room.tick(rules.TURN_END_SECONDS)
    assert [cv.owner_id for cv in room.turn.canvases] == [1, 2, 3, 4, 5], "late joiners race from the next round"
    assert room.turn.word != turn.word
    room.tick(60)
    room.tick(rules.TURN_END_SECONDS)
    assert room.state.phase == Phase.GAME_OVER


def test_race_points_fall_to_a_floor():
    assert [rules.race_points(p) for p in range(1, 11)] == [100, 80, 60, 50, 40, 30, 20, 10, 10, 10]


def test_a_race_goes_on_without_a_racer_who_left_until_too_few_remain():
    room = started("race", players=3)
    word = room.turn.word
    room.ai([(word, 0.9)], owner=1)
    room.ai([(word, 0.9)], owner=2)
    room.do(c.Leave(3))
    assert room.state.phase == Phase.TURN_END and room.turn.end_reason == "all_recognised"
    room.do(c.Leave(2))
    assert room.state.phase == Phase.GAME_OVER


# --- views, JSON, time ---------------------------------------------------------------------------------------------


def test_each_player_sees_only_what_they_may():
    room = started()
    choosing = view_for(room.state, 1)
    assert choosing.choices == room.turn.choices and view_for(room.state, 2).choices is None
    assert choosing.phase_seconds == rules.CHOOSE_SECONDS and choosing.drawer_id == 1
    word = room.choose()
    drawer, seeker, stranger = view_for(room.state, 1), view_for(room.state, 2), view_for(room.state, None)
    assert drawer.word == word and seeker.word is None and stranger.word is None
    assert seeker.word_mask == rules.word_mask(word) and seeker.choices is None
    assert [p.is_drawer for p in seeker.players] == [False, True, False, False]
    assert [p.is_you for p in seeker.players] == [False, False, True, False]
    assert seeker.rule_lines == rules.rule_lines("classic", "shown") and seeker.max_players == 8
    room.do(c.Guess(2, word))
    assert view_for(room.state, 2).word == word and view_for(room.state, 3).word is None
    assert [p.guessed for p in view_for(room.state, 3).players] == [False, False, True, False]


def test_chat_to_knowers_becomes_everyones_after_the_turn():
    room = started()
    room.choose()
    knowers = to_knowers(room.turn.turn_no)
    assert not chat_visible_to(knowers, 2, room.state)
    room.tick(80)
    assert chat_visible_to(knowers, 2, room.state)
    room.tick(rules.TURN_END_SECONDS)
    assert chat_visible_to(knowers, 2, room.state)
    assert not chat_visible_to(to_player(3), 2, room.state) and chat_visible_to(to_player(3), 3, room.state)


def test_the_state_round_trips_through_json_exactly():
    room = started("race", players=3)
    room.ai([(room.turn.word, 0.9), ("cat", 0.05)], owner=2)
    room.do(c.VoteKick(1, 3))
    room.do(c.Disconnect(1))
    data = to_json(room.state)
    text = json.dumps(data)
    assert from_json(json.loads(text)) == room.state
    assert data["phase"] == "drawing" and data["mode"] == "race"
    assert data["turn"]["canvases"][1]["ai_latest"] == [[room.turn.word, 0.9], ["cat", 0.05]]
    with pytest.raises(ValueError):
        from_json({**data, "version": "many"})


def test_the_same_commands_give_the_same_game():
    def play() -> GameState:
        room = started(players=3)
        room.tick(rules.CHOOSE_SECONDS)
        room.tick(60)
        return room.state

    assert play() == play()


def test_a_tick_before_the_wakeup_changes_nothing_and_at_it_something():
    room = started()
    wakeup = next_wakeup(room.state)
    assert wakeup == room.state.deadline
    before = room.state
    assert apply(before, c.Tick(), wakeup - 1) == (before, [])
    after, events = apply(before, c.Tick(), wakeup)
    assert after.phase == Phase.DRAWING and events
    assert next_wakeup(Room(players=2).state) is None


def test_a_late_tick_catches_up_in_order():
    room = started(players=2)
    room.tick(rules.CHOOSE_SECONDS + 80 + rules.TURN_END_SECONDS)
    assert [(e.old, e.new) for e in room.of(PhaseChanged)] == [(Phase.CHOOSING, Phase.DRAWING)]
    room.tick(1000)
    assert room.state.phase == Phase.TURN_END


def test_commands_after_a_deadline_meet_the_phase_it_led_to():
    room = started()
    word = room.choose()
    room.now += 80 * S
    room.do(c.Guess(2, word))
    assert room.state.phase == Phase.TURN_END and room.score(2) == 0
    assert room.lines()[-1] == ChatLine("guess", word, player_id=2, name="P2")


def test_rule_lines_follow_the_mode_and_the_numbers_scored():
    classic = rules.rule_lines("classic", "shown")
    assert any("50 to 300" in line and "50/30/15" in line for line in classic)
    assert any("AI" in line for line in classic) and not any(
        "AI is a player" in line for line in rules.rule_lines("classic", "off")
    )
    assert any("hidden" in line for line in rules.rule_lines("classic", "hidden"))
    assert any("20 seconds" in line for line in rules.rule_lines("solo"))
    assert any("100, 80, 60" in line for line in rules.rule_lines("race"))


def test_word_rules_for_the_chat_and_the_ai():
    assert rules.mentions_word("It's a CAT!", "cat") and not rules.mentions_word("cats", "cat")
    assert rules.mentions_word("a big hot-dog", "hot dog") and not rules.mentions_word("hotdog", "hot dog")
    assert rules.gives_word_away("cats", "cat") and not rules.gives_word_away("a hat", "cat")
    assert rules.gives_word_away("the butterfli", "butterfly") and not rules.gives_word_away("", "cat")
    assert rules.mask_word_in("The Eiffel Tower", "the eiffel tower") == "▮▮▮ ▮▮▮▮▮▮ ▮▮▮▮▮"
    assert rules.mask_word_in("t-shirt", "t-shirt") == "▮-▮▮▮▮▮" and rules.mask_word_in("dog", "hot dog") == "dog"
    assert rules.ai_names_word([("Cat", 0.5)], "cat") and not rules.ai_names_word([("cat", 0.1)], "cat")
    assert not rules.ai_names_word([("cat", 0.3)], "cat", n_labels=2)  # 1.5 / 2 labels = 0.75 needed
    assert rules.after_ai_points(301) == 151 and rules.classic_drawer_points(3, 1) == 220
    assert rules.setting_problem("ai_mode", "hidden") is None and rules.setting_problem("colour", 1)
    assert rules.seat_capacity("solo", 8) == 1 and rules.seat_capacity("race", 8) == 8


def test_a_guesser_kicked_mid_turn_leaves_the_turn_running_the_hosting_drawer_leaving_ends_it():
    room = started(players=4)
    room.choose()
    room.do(c.Kick(1, 4))
    assert room.state.phase == Phase.DRAWING and [b.address for b in room.state.bans] == ["10.0.0.4"]
    room.do(c.Leave(1))
    assert room.state.host_id == 2 and room.turn.end_reason == "drawer_left"
    assert room.state.phase == Phase.TURN_END


def test_the_host_passes_to_a_disconnected_human_when_no_one_is_connected():
    room = Room(players=2)
    room.do(c.Disconnect(2))
    room.do(c.Leave(1))
    assert room.state.host_id == 2


def test_a_racer_sees_the_ai_on_their_own_canvas_and_spectators_see_none():
    room = started("race", players=2)
    room.do(c.Join(3, "Late", "late"))
    room.ai([("zebra", 0.4)], owner=2)
    assert view_for(room.state, 2).ai == (("zebra", 0.4),)
    assert view_for(room.state, 1).ai == () and view_for(room.state, 3).ai == ()


def test_a_drawer_gone_while_choosing_loses_the_turn_after_the_grace_period():
    room = started()
    room.do(c.Disconnect(1))
    room.tick(rules.DRAWER_GRACE_SECONDS)
    assert room.state.phase == Phase.TURN_END and room.lines()[-1].text == (
        "Turn skipped (the drawer lost the connection)"
    )
