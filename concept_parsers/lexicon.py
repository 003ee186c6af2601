"""Word lists and morphology for the rule-based concept parser.

Everything here is plain data plus a few small functions (noun singularisation, verb lemmas and -ing forms,
attribute typing). The lists aim at the English of text-to-image prompts: concrete nouns, colour / shape /
material / texture / size adjectives, spatial prepositions and everyday action verbs. They are deliberately
broader than any one benchmark; COCO's 80 class names are included because they are the canonical nouns of
GenEval-style evaluation.
"""

from __future__ import annotations

import re
from functools import lru_cache

# --------------------------------------------------------------------------------------------------- numbers
NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12,
    "single": 1, "lone": 1, "solitary": 1, "both": 2, "twin": 2, "twins": 2,
    "a dozen": 12, "a hundred": 100, "a pair of": 2, "one pair of": 2, "a single": 1, "one single": 1,
    "a trio of": 3, "a couple of": 2,
}
#: Quantity words that give only a lower bound (count is then not exact).
VAGUE_PLURAL_WORDS: dict[str, int] = {
    "some": 2, "several": 3, "many": 3, "multiple": 2, "numerous": 3, "various": 2, "few": 2, "a few": 2,
    "a lot of": 3, "lots of": 3, "plenty of": 3, "a number of": 2, "a group of": 2, "a bunch of": 2,
    "a herd of": 2, "a flock of": 2, "a pack of": 2, "a swarm of": 2, "a school of": 2, "a crowd of": 2,
    "a team of": 2, "a set of": 2, "a stack of": 2, "a pile of": 2, "a row of": 2, "a handful of": 2,
    "a collection of": 2, "a family of": 2, "a cluster of": 2, "a bouquet of": 2, "a line of": 2,
    "a variety of": 2, "an array of": 2, "a series of": 2, "groups of": 2, "dozens of": 24, "hundreds of": 200,
    "rows of": 2, "stacks of": 2, "piles of": 2, "countless": 3, "assorted": 2,
}
#: Inexact count given by "a couple of" (loose) vs "a pair of" (exact): see NUMBER_WORDS/EXACT_QUANTIFIERS.
INEXACT_NUMBER_PHRASES = {"a couple of", "lone", "solitary"}
SINGULAR_DETERMINERS = {"a", "an", "another", "each", "every", "this", "that", "any", "either", "neither"}
DEFINITE_DETERMINERS = {"the", "this", "that", "these", "those", "its", "his", "her", "their", "my", "your",
                        "our", "whose"}
PLURAL_DETERMINERS = {"these", "those"}
DETERMINERS = SINGULAR_DETERMINERS | DEFINITE_DETERMINERS | {"no", "all", "other", "such"}


def number_value(word: str) -> int | None:
    """Integer value of a number word or digit string ("3", "twenty-one", "twenty one"), else None."""
    w = word.lower().strip()
    if w.isdecimal():  # isdigit() accepts "❶" and "²", which int() rejects
        return int(w) if len(w) <= 6 else None
    if w in NUMBER_WORDS:
        return NUMBER_WORDS[w]
    m = re.fullmatch(r"(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)[- ](one|two|three|four|five|six|"
                     r"seven|eight|nine)", w)
    if m:
        return NUMBER_WORDS[m.group(1)] + NUMBER_WORDS[m.group(2)]
    return None


# --------------------------------------------------------------------------------------------------- adjectives
COLOURS = {
    "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "gray", "grey",
    "silver", "gold", "golden", "beige", "violet", "indigo", "cyan", "magenta", "turquoise", "teal", "navy",
    "maroon", "crimson", "scarlet", "lavender", "lilac", "tan", "cream", "ivory", "khaki", "olive", "lime",
    "amber", "bronze", "burgundy", "charcoal", "emerald", "ruby", "coral", "peach", "mint", "plum", "mauve",
    "fuchsia", "aqua", "azure", "cobalt", "ochre", "sepia", "rust", "mustard", "blonde", "blond", "auburn",
    "ginger", "platinum", "colorful", "colourful", "multicolored", "multicoloured", "multi-colored",
    "rainbow", "pastel", "neon", "monochrome", "greenish", "bluish", "reddish", "yellowish", "pinkish",
    "purplish", "brownish", "grayish", "greyish", "whitish", "blackish", "orangish", "sky-blue", "navy-blue",
    "dark-blue", "light-blue", "dark-green", "light-green", "blue-green", "jet-black", "snow-white",
    "off-white", "rose-gold", "copper-colored", "transparent-blue", "brunette", "silvery", "ebony",
}
#: Words that modify a following colour ("dark blue", "light green") and merge with it into one attribute.
COLOUR_MODIFIERS = {"dark", "light", "pale", "bright", "deep", "navy", "sky", "royal", "baby", "hot", "neon",
                    "pastel", "dusty", "dull", "vivid", "soft", "rich", "jet", "forest", "lime", "olive", "blood",
                    "lemon", "mint", "midnight", "powder", "electric", "fire-engine", "brick"}
