"""Word lists shipped with the package, so word tasks need no download and no network.

`VOCABULARY` is what the common-words task builds its lists from: short, everyday lowercase
words (most one or two tokens), grouped by theme only to keep the lists readable and easy to
check for repeats. `NEEDLE_WORDS` are concrete nouns used as needle values; none of them occurs
in the filler prose or in `VOCABULARY`, so a needle word can never be mistaken for a word of
the haystack or of a word list.
"""

from __future__ import annotations

ANIMALS = (
    "cat", "dog", "horse", "cow", "pig", "sheep", "goat", "chicken", "duck", "goose", "mouse",
    "rabbit", "deer", "bear", "wolf", "fox", "lion", "tiger", "zebra", "giraffe", "monkey",
    "camel", "donkey", "elephant", "whale", "dolphin", "shark", "seal", "crab", "lobster",
    "shrimp", "frog", "snake", "lizard", "turtle", "owl", "eagle", "hawk", "crow", "dove",
    "parrot", "swan", "robin", "sparrow", "pigeon", "bee", "ant", "wasp", "moth", "beetle",
    "spider", "worm", "snail", "squirrel", "beaver", "hedgehog", "moose", "rat", "pony",
    "kitten", "puppy", "lamb", "calf", "bull",
)  # fmt: skip

PLANTS = (
    "tree", "bush", "grass", "flower", "rose", "lily", "daisy", "oak", "pine", "maple",
    "willow", "birch", "elm", "cedar", "palm", "fern", "moss", "ivy", "vine", "weed", "leaf",
    "root", "stem", "branch", "seed", "bark", "thorn", "petal", "bud", "herb", "mint", "basil",
    "clover", "hay", "straw",
)  # fmt: skip

NATURE = (
    "river", "lake", "sea", "ocean", "pond", "stream", "creek", "island", "beach", "shore",
    "coast", "cliff", "hill", "mountain", "valley", "field", "meadow", "forest", "jungle",
    "desert", "cave", "rock", "stone", "sand", "dust", "mud", "soil", "clay", "pebble", "wave",
    "tide", "storm",
)  # fmt: skip

FOOD = (
    "bread", "butter", "cheese", "milk", "cream", "egg", "rice", "bean", "corn", "wheat",
    "flour", "sugar", "salt", "pepper", "honey", "jam", "soup", "salad", "pasta", "pizza",
    "cake", "pie", "candy", "apple", "pear", "plum", "peach", "grape", "lemon", "orange",
    "banana", "cherry", "melon", "berry", "onion", "garlic", "potato", "carrot", "tomato",
    "cabbage", "lettuce", "pea", "nut", "olive", "meat", "fish", "beef", "pork", "ham", "bacon",
    "sausage", "steak", "tea", "coffee", "juice", "wine", "beer", "sandwich", "noodle",
    "cereal", "yogurt",
)  # fmt: skip

HOME = (
    "table", "chair", "bed", "sofa", "lamp", "door", "window", "wall", "floor", "roof",
    "ceiling", "stairs", "shelf", "drawer", "closet", "carpet", "rug", "curtain", "pillow",
    "blanket", "towel", "soap", "brush", "comb", "mirror", "clock", "bowl", "plate", "cup",
    "mug", "glass", "fork", "knife", "pan", "pot", "oven", "stove", "sink", "fridge", "kettle",
    "jar", "bottle", "box", "bag", "basket", "tray", "candle", "bench", "desk", "cushion",
)  # fmt: skip

CLOTHING = (
    "shirt", "coat", "jacket", "dress", "skirt", "sock", "shoe", "boot", "hat", "cap", "scarf",
    "glove", "belt", "tie", "pocket", "button", "collar", "sleeve", "vest", "sweater", "hood",
    "cloak", "robe", "gown", "uniform",
)  # fmt: skip

THINGS = (
    "book", "pen", "pencil", "paper", "card", "letter", "stamp", "map", "ticket", "coin",
    "wallet", "purse", "key", "lock", "chain", "rope", "string", "wire", "nail", "screw",
    "hammer", "saw", "drill", "shovel", "rake", "hook", "ladder", "bucket", "wheel", "engine",
    "motor", "battery", "phone", "radio", "camera", "screen", "cable", "bell", "ring", "crown",
    "flag", "medal", "trophy", "toy", "doll", "ball", "bat", "net", "tent",
)  # fmt: skip

PLACES = (
    "house", "home", "room", "kitchen", "garden", "yard", "fence", "gate", "road", "street",
    "bridge", "tower", "castle", "palace", "church", "temple", "school", "office", "shop",
    "store", "market", "bank", "hotel", "farm", "barn", "mill", "factory", "museum", "theater",
    "library", "hospital", "prison", "station", "airport", "harbor", "port", "village", "town",
    "city", "county", "country", "kingdom", "border",
)  # fmt: skip

TRAVEL = (
    "car", "bus", "train", "truck", "van", "taxi", "boat", "ship", "plane", "jet", "ferry",
    "cart", "bike", "tram", "subway", "track", "lane", "trail", "path", "route", "journey",
    "voyage", "trip", "tour",
)  # fmt: skip

BODY = (
    "head", "face", "eye", "ear", "nose", "mouth", "lip", "tooth", "tongue", "neck", "shoulder",
    "arm", "elbow", "hand", "finger", "thumb", "chest", "heart", "back", "hip", "leg", "knee",
    "foot", "toe", "skin", "bone", "blood", "hair", "brain",
)  # fmt: skip

PEOPLE = (
    "man", "woman", "child", "boy", "girl", "baby", "father", "mother", "brother", "sister",
    "uncle", "aunt", "cousin", "friend", "neighbor", "king", "queen", "prince", "princess",
    "knight", "soldier", "guard", "chief", "leader", "judge", "lawyer", "pilot", "driver",
    "singer", "actor", "artist", "writer", "author", "poet", "dancer", "player", "coach",
    "nurse", "doctor", "farmer", "baker", "butcher",
)  # fmt: skip

