"""Natural-looking filler prose, made locally from a small vocabulary and sentence shapes.

A haystack of one repeated sentence is easy to skim past (and compresses to nothing in a model's
attention), so sentences are assembled from interchangeable parts in several shapes. The
vocabulary has no digits and no "magic number", so a needle or a count can never be mistaken
for filler.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import islice

from rlm_bench.tasks.fitting import join_units

PEOPLE = (
    "gardener", "painter", "baker", "sailor", "teacher", "merchant", "traveler", "poet",
    "carpenter", "shepherd", "librarian", "fisherman", "weaver", "potter", "musician", "doctor",
    "farmer", "student", "architect", "blacksmith", "widow", "stranger", "captain", "scholar",
    "courier", "innkeeper", "miller", "hunter", "clerk", "nurse", "engineer", "mapmaker",
    "beekeeper", "tailor", "ferryman", "watchmaker", "cook", "pilgrim", "mason", "botanist",
)  # fmt: skip
PERSON_TRAITS = (
    "old", "young", "quiet", "tired", "cheerful", "curious", "patient", "careful", "restless",
    "clever", "gentle", "stubborn", "weary", "hopeful", "silent", "elderly", "proud", "nervous",
    "wise", "humble", "absent-minded", "kind", "anxious", "famous", "lonely",
)  # fmt: skip
THINGS = (
    "lantern", "basket of apples", "letter", "wooden chest", "map", "bundle of firewood",
    "kettle", "violin", "ledger", "loaf of bread", "blanket", "compass", "bucket of water",
    "clay pot", "bell", "ladder", "notebook", "coil of rope", "fishing net", "candle", "painting",
    "coat", "cart", "bottle of ink", "handful of seeds", "lamp", "umbrella", "sack of flour",
    "mirror", "saddle", "telescope", "jar of honey", "quilt", "book of poems", "pair of boots",
    "wheelbarrow", "tea set", "music box", "shovel", "bouquet of flowers",
)  # fmt: skip
THING_TRAITS = (
    "heavy", "small", "broken", "shiny", "worn", "ancient", "painted", "borrowed", "forgotten",
    "carved", "faded", "bright", "dusty", "beautiful", "cracked", "new", "precious", "strange",
    "enormous", "tiny", "old",
)  # fmt: skip
ACTIONS = (
    ("carry", "carried"), ("repair", "repaired"), ("find", "found"), ("polish", "polished"),
    ("paint", "painted"), ("sell", "sold"), ("borrow", "borrowed"), ("examine", "examined"),
    ("wrap", "wrapped"), ("lift", "lifted"), ("clean", "cleaned"), ("hide", "hid"),
    ("deliver", "delivered"), ("open", "opened"), ("mend", "mended"), ("study", "studied"),
    ("trade", "traded"), ("drop", "dropped"), ("return", "returned"), ("admire", "admired"),
    ("bury", "buried"), ("guard", "guarded"), ("describe", "described"), ("pack", "packed"),
)  # fmt: skip
PASTIMES = (
    "waited", "rested", "laughed", "wandered", "sang", "listened", "slept", "walked", "lingered",
    "hummed", "paused", "prayed", "read", "whistled", "worked", "danced", "sketched", "wept",
    "watched the clouds", "counted the boats", "talked about the weather", "fed the pigeons",
)  # fmt: skip
MANNERS = (
    "slowly", "quietly", "happily", "patiently", "carefully", "silently", "for a while",
    "without a word", "at great length", "gladly", "until the light faded",
    "as if nothing had happened", "with some reluctance", "in good spirits",
)  # fmt: skip
PLACES = (
    "near the river", "beside the harbor", "in the market square", "under the old bridge",
    "at the edge of the forest", "behind the mill", "on the hill", "inside the chapel",
    "along the coast road", "by the well", "in the orchard", "across the meadow",
    "at the crossroads", "in the library", "near the lighthouse", "beside the fountain",
    "in the narrow lane", "on the village green", "under the chestnut trees", "at the station",
    "in the back room of the inn", "on the steps of the town hall", "by the frozen pond",
    "in the vineyard", "at the foot of the mountain", "inside the greenhouse",
)  # fmt: skip
TIMES = (
    "at dawn", "at dusk", "before noon", "after the storm", "in early spring",
    "late in the autumn", "on a quiet evening", "during the festival", "that winter",
    "the next morning", "long before sunrise", "in the middle of summer", "after supper",
    "on market day", "during the long rains", "just before the harvest", "at midnight",
    "one grey afternoon", "when the snow melted", "as the bells rang",
)  # fmt: skip
WEATHER = (
    "cold", "bright", "windy", "foggy", "warm", "calm", "grey", "rainy", "still", "clear",
    "humid", "bitter", "mild", "stormy",
)  # fmt: skip
CONNECTIVES = (
    ", and then", ", while", ", because", ", although", ", so", ", but", ", just as",
    ", and soon after", "; meanwhile,", "; later that day,",
)  # fmt: skip
REMARKS = (
    "but others remembered it differently", "and the story spread through the valley",
    "though nobody could say why", "which surprised no one", "and that was the end of it",
    "as the neighbors still like to tell",
)  # fmt: skip

DETERMINERS = ("the", "the", "a", "one", "that", "our")
PARAGRAPH_SENTENCES = (3, 7)


def _noun_phrase(rng: random.Random, nouns: tuple[str, ...], traits: tuple[str, ...]) -> str:
    determiner = rng.choice(DETERMINERS)
    words = [rng.choice(traits), rng.choice(nouns)] if rng.random() < 0.6 else [rng.choice(nouns)]
    if determiner == "a" and words[0][0] in "aeiou":
        determiner = "an"
    return " ".join([determiner, *words])


def _person(rng: random.Random) -> str:
    return _noun_phrase(rng, PEOPLE, PERSON_TRAITS)


def _thing(rng: random.Random) -> str:
    return _noun_phrase(rng, THINGS, THING_TRAITS)


def _did(rng: random.Random) -> str:
    return rng.choice(ACTIONS)[1]


def _clause(rng: random.Random) -> str:
    return f"{_person(rng)} {_did(rng)} {_thing(rng)}"


def _when_done(rng: random.Random) -> str:
    return f"{rng.choice(TIMES)}, {_clause(rng)} {rng.choice(PLACES)}"


def _done_when(rng: random.Random) -> str:
    return f"{_clause(rng)} {rng.choice(PLACES)} {rng.choice(TIMES)}"


def _two_clauses(rng: random.Random) -> str:
    return f"{_clause(rng)}{rng.choice(CONNECTIVES)} {_clause(rng)}"


def _where_idle(rng: random.Random) -> str:
    return f"{rng.choice(PLACES)}, {_person(rng)} {rng.choice(PASTIMES)} {rng.choice(MANNERS)}"


def _weather(rng: random.Random) -> str:
    weather, time = rng.choice(WEATHER), rng.choice(TIMES)
    return (
        f"it was {weather} {time}, and {_person(rng)} {rng.choice(PASTIMES)} {rng.choice(PLACES)}"
    )


def _together(rng: random.Random) -> str:
    return (
        f"{_person(rng)} and {_person(rng)} {_did(rng)} {_thing(rng)} together {rng.choice(PLACES)}"
    )


def _mystery(rng: random.Random) -> str:
    return f"nobody knew why {_clause(rng)} {rng.choice(TIMES)}"


def _rumor(rng: random.Random) -> str:
    return f"some said that {_clause(rng)} {rng.choice(PLACES)}, {rng.choice(REMARKS)}"


def _intention(rng: random.Random) -> str:
    base = rng.choice(ACTIONS)[0]
    return f"later, {_person(rng)} would {base} {_thing(rng)} {rng.choice(PLACES)} once more"


SHAPES: tuple[Callable[[random.Random], str], ...] = (
    _when_done,
    _done_when,
    _two_clauses,
    _where_idle,
    _weather,
    _together,
    _mystery,
    _rumor,
    _intention,
)


def sentence(rng: random.Random) -> str:
    text = rng.choice(SHAPES)(rng)
    return text[0].upper() + text[1:] + "."


def filler_units(rng: random.Random) -> Iterator[str]:
    """Endless sentences, each with its leading separator: a blank line opens a paragraph."""
    while True:
        yield "\n\n" + sentence(rng)
        for _ in range(rng.randint(*PARAGRAPH_SENTENCES) - 1):
            yield " " + sentence(rng)


def filler_text(rng: random.Random, sentences: int) -> str:
    return join_units(list(islice(filler_units(rng), sentences)))