SHAPES = {
    "round", "square", "circular", "rectangular", "triangular", "oval", "spherical", "cubic", "cubical",
    "cylindrical", "conical", "pyramidal", "hexagonal", "pentagonal", "octagonal", "heptagonal", "oblong",
    "elliptical", "elliptic", "ovoid", "curved", "spiral", "crescent", "teardrop", "tubular", "domed", "arched",
    "boxy", "angular", "rounded", "diamond", "star", "heart", "cone", "cube", "pyramid", "prism", "rhombic",
    "trapezoidal", "polygonal", "globular", "disc-shaped", "wavy", "zigzag", "straight", "crooked", "bent",
    "twisted", "coiled", "flat", "pointed", "pointy", "symmetrical", "asymmetrical", "geometric", "linear",
    "hemispherical", "cuboid", "helical", "concave", "convex", "semicircular", "blocky", "circle", "triangle",
    "rectangle", "hexagon", "octagon", "pentagon", "sphere", "cylinder", "crescent-shaped", "u-shaped",
    "l-shaped", "v-shaped", "s-shaped", "t-shaped", "round-shaped",
}
SIZES = {
    "big", "small", "large", "tiny", "huge", "giant", "little", "tall", "short", "long", "wide", "narrow",
    "thick", "thin", "massive", "enormous", "miniature", "mini", "petite", "gigantic", "colossal", "medium",
    "medium-sized", "oversized", "undersized", "small-sized", "large-sized", "full-sized", "full-size",
    "life-sized", "life-size", "bite-sized", "king-sized", "pocket-sized", "immense", "vast", "towering",
    "teeny", "teensy", "minuscule", "microscopic", "jumbo", "mammoth", "hulking", "bulky", "slender",
    "skinny", "slim", "lanky", "stubby", "squat", "compact", "broad", "chunky", "plump", "fat", "hefty",
    "heavy", "lightweight", "deep", "shallow", "high", "low", "lofty", "elongated", "extended", "wee",
    "larger", "smaller", "bigger", "taller", "shorter", "longer", "largest", "smallest", "biggest",
    "tallest", "shortest", "longest", "humongous", "monumental", "titanic", "dwarf", "baby-sized",
}
MATERIALS = {
    "wooden", "wood", "metal", "metallic", "plastic", "glass", "leather", "fabric", "rubber", "stone", "brick",
    "ceramic", "porcelain", "marble", "granite", "concrete", "paper", "cardboard", "cotton", "wool", "woolen",
    "woollen", "silk", "velvet", "denim", "lace", "steel", "iron", "copper", "brass", "aluminum", "aluminium",
    "tin", "chrome", "crystal", "clay", "terracotta", "bamboo", "wicker", "straw", "fur", "felt", "linen",
    "nylon", "polyester", "canvas", "suede", "satin", "tweed", "cashmere", "fleece", "ice", "icy", "wax",
    "waxen", "golden", "gilded", "silvery", "stainless", "cast-iron", "wrought-iron", "oak", "pine", "mahogany",
    "walnut", "cedar", "birch", "maple", "teak", "ebony", "bone", "ivory", "jade", "pearl", "quartz", "slate",
    "cobblestone", "sandstone", "limestone", "plaster", "stucco", "vinyl", "acrylic", "resin", "foam",
    "sponge", "styrofoam", "rope", "wire", "mesh", "chain", "knit", "knitted", "crocheted", "woven", "quilted",
    "leathery", "rubbery", "plastic-wrapped", "stone-made", "timber", "lumber", "adobe", "cork", "enamel",
    "lacquered", "varnished", "glazed", "earthenware", "stoneware", "fiberglass", "carbon-fiber", "titanium",
    "platinum", "diamond-studded", "tinfoil", "foil", "chocolate", "sugar", "candy", "gingerbread",
}
TEXTURES = {
    "fluffy", "fuzzy", "furry", "soft", "smooth", "rough", "bumpy", "spiky", "prickly", "shiny", "glossy",
    "matte", "silky", "velvety", "woolly", "wooly", "hairy", "feathery", "feathered", "scaly", "slimy",
    "sticky", "grainy", "gritty", "coarse", "jagged", "rugged", "slippery", "crinkled", "crinkly", "wrinkled",
    "wrinkly", "patterned", "checkered", "chequered", "checked", "striped", "stripy", "spotted", "dotted",
    "polka-dot", "polka-dotted", "plaid", "tartan", "floral", "paisley", "glittery", "glittering", "sparkly",
    "sparkling", "transparent", "translucent", "opaque", "frosted", "rusty", "shaggy", "crisp", "crispy",
    "crunchy", "creamy", "silken", "satiny", "lumpy", "knobbly", "knobby", "ridged", "ribbed", "grooved",
    "textured", "embossed", "engraved", "carved", "polished", "burnished", "brushed", "weathered", "worn",
    "tattered", "frayed", "cracked", "crackled", "chipped", "dented", "pitted", "porous", "spongy", "squishy",
    "springy", "bouncy", "elastic", "stretchy", "rigid", "stiff", "hard", "firm", "solid", "tender",
    "delicate", "fragile", "downy", "plush", "cushiony", "padded", "fibrous", "sandy", "muddy", "dusty",
    "powdery", "flaky", "scratchy", "prickled", "thorny", "bristly", "barbed", "spiny", "studded", "beaded",
    "sequined", "mottled", "speckled", "marbled", "veined", "streaked", "tiled", "mosaic", "pleated",
    "ruffled", "fringed", "tufted", "curly", "wavy-haired", "knotted", "gnarled", "sleek", "glassy", "gleaming",
    "lustrous", "iridescent", "metallic-looking", "reflective", "mirrored", "dull", "waxy", "oily", "greasy",
    "wet", "damp", "moist", "dry", "slick", "gooey", "chewy", "juicy", "fleshy", "leafy", "mossy", "grassy",
    "pebbly", "rocky", "stony", "icy-cold", "frozen", "melted", "molten", "silky-smooth", "glowing",
    "camouflage", "houndstooth", "herringbone", "chevron", "zebra-striped", "leopard-print", "animal-print",
    "tie-dye", "tie-dyed", "gingham", "argyle", "corduroy", "terry", "fuzzy-textured", "holographic",
}
OTHER_ADJECTIVES = {
    "old", "new", "young", "ancient", "modern", "vintage", "antique", "retro", "futuristic", "classic", "rustic",
    "beautiful", "pretty", "ugly", "cute", "adorable", "lovely", "elegant", "fancy", "plain", "simple",
    "ornate", "happy", "sad", "angry", "calm", "quiet", "loud", "noisy", "busy", "empty", "full", "clean",
    "dirty", "messy", "neat", "tidy", "broken", "open", "closed", "hot", "cold", "warm", "cool", "fresh",
    "ripe", "rotten", "raw", "cooked", "fried", "baked", "grilled", "roasted", "sweet", "sour", "bitter",
    "salty", "spicy", "savory", "savoury", "tangy", "tart", "bland", "delicious", "tasty", "yummy", "healthy",
    "sick", "tired", "sleepy", "awake", "asleep", "alive", "dead", "wild", "tame", "domestic", "friendly",
    "fierce", "gentle", "kind", "brave", "shy", "proud", "curious", "playful", "lazy", "fast", "slow", "quick",
    "rapid", "strong", "weak", "powerful", "mighty", "rich", "poor", "expensive", "cheap", "luxurious",
    "famous", "strange", "weird", "odd", "unusual", "magical", "mysterious", "majestic", "graceful", "cozy",
    "cosy", "comfortable", "sturdy", "rickety", "shabby", "dark", "light", "bright", "dim", "pale", "vivid",
    "vibrant", "fragrant", "aromatic", "smelly", "scented", "sharp", "blunt", "dull", "loose", "tight", "fine",
    "good", "bad", "great", "nice", "perfect", "real", "fake", "toy", "stuffed", "electric", "digital",
    "mechanical", "robotic", "wild-eyed", "lonely", "abandoned", "deserted", "crowded", "peaceful", "serene",
    "tranquil", "stormy", "sunny", "cloudy", "rainy", "snowy", "foggy", "misty", "windy", "starry",
    "moonlit", "sunlit", "shady", "shadowy", "gloomy", "cheerful", "joyful", "festive", "spooky", "scary",
    "creepy", "haunted", "enchanted", "mystical", "ethereal", "surreal", "realistic", "cartoon", "cartoonish",
    "detailed", "intricate", "minimalist", "minimal", "abstract", "ornamental", "decorative", "decorated",
    "royal", "regal", "noble", "humble", "wise", "clever", "smart", "silly", "funny", "goofy", "grumpy",
    "cheeky", "naughty", "hungry", "thirsty", "excited", "scared", "frightened", "surprised", "confused",
    "bored", "nervous", "anxious", "relaxed", "relaxing", "sleeping", "smiling", "laughing", "crying",
    "running", "flying", "swimming", "standing", "sitting", "lying", "parked", "potted", "chopped", "sliced",
    "peeled", "whole", "half", "empty-handed", "bare", "naked", "wooded", "lush", "barren", "dry-looking",
    "rare", "common", "ordinary", "exotic", "tropical", "arctic", "desert", "urban", "rural", "local",
    "foreign", "french", "italian", "japanese", "chinese", "mexican", "american", "british", "english",
    "german", "indian", "african", "asian", "european", "spanish", "greek", "russian", "korean", "thai",
    "victorian", "gothic", "baroque", "medieval", "tall-standing", "lit", "unlit", "burning", "flickering",
    "blooming", "wilted", "wilting", "fallen", "falling", "floating", "hanging", "spinning", "rolling",
    "steaming", "steamy", "smoky", "frosty", "chilly", "freezing", "boiling", "scorching", "sweltering",
    "wispy", "puffy", "billowing", "towering", "winding", "twisting", "sprawling", "rolling", "distant",
    "nearby", "faraway", "remote", "hidden", "secret", "main", "central", "upper", "lower", "inner", "outer",
    "front", "back", "rear", "left", "right", "middle", "top", "bottom", "first", "second", "third", "last",
    "next", "final", "only", "same", "different", "other", "extra", "single-story", "double", "triple",
    "vegan", "organic", "homemade", "handmade", "freshly", "newborn", "baby", "adult", "elderly", "teenage",
    "female", "male", "pregnant", "bald", "bearded", "curly-haired", "long-haired", "short-haired", "blind",
    "homeless", "professional", "amateur", "athletic", "muscular", "chubby", "thin-legged", "tired-looking",
    "shimmering", "twinkling", "dazzling", "radiant", "luminous", "glowy", "blazing", "fiery", "sizzling",
    "refreshing", "invigorating", "soothing", "chaotic", "lively", "vibrant-colored", "thrilling", "zingy",
    "piercing", "staccato", "heavenly", "divine", "sacred", "holy", "steep", "sheer", "ornamented", "juicy-red",
    "hollow", "filled", "stuffed-animal", "inflatable", "portable", "folding", "foldable", "electronic",
    "wireless", "vintage-style", "sporty", "casual", "formal", "fashionable", "stylish", "trendy", "chic",
    "sleek-looking", "glamorous", "rugged-looking", "shiny-new", "brand-new", "used", "second-hand",
    "recycled", "disposable", "reusable", "wet-looking", "lifelike", "life-like", "three-dimensional", "3d",
    "2d", "pixelated", "blurry", "blurred", "crisp-looking", "sharp-looking", "high-quality", "low-poly",
    "photorealistic", "hyperrealistic", "cinematic", "dramatic", "moody", "rainbow-colored", "spotless",
    "billowy", "achy", "dreamy", "frothy", "foamy", "milky", "breezy", "hazy", "dusky", "murky", "earthy",
    "woody", "meaty", "cheesy", "crusty", "zesty", "nutty", "fruity", "minty", "lemony", "buttery", "sugary",
    "syrupy", "papery", "watery", "soapy", "bubbly", "wobbly", "wiggly", "squiggly", "scruffy", "curvy",
    "swirly", "dingy", "grimy", "tacky", "frilly", "lacy", "dozy", "rowdy", "beefy", "brawny", "bony",
    "hilly", "sore", "swirling", "fluttering", "rustling", "crowded", "sweeping", "setting", "rising",
    "charming", "quaint", "clear", "clean-looking", "cloudless", "blank", "visible", "invisible", "stately", "grand", "humongous-looking", "fluorescent", "ultraviolet", "infrared",
}
ADJ_SUFFIXES = ("ful", "ous", "ic", "al", "ive", "ish", "less", "able", "ible", "ical", "esque", "-like", "-shaped",
                "-colored", "-coloured", "-sized", "-looking", "-haired", "-eyed", "-legged", "-made")

