"""A small byte-level BPE tokenizer with the Qwen special tokens, trained offline.

The tiny models have no pretrained tokenizer to download, so one is trained locally on a corpus
that looks like this project's traffic: the system prompt, think/answer tags, \\boxed{} answers,
JSON boxes/points/web actions, digits, option letters, everyday English and the questions and
worked answers of the embedded VeroMini tasks. Byte-level BPE can
encode any text; the corpus only decides which strings get short encodings.
"""

from __future__ import annotations

import random

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from vero.prompts import SYSTEM_PROMPT, render_options

# Control tokens of the Qwen chat/vision format: special (stripped by skip_special_tokens).
QWEN_SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Reasoning tags: single tokens but NOT special, as in Qwen3's tokenizer, so that decoding a
# completion with skip_special_tokens=True (what TRL does) keeps them for the format reward.
REASONING_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")
SPECIAL_TOKENS = QWEN_SPECIAL_TOKENS + REASONING_TOKENS

PAD_TOKEN = "<|endoftext|>"
EOS_TOKEN = "<|im_end|>"

# Everyday words of questions, reasoning and answers; split below.
_WORD_TEXT = """
the a an of and or to in on at for with from by is are was were be it this that these those there
here what which who where when why how many much more less most least than then so if not no yes
true false image picture photo chart graph table figure diagram plot axis label value values total
sum difference average mean ratio percent percentage number count left right top bottom above below
next between inside outside front behind near far large small big tall short red blue green yellow
black white orange purple gray brown pink color shape circle square triangle rectangle star line
point box object person people man woman car dog cat tree house sign text word title year month day
time price answer question option choice correct final step first second third last think reason
look see find read compare because therefore since let us we need check shows show each all both
only one two three four five six seven eight nine ten hundred thousand describe caption write
sentence paragraph words click button page web search select type scroll menu grid cell row column
"""
_WORDS = _WORD_TEXT.split()


def _veromini_lines(seed: int, per_task: int = 24) -> list[str]:
    """Questions and worked answers of VeroMini tasks at every difficulty, the embedded dataset's
    traffic. Only questions the held-out split can never hold are used (vero.data.veromini), so
    the tokenizer is not fitted to evaluation text."""
    from vero.data.schema import normalize_question
    from vero.data.veromini import TASKS
    from vero.data.veromini.base import DIFFICULTIES
    from vero.data.veromini.generator import question_in

    rng = random.Random(f"tokenizer-corpus:{seed}")
    lines = []
    for tasks in TASKS.values():
        for task in tasks:
            for level in DIFFICULTIES:
                for _ in range(per_task):
                    try:
                        draft = task.make(rng, level)
                    except RuntimeError:  # no room for this draw's shapes
                        continue
                    if question_in(normalize_question(draft.question), "heldout"):
                        continue
                    answer = draft.response or draft.answer
                    lines.append(draft.question)
                    lines.append(f"<think>\n{draft.rationale}\n</think>\n<answer>{answer}</answer>")
    return lines


def _corpus_lines(seed: int = 0, n_sentences: int = 1500) -> list[str]:
    """Deterministic training text for the BPE merges (see module docstring)."""
    rng = random.Random(seed)
    # The system prompt opens every sequence: weight it so its words become single tokens.
    lines = [SYSTEM_PROMPT] * 200 + ["0123456789 .,;:!?()[]{}<>+-*/=^_\\|'\"#$%&@~` \n\t"]
    lines.append(render_options(["yes", "no", "cannot tell", "red circle"]))
    for i in range(n_sentences):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
        sentence = " ".join(words).capitalize() + rng.choice([".", "?", "!", ","])
        a, b = rng.randint(0, 999), rng.randint(1, 99)
        x1, y1 = rng.randint(0, 600), rng.randint(0, 600)
        x2, y2 = x1 + rng.randint(5, 400), y1 + rng.randint(5, 400)
        letter = rng.choice("ABCDEFGH")
        kind = i % 6
        if kind == 0:
            answer = f"\\boxed{{{a}}}"
        elif kind == 1:
            answer = f"\\boxed{{{letter}}}"
        elif kind == 2:
            answer = f'[{{"bbox_2d": [{x1}, {y1}, {x2}, {y2}], "label": "{rng.choice(_WORDS)}"}}]'
        elif kind == 3:
            answer = f'[{{"point_2d": [{x1}, {y1}]}}]'
        elif kind == 4:
            answer = f'\\boxed{{{{"ACTION": "CLICK", "MARK": {b}, "VALUE": "None"}}}}'
        else:
            answer = f"\\boxed{{{a}.{b}}} = \\frac{{{a}}}{{{b}}} + {a % 7}^{{2}}"
        lines.append(f"<think>\n{sentence} {a} + {b} = {a + b}.\n</think>\n<answer>{answer}</answer>")
        lines.append(f"{sentence}\n{letter}. {rng.choice(_WORDS)} {rng.choice(_WORDS)}")
    return lines + _veromini_lines(seed)


def build_tokenizer(vocab_size: int = 512, seed: int = 0, model_max_length: int = 32768):
    """Train the byte-level BPE and wrap it as a `PreTrainedTokenizerFast`.

    `vocab_size` is the total size including special and reasoning tokens; it must leave room
    for the 256 byte symbols plus the added tokens.
    """
    from transformers import PreTrainedTokenizerFast

    minimum = 256 + len(SPECIAL_TOKENS)
    if vocab_size < minimum:
        raise ValueError(
            f"vocab_size must be at least {minimum} (256 bytes + added tokens), got {vocab_size}"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(REASONING_TOKENS),
        special_tokens=list(QWEN_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus_lines(seed), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in REASONING_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        unk_token=None,
        additional_special_tokens=list(QWEN_SPECIAL_TOKENS[1:]),
        model_max_length=model_max_length,
        padding_side="left",
    )
