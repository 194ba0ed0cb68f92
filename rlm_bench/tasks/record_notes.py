"""The notes of implicitly labelled records: short sentences about an activity, from which a
reader infers the record's category ("tuned the cello before the wedding gig" is music).

With an explicit `category:` field one `str.count` answers every aggregation, which favours
code that never reads a record. A note never names its category (nor a word that contains one),
and words are shared across categories on purpose: tickets are bought for a concert, a match
and a train; bills, tuition and checkouts are all paid; ordering, packing, queueing and testing
belong to several categories, so counting a keyword miscounts. Each note is still about one
thing a small model can judge on its own.

Every note is a template filled from its category's slot words, with a shared time phrase at the
end, so a long log holds thousands of different notes and the category of a line is read back
from its text by lookup, never from what the generator meant to write.
"""

from __future__ import annotations

import random
import re
from itertools import product

WHEN = ("", " this morning", " after work", " on Saturday", " with a friend", " yesterday")

TEMPLATES: dict[str, tuple[str, ...]] = {
    "travel": (
        "boarded the overnight train to {place}",
        "checked into a small hotel in {place}",
        "printed the boarding passes for the flight to {place}",
        "bought tickets for the coach to {place}",
        "spent the afternoon sightseeing around {place}",
        "renewed my passport before the trip to {place}",
        "rented a car at the airport in {place}",
        "missed the ferry to {place} and waited for the next one",
        "packed a suitcase for a week away in {place}",
    ),
    "food": (
        "baked a {bake} from my grandmother's recipe",
        "tried the {dish} at the new corner bistro",
        "cooked {dish} for six friends",
        "ordered takeaway {dish} after a long day",
        "burned the {dish} and had cereal for dinner",
        "learned to make {dish} from scratch",
        "queued for a table to taste the famous {dish}",
        "packed leftover {dish} for lunch",
    ),
    "sports": (
        "scored twice in the {game} match against the neighbours",
        "ran a {distance} race along the river",
        "watched {team} win the final from the stands",
        "bought tickets for the {team} away game",
        "trained with the {game} squad in the rain",
        "lost the {game} semi-final on the last play",
        "joined a Sunday morning {game} league",
        "paid the subs for the {game} club",
    ),
    "music": (
        "played {instrument} with the band at the {venue}",
        "queued for tickets to see {artist} live",
        "practised scales on the {instrument} for an hour",
        "sang in the choir at the {venue}",
        "wrote the chorus of a new song on the {instrument}",
        "listened to the new album by {artist} twice",
        "tuned the {instrument} before the {venue} gig",
        "learned a duet for {instrument} and piano",
    ),
    "finance": (
        "paid the {bill} bill a week early",
        "moved money into the {account} account",
        "checked the {account} balance and set a budget",
        "asked the bank about a {loan} loan",
        "sold some shares after the market dipped",
        "sorted the receipts for the {bill} bill",
        "transferred the rent to the landlord",
        "compared interest rates for the {account} account",
    ),
    "health": (
        "booked a check-up with the {doctor}",
        "took {medicine} for a stubborn cold",
        "had {exam} at the clinic",
        "did physiotherapy for a sore {body}",
        "stayed in bed with a fever and a sore {body}",
        "picked up a prescription for {medicine}",
        "got the flu jab at the pharmacy",
        "saw the {doctor} about a sore {body}",
    ),
    "education": (
        "handed in the {subject} essay before the deadline",
        "revised {subject} for the final exam",
        "attended a lecture on {subject}",
        "enrolled in an evening course on {subject}",
        "tutored a classmate in {subject}",
        "got a good mark in the {subject} test",
        "read two chapters of the {subject} textbook",
        "asked the teacher about the {subject} homework",
    ),
    "shopping": (
        "bought a new {item} in the sales",
        "took back a {item} I never used",
        "browsed the market stalls for a {item}",
        "ordered a {item} online with next-day delivery",
        "paid for a {item} at the self-checkout",
        "picked up a {item} at the outlet mall",
        "found a bargain {item} at the charity store",
        "queued at the till with a {item}",
    ),
}

SLOTS: dict[str, dict[str, tuple[str, ...]]] = {
    "travel": {
        "place": ("Lisbon", "Kyoto", "the coast", "Oslo", "Marrakesh", "the mountains", "Prague"),
    },
    "food": {
        "dish": ("lasagna", "ramen", "paella", "curry", "dumplings", "mushroom risotto",
                 "fish tacos", "vegetable soup"),
        "bake": ("lemon tart", "sourdough loaf", "apple pie", "birthday cake", "batch of scones"),
    },
    "sports": {
        "game": ("football", "rugby", "hockey", "netball", "basketball", "cricket"),
        "distance": ("five-kilometre", "ten-kilometre", "half-marathon", "relay"),
        "team": ("the home side", "our local club", "the county team", "the under-18s"),
    },
    "music": {
        "instrument": ("guitar", "cello", "drums", "violin", "saxophone", "ukulele", "trumpet"),
        "venue": ("church hall", "pub", "festival", "wedding", "jazz club"),
        "artist": ("a string quartet", "the symphony orchestra", "an indie band", "a folk duo"),
    },
    "finance": {
        "bill": ("electricity", "water", "phone", "council tax", "internet", "insurance"),
        "account": ("savings", "pension", "current", "joint"),
        "loan": ("mortgage", "car", "student", "home improvement"),
    },
    "health": {
        "doctor": ("dentist", "GP", "optician", "dermatologist", "nurse"),
        "medicine": ("antibiotics", "ibuprofen", "cough syrup", "antihistamines"),
        "exam": ("a blood test", "an X-ray", "an eye test", "a hearing test"),
        "body": ("knee", "back", "shoulder", "throat", "ankle"),
    },
    "education": {
        "subject": ("chemistry", "history", "statistics", "French", "geography", "algebra",
                    "philosophy", "biology"),
    },
    "shopping": {
        "item": ("winter coat", "pair of boots", "lamp", "rucksack", "kettle", "pair of jeans",
                 "wristwatch", "rug"),
    },
}  # fmt: skip

SLOT = re.compile(r"\{(\w+)\}")


def _render(category: str) -> list[str]:
    notes = []
    for template in TEMPLATES[category]:
        names = SLOT.findall(template)
        for words in product(*(SLOTS[category][name] for name in names)):
            filled = template.format(**dict(zip(names, words, strict=True)))
            notes.extend(filled + when for when in WHEN)
    return notes


NOTES: dict[str, tuple[str, ...]] = {c: tuple(_render(c)) for c in TEMPLATES}
CATEGORY_OF_NOTE: dict[str, str] = {note: c for c, notes in NOTES.items() for note in notes}


def draw_note(rng: random.Random, category: str) -> str:
    return rng.choice(NOTES[category])


def category_of_note(note: str) -> str:
    return CATEGORY_OF_NOTE[note]


def closest_note(category: str, length: int) -> str:
    """The note of `category` nearest `length` characters (the first on a tie), for relabelling
    a record while moving the text's length as little as possible."""
    return min(NOTES[category], key=lambda note: abs(len(note) - length))