# --------------------------------------------------------------------------------------------------- nouns
#: COCO classes: the canonical nouns of GenEval (kept exactly as GenEval writes them, e.g. "skis", "hair drier").
COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "computer mouse", "tv remote",
    "computer keyboard", "cell phone", "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock",
    "vase", "scissors", "teddy bear", "hair drier", "toothbrush",
)
#: Multi-word nouns (besides the COCO ones). Matched on the singular of the last word, so plurals work.
MULTIWORD_NOUNS = {
    "remote control", "coffee table", "coffee cup", "coffee mug", "coffee maker", "coffee machine",
    "coffee bean", "ice cream", "ice cream cone", "ice cube", "french fry", "fire truck", "fire engine",
    "fire extinguisher", "fire hose", "police car", "police officer", "race car", "racing car", "sports car",
    "school bus", "pickup truck", "dump truck", "garbage truck", "golf ball", "soccer ball", "tennis ball",
    "beach ball", "bowling ball", "golf club", "hockey stick", "ping pong ball", "stuffed animal",
    "polar bear", "grizzly bear", "panda bear", "koala bear", "sea lion", "sea turtle", "sea horse",
    "sea shell", "guinea pig", "hot air balloon", "living room", "dining room", "swimming pool",
    "picture frame", "photo frame", "jewelry box", "music box", "tissue box", "lunch box", "pencil case",
    "phone case", "water bottle", "beer bottle", "wine bottle", "soda can", "tin can", "trash can",
    "garbage can", "paper towel", "toilet paper", "cutting board", "frying pan", "tea cup", "tea pot",
    "light bulb", "street light", "street lamp", "lamp post", "desk lamp", "floor lamp", "bus stop",
    "gas station", "train station", "ceiling fan", "washing machine", "sewing machine", "vending machine",
    "alarm clock", "wall clock", "baseball cap", "cowboy hat", "top hat", "bow tie", "high heel", "t-shirt",
    "tank top", "rain coat", "rain boot", "running shoe", "tennis shoe", "flip flop", "swim suit",
    "bathing suit", "sleeping bag", "shopping bag", "shopping cart", "grocery bag", "credit card",
    "birthday cake", "peanut butter", "hot sauce", "olive oil", "orange juice", "apple juice", "lemon juice",
    "christmas tree", "palm tree", "oak tree", "pine tree", "apple tree", "flower pot", "rose bush",
    "steering wheel", "dirt bike", "mountain bike", "road sign", "street sign", "traffic cone", "traffic sign",
    "power line", "mail box", "ferris wheel", "roller coaster", "hot tub", "bath tub", "paint brush",
    "hair brush", "nail polish", "video game", "game controller", "board game", "chess board",
    "playing card", "toy car", "action figure", "rocking chair", "arm chair", "office chair", "high chair",
    "bean bag", "night stand", "book shelf", "book case", "laptop computer", "desktop computer",
    "computer monitor", "computer screen", "television set", "tv set", "space ship", "space shuttle",
    "sail boat", "row boat", "motor boat", "speed boat", "cruise ship", "fishing boat", "jet ski",
    "surf board", "snow board", "skate board", "ski pole", "lawn mower", "watering can", "garden hose",
    "fire fighter", "baby stroller", "golden retriever", "german shepherd", "pit bull", "hermit crab",
    "killer whale", "honey bee", "bumble bee", "jelly fish", "bell pepper", "chili pepper", "hot pepper",
    "green bean", "garlic bread", "spring roll", "egg roll", "cream cheese", "whipped cream", "banana split",
    "fruit salad", "potato chip", "chocolate bar", "candy bar", "cotton candy", "gummy bear", "jelly bean",
    "hot chocolate", "milk shake", "tea bag", "beer mug", "shot glass", "water glass", "drinking glass",
    "mobile phone", "smart phone", "cell tower", "hair dryer", "tooth brush", "computer keyboard",
    "stop light", "traffic signal", "parking lot", "parking space", "stop sign", "fire place", "front door",
    "door knob", "window sill", "picnic table", "picnic basket", "kitchen table", "dinner table",
    "dining chair", "bar stool", "park bench", "tennis court", "basketball court", "soccer field",
    "baseball field", "football field", "golf course", "ski lift", "cable car", "hot dog stand",
    "ice skate", "roller skate", "teddy bear", "rubber duck", "rubber band",
    "wrist watch", "pocket watch", "sun hat", "straw hat", "party hat", "party balloon", "soap bar",
    "tooth paste", "hand bag", "back pack", "suit case", "tv stand", "wine rack", "spice rack",
    "cell phone", "smart watch", "head phone", "ear ring", "wedding ring", "wedding dress", "wedding cake",
    "cup cake", "pan cake", "cheese cake", "french toast", "fried egg", "boiled egg", "corn dog",
    "ice pop", "paper clip", "baby carriage", "baby bottle", "mid air", "mid-air", "middle school", "high school",
}
#: Canonical spellings for synonyms (applied after singularisation).
NOUN_SYNONYMS = {
    "hair dryer": "hair drier", "cellphone": "cell phone", "mobile phone": "cell phone",
    "smart phone": "smartphone", "tooth brush": "toothbrush", "doughnut": "donut", "television": "tv",
    "television set": "tv", "tv set": "tv", "sofa": "sofa", "ski": "skis", "skis": "skis", "skise": "skis",
    "aeroplane": "airplane", "airplane": "airplane", "motorbike": "motorcycle", "fridge": "refrigerator",
    "hand bag": "handbag", "back pack": "backpack", "suit case": "suitcase", "surf board": "surfboard",
    "snow board": "snowboard", "skate board": "skateboard", "teddy": "teddy bear", "book shelf": "bookshelf",
    "book case": "bookcase", "arm chair": "armchair", "night stand": "nightstand", "mail box": "mailbox",
    "bath tub": "bathtub", "sail boat": "sailboat", "row boat": "rowboat", "speed boat": "speedboat",
    "space ship": "spaceship", "fire place": "fireplace", "cup cake": "cupcake", "pan cake": "pancake",
    "cheese cake": "cheesecake", "tooth paste": "toothpaste", "head phone": "headphones",
    "headphone": "headphones", "ear ring": "earring", "wrist watch": "wristwatch", "milk shake": "milkshake",
    "jelly fish": "jellyfish", "sea shell": "seashell", "honey bee": "honeybee", "bumble bee": "bumblebee",
    "fire fighter": "firefighter", "tea pot": "teapot", "tea cup": "teacup", "mid air": "mid-air",
    "people": "person", "persons": "person", "scissor": "scissors", "remote control": "remote",
    "mouse": "mouse", "tv remote control": "tv remote",
}
COMMON_NOUNS = {
    # people
    "man", "woman", "boy", "girl", "child", "kid", "baby", "toddler", "person", "people", "lady", "gentleman",
    "guy", "adult", "teenager", "teen", "student", "teacher", "doctor", "nurse", "chef", "cook", "farmer",
    "soldier", "police", "policeman", "officer", "firefighter", "pilot", "driver", "worker", "artist",
    "painter", "musician", "singer", "dancer", "player", "athlete", "runner", "swimmer", "surfer", "skier",
    "skateboarder", "cyclist", "rider", "hiker", "climber", "traveler", "traveller", "tourist", "detective",
    "scientist", "astronaut", "king", "queen", "prince", "princess", "knight", "wizard", "witch", "pirate",
    "robot", "clown", "family", "couple", "friend", "crowd", "audience", "team", "group", "mother", "father",
    "mom", "dad", "sister", "brother", "grandmother", "grandfather", "son", "daughter", "husband", "wife",
    "bride", "groom", "seamstress", "tailor", "waiter", "waitress", "barber", "baker", "butcher", "fisherman",
    "gardener", "photographer", "writer", "poet", "drummer", "guitarist", "pianist", "violinist", "suspect",
    "customer", "passenger", "crew", "boss", "employee", "patient", "monk", "nun", "priest", "ninja",
    "samurai", "cowboy", "viking", "zombie", "vampire", "ghost", "angel", "fairy", "elf", "dwarf", "giant",
    "mermaid", "superhero", "hero", "villain", "alien", "monster", "dragon", "unicorn", "creature",
    # animals
    "animal", "pet", "dog", "puppy", "cat", "kitten", "kitty", "horse", "pony", "cow", "bull", "calf", "ox",
    "sheep", "lamb", "goat", "pig", "piglet", "chicken", "hen", "rooster", "chick", "duck", "duckling",
    "goose", "turkey", "bird", "parrot", "owl", "eagle", "hawk", "falcon", "crow", "raven", "pigeon", "dove",
    "sparrow", "robin", "swan", "flamingo", "penguin", "peacock", "seagull", "gull", "pelican", "ostrich",
    "woodpecker", "hummingbird", "bat", "mouse", "rat", "hamster", "squirrel", "rabbit", "bunny", "hare",
    "fox", "wolf", "bear", "panda", "koala", "lion", "tiger", "leopard", "cheetah", "jaguar", "elephant",
    "giraffe", "zebra", "rhino", "rhinoceros", "hippo", "hippopotamus", "monkey", "ape", "gorilla",
    "chimpanzee", "kangaroo", "camel", "llama", "alpaca", "deer", "moose", "elk", "reindeer", "bison",
    "buffalo", "raccoon", "skunk", "hedgehog", "porcupine", "otter", "beaver", "seal", "walrus", "whale",
    "dolphin", "shark", "fish", "goldfish", "salmon", "trout", "octopus", "squid", "jellyfish", "crab",
    "lobster", "shrimp", "starfish", "snail", "slug", "worm", "snake", "lizard", "turtle", "tortoise", "frog",
    "toad", "crocodile", "alligator", "dinosaur", "insect", "bug", "bee", "wasp", "ant", "butterfly", "moth",
    "fly", "mosquito", "beetle", "ladybug", "spider", "scorpion", "dragonfly", "caterpillar", "grasshopper",
    "cricket", "hamburger", "prey", "predator", "poodle", "terrier", "corgi", "husky", "retriever", "bulldog",
    # food
    "food", "apple", "banana", "orange", "lemon", "lime", "pear", "peach", "plum", "cherry", "grape",
    "strawberry", "blueberry", "raspberry", "berry", "watermelon", "melon", "pineapple", "mango", "kiwi",
    "coconut", "avocado", "tomato", "potato", "carrot", "onion", "garlic", "pepper", "cucumber", "lettuce",
    "cabbage", "broccoli", "cauliflower", "corn", "pumpkin", "mushroom", "bean", "pea", "egg", "bread",
    "toast", "bagel", "croissant", "muffin", "cookie", "biscuit", "cake", "cupcake", "pie", "tart", "donut",
    "doughnut", "pancake", "waffle", "pizza", "burger", "sandwich", "hotdog", "taco", "burrito", "sushi",
    "noodle", "pasta", "spaghetti", "rice", "soup", "salad", "steak", "meat", "sausage", "bacon", "ham",
    "cheese", "butter", "milk", "juice", "coffee", "tea", "water", "wine", "beer", "soda", "lemonade",
    "chocolate", "candy", "lollipop", "popsicle", "dessert", "snack", "meal", "breakfast", "lunch", "dinner",
    "fruit", "vegetable", "nut", "almond", "peanut", "cereal", "yogurt", "honey", "jam", "sauce", "ketchup",
    "pickle", "olive", "popcorn", "pretzel", "fries", "chip", "cracker", "dumpling", "brownie", "icing",
    "frosting", "cream", "smoothie", "cocktail", "drink", "beverage", "shrimp", "seafood", "peel", "slice",
    "piece", "piñata", "pinata", "gemstone", "gem", "jewel", "jewelry", "jewellery", "bracelet", "necklace",
    "pendant", "ring", "earring", "brooch", "crown", "tiara",
    # household / objects
    "table", "desk", "chair", "stool", "sofa", "couch", "bench", "bed", "pillow", "cushion", "blanket",
    "quilt", "sheet", "mattress", "lamp", "light", "candle", "candlestick", "lantern", "clock", "watch",
    "mirror", "vase", "pot", "pan", "kettle", "teapot", "cup", "mug", "glass", "bottle", "jar", "can",
    "bowl", "plate", "dish", "tray", "fork", "knife", "spoon", "chopstick", "spatula", "ladle", "napkin",
    "towel", "tablecloth", "coaster", "basket", "box", "bag", "suitcase", "backpack", "purse", "wallet",
    "handbag", "umbrella", "hat", "cap", "helmet", "scarf", "glove", "mitten", "sock", "shoe", "boot",
    "sandal", "slipper", "sneaker", "shirt", "t-shirt", "blouse", "sweater", "jacket", "coat", "dress",
    "skirt", "pants", "jeans", "shorts", "trousers", "suit", "tuxedo", "uniform", "gown", "robe", "apron",
    "belt", "tie", "bowtie", "button", "zipper", "pocket", "sleeve", "collar", "costume", "mask", "glasses",
    "sunglasses", "goggles", "book", "notebook", "magazine", "newspaper", "letter", "envelope", "card",
    "paper", "pen", "pencil", "crayon", "marker", "eraser", "ruler", "scissors", "stapler", "tape", "glue",
    "brush", "paintbrush", "canvas", "easel", "painting", "picture", "photo", "photograph", "poster",
    "frame", "sign", "flag", "banner", "map", "globe", "calendar", "phone", "smartphone", "telephone",
    "computer", "laptop", "tablet", "keyboard", "monitor", "screen", "tv", "television", "radio", "speaker",
    "headphones", "microphone", "camera", "printer", "remote", "controller", "battery", "charger", "cable",
    "wire", "plug", "socket", "switch", "fan", "heater", "refrigerator", "fridge", "freezer", "oven", "stove",
    "microwave", "toaster", "blender", "dishwasher", "sink", "faucet", "tap", "toilet", "bathtub", "shower",
    "soap", "shampoo", "toothbrush", "toothpaste", "comb", "hairbrush", "razor", "key", "lock", "door",
    "window", "wall", "floor", "ceiling", "roof", "stair", "staircase", "ladder", "fence", "gate", "shelf",
    "bookshelf", "bookcase", "cabinet", "cupboard", "drawer", "dresser", "wardrobe", "closet", "armchair",
    "nightstand", "rug", "carpet", "mat", "curtain", "blind", "doormat", "cradle", "crib", "hanger", "hook",
    "nail", "screw", "hammer", "wrench", "screwdriver", "saw", "drill", "axe", "shovel", "rake", "broom",
    "mop", "bucket", "hose", "rope", "chain", "net", "tent", "toy", "doll", "ball", "balloon", "kite", "puzzle",
    "block", "dice", "game", "drum", "guitar", "piano", "violin", "flute", "trumpet", "saxophone", "harp",
    "cello", "accordion", "harmonica", "ukulele", "bell", "whistle", "trophy", "medal", "coin", "money",
    "gift", "present", "package", "parcel", "ticket", "receipt", "candy", "paddle", "racket", "bat",
    "stick", "sword", "shield", "bow", "arrow", "gun", "cannon", "tool", "machine", "engine", "wheel",
    "tire", "tyre", "pipe", "tube", "barrel", "crate", "bin", "trash", "garbage", "pillowcase", "statue",
    "sculpture", "figurine", "fountain", "vending", "jug", "pitcher", "thermos", "flask", "cork", "lid",
    "handle", "strap", "ribbon", "bow", "feather", "leaf", "petal", "stem", "branch", "twig", "trunk", "bark",
    "root", "seed", "holder", "stand", "rack", "cutter", "opener", "timer", "straw", "cutlery", "utensil",
    "dumbbell", "weight", "treadmill", "surfboard", "skateboard", "snowboard", "ski", "skis", "sled",
    "frisbee", "scooter", "wagon", "cart", "stroller", "wheelchair", "armrest", "vanity", "pedestal",
    "sole", "heel", "lace", "tissue", "sponge", "bead", "marble", "pebble", "rock", "stone", "boulder",
    "brick", "log", "plank", "board", "sheet", "cloth", "fabric", "yarn", "thread", "needle", "garment",
    "outfit", "jersey", "bikini", "swimsuit", "diaper", "bib", "necktie", "headband", "wig", "beard",
    "mustache", "moustache", "hair", "face", "eye", "nose", "mouth", "ear", "hand", "arm", "leg", "foot",
    "head", "finger", "toe", "tooth", "tongue", "lip", "neck", "shoulder", "back", "tail", "wing", "paw",
    "claw", "horn", "beak", "fur", "mane", "shell", "scale", "fin", "body", "skin", "heart", "brain",
    "shadow", "reflection", "light", "sunlight", "cube", "sphere", "pyramid", "prism", "cone", "cylinder",
    "star", "circle", "square", "triangle", "rectangle", "hexagon", "zigzag", "shape", "pattern",
    # vehicles
    "car", "truck", "bus", "van", "taxi", "cab", "jeep", "limousine", "motorcycle", "motorbike", "bike",
    "bicycle", "tricycle", "train", "tram", "subway", "boat", "ship", "yacht", "canoe", "kayak", "raft",
    "sailboat", "submarine", "airplane", "plane", "aeroplane", "jet", "helicopter", "rocket", "spaceship",
    "ufo", "tractor", "bulldozer", "crane", "ambulance", "carriage", "chariot", "vehicle", "trailer",
    # places / nature
    "house", "home", "building", "skyscraper", "tower", "castle", "palace", "church", "temple", "cathedral",
    "barn", "cabin", "hut", "cottage", "shed", "garage", "bridge", "road", "street", "path", "sidewalk",
    "highway", "alley", "park", "garden", "yard", "backyard", "field", "farm", "forest", "jungle", "woods",
    "tree", "bush", "shrub", "flower", "rose", "tulip", "daisy", "sunflower", "lily", "orchid", "plant",
    "cactus", "grass", "lawn", "weed", "vine", "moss", "hill", "mountain", "valley", "cliff", "cave", "canyon",
    "volcano", "desert", "dune", "beach", "sand", "ocean", "sea", "lake", "river", "stream", "pond", "pool",
    "waterfall", "island", "shore", "coast", "wave", "sky", "cloud", "sun", "moon", "planet", "earth",
    "rain", "snow", "snowman", "storm", "lightning", "rainbow", "fog", "wind", "fire", "smoke", "ice",
    "glacier", "iceberg", "tundra", "meadow", "prairie", "swamp", "marsh", "city", "town", "village",
    "street", "market", "shop", "store", "restaurant", "cafe", "bar", "kitchen", "bathroom", "bedroom",
    "room", "office", "classroom", "library", "museum", "gallery", "studio", "stage", "theater", "theatre",
    "stadium", "gym", "hospital", "school", "station", "airport", "harbor", "harbour", "port", "dock", "pier",
    "lighthouse", "windmill", "well", "tunnel", "window", "balcony", "porch", "patio", "terrace", "hallway",
    "corridor", "attic", "basement", "fireplace", "chimney", "pillar", "column", "arch", "dome", "wall",
    "mural", "graffiti", "vista", "scenery", "landscape", "horizon", "sunset", "sunrise", "night", "day",
    "atmosphere", "air", "space", "galaxy", "universe", "world", "scene", "view", "background", "surface",
    "corner", "edge", "side", "center", "centre", "middle", "top", "bottom", "front", "rear", "appliance",
    "countertop", "counter", "bar", "club", "jazz", "music", "rhythm", "beat", "floorboard", "cry", "hunt",
    "chase", "taste", "punch", "oil", "mind", "drop", "rock", "shard", "hue", "canvas", "artistry",
    "woodpecker", "velvet", "sandpaper", "nut", "split", "berry", "limousine", "briefcase", "cabinet",
    "stove", "coaster", "eraser", "coat", "dresser", "bookshelf", "throw", "prism", "pyramid", "heart",
    "sphere", "hat", "jewelry", "picture", "bagel", "necklace", "bracelet", "mirror", "ice", "soda",
    "cube", "block", "mug", "festival", "hospital", "pedestal", "terminal", "portal", "mural", "signal",
    "medal", "mammal", "cereal", "capital", "canal", "sandal", "petal", "pedal", "animal", "crystal", "metal",
    "journal", "carnival", "corral", "cathedral", "general", "principal", "criminal", "individual", "material",
    "memorial", "ritual", "chemical", "interval", "manual", "oval", "vial", "dial", "rival", "decal",
    "traffic", "picnic", "clinic", "mosaic", "garlic", "tunic", "attic", "relic", "topic", "mechanic",
    "critic", "republic", "graphic", "plastic", "fabric", "magic", "music", "logic", "comic", "public",
    "panic", "tonic", "epic", "classic", "paint", "colleague", "lunch", "windowsill", "songbird", "summit",
    "mountaintop", "centerpiece", "spice", "herb", "flavor", "flavour", "aroma", "scent", "fragrance",
    "skill", "landmark", "country", "neighborhood", "neighbourhood", "trail", "marathon", "telescope",
    "notepad", "tripod", "nightstand", "earlobe", "terrain", "greenery", "soil", "breeze", "sunlight",
    "candy cane", "cane", "incense", "perfume", "lavender", "throat", "stomach", "pose", "rollercoaster",
    "adventure", "excitement", "speed", "effect", "line", "edge", "riot", "feast", "call", "search",
}
#: Nouns whose plural equals the singular (or that only exist in one form).
INVARIANT_NOUNS = {
    "sheep", "deer", "fish", "moose", "bison", "salmon", "trout", "shrimp", "cod", "swine", "aircraft",
    "series", "species", "spacecraft", "offspring", "goldfish", "squid", "elk", "buffalo", "reindeer",
    "scissors", "skis", "glasses", "sunglasses", "eyeglasses", "goggles", "pants", "jeans", "trousers",
    "shorts", "pajamas", "pyjamas", "binoculars", "tongs", "pliers", "tweezers", "headphones", "earphones",
    "clothes", "news", "chess", "broccoli", "lettuce", "popcorn", "rice", "furniture", "luggage", "baggage",
    "equipment", "jewelry", "jewellery", "cutlery", "silverware", "dice", "fries", "stairs", "police",
    "crossroads", "barracks", "means", "physics", "mathematics", "athletics", "gymnastics", "aquatics",
    "people", "cattle", "poultry", "sushi", "spaghetti", "pasta", "hair", "grass", "sand", "water", "tennis",
    "canvas", "octopus", "cactus", "bus", "gas", "lens", "iris", "atlas", "chaos", "christmas", "walrus",
    "hippopotamus", "platypus", "asparagus", "hummus", "circus", "virus", "bonus", "campus", "census",
    "citrus", "focus", "fungus", "genus", "nucleus", "radius", "status", "stimulus", "syllabus", "thesaurus",
    "toothpaste", "whiskers", "mathematics", "savings", "species", "overalls", "leggings", "tights", "sweats",
    "mid-air", "sports",
}
IRREGULAR_PLURALS = {
    "mice": "mouse", "lice": "louse", "geese": "goose", "teeth": "tooth", "feet": "foot", "children": "child",
    "people": "person", "men": "man", "women": "woman", "oxen": "ox", "knives": "knife", "wives": "wife",
    "lives": "life", "leaves": "leaf", "loaves": "loaf", "wolves": "wolf", "calves": "calf", "halves": "half",
    "shelves": "shelf", "elves": "elf", "scarves": "scarf", "thieves": "thief", "hooves": "hoof",
    "selves": "self", "sheaves": "sheaf", "dwarves": "dwarf", "cacti": "cactus", "fungi": "fungus",
    "octopi": "octopus", "nuclei": "nucleus", "radii": "radius", "alumni": "alumnus", "criteria": "criterion",
    "phenomena": "phenomenon", "indices": "index", "matrices": "matrix", "vertices": "vertex",
    "appendices": "appendix", "analyses": "analysis", "crises": "crisis", "theses": "thesis", "oases": "oasis",
    "dominoes": "domino", "potatoes": "potato", "tomatoes": "tomato", "heroes": "hero", "echoes": "echo",
    "mangoes": "mango", "volcanoes": "volcano", "torpedoes": "torpedo", "mosquitoes": "mosquito",
    "buffaloes": "buffalo", "tornadoes": "tornado", "avocadoes": "avocado", "mottoes": "motto",
    "vetoes": "veto", "dice": "dice", "policemen": "policeman", "firemen": "fireman",
    "fishermen": "fisherman", "snowmen": "snowman", "gentlemen": "gentleman", "businessmen": "businessman",
    "grandchildren": "grandchild", "geese's": "goose", "larvae": "larva", "antennae": "antenna",
    "bacteria": "bacterium", "data": "data", "media": "media", "quizzes": "quiz", "buses": "bus",
    "gases": "gas", "lenses": "lens", "irises": "iris", "octopuses": "octopus", "cactuses": "cactus",
    "walruses": "walrus", "platypuses": "platypus", "hippopotamuses": "hippopotamus", "canvases": "canvas",
    "atlases": "atlas", "viruses": "virus", "circuses": "circus", "campuses": "campus", "bonuses": "bonus",
    "skises": "skis", "sheeps": "sheep", "fishes": "fish", "deers": "deer", "scissorses": "scissors",
    "ties": "tie", "pies": "pie", "lies": "lie", "dies": "die", "cookies": "cookie", "movies": "movie",
    "zombies": "zombie", "brownies": "brownie", "calories": "calorie", "smoothies": "smoothie",
    "selfies": "selfie", "goalies": "goalie", "hippies": "hippie", "collies": "collie", "rookies": "rookie",
    "kiwis": "kiwi", "shoes": "shoe", "toes": "toe", "canoes": "canoe", "hoes": "hoe", "oboes": "oboe",
    "floes": "floe", "horseshoes": "horseshoe", "tiptoes": "tiptoe", "foes": "foe", "sleeves": "sleeve",
    "gloves": "glove", "doves": "dove", "stoves": "stove", "caves": "cave", "waves": "wave", "valves": "valve",
    "olives": "olive", "grooves": "groove", "curves": "curve", "chives": "chive", "hives": "hive",
    "knifes": "knife", "lifes": "life", "beehives": "beehive", "archives": "archive", "eaves": "eaves",
    "axes": "axe", "bases": "base", "vases": "vase", "cases": "case", "horses": "horse", "houses": "house",
    "roses": "rose", "noses": "nose", "glasses": "glass", "moustaches": "moustache", "mustaches": "mustache",
    "headaches": "headache", "niches": "niche", "caches": "cache", "avalanches": "avalanche",
    "quiches": "quiche", "cliches": "cliche", "creches": "creche", "microwaves": "microwave",
    "wolfs": "wolf", "leafs": "leaf", "cloths": "cloth", "moths": "moth", "mouths": "mouth", "paths": "path",
    "persons": "person", "tvs": "tv", "ufos": "ufo", "pianos": "piano", "photos": "photo", "radios": "radio",
    "zoos": "zoo", "kangaroos": "kangaroo", "tattoos": "tattoo", "igloos": "igloo", "videos": "video",
    "studios": "studio", "avocados": "avocado", "burritos": "burrito", "tacos": "taco", "flamingos": "flamingo",
    "rhinos": "rhino", "hippos": "hippo", "kilos": "kilo", "silos": "silo", "cellos": "cello",
    "ponchos": "poncho", "sombreros": "sombrero", "armadillos": "armadillo", "pesos": "peso",
    "eskimos": "eskimo", "logos": "logo", "memos": "memo", "solos": "solo", "tornados": "tornado",
    "volcanos": "volcano", "mosquitos": "mosquito", "mangos": "mango", "toothbrushs": "toothbrush",
    "sandwichs": "sandwich", "benchs": "bench", "dresss": "dress", "glasss": "glass", "foxs": "fox",
    "boxs": "box", "bushs": "bush", "dishs": "dish", "watchs": "watch", "peachs": "peach", "brushs": "brush",
    "couchs": "couch", "torchs": "torch", "churchs": "church", "matchs": "match", "coachs": "coach",
}
#: Words ending in -ing that are nouns, not verbs (ring, building, ...).
ING_NOUNS = {
    "ring", "king", "wing", "string", "building", "painting", "ceiling", "clothing", "pudding", "wedding",
    "morning", "evening", "swing", "spring", "sling", "thing", "sibling", "duckling", "dumpling", "earring",
    "icing", "frosting", "stuffing", "topping", "railing", "awning", "bedding", "lightning", "sing", "ping",
    "drawing", "sapling", "seedling", "herring", "viking", "pudding", "dressing", "filling", "frosting",
    "sterling", "darling", "starling", "gosling", "bling", "sling", "fling", "kingling", "ding", "wring",
    "landing", "ceiling", "shilling", "offspring", "inkling", "lasagna", "tubing", "piping", "siding",
    "molding", "moulding", "carving", "engraving", "etching", "sketching", "coating", "lining", "opening",
    "clearing", "crossing", "setting", "gathering", "meeting", "feeling", "reading", "writing", "sibling",
    "nothing", "something", "anything", "everything", "evening", "pudding", "skiing", "spring", "string",
}

