"""captioning_if: scenes to caption against a reference, and IFEval-style constraints.

Instruction-following answers name checkers of the IFEval registry (`lm_eval.tasks.ifeval`) by their
instruction id, with the keyword arguments of `build_description`; vero.rewards runs the checkers.
The constraints used here are checked by pattern only (no sentence splitter, no language model),
so grading them needs no download.
"""

from __future__ import annotations

import json
import random

from PIL import ImageDraw

from vero.data.veromini.base import EASY_SIDE, Draft, Task, dumps, vocab
from vero.data.veromini.drawing import (
    BACKGROUNDS,
    canvas,
    draw_shape,
    grid_boxes,
    place_boxes,
    position_phrase,
)

CATEGORY = "captioning_if"

_AUDIENCES = (
    "a museum catalogue",
    "a screen reader user",
    "a child",
    "a product listing",
    "a photo archive",
    "a design review",
    "a quiz show host",
    "a friend on the phone",
)
_FORBIDDEN = ("beautiful", "stunning", "amazing", "gorgeous", "lovely", "very", "really", "nice")
_END_PHRASES = ("That is all.", "End of description.", "Nothing else is shown.", "Thank you for reading.")
# The think block of captioning warm-start targets.
_DESCRIBE = "I describe each shape with its color and its place in the picture."


def _scene(rng: random.Random, level: str = "hard"):
    v, easy = vocab(level), level != "hard"  # easy: the fixed canvas of easy and medium
    w, h = (EASY_SIDE, EASY_SIDE) if easy else (rng.randint(110, 160), rng.randint(96, 150))
    bg = rng.choice(tuple(BACKGROUNDS))
    n = rng.randint(1, 2) if easy else rng.randint(2, 4)
    pairs = rng.sample([(c, s) for c in v.colors for s in v.shapes], n)
    if easy:
        boxes = grid_boxes(rng, n, side=w, cells=v.grid, size=v.box)
    else:
        boxes = place_boxes(rng, w, h, n, 18, 32)
    img = canvas(w, h, BACKGROUNDS[bg])
    d = ImageDraw.Draw(img)
    for (c, s), b in zip(pairs, boxes, strict=True):
        draw_shape(d, s, b, fill=c.rgb)
    # The reference is written without commas so it also serves the no-comma constraint.
    # Easy and medium scenes get a short reference: one sentence per shape.
    sentences = [] if easy else [f"The picture has a plain {bg} background with {n} flat shapes on it."]
    for (c, s), b in zip(pairs, boxes, strict=True):
        article = "An" if c.name[0] in "aeiou" else "A"
        sentences.append(f"{article} {c.name} {s} is {position_phrase(b, w, h)}.")
    return img, pairs, " ".join(sentences)


def caption(rng: random.Random, level: str = "hard") -> Draft:
    img, _, reference = _scene(rng, level)
    q = rng.choice(
        (
            "Describe this image for {a}.",
            "Write a short, accurate caption of the picture for {a}.",
            "What does this image show? Answer in a few sentences suitable for {a}.",
        )
    ).format(a=rng.choice(_AUDIENCES))
    why = _DESCRIBE
    return Draft(q, [img], "llm_judge", reference, None, {"reference": reference}, why, reference)


# Constraint builders: each returns (instruction dict, the sentence asking for it).
def _no_comma(rng, pairs, level="hard"):
    return {"class": "punctuation:no_comma", "args": {}}, "Do not use any commas."


def _min_words(rng, pairs, level="hard"):
    n = rng.choice((5, 8) if level != "hard" else (15, 20, 25))
    return {"class": "length_constraints:number_words", "args": {"num_words": n, "relation": "at least"}}, (
        f"Write at least {n} words."
    )


def _max_words(rng, pairs, level="hard"):
    n = rng.choice((90, 110, 130))
    return {"class": "length_constraints:number_words", "args": {"num_words": n, "relation": "less than"}}, (
        f"Keep it under {n} words."
    )


def _keywords(rng, pairs, level="hard"):
    c, s = rng.choice(pairs)
    words = [c.name, s]
    return {"class": "keywords:existence", "args": {"keywords": words}}, (
        f"Mention the words {' and '.join(repr(w) for w in words)}."
    )


def _forbidden(rng, pairs, level="hard"):
    words = rng.sample(_FORBIDDEN, 2)
    return {"class": "keywords:forbidden_words", "args": {"forbidden_words": words}}, (
        f"Never use the words {' or '.join(repr(w) for w in words)}."
    )


def _postscript(rng, pairs, level="hard"):
    return {"class": "detectable_content:postscript", "args": {"postscript_marker": "P.S."}}, (
        "Add a postscript starting with P.S. at the end."
    )


def _title(rng, pairs, level="hard"):
    return {
        "class": "detectable_format:title",
        "args": {},
    }, "Give your answer a title wrapped in double angular brackets, like <<my title>>."


