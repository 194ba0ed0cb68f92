"""Natural-looking filler prose, made locally from a small vocabulary and sentence shapes.

A haystack of one repeated sentence is easy to skim past (and compresses to nothing in a model's
attention), so sentences are assembled from interchangeable parts in several shapes. Each
paragraph is a small story: it introduces one protagonist, a place and an object, and its later
sentences refer back to them ("the baker", "she", "the lantern") while time moves forward. That
logical flow is what a shuffled haystack destroys (Chroma's context-rot study), so the essay must
have it for `coherent` and `shuffled` to differ. The vocabulary has no digits and no "magic
number", so a needle or a count can never be mistaken for filler.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
PARAGRAPH_SENTENCES = (4, 8)
TIME_OPENINGS = (
    "at dawn", "early one morning", "one grey morning", "on a quiet morning",
    "the morning after the storm", "on the morning of the festival", "long before sunrise",
    "one bright spring morning", "on a cold winter morning", "early on market day",
    "as the first bells rang", "when the mist still lay on the fields",
)  # fmt: skip
"""Times that open a paragraph: all early in the day, so `TIME_STEPS` can only move forward."""

TIME_STEPS = (
    "a little later", "soon after", "before noon", "by midday", "in the afternoon",
    "toward evening", "by evening", "at dusk", "after supper", "late that night",
)  # fmt: skip
"""Time markers in the order a day runs; a paragraph uses an increasing subsequence."""

FUTURES = (
    "the next day", "before the winter", "when the rains came", "on the next market day",
    "once the festival was over", "before the year was out", "when the swallows returned",
)  # fmt: skip
KEEPING_PLACES = (
    "by the door", "close at hand", "under the bed", "on a high shelf", "wrapped in cloth",
    "in a drawer", "beside the hearth",
)  # fmt: skip
MUSINGS = (
    "thinking about the {thing}", "holding the {thing} close", "with the {thing} at {his} side",
    "keeping an eye on the {thing}", "wondering where the {thing} had come from",
    "turning the {thing} over in {his} hands",
)  # fmt: skip
THING_STATES = (
    "heavier than it looked", "older than anyone remembered", "still warm", "cold to the touch",
    "slightly damp", "covered in dust", "lighter than expected", "oddly familiar",
    "smaller than before", "worth more than it seemed",
)  # fmt: skip
THOUGHTS = (
    "kept returning to", "drifted back to", "stayed with", "wandered to", "turned again to",
    "never strayed far from",
)  # fmt: skip
PRONOUNS = (("she", "her"), ("he", "his"), ("they", "their"))
"""Subject and possessive; a paragraph keeps one pair for its protagonist."""

FEMININE = frozenset({"widow"})
MASCULINE = frozenset({"fisherman", "ferryman"})


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


def _capitalized(text: str) -> str:
    return text[0].upper() + text[1:] + "."


def sentence(rng: random.Random) -> str:
    """A standalone sentence about nobody in particular: no paragraph around it to agree with."""
    return _capitalized(rng.choice(SHAPES)(rng))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _place_name(place: str) -> str:
    """The place as a noun (the river, for near the river), for sentences that go there."""
    return place[place.index("the ") :]


@dataclass
class _Scene:
    """What a paragraph has said so far, so each sentence can refer back to it: who, where,
    with what, who else has turned up, and how late in the day it is."""

    noun: str
    trait: str
    he: str
    his: str
    place: str
    thing: str
    thing_trait: str
    opening: str
    companion: str
    companion_trait: str
    named_again: bool = False
    met_companion: bool = False
    hour: int = -1

    @property
    def place_name(self) -> str:
        return _place_name(self.place)

    @property
    def a_thing(self) -> str:
        return f"{_article(self.thing_trait)} {self.thing_trait} {self.thing}"

    def ref(self, rng: random.Random) -> str:
        """The protagonist again: by noun the first time after the opening, so the paragraph
        visibly stays with one person, then by noun or pronoun."""
        if not self.named_again or rng.random() < 0.4:
            self.named_again = True
            return f"the {self.noun}"
        return self.he

    def when(self, rng: random.Random) -> str:
        """A time marker later than any before it in the paragraph, or nothing."""
        if self.hour >= len(TIME_STEPS) - 1 or rng.random() < 0.45:
            return ""
        self.hour = rng.randint(self.hour + 1, min(self.hour + 3, len(TIME_STEPS) - 1))
        return TIME_STEPS[self.hour] + ", "

    def other(self) -> str:
        """The second character: introduced once with "a", then "the"."""
        if self.met_companion:
            return f"the {self.companion}"
        self.met_companion = True
        trait = self.companion_trait
        return f"{_article(trait)} {trait} {self.companion}"


def _new_scene(rng: random.Random) -> _Scene:
    noun, companion = rng.sample(PEOPLE, 2)
    if noun in FEMININE:
        he, his = PRONOUNS[0]
    elif noun in MASCULINE:
        he, his = PRONOUNS[1]
    else:
        he, his = rng.choice(PRONOUNS)
    return _Scene(
        noun=noun,
        trait=rng.choice(PERSON_TRAITS),
        he=he,
        his=his,
        place=rng.choice(PLACES),
        thing=rng.choice(THINGS),
        thing_trait=rng.choice(THING_TRAITS),
        opening=rng.choice(TIME_OPENINGS),
        companion=companion,
        companion_trait=rng.choice(PERSON_TRAITS),
    )


Shape = Callable[[random.Random, _Scene], str]


def _arrives(rng: random.Random, s: _Scene) -> str:
    return f"{s.opening}, the {s.trait} {s.noun} came to {s.place_name} carrying {s.a_thing}"


def _finds(rng: random.Random, s: _Scene) -> str:
    return f"{s.opening}, the {s.trait} {s.noun} {_did(rng)} {s.a_thing} {s.place}"


def _once(rng: random.Random, s: _Scene) -> str:
    lived = rng.choice(("lived", "worked"))
    return (
        f"there was once {_article(s.trait)} {s.trait} {s.noun} who {lived} {s.place} "
        f"and kept {s.a_thing} {rng.choice(KEEPING_PLACES)}"
    )


def _known(rng: random.Random, s: _Scene) -> str:
    return (
        f"everyone {s.place} knew the {s.trait} {s.noun}, who {_did(rng)} {s.a_thing} {s.opening}"
    )


def _fronted(rng: random.Random, s: _Scene) -> str:
    who = f"{_article(s.trait)} {s.trait} {s.noun}"
    return f"{s.place}, {who} {_did(rng)} {s.a_thing} {s.opening}"


def _handles(rng: random.Random, s: _Scene) -> str:
    return f"{s.when(rng)}{s.ref(rng)} {_did(rng)} the {s.thing} {rng.choice(MANNERS)}"


def _lingers(rng: random.Random, s: _Scene) -> str:
    musing = rng.choice(MUSINGS).format(thing=s.thing, his=s.his)
    return f"{s.when(rng)}{s.ref(rng)} {rng.choice(PASTIMES)} {s.place}, {musing}"


def _visitor(rng: random.Random, s: _Scene) -> str:
    """The second character arrives, or, once arrived, keeps the protagonist company."""
    if s.met_companion:
        pastime, manner = rng.choice(PASTIMES), rng.choice(MANNERS)
        return f"{s.when(rng)}the {s.companion} {pastime} with the {s.noun} {manner}"
    asked = f"asked the {s.noun} about the {s.thing}"
    return f"{s.when(rng)}{s.other()} came to {s.place_name} and {asked}"


def _air(rng: random.Random, s: _Scene) -> str:
    weather, pastime, manner = rng.choice(WEATHER), rng.choice(PASTIMES), rng.choice(MANNERS)
    return f"{s.when(rng)}the air {s.place} grew {weather}, and {s.ref(rng)} {pastime} {manner}"


def _tells(rng: random.Random, s: _Scene) -> str:
    return f"{s.when(rng)}{s.ref(rng)} told {s.other()} the story of the {s.thing}"


def _state(rng: random.Random, s: _Scene) -> str:
    state, manner = rng.choice(THING_STATES), rng.choice(MANNERS)
    return f"{s.when(rng)}the {s.thing} seemed {state}, so {s.he} {_did(rng)} it {manner}"


def _thoughts(rng: random.Random, s: _Scene) -> str:
    thoughts, remark = rng.choice(THOUGHTS), rng.choice(REMARKS)
    return f"{s.when(rng)}{s.his} thoughts {thoughts} the {s.thing}, {remark}"


def _leaves(rng: random.Random, s: _Scene) -> str:
    return (
        f"{s.when(rng)}{s.ref(rng)} {_did(rng)} the {s.thing} "
        f"and left {s.place_name} {rng.choice(MANNERS)}"
    )


def _hearsay(rng: random.Random, s: _Scene) -> str:
    base = rng.choice(ACTIONS)[0]
    return (
        f"some said that the {s.noun} would {base} the {s.thing} again "
        f"{rng.choice(FUTURES)}, {rng.choice(REMARKS)}"
    )


OPENINGS: tuple[Shape, ...] = (_arrives, _finds, _once, _known, _fronted)
"""First sentences: each introduces the protagonist, the place and the object, and no one else."""

NAMING: tuple[Shape, ...] = (_handles, _lingers, _visitor, _air, _tells)
"""Second sentences: each names the protagonist again, so the paragraph's subject is plain."""

MIDDLES: tuple[Shape, ...] = (*NAMING, _state, _thoughts)
CLOSINGS: tuple[Shape, ...] = (_leaves, _hearsay)
"""Last sentences only: the protagonist leaves the place, or the story becomes hearsay."""


def paragraph(rng: random.Random) -> list[str]:
    """One small story; its sentences only make sense in this order."""
    scene = _new_scene(rng)
    size = rng.randint(*PARAGRAPH_SENTENCES)
    shapes = [rng.choice(OPENINGS), rng.choice(NAMING)]
    shapes += [rng.choice(MIDDLES) for _ in range(size - 3)]
    shapes.append(rng.choice(CLOSINGS if rng.random() < 0.5 else MIDDLES))
    return [_capitalized(shape(rng, scene)) for shape in shapes]


def filler_units(rng: random.Random) -> Iterator[str]:
    """Endless sentences, each with its leading separator: a blank line opens a paragraph."""
    while True:
        first, *rest = paragraph(rng)
        yield "\n\n" + first
        for text in rest:
            yield " " + text


def filler_text(rng: random.Random, sentences: int) -> str:
    return join_units(list(islice(filler_units(rng), sentences)))