# --------------------------------------------------------------------------------------------------- verbs
#: Base forms of verbs the parser knows. -s / -ed / -ing forms are derived; irregular pasts are listed below.
VERB_BASES = {
    "chase", "hold", "ride", "sit", "eat", "drink", "stand", "lie", "lay", "rest", "hang", "perch", "lean",
    "float", "hover", "fly", "swim", "run", "walk", "jump", "climb", "crawl", "play", "read", "write", "draw",
    "paint", "carry", "push", "pull", "throw", "catch", "kick", "hit", "touch", "hug", "kiss", "bite", "lick",
    "sniff", "smell", "look", "watch", "stare", "gaze", "see", "face", "wear", "cover", "feed", "wash",
    "clean", "cook", "bake", "cut", "chop", "slice", "peel", "pour", "fill", "open", "close", "drive",
    "pilot", "steer", "sail", "row", "paddle", "surf", "ski", "skate", "skateboard", "snowboard", "dance",
    "sing", "talk", "speak", "shout", "yell", "scream", "bark", "meow", "purr", "roar", "growl", "chirp",
    "croak", "howl", "sleep", "nap", "rest", "wait", "stay", "sew", "knit", "build", "fix", "repair", "use",
    "type", "hand", "give", "take", "grab", "pick", "lift", "raise", "drop", "place", "put", "set", "pat",
    "pet", "stroke", "brush", "comb", "groom", "fight", "attack", "hunt", "stalk", "follow", "lead", "guide",
    "block", "hide", "protect", "guard", "shelter", "surround", "wrap", "tie", "kneel", "squat", "crouch",
    "bend", "stretch", "reach", "point", "wave", "shake", "clap", "sway", "nod", "smile", "laugh", "cry",
    "frown", "sniffle", "graze", "nibble", "chew", "munch", "gnaw", "sip", "taste", "lap", "peck", "pounce",
    "leap", "hop", "bounce", "roll", "spin", "slide", "glide", "soar", "dive", "splash", "wade", "fish",
    "hike", "jog", "sprint", "race", "cross", "enter", "leave", "exit", "approach", "visit", "explore",
    "examine", "inspect", "study", "question", "interrogate", "teach", "learn", "practice", "practise",
    "train", "exercise", "lift", "swing", "juggle", "toss", "fetch", "serve", "share", "offer", "show",
    "present", "display", "sell", "buy", "shop", "order", "check", "count", "measure", "weigh", "arrange",
    "decorate", "ornament", "adorn", "light", "burn", "shine", "glow", "sparkle", "glitter", "reflect",
    "contrast", "complement", "match", "blend", "mix", "stir", "whisk", "simmer", "boil", "fry", "grill",
    "roast", "toast", "melt", "freeze", "drip", "spill", "splatter", "flow", "fall", "rise", "grow", "bloom",
    "blossom", "wilt", "ripen", "sprout", "climb", "cling", "crawl", "dangle", "drape", "sprawl", "tower",
    "loom", "overlook", "top", "cap", "crown", "line", "border", "frame", "fill", "surround", "encircle",
    "sneak", "creep", "tiptoe", "march", "parade", "gallop", "trot", "prance", "stomp", "waddle", "scurry",
    "scamper", "flutter", "buzz", "sting", "swarm", "nest", "roost", "burrow", "dig", "plant", "water",
    "mow", "rake", "shovel", "sweep", "mop", "vacuum", "dust", "scrub", "polish", "iron", "fold", "hang",
    "pack", "unpack", "load", "unload", "deliver", "ship", "send", "receive", "mail", "post", "call",
    "phone", "text", "film", "photograph", "record", "listen", "hear", "feel", "think", "dream", "wish",
    "love", "like", "hate", "fear", "admire", "adore", "greet", "welcome", "meet", "join", "accompany",
    "escort", "rescue", "save", "help", "assist", "support", "comfort", "cuddle", "snuggle", "nuzzle",
    "cradle", "rock", "tickle", "tease", "chase", "bully", "scare", "startle", "frighten", "ignore",
    "sniff", "investigate", "observe", "monitor", "spy", "peek", "peer", "glance", "blink", "wink", "yawn",
    "stretch", "relax", "lounge", "sunbathe", "bask", "celebrate", "cheer", "applaud", "perform", "act",
    "pose", "model", "compete", "win", "lose", "score", "shoot", "aim", "fire", "launch", "land", "crash",
    "collide", "bump", "smash", "break", "crack", "tear", "rip", "pop", "inflate", "blow", "puff", "smoke",
    "steam", "drift", "fade", "vanish", "appear", "emerge", "hatch", "invigorate", "signal", "fill", "add",
    "jot", "note", "sketch", "scribble", "sign", "print", "scan", "copy", "type", "browse", "surf", "stream",
    "charge", "plug", "tick", "ring", "chime", "buzz", "beep", "flash", "blink", "sit", "lie", "stand",
    "suspend", "mount", "park", "perch", "balance", "stack", "pile", "lean", "prop", "attach", "stick",
    "pin", "nail", "glue", "tape", "bind", "chain", "lock", "unlock", "guard", "shade", "shield", "hold",
    "grip", "clutch", "grasp", "squeeze", "press", "tap", "knock", "pound", "hammer", "drill", "saw",
    "carve", "sculpt", "mold", "mould", "shape", "form", "craft", "create", "make", "design", "invent",
    "construct", "assemble", "wear", "don", "sport", "carry", "haul", "tow", "drag", "tug", "heave", "hoist",
    "bring", "fetch", "retrieve", "collect", "gather", "harvest", "pluck", "pick", "sort", "swap", "trade",
    "rang", "reflect", "jot", "sew", "splash", "shake", "swat", "swipe", "scratch", "claw", "paw",
    "pedal", "cycle", "bike", "motor", "cruise", "speed", "zoom", "dash", "rush", "hurry", "stroll",
    "wander", "roam", "tour", "travel", "commute", "backpack", "camp", "picnic", "feast", "dine", "snack",
    "devour", "gobble", "swallow", "taste", "lap", "suck", "slurp", "gulp", "sip", "toast", "puzzle",
    "solve", "fix", "watch", "view", "admire", "contemplate", "ponder", "pray", "meditate", "worship",
    "bow", "kneel", "salute", "shake", "wave", "hug", "embrace", "hold", "wrap", "pull", "tow",
    "gleam", "glint", "glisten", "shimmer", "twinkle", "rattle", "clatter", "jingle", "rustle", "whisper",
    "waft", "brew", "warm", "cool", "illuminate", "soothe", "bounce", "lounge", "gather", "huddle", "snooze",
    "doze", "bathe", "soak", "contrast", "complement", "accent", "highlight", "sparkle", "drizzle", "sprinkle",
    "dot", "line", "dance", "sway", "swirl", "whirl", "twirl", "ripple", "crash", "splash", "trickle", "cascade",
    "sniff", "seat", "position", "stop", "go", "come", "keep", "sleep", "win", "spend", "find",
    "tell", "say", "know", "choose", "steal", "weave", "grind", "wake", "swear", "weep", "stride", "spit",
    "begin", "seek", "pay", "sell", "send", "shoot", "sink", "speak", "strike", "teach", "wind", "wake", "situate", "locate", "station", "overflow", "spill", "soak", "drench",
}
#: Irregular past tense / participle forms -> base.
IRREGULAR_VERBS = {
    "sat": "sit", "stood": "stand", "lay": "lie", "lain": "lie", "laid": "lay", "ran": "run", "ate": "eat",
    "eaten": "eat", "held": "hold", "rode": "ride", "ridden": "ride", "flew": "fly", "flown": "fly",
    "swam": "swim", "swum": "swim", "threw": "throw", "thrown": "throw", "caught": "catch", "drank": "drink",
    "drunk": "drink", "fed": "feed", "fought": "fight", "hung": "hang", "hid": "hide", "hidden": "hide",
    "kept": "keep", "led": "lead", "made": "make", "read": "read", "saw": "see", "seen": "see",
    "shone": "shine", "sang": "sing", "sung": "sing", "slept": "sleep", "spun": "spin", "struck": "strike",
    "took": "take", "taken": "take", "wore": "wear", "worn": "wear", "wrote": "write", "written": "write",
    "drove": "drive", "driven": "drive", "drew": "draw", "drawn": "draw", "dug": "dig", "grew": "grow",
    "grown": "grow", "bit": "bite", "bitten": "bite", "blew": "blow", "blown": "blow", "broke": "break",
    "broken": "break", "brought": "bring", "built": "build", "bought": "buy", "chose": "choose",
    "chosen": "choose", "came": "come", "did": "do", "done": "do", "fell": "fall", "fallen": "fall",
    "felt": "feel", "found": "find", "gave": "give", "given": "give", "went": "go", "gone": "go",
    "heard": "hear", "knew": "know", "known": "know", "met": "meet", "paid": "pay", "rose": "rise",
    "risen": "rise", "said": "say", "sold": "sell", "sent": "send", "shook": "shake", "shaken": "shake",
    "shot": "shoot", "sank": "sink", "sunk": "sink", "slid": "slide", "spoke": "speak", "spoken": "speak",
    "spent": "spend", "stuck": "stick", "stung": "sting", "swept": "sweep", "swung": "swing",
    "taught": "teach", "tore": "tear", "torn": "tear", "told": "tell", "thought": "think", "woke": "wake",
    "woken": "wake", "won": "win", "clung": "cling", "crept": "creep", "dove": "dive",
    "knelt": "kneel", "leapt": "leap", "lit": "light", "sprang": "spring", "sprung": "spring",
    "strode": "stride", "swore": "swear", "wept": "weep", "bent": "bend", 
    "spat": "spit", "froze": "freeze", "frozen": "freeze", "began": "begin", "begun": "begin", "rang": "ring",
    "rung": "ring", "sought": "seek", "stole": "steal", "stolen": "steal", "wove": "weave", "woven": "weave",
    "beat": "beat", "beaten": "beat", "cast": "cast", "spread": "spread", "shed": "shed",
    "split": "split", "burst": "burst", "cost": "cost", "hurt": "hurt", "quit": "quit", "upset": "upset", "overlooked": "overlook", "got": "get", "gotten": "get",
}
#: Base forms whose final consonant doubles before -ing/-ed.
DOUBLING_VERBS = {
    "sit", "run", "swim", "hit", "cut", "get", "put", "set", "dig", "hug", "jog", "nap", "pat", "rub", "grab",
    "drop", "stop", "chat", "plan", "shop", "skip", "slip", "spin", "trim", "wag", "beg", "drag", "grip",
    "hop", "mop", "nod", "pop", "rob", "sip", "tap", "tip", "trap", "wrap", "ship", "step", "strip", "stir",
    "admit", "begin", "forget", "occur", "permit", "refer", "regret", "submit", "pet", "jot", "swat", "bat",
    "pin", "chop", "clap", "flap", "flip", "knit", "let", "plug", "scan", "snap", "sob", "spot", "stab",
    "tug", "whip", "win", "zip", "sun", "bob", "dab", "dip", "fan", "hem", "jam", "lap", "mob", "nab", "pad",
    "peg", "pit", "pot", "rip", "rot", "scrub", "shrug", "slam", "sled", "slit", "snip", "sog", "spit",
    "spud", "stun", "swap", "throb", "wed", "prop", "plot", "drip", "drum", "grin", "hum", "kid", "net",
    "prod", "quit", "rig", "sag", "shred", "slap", "slug", "smog", "skim", "squat",
}
#: Verbs that mostly locate their subject ("sat next to", "hung above"): with a strong spatial preposition
#: the relation is spatial.
LOCATIVE_VERBS = {
    "sit", "stand", "lie", "lay", "rest", "hang", "perch", "lean", "float", "hover", "stay", "wait", "be",
    "place", "locate", "position", "situate", "suspend", "mount", "park", "set", "put", "station", "seat",
    "stack", "pile", "prop", "tower", "loom", "dangle", "sprawl", "balance", "nest", "roost", "sleep", "nap",
    "lounge", "crouch", "squat", "kneel", "remain", "keep", "grow", "bloom", "appear", "pull", "land", "hide",
    "ring", "shine", "glow", "drape", "cling", "drift", "lounge", "huddle", "gather", "snooze", "doze", "bask",
    "sunbathe", "wait", "sprawl", "curl", "nestle", "snuggle", "lurk", "hide", "peek", "dangle", "swing",
}
#: Verbs whose object is given by a preposition with them ("looking at", "playing with").
PARTICLES = {"up", "down", "out", "off", "away", "back", "together", "apart", "along", "forward", "around"}