def _end_phrase(rng, pairs, level="hard"):
    phrase = rng.choice(_END_PHRASES)
    return {"class": "startend:end_checker", "args": {"end_phrase": phrase}}, (
        f"Finish your response with the exact phrase '{phrase}'"
    )


def _bullets(rng, pairs, level="hard"):
    n = len(pairs)
    return {"class": "detectable_format:number_bullet_lists", "args": {"num_bullets": n}}, (
        f"Use exactly {n} markdown bullet points, one per shape."
    )


_CONSTRAINTS = (
    _no_comma,
    _min_words,
    _max_words,
    _keywords,
    _forbidden,
    _postscript,
    _title,
    _end_phrase,
    _bullets,
)
_EXCLUSIVE = ({_min_words, _max_words},)


def _pick_constraints(rng: random.Random, pairs, level: str = "hard") -> tuple[list[dict], list[str]]:
    k = rng.randint(1, 2) if level != "hard" else rng.randint(2, 3)
    chosen: list = []
    for fn in rng.sample(_CONSTRAINTS, len(_CONSTRAINTS)):
        if any(fn in group and chosen_fn in group for group in _EXCLUSIVE for chosen_fn in chosen):
            continue
        chosen.append(fn)
        if len(chosen) == k:
            break
    built = [fn(rng, pairs, level) for fn in sorted(chosen, key=_CONSTRAINTS.index)]
    return [b[0] for b in built], [b[1] for b in built]


def _rules_rationale(n_rules: int) -> str:
    return f"{_DESCRIBE} Then I check the {n_rules} rule{'s' if n_rules > 1 else ''} one by one."


def instruction_caption(rng: random.Random, level: str = "hard") -> Draft:
    img, pairs, reference = _scene(rng, level)
    instructions, asks = _pick_constraints(rng, pairs, level)
    q = "Describe the image. " + " ".join(asks)
    gold = dumps({"instructions": instructions})
    return Draft(
        q,
        [img],
        "instruction_following",
        gold,
        None,
        {"reference": reference, "pairs": pairs},
        _rules_rationale(len(instructions)),
        compliant_response(gold, reference),
    )


def instruction_caption_judged(rng: random.Random, level: str = "hard") -> Draft:
    img, pairs, reference = _scene(rng, level)
    instructions, asks = _pick_constraints(rng, pairs, level)
    q = f"Write a caption of this image for {rng.choice(_AUDIENCES)}. " + " ".join(asks)
    gold = dumps({"instructions": instructions, "reference": reference})
    return Draft(
        q,
        [img],
        "instruction_following_llm_judge",
        gold,
        None,
        {"reference": reference, "pairs": pairs},
        _rules_rationale(len(instructions)),
        compliant_response(gold, reference),
    )


def compliant_response(answer: str, reference: str) -> str:
    """A response built from `reference` that satisfies every constraint in `answer` (JSON).

    Used by the tests to show each generated sample is satisfiable, and usable as an SFT target.
    """
    spec = json.loads(answer)
    args = {ins["class"]: ins.get("args", {}) for ins in spec["instructions"]}
    sentences = [s.strip().rstrip(".") + "." for s in reference.replace(",", "").split(". ") if s.strip()]
    for word in args.get("keywords:forbidden_words", {}).get("forbidden_words", []):
        sentences = [
            " ".join(t for t in s.split() if t.strip(".").lower() != word.lower()) for s in sentences
        ]
    keywords = args.get("keywords:existence", {}).get("keywords", [])
    if keywords:
        sentences.append("Key words: " + " and ".join(keywords) + ".")
    if "detectable_format:number_bullet_lists" in args:
        n = args["detectable_format:number_bullet_lists"]["num_bullets"]
        head, rest = sentences[:1], sentences[1:]
        bullets = rest[:n] + [f"Shape number {i + 1}." for i in range(len(rest), n)]
        tail = rest[n:]
        body = (
            " ".join(head)
            + "\n"
            + "\n".join(f"* {b}" for b in bullets)
            + ("\n" + " ".join(tail) if tail else "")
        )
    else:
        body = " ".join(sentences)
    need = args.get("length_constraints:number_words", {})
    if need.get("relation") == "at least":
        filler = " The shapes are drawn with solid colors and sharp edges."
        while len(body.split()) < need["num_words"] + 2:
            body += filler
    parts = []
    if "detectable_format:title" in args:
        parts.append("<<A Scene Of Shapes>>")
    parts.append(body)
    end = args.get("startend:end_checker", {}).get("end_phrase")
    if "detectable_content:postscript" in args:
        parts.append("P.S. The description covers every shape" + (f" {end}" if end else "."))
    elif end:
        parts.append(end)
    return "\n".join(parts)


TASKS = (
    Task("caption", CATEGORY, "llm_judge", caption),
    Task("instruction_caption", CATEGORY, "instruction_following", instruction_caption),
    Task(
        "instruction_caption_judged", CATEGORY, "instruction_following_llm_judge", instruction_caption_judged
    ),
)
