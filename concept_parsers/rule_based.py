"""Rule-based parser: benchmark-style English prompt -> :class:`ConceptGraph`.

Three passes:

1. **tokens**: words, numbers and punctuation; multi-word units are merged first, longest match wins
   (multi-word nouns such as "traffic light" / "hot dogs", relation phrases such as "to the left of",
   quantifiers such as "a pair of", conjunction phrases, "there is").
2. **chunks**: a left-to-right chunker turns tokens into noun phrases (determiner / number, stacked adjectives,
   compound noun, head noun), relation phrases, verbs, copulas and clause boundaries. Nouns are recognised
   by position (the head of a noun phrase is its last content word) with lexicons for adjectives and verbs,
   so unknown nouns still parse.
3. **clauses**: noun phrases become objects; relation phrases and verbs link the clause subject (or the
   noun phrase just before a preposition) to the following noun phrase(s).

:func:`parse` never raises: anything it cannot place is recorded in ``graph.flags`` and ``graph.partial``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from . import lexicon as L
from .graph import ACTION, NON_SPATIAL, SPATIAL, Attribute, ConceptGraph, ConceptObject

MAX_PROMPT_CHARS = 4000

# ----------------------------------------------------------------------------------------------- tokens
_WORD_RE = re.compile(r"\d+(?:\.\d+)?[^\W\d_]*|[^\W\d_]+(?:[-'][^\W\d_]+)*(?:-\d+)?|[^\w\s]")
_FRAMING_RE = re.compile(
    r"^\s*(?:(?:a|an|the|one|this|my)\s+)?"
    r"(?:(?:high[- ]quality|high[- ]resolution|realistic|photorealistic|detailed|beautiful|cute|close-up|"
    r"black and white|black-and-white|colou?r|vintage|professional|digital|3d|stock|aerial|macro|studio|hd|"
    r"4k|8k|simple|cartoon|oil|watercolou?r|pencil|amateur|candid|old|blurry|sharp|wide[- ]angle|"
    r"top[- ]down|overhead|nice|good|great|lovely|small|large|clear|funny)\s+){0,4}"
    r"(?:photo|photograph|picture|image|painting|drawing|illustration|render|rendering|sketch|close-up|"
    r"closeup|cartoon|snapshot|shot|portrait|depiction|artwork|watercolou?r|pic|still life)s?\s+(?:of|showing|"
    r"depicting|featuring|with)\s+",
    re.I,
)
PARTICLE_PREPS = {"over", "under", "around", "through", "across", "along", "past", "by", "on", "in", "at",
                  "into", "onto", "upon", "on to", "to", "from", "with", "of", "for", "off", "against", "toward",
                  "towards", "like", "out of", "about", "after", "up", "down", "inside", "within", "among",
                  "amongst", "amid", "amidst", "between", "throughout", "via", "beneath", "underneath",
                  "without", "having", "including", "featuring", "before", "outside"}
ADJ_LIKE_PREPS = {"nearby", "opposite", "past", "inside", "outside", "front", "back", "top", "bottom", "left",
                  "right", "side", "upper", "lower", "middle", "center", "centre"}
EXISTENTIALS = {"there is", "there are", "there was", "there were", "there's", "there stands", "there sits",
                "there lies", "here is", "here are", "there exists", "there exist", "there will be",
                "there appears", "there appear", "there seems to be", "there seem to be", "we see", "you see",
                "you can see", "we can see", "i see", "one can see", "it shows", "it depicts", "showing",
                "depicting", "featuring", "there has been", "there be", "there lay"}


@dataclass
class Tok:
    text: str  # lower-case surface text (several words for merged units)
    kind: str  # word | punct | noun | rel | quant | conj | exist | sub | pron
    value: Any = None


def _build_phrase_table() -> tuple[dict[tuple[str, ...], tuple[str, Any]], int]:
    table: dict[tuple[str, ...], tuple[str, Any]] = {}

    def put(words: tuple[str, ...], kind: str, value: Any) -> None:
        prio = {"noun": 5, "rel": 4, "exist": 4, "quant": 3, "conj": 2, "sub": 1, "pron": 1}
        if words not in table or prio[kind] > prio[table[words][0]]:
            table[words] = (kind, value)

    for phrase, (canon, kind) in L.RELATION_PHRASES.items():
        put(tuple(phrase.split()), "rel", (canon, kind, phrase))
    for phrase, n in list(L.NUMBER_WORDS.items()) + list(L.VAGUE_PLURAL_WORDS.items()):
        if " " in phrase:
            exact = phrase in L.NUMBER_WORDS and phrase not in L.INEXACT_NUMBER_PHRASES
            put(tuple(phrase.split()), "quant", (n, exact, phrase))
    for phrase in L.CONJUNCTIONS:
        if " " in phrase:
            put(tuple(phrase.split()), "conj", phrase)
    for phrase in L.SUBORDINATORS:
        if " " in phrase:
            put(tuple(phrase.split()), "sub", phrase)
    for phrase in EXISTENTIALS:
        put(tuple(phrase.replace("'s", " 's").split()), "exist", phrase)
    for phrase in ("each other", "one another"):
        put(tuple(phrase.split()), "pron", phrase)
    nouns = set(L.MULTIWORD_NOUNS) | {c for c in L.COCO_CLASSES if " " in c} | {
        k for k in L.NOUN_SYNONYMS if " " in k}
    for noun in nouns:
        canon = L.NOUN_SYNONYMS.get(noun, noun)
        put(tuple(noun.split()), "noun", canon)
    return table, max(len(k) for k in table)


_PHRASES, _MAX_PHRASE = _build_phrase_table()


def tokenize(text: str) -> list[Tok]:
    """Lower-cased tokens with multi-word units merged (longest match; multi-word nouns also in the plural)."""
    raw = _WORD_RE.findall(text.lower())
    words: list[str] = []
    for w in raw:
        if w.endswith("'s") and len(w) > 2:  # possessive or contracted "is"
            words += [w[:-2], "'s"]
        elif w.endswith("s'") and len(w) > 2:
            words += [w[:-1], "'s"]
        elif w.endswith("n't"):
            words += [w[:-3], "not"]
        elif "'" in w:
            if w.replace("'", ""):
                words.append(w.replace("'", ""))
        else:
            words.append(w)
    toks: list[Tok] = []
    i = 0
    while i < len(words):
        best: tuple[int, str, Any] | None = None
        for n in range(min(_MAX_PHRASE, len(words) - i), 1, -1):
            seq = tuple(words[i : i + n])
            hit = _PHRASES.get(seq)
            plural = False
            if hit is None or hit[0] != "noun":
                sg, plural = L.singularize(seq[-1])
                alt = _PHRASES.get(seq[:-1] + (sg,))
                if alt is not None and alt[0] == "noun" and sg != seq[-1]:
                    hit = alt
                else:
                    plural = False
            if hit is not None:
                kind, value = hit
                if kind == "noun":
                    value = (value, plural)
                best = (n, kind, value)
                break
        if best is None and (words[i],) in _PHRASES and _PHRASES[(words[i],)][0] in ("rel", "pron"):
            kind, value = _PHRASES[(words[i],)]
            best = (1, kind, value)
        if best is not None:
            n, kind, value = best
            toks.append(Tok(" ".join(words[i : i + n]), kind, value))
            i += n
            continue
        w = words[i]
        toks.append(Tok(w, "word" if (w[0].isalnum() or w == "'s") else "punct"))
        i += 1
    return toks


# ----------------------------------------------------------------------------------------------- chunks
@dataclass
class NP:
    noun: str | None  # canonical head (None: adjectives only, e.g. "blue" in "the sky is blue")
    count: int = 1
    exact: bool = False
    plural: bool = False
    attributes: list[Attribute] = field(default_factory=list)
    determiner: str | None = None  # a / the / number / quantifier phrase / None
    possessor: "NP | None" = None
    ref: int | None = None  # pronoun: resolved object index is filled later
    pronoun: str | None = None
    text: str = ""

    @property
    def definite(self) -> bool:
        return self.determiner in L.DEFINITE_DETERMINERS or self.possessor is not None


@dataclass
class Item:
    kind: str  # NP REL VERB COP HAVE AUX TO CONJ COMMA BOUND SUB RELPRON EXIST NEG ADV PART PRON UNK
    text: str
    np: NP | None = None
    rel: tuple[str, str, str] | None = None  # canonical, kind, surface
    verb: tuple[str, str, str] | None = None  # base (may be a guess), form, -ing form


_BOUNDARY_PUNCT = {".", "!", "?", ";", ":", "—", "–"}
_SKIP_PUNCT = {"(", ")", '"', "'", "[", "]", "{", "}", "*", "#", "/", "\\", "|", "_", "~", "`", "<", ">", "+", "=",
               "^", "%", "$", "@"}
_ADVERB_EXCEPTIONS = {"lily", "jelly", "belly", "family", "fly", "holy", "ally", "bully", "rally", "tally",
                      "butterfly", "dragonfly", "firefly", "folly", "trolley", "pulley", "alley", "valley",
                      "volleyball", "rely", "reply", "supply", "apply", "assembly", "italy", "sly", "ply"}


def _is_adverb(w: str) -> bool:
    if w in L.ADVERBS and w not in ("low", "high", "tall", "hard", "fast", "well", "all", "both", "each"):
        return True
    return (len(w) > 4 and w.endswith("ly") and w not in L.ALL_ADJECTIVES and w not in L.ALL_NOUNS
            and w not in _ADVERB_EXCEPTIONS)


def _verb_info(w: str) -> tuple[str, str, str] | None:
    """(base, form, -ing) for a word that can be a verb, or None. Unknown -ing / -ed words are guessed."""
    if w in ("left", "right") or w in L.COPULAS or w in L.HAVE_WORDS:
        return None
    form = L.verb_form(w)
    if form is not None:
        return L.verb_base(w) or w, form, L.ing_of(w)
    if len(w) > 4 and w.endswith("ing") and w not in L.ING_NOUNS and w not in L.ALL_NOUNS:
        return w[:-3], "ing", w
    if len(w) > 4 and w.endswith("ed") and w not in L.ALL_NOUNS and w not in L.ALL_ADJECTIVES - {"decorated"}:
        return w[:-2], "past", L.ing_of(w)
    return None


class _Chunker:
    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.items: list[Item] = []
        self.i = 0

    # -- helpers
    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if 0 <= j < len(self.toks) else None

    def prev_kind(self) -> str | None:
        for it in reversed(self.items):
            if it.kind not in ("ADV", "NEG"):
                return it.kind
        return None

    def clause_has_verb(self) -> bool:
        for it in reversed(self.items):
            if it.kind in ("BOUND", "SUB", "EXIST"):
                return False
            if it.kind in ("VERB", "COP", "HAVE"):
                return True
        return False

    def boundaryish(self, t: Tok | None) -> bool:
        """Token that typically follows a verb (so a preceding noun-or-verb word is a verb)."""
        if t is None:
            return True
        if t.kind in ("punct", "rel", "conj", "sub", "quant", "exist", "pron"):
            return True
        if t.kind == "noun":
            return False
        w = t.text
        return (w in L.DETERMINERS or L.number_value(w) is not None or w in L.PARTICLES or _is_adverb(w)
                or w in L.PRONOUNS_OBJECT or w in ("and", "or", "to", "not"))

    # -- main loop
    def run(self) -> list[Item]:
        while self.i < len(self.toks):
            start = self.i
            self.step()
            if self.i == start:  # never loop forever
                self.items.append(Item("UNK", self.toks[self.i].text))
                self.i += 1
        return self.items

    def step(self) -> None:
        t = self.toks[self.i]
        w = t.text
        if t.kind == "punct":
            self.i += 1
            if w == ",":
                self.items.append(Item("COMMA", w))
            elif w == "&":
                self.items.append(Item("CONJ", "and"))
            elif w in _BOUNDARY_PUNCT:
                self.items.append(Item("BOUND", w))
            elif w not in _SKIP_PUNCT and not w.isspace():
                self.items.append(Item("UNK", w))
            return
        if t.kind == "rel":
            canon, kind, surface = t.value
            if surface == "to" and self._infinitive_follows():
                self.i += 1
                self.items.append(Item("TO", w))
                return
            if surface in ADJ_LIKE_PREPS and self._starts_np_after(1) and self.prev_kind() in (
                None, "BOUND", "CONJ", "COMMA", "SUB", "EXIST"
            ):
                self.chunk_np()
                return
            self.i += 1
            self.items.append(Item("REL", w, rel=(canon, kind, surface)))
            return
        if t.kind == "conj":
            self.i += 1
            self.items.append(Item("CONJ", w))
            return
        if t.kind == "sub":
            self.i += 1
            self.items.append(Item("SUB", w))
            return
        if t.kind == "exist":
            self.i += 1
            self.items.append(Item("EXIST", w))
            return
        if t.kind == "pron":
            self.i += 1
            self.items.append(Item("PRON", w))
            return
        if t.kind in ("noun", "quant"):
            self.chunk_np()
            return
        # single words
        prev = self.prev_kind()
        if w in ("and", "or", "plus", "nor"):
            self.i += 1
            self.items.append(Item("CONJ", w))
            return
        if w == "'s":
            self.i += 1
            if prev in ("PRON", "EXIST") or (prev == "NP" and self.items[-1].np and self.items[-1].np.pronoun):
                self.items.append(Item("COP", "is"))
            else:
                self.items.append(Item("UNK", w))
            return
        if w in L.RELATIVE_PRONOUNS and (prev in ("NP", "COMMA") and w != "whose"):
            nxt = self.peek(1)
            if w != "that" or nxt is None or not self._starts_np_after(1) or self._verbish_word(nxt):
                self.i += 1
                self.items.append(Item("RELPRON", w))
                return
        if w in L.SUBORDINATORS and not (w == "as" and prev == "COP"):
            self.i += 1
            self.items.append(Item("SUB", w))
            return
        if w in L.COPULAS:
            self.i += 1
            self.items.append(Item("COP", w))
            return
        if w in L.HAVE_WORDS:
            self.i += 1
            self.items.append(Item("HAVE", w))
            return
        if w in L.AUXILIARIES:
            self.i += 1
            self.items.append(Item("AUX", w))
            return
        if w in ("not", "never", "no-one", "nobody", "nothing", "none"):
            self.i += 1
            self.items.append(Item("NEG", w))
            return
        if w in L.PARTICLES and prev == "VERB":
            self.i += 1
            self.items.append(Item("PART", w))
            return
        if w in L.PARTICLES and w not in L.ALL_NOUNS | L.ALL_ADJECTIVES:
            self.i += 1
            self.items.append(Item("ADV", w))
            return
        if w in ("both", "all", "each") and prev in ("COMMA", "NP", "CONJ", "COP") and self.peek(1) is not None \
                and self.peek(1).kind == "word" and _verb_info(self.peek(1).text) is not None \
                and self.peek(1).text not in L.ALL_NOUNS:
            self.i += 1
            self.items.append(Item("ADV", w))  # floating quantifier: "a bear and a cat, both wearing hats"
            return
        if w in L.PRONOUNS_SUBJECT | L.PRONOUNS_OBJECT and not (w == "her" and self._starts_np_after(1)) and not (
            w == "one" and self._starts_np_after(1)
        ):
            self.i += 1
            self.items.append(Item("NP", w, np=NP(None, pronoun=w, text=w)))
            return
        if _is_adverb(w):
            self.i += 1
            self.items.append(Item("ADV", w))
            return
        info = _verb_info(w)
        if info is not None and self._verb_context(prev, info):
            self.i += 1
            self.items.append(Item("VERB", w, verb=info))
            return
        self.chunk_np()

    def _infinitive_follows(self) -> bool:
        nxt = self.peek(1)
        if nxt is None or nxt.kind != "word":
            return False
        return L.verb_form(nxt.text) == "base" and nxt.text not in L.ALL_NOUNS | L.DETERMINERS or (
            nxt.text in L.VERB_BASES and self.prev_kind() in ("VERB", "NP") and nxt.text not in L.DETERMINERS
            and (self.peek(2) is None or self.boundaryish(self.peek(2)) or self.peek(2).kind == "word"
                 and self.peek(2).text in L.DETERMINERS))

    def _starts_np_after(self, k: int) -> bool:
        t = self.peek(k)
        if t is None:
            return False
        if t.kind in ("noun", "quant"):
            return True
        if t.kind != "word":
            return False
        w = t.text
        return not (w in L.COPULAS or w in L.HAVE_WORDS or w in L.AUXILIARIES or w in ("and", "or")
                    or w in L.RELATIVE_PRONOUNS or _is_adverb(w) or w in L.SUBORDINATORS)

    @staticmethod
    def _finite_verb_word(w: str) -> bool:
        if w in L.COPULAS or w in L.AUXILIARIES or w in L.HAVE_WORDS:
            return True
        info = _verb_info(w)
        return info is not None and info[1] in ("base", "3sg") and w not in L.ALL_NOUNS

    def _verbish_word(self, t: Tok) -> bool:
        return t.kind == "word" and (t.text in L.COPULAS or t.text in L.AUXILIARIES or t.text in L.HAVE_WORDS
                                     or _verb_info(t.text) is not None and t.text not in L.ALL_NOUNS)

    def _verb_context(self, prev: str | None, info: tuple[str, str, str]) -> bool:
        """Whether a verb-like word at top level (not inside a noun phrase) is a verb here."""
        base, form, _ = info
        w = self.toks[self.i].text
        if prev in ("NP", "COP", "AUX", "TO", "RELPRON", "VERB", "HAVE", "PRON"):
            if prev == "HAVE" and form not in ("past",):
                return False
            if prev == "VERB" and form not in ("ing", "base"):
                return False
            return True
        if self.items and self.items[-1].kind == "ADV" and self.items[-1].text in ("both", "all", "each"):
            return True
        if prev in ("CONJ", "COMMA"):
            # "... and jotting down notes": a verb when the clause already has one or the next token cannot
            # start the noun this word would modify
            nxt = self.peek(1)
            if form in ("ing", "past", "3sg") and (self.clause_has_verb() or self.boundaryish(nxt)):
                return nxt is None or self.boundaryish(nxt) or w not in L.ALL_NOUNS and form != "past" or (
                    nxt.kind == "word" and nxt.text in L.DETERMINERS)
            return False
        if prev == "ADV":
            return True
        if prev == "SUB" and form == "ing":
            return True
        return False

    # -- noun phrases
    def chunk_np(self) -> None:
        start = self.i
        np = self._np()
        if self.i == start:
            return
        if self.peek() is not None and self.peek().text == "'s" and np.noun is not None:
            self.i += 1
            possessor = np
            head = self._np(allow_det=False)
            if head.noun is not None:
                head.possessor = possessor
                head.determiner = head.determiner or "the"
                np = head
            else:
                np = possessor
        np.text = " ".join(t.text for t in self.toks[start : self.i])
        self.items.append(Item("NP", np.text, np=np))

    def _np(self, allow_det: bool = True) -> NP:
        np = NP(None)
        count: int | None = None
        exact = False
        vague: int | None = None
        mods: list[Tok] = []  # pre-head content tokens incl. the head
        # determiners / quantities
        while allow_det and self.i < len(self.toks):
            t = self.toks[self.i]
            w = t.text
            if t.kind == "quant":
                n, ex, phrase = t.value
                if phrase in L.VAGUE_PLURAL_WORDS and phrase not in L.NUMBER_WORDS:
                    vague = n
                else:
                    count, exact = n, ex
                np.determiner = np.determiner or phrase
                self.i += 1
                continue
            if t.kind != "word":
                break
            v = L.number_value(w)
            if v is not None and not (w in ("single", "lone", "solitary", "twin") and count is not None):
                nxt = self.peek(1)
                if w == "one" and nxt is not None and nxt.text == "of":
                    break
                count, exact = v, w not in L.INEXACT_NUMBER_PHRASES
                np.determiner = np.determiner or w
                self.i += 1
                continue
            if w in L.VAGUE_PLURAL_WORDS:
                vague = L.VAGUE_PLURAL_WORDS[w]
                np.determiner = np.determiner or w
                self.i += 1
                continue
            if w in L.DETERMINERS and not (w == "that" and np.determiner):
                if w == "no":
                    count, exact = 0, True
                np.determiner = np.determiner if np.determiner and w in ("the", "other") else w
                self.i += 1
                continue
            break
        # content words
        while self.i < len(self.toks):
            t = self.toks[self.i]
            if t.kind == "noun":
                mods.append(t)
                self.i += 1
                continue
            if t.kind == "rel" and t.value[2] in ADJ_LIKE_PREPS and not self._has_head(mods) and (
                self._starts_np_after(1)
            ):
                mods.append(Tok(t.text, "word"))
                self.i += 1
                continue
            if t.text in (",", "and", "or", "&"):
                # adjective coordination: "black and white", "plump, juicy", "the sleek, streamlined body"
                if mods and all(L.is_adjective(m.text) or _verb_info(m.text) for m in mods if m.kind == "word") \
                        and not any(m.kind == "noun" for m in mods):
                    nxt = self.peek(1)
                    if nxt is not None and nxt.kind == "word" and (
                        L.is_adjective(nxt.text) and (nxt.text not in L.ALL_NOUNS or self._content_follows(2))
                        or t.text == "," and np.determiner is not None and nxt.text not in L.DETERMINERS
                        and L.number_value(nxt.text) is None and not self._finite_verb_word(nxt.text)
                    ):
                        self.i += 1
                        continue
                break
            if t.kind != "word" or t.text == "'s":
                break
            w = t.text
            if (w in L.DETERMINERS and w not in ("other", "all", "such")) or w in L.COPULAS or w in L.HAVE_WORDS \
                    or w in L.AUXILIARIES or w in ("and", "or", "plus", "nor", "not", "never") \
                    or w in L.SUBORDINATORS or (w in L.RELATIVE_PRONOUNS and mods):
                break
            if L.number_value(w) is not None and w not in ("single", "lone", "solitary", "twin", "twins"):
                if mods or count is not None:
                    break
            if _is_adverb(w) and (mods or w not in L.ALL_ADJECTIVES):
                if not mods and self._content_follows(1):  # "a very big dog"
                    self.i += 1
                    continue
                break
            if w in (L.PRONOUNS_SUBJECT | L.PRONOUNS_OBJECT) - {"one"}:
                break
            if self._has_head(mods) and self._verb_in_np(mods, w, count, vague):
                break
            if not self._has_head(mods) and self._colour_head(mods) and w not in L.ALL_NOUNS:
                info = _verb_info(w)
                if info is not None and info[1] in ("past", "3sg") and self.boundaryish(self.peek(1)):
                    break
            mods.append(t)
            self.i += 1
        self._fill(np, mods, count, exact, vague)
        return np

    def _content_follows(self, k: int) -> bool:
        t = self.peek(k)
        return t is not None and (t.kind == "noun" or t.kind == "word" and t.text not in L.DETERMINERS
                                  and t.text not in ("and", "or"))

    @staticmethod
    def _has_head(mods: list[Tok]) -> bool:
        """Whether the phrase already has a word that can be a noun (so a following verb-form is a verb)."""
        for m in mods:
            if m.kind == "noun":
                return True
            w = m.text
            if w in L.ALL_ADJECTIVES and w not in L.ALL_NOUNS:
                continue
            if w in L.ALL_NOUNS or L.singularize(w)[0] in L.ALL_NOUNS:
                return True
            info = _verb_info(w)
            if not L.is_adjective(w) and (info is None or info[1] not in ("ing", "past")):
                return True
        return False

    @staticmethod
    def _colour_head(mods: list[Tok]) -> bool:
        """The phrase ends in a colour / material word that could be its noun ("the fragrant lavender")."""
        return bool(mods) and mods[-1].kind == "word" and (mods[-1].text in L.COLOURS or mods[-1].text in L.MATERIALS)

    def _verb_in_np(self, mods: list[Tok], w: str, count: int | None, vague: int | None) -> bool:
        """After a noun: is ``w`` a verb ("the timer ticks down") rather than the next part of a compound?"""
        info = _verb_info(w)
        if info is None:
            return False
        base, form, _ = info
        nxt = self.peek(1)
        bound = self.boundaryish(nxt)
        head = mods[-1]
        head_plural = head.value[1] if head.kind == "noun" else L.singularize(head.text)[1]
        # a head that is also an adjective ("a square slice", "a glass measuring cup") is a weak head
        weak_head = head.kind == "word" and head.text in L.ALL_ADJECTIVES
        if nxt is not None and nxt.kind == "rel" and nxt.value[2] == "of" and w in L.ALL_NOUNS:
            return False  # "a slice of", "a cup of"
        if weak_head and (w in L.ALL_NOUNS or not bound and form == "ing"):
            return False
        if form == "ing":
            if w in L.ALL_NOUNS:
                return bound or nxt is not None and nxt.kind == "noun"
            return True
        if form == "past":
            return (w not in L.ALL_NOUNS and w not in L.ALL_ADJECTIVES) or bound
        if w in L.ALL_NOUNS and not bound:
            return False
        if form == "3sg":
            return not head_plural and not (count is not None and count > 1 or vague)
        if form == "base":
            if head_plural:
                return w not in L.ALL_NOUNS or bound
            return self._coordinated_before() and w not in L.ALL_NOUNS
        return False

    def _coordinated_before(self) -> bool:
        """The current noun phrase follows "X and" at the start of a clause ("the pot and spoon simmer")."""
        for it in reversed(self.items):
            if it.kind in ("CONJ", "COMMA"):
                return True
            if it.kind != "NP":
                return False
        return False

    def _fill(self, np: NP, mods: list[Tok], count: int | None, exact: bool, vague: int | None) -> None:
        # head: the last token that can be a noun
        head_at = None
        for k in range(len(mods) - 1, -1, -1):
            m = mods[k]
            if m.kind == "noun":
                head_at = k
                break
            w = m.text
            if w in L.ALL_NOUNS or not L.is_adjective(w) and w not in L.ADVERBS:
                head_at = k
                break
            if k == len(mods) - 1 and (np.determiner or count is not None) and (
                w in L.COLOURS or w in L.MATERIALS or w in L.SHAPES
            ):
                head_at = k  # "an orange", "a glass", "a cube"
                break
        if head_at is not None and head_at != len(mods) - 1:
            # trailing adjectives after a noun ("a cat black")? keep them as attributes of the head
            pass
        pre = mods[:head_at] if head_at is not None else mods
        post = mods[head_at + 1 :] if head_at is not None else []
        attrs: list[Attribute] = []
        compound: list[str] = []
        k = 0
        while k < len(pre):
            w = pre[k].text
            if pre[k].kind == "noun":
                compound.append(pre[k].value[0])
                k += 1
                continue
            nxt = pre[k + 1].text if k + 1 < len(pre) else None
            if w in L.COLOUR_MODIFIERS and nxt is not None and (nxt in L.COLOURS) and w not in L.COLOURS - {
                "navy", "lime", "olive", "mint"
            } or (w in ("dark", "light", "pale", "bright", "deep") and nxt in L.COLOURS):
                attrs.append(Attribute(f"{w} {nxt}", "colour"))
                k += 2
                continue
            is_last_pre = k == len(pre) - 1
            typed = L.attribute_type(w)
            if typed != "other":
                if compound and not is_last_pre:
                    compound = []  # noun-like word followed by adjectives: it was a modifier, not a compound
                attrs.append(Attribute(w, typed))
            elif w in L.ING_NOUNS or (w in L.ALL_NOUNS and w not in L.OTHER_ADJECTIVES):
                compound.append(w)
            elif L.is_adjective(w) or _verb_info(w) is not None or w.endswith(("-", "'")):
                attrs.append(Attribute(w, "other"))
            else:
                compound.append(w)  # unknown word before the head: part of a compound noun
            k += 1
        if compound and pre and pre[-1].kind != "noun" and compound[-1] != pre[-1].text:
            # compound parts must stand right before the head; earlier noun-ish words become "other" attributes
            attrs += [Attribute(c, "other") for c in compound]
            compound = []
        for m in post:
            attrs.append(Attribute(m.text, L.attribute_type(m.text)))
        if head_at is None:
            np.noun = None
            np.attributes = attrs
            return
        head = mods[head_at]
        if head.kind == "noun":
            noun, plural = head.value
        else:
            noun, plural = L.canonical_noun(head.text)
        if compound:
            noun = L.NOUN_SYNONYMS.get(" ".join(compound + [noun]), " ".join(compound + [noun]))
        np.noun = noun
        np.plural = plural
        np.attributes = attrs
        if count is not None:
            np.count, np.exact = count, exact
        elif vague is not None:
            np.count, np.exact = vague, False
        elif (plural or np.determiner in L.PLURAL_DETERMINERS) and np.determiner not in L.SINGULAR_DETERMINERS:
            np.count, np.exact = 2, False
        else:
            np.count, np.exact = 1, False


# ----------------------------------------------------------------------------------------------- clauses
@dataclass
class _Pending:
    predicate: str
    kind: str
    subjects: list[int]
    passive: bool = False  # "chased by X": X is the subject, the listed subjects are the objects
    fronted: bool = False  # "On the table, ...": the following noun phrase is the location


class _Builder:
    def __init__(self, items: list[Item], graph: ConceptGraph) -> None:
        self.items = items
        self.g = graph
        self.subj: list[int] = []
        self.prev_subj: list[int] = []
        self.last_np: int | None = None
        self.pending: _Pending | None = None
        self.last_rel: tuple[_Pending, bool] | None = None
        self.cop = False  # after a copula, waiting for its complement
        self.verb: tuple[tuple[str, str, str], list[int], list[str], bool] | None = None  # info, subjects, particles, after_cop
        self.fronted: list[tuple[str, str, int]] = []
        self.prev: str | None = None
        self.has_verb = False
        self.np_seen = False
        self.verb_at = 0

    def run(self) -> None:
        for k, it in enumerate(self.items):
            handler = getattr(self, f"on_{it.kind.lower()}", None)
            if handler is None:
                self.g.flag(f"unparsed:{it.text}")
            else:
                handler(it, k)
            if it.kind not in ("ADV",):
                self.prev = it.kind
        self.finish_verb()
        if self.pending is not None and not self.pending.fronted:
            self.g.flag(f"dangling_relation:{self.pending.predicate}")
        if not self.g.objects:
            self.g.flag("no_object")

    # -- helpers
    def lookahead(self, k: int) -> str | None:
        for it in self.items[k + 1 :]:
            if it.kind not in ("ADV", "NEG"):
                return it.kind
        return None

    def new_clause(self) -> None:
        self.finish_verb()
        if self.pending is not None and not self.pending.fronted:
            self.g.flag(f"dangling_relation:{self.pending.predicate}")
            self.pending = None
        if self.subj:
            self.prev_subj = self.subj
        self.subj = []
        self.last_rel = None
        self.cop = False
        self.has_verb = False

    def finish_verb(self) -> None:
        """A verb with no object: it describes its subjects ("a sleeping cat", "cakes were decorated")."""
        if self.verb is None:
            return
        (base, form, ing), subjects, particles, after_cop = self.verb
        self.verb = None
        value = self.items[self.verb_at].text if after_cop and form == "past" else ing
        value = " ".join([value] + particles)
        for s in subjects:
            o = self.g.objects[s]
            if all(a.value != value for a in o.attributes):
                o.attributes.append(Attribute(value, "other"))

    def clause_subjects(self) -> list[int]:
        if self.subj:
            return list(self.subj)
        return [self.last_np] if self.last_np is not None else []

    def add_object(self, np: NP) -> int:
        if np.definite and np.count <= 1 and not np.exact:
            for i, o in enumerate(self.g.objects):
                if o.noun == np.noun and all(any(b.value == a.value for b in o.attributes) for a in np.attributes):
                    return i  # "the cat" mentioned again
        attrs: list[Attribute] = []
        for a in np.attributes:
            if all(b.value != a.value for b in attrs):
                attrs.append(a)
        count = max(0, min(np.count, 1000))
        return self.g.add_object(ConceptObject(np.noun, count, np.exact, attrs))

    # -- handlers
    def on_np(self, it: Item, k: int) -> None:
        np = it.np
        if np.pronoun is not None:
            idx = self.resolve_pronoun(np.pronoun, k)
            if idx is None:
                return
            self.attach(idx, np, k, is_pronoun=True)
            return
        if np.noun is None:
            if not np.attributes:
                return
            targets = self.clause_subjects() if self.cop else []
            if not targets and self.verb is not None:
                targets = self.verb[1]  # "stood tall", "turned red": the verb is a copula here
                self.verb = None
            if targets:
                for s in targets:
                    for a in np.attributes:
                        if all(b.value != a.value for b in self.g.objects[s].attributes):
                            self.g.objects[s].attributes.append(a)
            else:
                self.g.flag(f"unattached_attributes:{it.text}")
            return
        if self.cop and self.pending is None and self.verb is None and self.prev in ("COP", "ADV") and (
            self.subj or self.last_np is not None
        ):
            # "the cat is a tabby": a predicate noun, not a new object
            self.g.flag(f"predicate_noun:{np.noun}")
            self.cop = False
            return
        if np.count == 0:
            self.g.flag(f"negation:{np.noun}")
        idx = self.add_object(np)
        if np.possessor is not None and np.possessor.noun is not None:
            p = self.add_object(np.possessor)
            self.g.add_relation(idx, "of", p, NON_SPATIAL)
        self.attach(idx, np, k)

    def attach(self, idx: int, np: NP, k: int, is_pronoun: bool = False) -> None:
        nxt = self.lookahead(k)
        if self.verb is not None and self.pending is None:
            (base, form, ing), subjects, particles, after_cop = self.verb
            self.verb = None
            pred = " ".join([ing] + particles)
            for s in subjects:
                self.g.add_relation(s, pred, idx, ACTION)
            self.last_rel = (_Pending(pred, ACTION, subjects), np.definite)
            self.has_verb = True
        elif self.pending is not None:
            p = self.pending
            self.pending = None
            if p.predicate == "without" and not p.subjects:
                o = self.g.objects[idx]
                o.count, o.exact = 0, True  # "without X": X must be absent
                self.g.flag(f"negation:{o.noun}")
                self.last_np = idx
                return
            if p.fronted:
                self.fronted.append((p.predicate, p.kind, idx))
                self.last_np = idx
                return
            for s in p.subjects:
                if p.passive:
                    self.g.add_relation(idx, p.predicate, s, p.kind)
                else:
                    self.g.add_relation(s, p.predicate, idx, p.kind)
            self.last_rel = (p, np.definite)
        elif self.prev in ("CONJ", "COMMA") and self.last_rel is not None and nxt not in ("VERB", "COP", "HAVE", "AUX") \
                and self._coordinate(np):
            p, _ = self.last_rel
            for s in p.subjects:
                if p.passive:
                    self.g.add_relation(idx, p.predicate, s, p.kind)
                else:
                    self.g.add_relation(s, p.predicate, idx, p.kind)
        elif self.prev in ("CONJ", "COMMA") and self.subj and not self.has_verb and self.last_rel is None:
            self.subj.append(idx)
        elif self.prev in ("RELPRON",):
            pass
        elif not is_pronoun or nxt in ("VERB", "COP", "HAVE", "AUX"):
            if self.prev in ("CONJ", "COMMA", "NP") or self.subj and self.has_verb:
                self.new_clause()
            self.subj = [idx]
            for pred, kind, loc in self.fronted:
                self.g.add_relation(idx, pred, loc, kind)
            self.fronted = []
        self.cop = False
        self.last_np = idx
        self.np_seen = True

    def _coordinate(self, np: NP) -> bool:
        """Does "REL A and B" give "REL B" too? Yes for "the A and the B" / bare nouns, not for "a A and a B"."""
        assert self.last_rel is not None
        _, prev_definite = self.last_rel
        indefinite = np.determiner in ("a", "an", "another") or (np.exact and np.determiner is not None)
        return not indefinite and (np.definite == prev_definite or np.determiner is None)

    def resolve_pronoun(self, pron: str, k: int) -> int | None:
        nxt = self.lookahead(k)
        if pron in ("each other", "one another", "itself", "themselves", "himself", "herself"):
            self.g.flag(f"reflexive:{pron}")
            return None
        if nxt in ("VERB", "COP", "AUX", "HAVE") and pron in L.PRONOUNS_SUBJECT:
            group = self.subj or self.prev_subj
            if group:
                self.new_clause()
                self.subj = list(group)
                return None
        if self.last_np is None:
            self.g.flag(f"unresolved_pronoun:{pron}")
            return None
        if self.verb is not None or self.pending is not None:
            # object pronoun: the most recent noun that is not the verb's own subject
            subjects = self.verb[1] if self.verb is not None else self.pending.subjects
            for i in range(len(self.g.objects) - 1, -1, -1):
                if i not in subjects:
                    return i
            self.g.flag(f"unresolved_pronoun:{pron}")
            return None
        return None

    def on_rel(self, it: Item, k: int) -> None:
        canon, kind, surface = it.rel
        if surface == "without":
            self.finish_verb()
            self.pending = _Pending("without", NON_SPATIAL, [], fronted=False)
            return
        if self.verb is not None:
            (base, form, ing), subjects, particles, after_cop = self.verb
            self.verb = None
            if surface == "by" and form == "past":
                self.pending = _Pending(ing, ACTION, subjects, passive=True)
            elif kind == SPATIAL and surface not in PARTICLE_PREPS:
                self.pending = _Pending(canon, SPATIAL, subjects)
            else:
                # "was mounted on" keeps the participle; active verbs use the -ing form ("sitting on")
                head = self.items[self.verb_at].text if after_cop and form == "past" else ing
                self.pending = _Pending(" ".join([head] + particles + [surface]), ACTION, subjects)
            self.has_verb = True
            return
        if self.prev in ("COP",) or self.cop:
            self.pending = _Pending(canon, kind, self.clause_subjects())
            self.cop = False
            return
        if self.prev == "NP" and self.last_np is not None:
            # "two apples and three oranges on a plate": a coordinated subject shares the relation
            subjects = list(self.subj) if self.group_ends_here() else [self.last_np]
            self.pending = _Pending(canon, kind, subjects)
            return
        if self.prev in ("HAVE",):
            return
        if not self.np_seen or self.prev in ("BOUND", "SUB", "COMMA", "CONJ", None):
            self.pending = _Pending(canon, kind, [], fronted=True)
            return
        if self.last_np is not None:
            self.pending = _Pending(canon, kind, [self.last_np])
        else:
            self.g.flag(f"unparsed:{it.text}")

    def on_verb(self, it: Item, k: int) -> None:
        self.finish_verb()
        base, form, ing = it.verb
        after_cop = self.prev in ("COP",) or self.cop
        if self.prev == "NP" and self.last_np is not None and not self.cop:
            if self.subj and not self.has_verb and self.lookahead_rel(k) != "by" and (
                form != "ing" or self.group_ends_here()
            ):
                subjects = list(self.subj)  # the clause subject ("three cats and two dogs playing ...")
            else:
                subjects = [self.last_np]  # "a cat chasing ...", "a mouse chased by ..."
        elif self.prev in ("SUB", "COMMA") and not self.subj and self.prev_subj:
            subjects = list(self.prev_subj)  # "..., while sitting on the beach"
        elif self.prev == "RELPRON" and self.last_np is not None:
            subjects = [self.last_np]
        else:
            subjects = self.clause_subjects()
        if self.pending is not None and self.pending.predicate == "has":
            self.pending = None  # "has eaten": an auxiliary
        self.cop = False
        self.has_verb = True
        self.verb = ((base, form, ing), subjects, [], after_cop)
        self.verb_at = k

    def group_ends_here(self) -> bool:
        """The last noun phrase closes a coordinated clause subject ("X and Y") with no verb yet."""
        return len(self.subj) > 1 and self.subj[-1] == self.last_np and not self.has_verb and self.last_rel is None

    def lookahead_rel(self, k: int) -> str | None:
        for it in self.items[k + 1 :]:
            if it.kind in ("ADV", "PART"):
                continue
            return it.rel[2] if it.kind == "REL" else None
        return None

    def on_part(self, it: Item, k: int) -> None:
        if self.verb is not None:
            self.verb[2].append(it.text)

    def on_cop(self, it: Item, k: int) -> None:
        self.finish_verb()
        if self.prev == "NP" and self.last_np is not None and self.last_np not in self.subj and self.subj \
                and self.last_rel is None:
            self.subj = [self.last_np]
        self.cop = True
        self.has_verb = True

    def on_have(self, it: Item, k: int) -> None:
        self.finish_verb()
        nxt = self.lookahead(k)
        if nxt == "VERB":
            return  # perfect tense auxiliary
        self.pending = _Pending("has", NON_SPATIAL, self.clause_subjects())
        self.has_verb = True

    def on_aux(self, it: Item, k: int) -> None:
        self.finish_verb()

    def on_to(self, it: Item, k: int) -> None:
        if self.verb is not None:
            subjects = self.verb[1]
            self.finish_verb()
            self.subj = self.subj or subjects

    def on_conj(self, it: Item, k: int) -> None:
        nxt = self.lookahead(k)
        if nxt != "NP" or self.verb is None:
            self.finish_verb()
        if self.cop and nxt != "NP":
            self.cop = False

    def on_comma(self, it: Item, k: int) -> None:
        self.on_conj(it, k)

    def on_bound(self, it: Item, k: int) -> None:
        self.new_clause()

    def on_sub(self, it: Item, k: int) -> None:
        self.new_clause()

    def on_relpron(self, it: Item, k: int) -> None:
        self.finish_verb()
        if self.last_np is not None:
            if self.subj:
                self.prev_subj = self.subj
            self.subj = [self.last_np]
            self.has_verb = False
            self.last_rel = None

    def on_exist(self, it: Item, k: int) -> None:
        self.new_clause()

    def on_neg(self, it: Item, k: int) -> None:
        self.g.flag("negation")

    def on_adv(self, it: Item, k: int) -> None:
        pass

    def on_pron(self, it: Item, k: int) -> None:
        self.g.flag(f"reflexive:{it.text}")
        self.pending = None
        self.verb = None


# ----------------------------------------------------------------------------------------------- API
def strip_framing(text: str) -> str:
    """Drop a leading "a photo of" / "an image of" / "a close-up photograph of" ..."""
    prev = None
    while prev != text:
        prev = text
        text = _FRAMING_RE.sub("", text, count=1)
    return text


def _parse_impl(prompt: str) -> ConceptGraph:
    g = ConceptGraph(prompt=prompt, source="rule")
    text = unicodedata.normalize("NFKC", prompt).replace("’", "'").replace("‘", "'").replace("`", "'")
    if len(text) > MAX_PROMPT_CHARS:
        text = text[:MAX_PROMPT_CHARS]
        g.flag("truncated")
    text = strip_framing(text)
    toks = tokenize(text)
    items = _Chunker(toks).run()
    _Builder(items, g).run()
    return g


def parse(prompt: str) -> ConceptGraph:
    """Parse a prompt. Never raises: unparseable input gives a (possibly empty) graph with ``partial`` set."""
    if not isinstance(prompt, str):
        g = ConceptGraph(prompt=None, source="rule")
        g.flag(f"not_a_string:{type(prompt).__name__}")
        return g
    try:
        return _parse_impl(prompt)
    except Exception as e:  # pragma: no cover - a safety net; the fuzz tests call _parse_impl directly
        g = ConceptGraph(prompt=prompt, source="rule")
        g.flag(f"internal_error:{type(e).__name__}")
        return g


class RuleBasedParser:
    """Callable wrapper with the same interface as :class:`concept_parsers.llm.LLMParser`."""

    name = "rule"

    def __call__(self, prompt: str) -> ConceptGraph:
        return parse(prompt)

    def parse(self, prompt: str) -> ConceptGraph:
        return parse(prompt)

    def parse_many(self, prompts: list[str]) -> list[ConceptGraph]:
        return [parse(p) for p in prompts]