COPULAS = {"is", "are", "was", "were", "be", "been", "being", "am", "seems", "seem", "seemed", "appears",
           "appear", "appeared", "looks", "look", "remains", "remain", "remained", "stays", "becomes",
           "become", "became"}
HAVE_WORDS = {"has", "have", "had", "having", "owns", "own", "contains", "contain", "contained", "containing"}
AUXILIARIES = {"will", "would", "can", "could", "shall", "should", "may", "might", "must", "do", "does", "did",
               "gets", "get", "got"}
ADVERBS = {
    "very", "too", "quite", "really", "just", "also", "still", "always", "never", "often", "sometimes",
    "almost", "nearly", "slightly", "extremely", "incredibly", "so", "rather", "fairly", "pretty", "somewhat",
    "even", "again", "together", "alone", "here", "there", "now", "then", "today", "tonight", "outside",
    "inside-out", "upside", "downward", "upward", "upwards", "downwards", "sideways", "backwards",
    "forwards", "away", "ahead", "abroad", "indoors", "outdoors", "overhead", "nearby", "low", "high",
    "tall", "well", "hard", "fast", "late", "early", "soon", "already", "yet", "ever", "once", "twice",
    "all", "both", "each", "gracefully", "mid-air", "aloft", "afloat", "asleep", "awake", "ajar", "apart",
}
PRONOUNS_SUBJECT = {"it", "they", "he", "she", "we", "i", "you", "one"}
PRONOUNS_OBJECT = {"it", "them", "him", "her", "us", "me", "you", "itself", "themselves", "himself",
                   "herself", "each other", "one another"}
