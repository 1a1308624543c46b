"""docs/protocol.md is generated from the protocol's models, and every example in it is a valid message."""

from __future__ import annotations

import pytest

from game import protocol, protocol_docs


@pytest.fixture(scope="module")
def examples():
    return protocol_docs.examples()


def test_the_committed_page_is_what_the_models_make():
    assert protocol_docs.DOC_PATH.read_text() == protocol_docs.render(), (
        "docs/protocol.md is stale: run `python manage.py protocol_docs`"
    )


def test_every_message_has_an_example_and_every_example_is_valid(examples):
    for model in (*protocol.CLIENT_MESSAGES, *protocol.SERVER_MESSAGES):
        assert examples.get(model), f"{model.__name__} has no example"
    for model in protocol.CLIENT_MESSAGES:
        for sample in examples[model]:
            assert protocol.parse_client_message(sample.model_dump_json()) == sample
    for model in protocol.SERVER_MESSAGES:
        for sample in examples[model]:
            assert isinstance(protocol.parse_server_message(sample.model_dump_json()), model)


def test_a_server_frame_off_its_schema_or_over_the_limit_is_caught():
    with pytest.raises(ValueError):
        protocol.parse_server_message('{"type": "chat", "kind": "shout", "text": "x"}')
    with pytest.raises(ValueError):
        protocol.parse_server_message('{"type": "pong", "extra": 1}')
    with pytest.raises(ValueError):
        protocol.parse_server_message(
            '{"type": "chat", "kind": "system", "text": "' + "x" * protocol.MAX_FRAME_BYTES + '"}'
        )


def test_the_example_welcome_keeps_the_word_from_a_player_who_has_not_guessed(examples):
    welcome = examples[protocol.Welcome][0]
    word = welcome.state.reveal.word if welcome.state.reveal else None
    assert welcome.state.word is None and word is None
    assert all(g.label.count("▮") or g.label in ("dog", "tree") for g in welcome.state.ai)