TIME = (
    "day", "night", "morning", "evening", "noon", "dawn", "dusk", "week", "month", "year",
    "season", "spring", "summer", "autumn", "winter", "hour", "minute", "moment", "century",
    "decade", "holiday", "birthday", "weekend",
)  # fmt: skip

WEATHER = (
    "rain", "snow", "wind", "cloud", "fog", "frost", "ice", "hail", "thunder", "lightning",
    "sun", "moon", "star", "sky", "rainbow", "breeze", "heat", "chill", "mist",
)  # fmt: skip

ABSTRACT = (
    "game", "song", "story", "music", "dance", "art", "name", "idea", "plan", "dream", "hope",
    "fear", "joy", "anger", "love", "peace", "war", "battle", "victory", "truth", "secret",
    "problem", "reason", "result", "choice", "chance", "luck", "fate", "power", "force",
    "energy", "speed", "weight", "size", "shape", "color", "sound", "voice", "noise", "silence",
    "light", "shadow", "fire", "smoke", "flame", "spark",
)  # fmt: skip

WORK = (
    "job", "task", "work", "trade", "skill", "tool", "craft", "lesson", "class", "exam",
    "grade", "test", "score", "prize", "gift", "price", "cost", "money", "gold", "silver",
    "copper", "iron", "steel", "tin", "lead", "wood", "cotton", "wool", "silk", "leather",
    "plastic",
)  # fmt: skip

COLORS = (
    "red", "blue", "green", "yellow", "purple", "pink", "brown", "black", "white", "gray",
)  # fmt: skip

ADJECTIVES = (
    "big", "small", "tall", "short", "long", "wide", "narrow", "thick", "thin", "heavy", "dark",
    "bright", "soft", "hard", "smooth", "rough", "warm", "cold", "hot", "cool", "wet", "dry",
    "clean", "dirty", "fresh", "stale", "sweet", "sour", "bitter", "salty", "loud", "quiet",
    "fast", "slow", "early", "late", "happy", "sad", "angry", "calm", "brave", "shy", "proud",
    "kind", "cruel", "rich", "poor", "cheap", "young", "old", "new", "modern", "simple",
    "plain", "fancy", "strong", "weak", "sharp", "dull", "empty", "full", "open", "closed",
    "round", "square", "flat", "steep", "deep", "shallow", "high", "low", "near", "far", "busy",
    "lazy", "clever", "silly", "funny", "strange", "famous", "rare", "gentle", "wild", "tame",
    "quick", "sleepy", "hungry", "thirsty", "tired", "healthy", "sick", "safe", "brief",
    "noble", "humble", "eager", "honest", "polite", "rude", "lucky", "proper", "spare", "vast",
    "tiny", "huge", "giant", "little", "grand", "royal",
)  # fmt: skip

VOCABULARY: tuple[str, ...] = (
    *ANIMALS, *PLANTS, *NATURE, *FOOD, *HOME, *CLOTHING, *THINGS, *PLACES, *TRAVEL, *BODY,
    *PEOPLE, *TIME, *WEATHER, *ABSTRACT, *WORK, *COLORS, *ADJECTIVES,
)  # fmt: skip
"""Every word once, in a fixed order (samples draw from it by index, so the order is part of
what makes a seed reproducible)."""

NEEDLE_WORDS = (
    "anchor", "accordion", "acorn", "almond", "anvil", "apron", "aquarium", "arrow", "avocado",
    "axe", "backpack", "bagpipe", "balloon", "bamboo", "banjo", "barrel", "baton", "beacon",
    "bicycle", "biscuit", "blender", "bracelet", "broom", "brooch", "buckle", "bulldozer",
    "burrito", "cactus", "canoe", "cannon", "carousel", "cauldron", "cello", "chandelier",
    "chimney", "clarinet", "coconut", "corkscrew", "crayon", "crowbar", "cucumber", "cupcake",
    "cymbal", "dagger", "dinosaur", "doorbell", "doughnut", "dragonfly", "drum", "easel",
    "eggplant", "envelope", "eraser", "escalator", "feather", "flamingo", "flashlight", "flute",
    "funnel", "furnace", "gazebo", "glacier", "goblet", "gondola", "grapefruit", "guitar",
    "hammock", "harmonica", "harp", "helmet", "hourglass", "iceberg", "igloo", "joystick",
    "jukebox", "kayak", "kazoo", "kite", "ladle", "lollipop", "locket", "magnet", "mandolin",
    "microscope", "mitten", "motorcycle", "mushroom", "napkin", "necklace", "oboe", "octopus",
    "paddle", "pancake", "parachute", "peacock", "pendulum", "penguin", "piano", "pickle",
    "pineapple", "pinecone", "pretzel", "propeller", "pumpkin", "puzzle", "radish", "raft",
    "rocket", "sandal", "saxophone", "scarecrow", "scooter", "seashell", "skateboard", "sled",
    "snorkel", "spatula", "sponge", "stapler", "submarine", "suitcase", "sundial", "surfboard",
    "tambourine", "teapot", "thermometer", "thimble", "toaster", "toothbrush", "tractor",
    "trampoline", "trombone", "trumpet", "tuba", "tulip", "turnip", "typewriter", "ukulele",
    "volcano", "waffle", "wagon", "walnut", "wardrobe", "whistle", "windmill", "wrench",
    "xylophone", "yacht", "zeppelin", "zipper",
)  # fmt: skip
"""Concrete nouns for needle values, absent from the filler prose and from `VOCABULARY`."""