RELATIVE_PRONOUNS = {"that", "which", "who", "whom", "whose"}
SUBORDINATORS = {"while", "as", "because", "since", "when", "whereas", "but", "although", "though", "so",
                 "then", "where", "whilst", "until", "if", "yet", "and then", "whereby", "once", "after",
                 "such as", "so that"}
CONJUNCTIONS = {"and", "or", "&", "plus", "as well as", "along with", "together with", "nor", "and also"}
FRAMING_NOUNS = ("photo", "photograph", "picture", "image", "painting", "drawing", "illustration", "render",
                 "rendering", "sketch", "close-up", "closeup", "cartoon", "snapshot", "shot", "portrait",
                 "depiction", "artwork", "watercolor", "watercolour", "photography", "pic", "3d render",
                 "digital art", "oil painting", "still life", "scene", "view")

# --------------------------------------------------------------------------------------------------- relations
SPATIAL = "position"  # GenEval gold spelling of the spatial kind ("spatial" is accepted as an alias)
NON_SPATIAL = "non-spatial"
ACTION = "action"

#: Surface phrase -> (canonical relation, kind). Longest match wins; matched on lower-cased tokens.
RELATION_PHRASES: dict[str, tuple[str, str]] = {}


def _add(canon: str, kind: str, *phrases: str) -> None:
    for p in phrases:
        RELATION_PHRASES[p] = (canon, kind)


