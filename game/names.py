"""Player names: what is stored and shown, and which names a room refuses.

A name is shown to everyone in the room, so it must look like what it is:
invisible characters (zero-width joiners, bidi overrides that reorder the
text around them) are removed, look-alike forms folded (NFKC), and two names
that read the same are the same name. "AI" belongs to the AI player.
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 20
RESERVED = frozenset({"ai"})


def clean_name(raw: str) -> str:
    """The name as stored and shown: NFKC, no control/format/bidi characters, single spaces."""
    text = unicodedata.normalize("NFKC", raw)
    # Cc: controls, Cf: format (zero-width, bidi embeddings and overrides), Co/Cs/Cn: nothing to show.
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in " ")
    return " ".join(text.split())


def name_key(name: str) -> str:
    """What two names are compared as: case-folded letters and digits only ("A.I." reads as "ai")."""
    folded = unicodedata.normalize("NFKD", clean_name(name)).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def name_problem(name: str, taken: list[str] | tuple[str, ...] = ()) -> str | None:
    """Why `name` (already cleaned) cannot be used in a room whose players are called `taken`, or None."""
    if not name or len(name) > MAX_NAME:
        return f"A name needs 1-{MAX_NAME} visible characters."
    key = name_key(name)
    if not key:
        return "A name needs at least one letter or digit."
    if key in RESERVED:
        return f"'{name}' is the AI's name: pick another one."
    if any(name_key(other) == key for other in taken):
        return f"Someone here is already called '{name}': pick another name."
    return None
