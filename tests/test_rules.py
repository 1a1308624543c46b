"""Game rules: pure functions, no sockets, no database."""

from __future__ import annotations

import random

import pytest

from game import rules


@pytest.mark.parametrize(
    ("guess", "word", "correct"),
    [
        ("Cat", "cat", True),
        ("  the eiffel   TOWER ", "The Eiffel Tower", True),
        ("café", "cafe", True),
        ("cats", "cat", False),
        ("", "cat", False),
        ("dog", "cat", False),
    ],
)
def test_is_correct(guess, word, correct):
    assert rules.is_correct(guess, word) is correct


@pytest.mark.parametrize(
    ("guess", "word", "close"),
    [
        ("cta", "cat", False),
        ("ca", "cat", True),
        ("cart", "cat", True),
        ("bat", "cat", True),
        ("cats", "cat", True),
        ("butterflies", "butterfly", True),
        ("bus", "bu", True),
        ("cat", "cat", False),
        ("dog", "cat", False),
        ("house plant", "house plan", True),
        ("the great wall of china", "The Great Wall of China", False),
    ],
)
def test_is_close(guess, word, close):
    assert rules.is_close(guess, word) is close


def test_word_mask_keeps_spaces_and_shows_revealed_letters():
    assert rules.word_mask("ice cream") == "___ _____"
    assert rules.word_mask("ice cream", [0, 4]) == "i__ c____"
    assert rules.word_mask("t-shirt") == "_-_____"


def test_hints_reveal_about_a_third_never_all_and_only_in_the_second_half():
    assert rules.hint_count("ax") == 0
    assert rules.hint_count("cat") == 1
    assert rules.hint_count("butterfly") == 3
    times = rules.hint_times("butterfly", 80)
    assert len(times) == 3 and all(40 < t < 80 for t in times) and times == sorted(times)
    rng = random.Random(1)
    revealed: list[int] = []
    for _ in range(20):
        pos = rules.next_hint_position("cat", revealed, rng)
        if pos is None:
            break
        revealed.append(pos)
    assert len(revealed) == 2  # one letter always stays hidden


def test_next_drawer_rotates_skips_absent_and_ends_round():
    order = [1, 2, 3]
    assert rules.next_drawer(order, [], {1, 2, 3}) == 1
    assert rules.next_drawer(order, [1], {1, 2, 3}) == 2
    assert rules.next_drawer(order, [1], {1, 3}) == 3  # 2 is gone
    assert rules.next_drawer(order, [1, 2, 3], {1, 2, 3}) is None
    assert rules.extend_order(order, [2, 4]) == [1, 2, 3, 4]


def test_scoring_rewards_speed_and_order():
    fast_first = rules.guesser_points(5, 80, 1)
    slow_first = rules.guesser_points(70, 80, 1)
    fast_third = rules.guesser_points(5, 80, 3)
    assert fast_first > slow_first and fast_first > fast_third > 0
    assert rules.guesser_points(500, 80, 9) == 50  # late but right still counts
    assert rules.drawer_points(2, True) > rules.drawer_points(2, False) > rules.drawer_points(0, False) == 0


def test_ai_scores_only_when_confident_right_and_first():
    assert rules.ai_scores("cat", 0.8, "cat", humans_guessed=0, already=False)
    assert not rules.ai_scores("cat", 0.8, "cat", humans_guessed=1, already=False)
    assert not rules.ai_scores("cat", 0.8, "cat", humans_guessed=0, already=True)
    assert not rules.ai_scores("cat", 0.1, "cat", humans_guessed=0, already=False)
    assert not rules.ai_scores("dog", 0.9, "cat", humans_guessed=0, already=False)


def test_pick_choices_avoids_used_words():
    labels = ["a", "b", "c", "d"]
    picked = rules.pick_choices(labels, 2, used=["a", "b"], rng=random.Random(0))
    assert sorted(picked) == ["c", "d"]
    assert len(rules.pick_choices(labels, 3, used=labels, rng=random.Random(0))) == 3