_add("left of", SPATIAL, "left of", "to the left of", "on the left of", "on the left side of",
     "to the left side of", "at the left of", "at the left side of", "on left of", "to left of",
     "on the lefthand side of", "on the left hand side of", "to the left-hand side of",
     "on the left-hand side of", "left side of", "leftward of")
_add("right of", SPATIAL, "right of", "to the right of", "on the right of", "on the right side of",
     "to the right side of", "at the right of", "at the right side of", "on right of", "to right of",
     "on the righthand side of", "on the right hand side of", "to the right-hand side of",
     "on the right-hand side of", "right side of", "rightward of")
_add("above", SPATIAL, "above", "over", "on the top of", "at the top of", "higher than", "up above")
_add("on top of", SPATIAL, "on top of", "atop", "on the top side of", "upon the top of", "on-top of")
_add("below", SPATIAL, "below", "on the bottom of", "at the bottom of", "lower than", "down below",
     "on the bottom side of", "at the foot of")
_add("under", SPATIAL, "under", "underneath", "beneath", "underneath of", "under the bottom of")
_add("next to", SPATIAL, "next to", "beside", "besides", "alongside", "by the side of", "on side of",
     "on the side of", "to the side of", "at the side of", "adjacent to", "side by side with",
     "right next to", "directly next to", "just next to", "immediately next to", "alongside of", "by")
_add("near", SPATIAL, "near", "close to", "near to", "nearby", "close by", "in the vicinity of",
     "not far from", "in proximity to", "close beside")
_add("far from", SPATIAL, "far from", "far away from", "away from", "distant from")
_add("in front of", SPATIAL, "in front of", "at the front of", "before", "ahead of", "in the front of")
_add("behind", SPATIAL, "behind", "at the back of", "in back of", "at the rear of", "to the rear of",
     "in the back of", "backed by")
_add("hidden by", SPATIAL, "hidden by", "occluded by", "obscured by", "blocked by", "covered by",
     "concealed by", "partially hidden by", "partly hidden by", "hidden behind")
_add("on", SPATIAL, "on", "upon", "onto", "on to")
_add("in", SPATIAL, "in", "into", "in the middle of", "in the center of", "in the centre of")
_add("inside", SPATIAL, "inside", "inside of", "within", "enclosed in", "contained in")
_add("outside", SPATIAL, "outside", "outside of")
_add("between", SPATIAL, "between", "in between", "among", "amongst", "amid", "amidst")
_add("across from", SPATIAL, "across from", "opposite", "opposite to", "opposite of",
     "on the other side of")
_add("at", SPATIAL, "at")
_add("against", SPATIAL, "against", "leaning against")
_add("around", SPATIAL, "around", "surrounding", "encircling")
_add("surrounded by", SPATIAL, "surrounded by", "encircled by")
_add("with", NON_SPATIAL, "with", "having", "featuring", "including",
     "accompanied by", "equipped with", "decorated with", "topped with", "adorned with")
_add("of", NON_SPATIAL, "of", "made of", "made from", "made out of", "consisting of", "composed of",
     "full of", "filled with", "covered with", "covered in", "belonging to")
_add("from", NON_SPATIAL, "from", "out of")
_add("without", NON_SPATIAL, "without")
_add("like", NON_SPATIAL, "like", "shaped like", "resembling", "similar to", "dressed as", "dressed like")
_add("for", NON_SPATIAL, "for")
_add("to", NON_SPATIAL, "to", "toward", "towards", "in the direction of")
_add("through", SPATIAL, "through", "across", "along", "past", "throughout", "via")

#: "Strong" spatial relations dominate a preceding verb ("sat next to" -> next to); weak ones form verb
#: predicates ("sitting on", "running through").
WEAK_RELATIONS = {"on", "in", "at", "with", "of", "to", "for", "through", "around", "like", "without",
                  "against", "far from", "under", "from", "surrounded by"}
#: Depth relations (T2I-CompBench "3d_spatial").
DEPTH_RELATIONS = {"in front of", "behind", "hidden by"}
#: Relations GenEval evaluates, with the canonical relation mapped to them.
GENEVAL_RELATIONS = {"left of": "left of", "right of": "right of", "above": "above", "below": "below",
                     "on top of": "above", "under": "below"}
#: Prepositions that follow a verb to make a phrasal predicate but are not spatial when alone.
VERB_PREPOSITIONS = {"at", "with", "to", "into", "onto", "from", "for", "about", "after", "across", "through",
                     "along", "around", "off", "out of", "over", "under", "by", "in", "on", "against",
                     "toward", "towards", "up", "down", "past", "upon", "among", "between", "inside",
                     "outside", "like", "of"}


# --------------------------------------------------------------------------------------------------- functions
ALL_NOUNS = set(COMMON_NOUNS) | set(COCO_CLASSES) | MULTIWORD_NOUNS | INVARIANT_NOUNS | set(
    IRREGULAR_PLURALS.values()) | set(NOUN_SYNONYMS) | set(NOUN_SYNONYMS.values())
ALL_ADJECTIVES = COLOURS | SHAPES | SIZES | MATERIALS | TEXTURES | OTHER_ADJECTIVES
ATTRIBUTE_TYPES = ("colour", "shape", "texture", "material", "size", "other")

# Colour names and materials double as nouns ("an orange", "a glass"): they are attributes only before a head.


@lru_cache(maxsize=65536)
def singularize(word: str) -> tuple[str, bool]:
    """(singular form, looked plural) of a lower-case noun. Unknown words follow English spelling rules."""
    w = word.lower()
    if not w or not w[-1].isalpha():
        return w, False
    if w in NOUN_SYNONYMS and w not in ("people", "persons"):
        return NOUN_SYNONYMS[w], False
    if w in IRREGULAR_PLURALS:
        sg = IRREGULAR_PLURALS[w]
        return NOUN_SYNONYMS.get(sg, sg), w != sg and w not in {"dice", "data", "media"}
    if w in INVARIANT_NOUNS or w in ALL_NOUNS:
        return w, False
    if len(w) <= 3 or not w.endswith("s") or w.endswith("'s"):
        return w, False
    if w[:-1] in ALL_NOUNS:  # "broccolis", "tvs", also naive plurals of nouns ending in -is/-us
        return NOUN_SYNONYMS.get(w[:-1], w[:-1]), True
    if w.endswith(("ss", "us", "is", "ous", "ics")):
        return w, False
    candidates: list[str] = []
    if w.endswith("ies") and len(w) > 4:
        candidates += [w[:-3] + "y", w[:-1]]
    elif w.endswith("ves"):
        candidates += [w[:-3] + "f", w[:-3] + "fe", w[:-1]]
    elif w.endswith(("ches", "shes", "xes", "sses", "zzes", "oes", "ses", "zes")):
        candidates += [w[:-1], w[:-2]]
    else:
        candidates += [w[:-1]]
    for c in candidates:
        if c in ALL_NOUNS:
            return NOUN_SYNONYMS.get(c, c), True
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y", True
    if w.endswith(("ches", "shes", "xes", "sses", "zzes")):
        return w[:-2], True
    if w.endswith("oes") and len(w) > 4 and w[-4] not in "aeiou":
        return w[:-2], True
    return w[:-1], True


def canonical_noun(words: str) -> tuple[str, bool]:
    """Canonical singular of a (possibly multi-word) noun phrase head and whether it looked plural."""
    parts = words.lower().split()
    if not parts:
        return "", False
    sg, plural = singularize(parts[-1])
    noun = " ".join(parts[:-1] + [sg])
    return NOUN_SYNONYMS.get(noun, noun), plural


def attribute_type(value: str) -> str:
    """Type of an attribute value: colour, shape, texture, material, size or other."""
    v = value.lower().strip()
    last = v.split()[-1] if v.split() else v
    if v in COLOURS or last in COLOURS and v.split()[0] in COLOUR_MODIFIERS:
        return "colour"
    if v.endswith(("-colored", "-coloured")):
        return "colour"
    if v in SIZES or v.endswith("-sized"):
        return "size"
    if v in SHAPES or v.endswith("-shaped") or v.endswith("-shape"):
        return "shape"
    if v in MATERIALS:
        return "material"
    if v in TEXTURES or v.endswith(("-textured", "-print", "-patterned", "-striped")):
        return "texture"
    return "other"


def is_adjective(word: str) -> bool:
    """Known adjective, or an unknown word with a typical adjective suffix."""
    w = word.lower()
    if w in ALL_ADJECTIVES:
        return True
    if w in ALL_NOUNS:
        return False
    return len(w) > 4 and w.endswith(ADJ_SUFFIXES)


def verb_base(word: str) -> str | None:
    """Base form if ``word`` is a form of a known verb (any tense), else None."""
    w = word.lower()
    if w in IRREGULAR_VERBS:
        return IRREGULAR_VERBS[w]
    if w in VERB_BASES:
        return w
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ying", "ie"), ("es", ""), ("s", ""), ("ed", ""),
                         ("ed", "e"), ("d", ""), ("ing", ""), ("ing", "e")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 2:
            stem = w[: len(w) - len(suffix)] + repl
            if stem in VERB_BASES:
                return stem
            if suffix in ("ed", "ing") and len(stem) >= 3 and stem[-1] == stem[-2] and stem[:-1] in VERB_BASES:
                return stem[:-1]  # stopped -> stop, sitting -> sit
    return None


def verb_form(word: str) -> str | None:
    """Which form a known verb word is: 'base', '3sg', 'past', 'ing', or None if not a known verb."""
    w = word.lower()
    base = verb_base(w)
    if base is None:
        return None
    if w == base:
        return "base"
    if w.endswith("ing"):
        return "ing"
    if w in IRREGULAR_VERBS or w.endswith("ed"):
        return "past"
    if w.endswith("s"):
        return "3sg"
    return "past"


def ing_form(base: str) -> str:
    """Present participle of a base verb ("sit" -> "sitting", "ride" -> "riding", "lie" -> "lying")."""
    b = base.lower()
    if b in {"be", "see", "flee", "agree", "free", "ski", "tiptoe", "canoe", "shoe", "hoe", "dye", "eye"}:
        return b + "ing"
    if b.endswith("ie"):
        return b[:-2] + "ying"
    if b.endswith("ee") or b.endswith("ye") or b.endswith("oe"):
        return b + "ing"
    if b.endswith("e") and len(b) > 2:
        return b[:-1] + "ing"
    if b in DOUBLING_VERBS:
        return b + b[-1] + "ing"
    if b.endswith("ic"):
        return b + "king"
    return b + "ing"


def ing_of(word: str) -> str:
    """-ing form of any verb word, known or not ("held" -> "holding", "sewed" -> "sewing")."""
    w = word.lower()
    base = verb_base(w)
    if base is not None:
        return ing_form(base)
    if w.endswith("ing"):
        return w
    if w.endswith("ied"):
        return w[:-3] + "ying"
    if w.endswith("ed"):
        return w[:-2] + "ing"
    if w.endswith("es") and w[:-2].endswith(("ch", "sh", "x", "ss")):
        return w[:-2] + "ing"
    if w.endswith("s") and not w.endswith("ss"):
        return ing_form(w[:-1])
    return ing_form(w)
