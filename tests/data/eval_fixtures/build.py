# ruff: noqa: E501 (rows of data: long literal strings)
"""Write the VeroEval fixtures: a few rows of each of the 30 benchmarks in its published layout.

    python tests/data/eval_fixtures/build.py      # rewrites tests/data/eval_fixtures/<benchmark>/

The layouts follow the fields the release's evaluation code reads (zlab-princeton/vero at
8c81e37, vero-eval/lmms_eval/tasks/<task>/utils.py) and, where the search tools reach them, the
hub dataset cards (config/veroeval.yaml `evidence` says which). Parquet files are written with
`datasets` features (Image columns as {bytes, path} structs, as the hub stores them); other
layouts as the hub publishes them (JSON + image folders, base64 text, annotations/ + images/).
Images are tiny solid-colour PNGs of distinct sizes. Questions and answers are made up; the rows
include the cases that shape a prompt (units, inline options, instructions the release strips,
conversation turns, an AerialVG row without regions, a CountQA row without questions).
`index.json` maps each benchmark to its local copy (for `eval.local_data`).
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import datasets
from PIL import Image

HERE = Path(__file__).resolve().parent
datasets.disable_progress_bars()
COLORS = [(220, 40, 40), (40, 160, 60), (40, 70, 200), (230, 190, 30), (140, 60, 170), (20, 170, 170)]


def png(w: int = 32, h: int = 24, k: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), COLORS[k % len(COLORS)]).save(buf, format="PNG")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


IMG = datasets.Image()
STR = datasets.Value("string")
INT = datasets.Value("int64")
FLOAT = datasets.Value("float64")
STRS = datasets.Sequence(STR)


def parquet(key: str, rows: list[dict], features: dict, name: str = "test.parquet") -> str:
    folder = HERE / key
    folder.mkdir(parents=True, exist_ok=True)
    cols = {k: [r.get(k) for r in rows] for k in features}
    datasets.Dataset.from_dict(cols, features=datasets.Features(features)).to_parquet(str(folder / name))
    return f"{key}/{name}"


def chart_ocr() -> dict[str, str]:
    out = {}
    out["chartqa"] = parquet(
        "chartqa",
        [
            {
                "image": png(40, 30, 0),
                "question": "What is the value of the tallest bar?",
                "answer": "42",
                "type": "human_test",
            },
            {
                "image": png(36, 28, 1),
                "question": " Which year had the lowest sales? ",
                "answer": "2019",
                "type": "augmented_test",
            },
        ],
        {"image": IMG, "question": STR, "answer": STR, "type": STR},
    )
    # ChartQA-Pro stores the image as raw bytes; Question/Answer are lists (one entry per turn)
    out["chartqa_pro"] = parquet(
        "chartqa_pro",
        [
            {
                "image": png(40, 30, 2),
                "Question": ["What is the maximum value shown?"],
                "Answer": ["12.5"],
                "Question Type": "Factoid",
                "Year": ["NO"],
            },
            {
                "image": png(40, 30, 3),
                "Question": ["The blue line is always above the red line."],
                "Answer": ["false"],
                "Question Type": "Fact Checking",
                "Year": ["NO"],
            },
            {
                "image": png(40, 30, 4),
                "Question": ["Which region grew fastest?", "By how much did it grow?"],
                "Answer": ["East", "15%"],
                "Question Type": "Conversational",
                "Year": ["NO", "NO"],
            },
            {
                "image": png(40, 30, 5),
                "Question": ["Which option is correct? A) 10 B) 20"],
                "Answer": ["B"],
                "Question Type": "Multi Choice",
                "Year": ["NO"],
            },
        ],
        {
            "image": datasets.Value("binary"),
            "Question": STRS,
            "Answer": STRS,
            "Question Type": STR,
            "Year": STRS,
        },
    )
    out["infovqa"] = parquet(
        "infovqa",
        [
            {
                "questionId": "65718",
                "image": png(30, 50, 0),
                "question": "Which country has the largest share?",
                "answers": ["USA", "united states"],
            },
            {
                "questionId": "65719",
                "image": png(30, 50, 1),
                "question": "What percentage use social media?",
                "answers": ["68%"],
            },
        ],
        {"questionId": STR, "image": IMG, "question": STR, "answers": STRS},
    )
    out["charxiv_reasoning"] = parquet(
        "charxiv_reasoning",
        [
            {
                "image": png(40, 30, 0),
                "reasoning_q": "Which subplot has the highest peak?",
                "reasoning_a": "(b)",
                "reasoning_q_source": 1,
                "figure_path": "images/0.jpg",
            },
            {
                "image": png(40, 30, 1),
                "reasoning_q": "Does the green line cross the red line?",
                "reasoning_a": "Yes",
                "reasoning_q_source": 2,
                "figure_path": "images/1.jpg",
            },
            {
                "image": png(40, 30, 2),
                "reasoning_q": "What is the value at x=3?",
                "reasoning_a": "0.75",
                "reasoning_q_source": 3,
                "figure_path": "images/2.jpg",
            },
            {
                "image": png(40, 30, 3),
                "reasoning_q": "What is the difference between the two maxima?",
                "reasoning_a": "1.25",
                "reasoning_q_source": 4,
                "figure_path": "images/3.jpg",
            },
            {
                "image": png(40, 30, 4),
                "reasoning_q": "How many lines are there?",
                "reasoning_a": "7",
                "reasoning_q_source": 4,
                "figure_path": "images/4.jpg",
            },
        ],
        {"image": IMG, "reasoning_q": STR, "reasoning_a": STR, "reasoning_q_source": INT, "figure_path": STR},
    )
    out["chartmuseum"] = parquet(
        "chartmuseum",
        [
            {
                "id": "cm-1",
                "image": png(44, 33, 0),
                "question": "  Which category is second largest?  ",
                "answer": "Food",
                "reasoning_type": "visual",
                "source": "arxiv",
            },
            {
                "id": "cm-2",
                "image": png(44, 33, 1),
                "question": "How many bars exceed 50?",
                "answer": "3",
                "reasoning_type": "text",
                "source": "web",
            },
        ],
        {"id": STR, "image": IMG, "question": STR, "answer": STR, "reasoning_type": STR, "source": STR},
    )
    out["evochart"] = parquet(
        "evochart",
        [
            {
                "image": png(50, 40, 2),
                "question": "What is the average of the series? ",
                "answer": "3.5",
                "is_clear": False,
            },
            {"image": png(50, 40, 3), "question": "Which month peaks?", "answer": "July", "is_clear": True},
        ],
        {"image": IMG, "question": STR, "answer": STR, "is_clear": datasets.Value("bool")},
        name="train.parquet",
    )
    return out


def stem() -> dict[str, str]:
    out = {}
    imgs = {f"image_{i}": IMG for i in range(1, 8)}
    out["mmmu_pro_standard"] = parquet(
        "mmmu_pro_standard",
        [
            {
                "id": "test_Art_1",
                "question": "<image 2> shows a later copy of <image 1>. Which artist?",
                "options": "['Monet', 'Manet', 'Degas', 'Renoir']",
                "answer": "B",
                "subject": "Art",
                "image_1": png(30, 20, 0),
                "image_2": png(20, 30, 1),
            },
            {
                "id": "test_Math_2",
                "question": "What is the area of the triangle?",
                "options": "['6', '<image 1> 12', '18']",
                "answer": "A",
                "subject": "Math",
                "image_1": png(25, 25, 2),
            },
        ],
        {"id": STR, "question": STR, "options": STR, "answer": STR, "subject": STR, **imgs},
    )
    out["mmmu_pro_vision"] = parquet(
        "mmmu_pro_vision",
        [
            {
                "id": "test_Bio_1",
                "image": png(60, 45, 3),
                "options": "['Ribosome', 'Nucleus', 'Golgi']",
                "answer": "C",
                "subject": "Biology",
            },
            {
                "id": "test_Phy_2",
                "image": png(60, 45, 4),
                "options": "['1 m/s', '2 m/s']",
                "answer": "A",
                "subject": "Physics",
            },
        ],
        {"id": STR, "image": IMG, "options": STR, "answer": STR, "subject": STR},
    )
    out["mathvision"] = parquet(
        "mathvision",
        [
            {
                "id": "1",
                "question": "<image1>Which figure comes next?",
                "options": ["A", "B", "C", "D", "E"],
                "answer": "C",
                "decoded_image": png(40, 40, 0),
            },
            {
                "id": "2",
                "question": "How many triangles are in <image1>?",
                "options": [],
                "answer": "7",
                "decoded_image": png(40, 40, 1),
            },
            {
                "id": "3",
                "question": "Which value is the largest? <image1>",
                "options": ["$\\frac{1}{2}$", "0.6", "$\\sqrt{0.3}$"],
                "answer": "B",
                "decoded_image": png(40, 40, 2),
            },
        ],
        {"id": STR, "question": STR, "options": STRS, "answer": STR, "decoded_image": IMG},
    )
    out["mathvista_testmini"] = parquet(
        "mathvista_testmini",
        [
            {
                "pid": "1",
                "question": "What is the length of the rod?",
                "decoded_image": png(48, 32, 3),
                "choices": None,
                "unit": "cm",
                "precision": 1.0,
                "answer": "8.5",
                "question_type": "free_form",
                "answer_type": "float",
                "query": "q1",
            },
            {
                "pid": "2",
                "question": "Which shape has the most sides?",
                "decoded_image": png(48, 32, 4),
                "choices": ["triangle", "square", "hexagon"],
                "unit": None,
                "precision": None,
                "answer": "hexagon",
                "question_type": "multi_choice",
                "answer_type": "text",
                "query": "q2",
            },
            {
                "pid": "3",
                "question": "How many apples are there?",
                "decoded_image": png(48, 32, 5),
                "choices": None,
                "unit": "",
                "precision": None,
                "answer": "4",
                "question_type": "free_form",
                "answer_type": "integer",
                "query": "q3",
            },
        ],
        {
            "pid": STR,
            "question": STR,
            "decoded_image": IMG,
            "choices": STRS,
            "unit": STR,
            "precision": FLOAT,
            "answer": STR,
            "question_type": STR,
            "answer_type": STR,
            "query": STR,
        },
        name="testmini.parquet",
    )
    return out


def spatial_action() -> dict[str, str]:
    out = {}
    out["blink"] = parquet(
        "blink",
        [
            {
                "idx": "val_Counting_1",
                "question": "How many cups?",
                "image_1": png(32, 24, 0),
                "image_2": None,
                "image_3": None,
                "image_4": None,
                "choices": ["2", "3", "4"],
                "answer": "(B)",
                "prompt": "How many cups are on the table?\nSelect from the following choices.\n(A) 2\n(B) 3\n(C) 4",
                "sub_task": "Counting",
            },
            {
                "idx": "val_Jigsaw_2",
                "question": "Which piece fits?",
                "image_1": png(32, 24, 1),
                "image_2": png(16, 16, 2),
                "image_3": png(16, 16, 3),
                "image_4": None,
                "choices": ["the first image", "the second image"],
                "answer": "(A)",
                "prompt": "Which image fits the missing part?\nSelect from the following choices.\n(A) the first image\n(B) the second image\n",
                "sub_task": "Jigsaw",
            },
        ],
        {
            "idx": STR,
            "question": STR,
            "image_1": IMG,
            "image_2": IMG,
            "image_3": IMG,
            "image_4": IMG,
            "choices": STRS,
            "answer": STR,
            "prompt": STR,
            "sub_task": STR,
        },
        name="val.parquet",
    )
    out["erqa"] = parquet(
        "erqa",
        [
            {
                "question_id": "erqa-1",
                "question": "Which way should the robot turn? A. left B. right C. straight D. back Please answer directly with only the letter of the correct option and nothing else.",
                "answer": "A",
                "images": [png(32, 24, 0), png(32, 24, 1)],
                "question_type": "Trajectory Reasoning",
            },
            {
                "question_id": "erqa-2",
                "question": "Is the gripper closed? Choices: (A) yes (B) no",
                "answer": "B",
                "images": [png(32, 24, 2)],
                "question_type": "State Estimation",
            },
        ],
        {
            "question_id": STR,
            "question": STR,
            "answer": STR,
            "images": datasets.Sequence(IMG),
            "question_type": STR,
        },
    )
    out["gameqa_lite"] = parquet(
        "gameqa_lite",
        [
            {
                "image": png(40, 40, 3),
                "question": "Which piece moves next? Answer with the piece name. ",
                "answer": "Knight",
                "game_name": "chess",
                "state": "s1",
            },
            {
                "image": png(40, 40, 4),
                "question": "How many empty cells remain?",
                "answer": "5",
                "game_name": "sudoku",
                "state": "s2",
            },
        ],
        {"image": IMG, "question": STR, "answer": STR, "game_name": STR, "state": STR},
        name="train.parquet",
    )
    out["embspatial"] = parquet(
        "embspatial",
        [
            {
                "question_id": "emb-1",
                "image": png(32, 24, 5),
                "question": "Where is the chair relative to the table?",
                "answer_options": ["left", "right", "above", "below"],
                "answer": 1,
                "relation": "left/right",
            },
            {
                "question_id": "emb-2",
                "image": png(32, 24, 0),
                "question": "Which object is closer?",
                "answer_options": ["lamp", "sofa"],
                "answer": 0,
                "relation": "close/far",
            },
        ],
        {
            "question_id": STR,
            "image": IMG,
            "question": STR,
            "answer_options": STRS,
            "answer": INT,
            "relation": STR,
        },
    )
    out["cv_bench"] = parquet(
        "cv_bench",
        [
            {
                "idx": 0,
                "type": "2D",
                "task": "Count",
                "image": png(32, 24, 1),
                "question": "How many chairs?",
                "choices": ["1", "2", "3"],
                "answer": "(C)",
                "prompt": "How many chairs are in the image? Select from the following choices.\n(A) 1\n(B) 2\n(C) 3",
                "source": "ADE20K",
            },
            {
                "idx": 1,
                "type": "3D",
                "task": "Depth",
                "image": png(32, 24, 2),
                "question": "Which is closer?",
                "choices": ["lamp", "bed"],
                "answer": "(A)",
                "prompt": " Which is closer to the camera, the lamp or the bed?\n(A) lamp\n(B) bed ",
                "source": "Omni3D",
            },
        ],
        {
            "idx": INT,
            "type": STR,
            "task": STR,
            "image": IMG,
            "question": STR,
            "choices": STRS,
            "answer": STR,
            "prompt": STR,
            "source": STR,
        },
    )
    return out


def knowledge() -> dict[str, str]:
    out = {}
    out["realworldqa"] = parquet(
        "realworldqa",
        [
            {
                "image": png(40, 30, 3),
                "question": "How many lanes does the road have? Please answer directly with a single word or number.",
                "answer": "3",
            },
            {
                "image": png(40, 30, 4),
                "question": "Which object is nearest? A. the car B. the tree C. the sign Please answer directly with only the letter of the correct option and nothing else.",
                "answer": "B",
            },
        ],
        {"image": IMG, "question": STR, "answer": STR},
    )
    out["simplevqa"] = parquet(
        "simplevqa",
        [
            {
                "data_id": 11,
                "image": png(32, 32, 5),
                "question": "Which city is this landmark in? ",
                "answer": "Paris",
                "source": "wiki",
                "original_category": "travel",
                "vqa_category": "place",
            },
            {
                "data_id": 12,
                "image": png(32, 32, 0),
                "question": "What breed is the dog?",
                "answer": "Beagle",
                "source": "web",
                "original_category": "animal",
                "vqa_category": "entity",
            },
        ],
        {
            "data_id": INT,
            "image": IMG,
            "question": STR,
            "answer": STR,
            "source": STR,
            "original_category": STR,
            "vqa_category": STR,
        },
    )
    prompt_msg = [{"role": STR, "content": STR}]
    out["fvqa"] = parquet(
        "fvqa",
        [
            {
                "data_id": "fvqa-1",
                "images": [png(32, 24, 1)],
                "prompt": [{"role": "user", "content": "<image>What is this animal known for eating?"}],
                "reward_model": {"ground_truth": "bamboo", "candidate_answers": ["bamboo", "bamboo shoots"]},
                "data_source": "fvqa",
                "source": "kb",
            },
            {
                "data_id": "fvqa-2",
                "images": [png(32, 24, 2), png(8, 8, 3)],
                "prompt": [
                    {"role": "user", "content": "<image>\nWhich country produces most of this fruit? "}
                ],
                "reward_model": {"ground_truth": "India", "candidate_answers": ["India"]},
                "data_source": "fvqa",
                "source": "kb",
            },
        ],
        {
            "data_id": STR,
            "images": datasets.Sequence(IMG),
            "prompt": prompt_msg,
            "reward_model": {"ground_truth": STR, "candidate_answers": STRS},
            "data_source": STR,
            "source": STR,
        },
        name="fvqa_test.parquet",
    )
    out["mmvet_v2"] = parquet(
        "mmvet_v2",
        [
            {
                "question": "<IMG><image_0>What is written on the sign?",
                "answer": "STOP",
                "image_0": png(40, 20, 4),
                "image_1": None,
                "capability": "ocr,rec",
            },
            {
                "question": "Compare <IMG><image_0> and <IMG><image_1>. Which is larger?",
                "answer": "the second<AND>the right one",
                "image_0": png(20, 20, 5),
                "image_1": png(30, 20, 0),
                "capability": "rec,spat",
            },
        ],
        {"question": STR, "answer": STR, "image_0": IMG, "image_1": IMG, "capability": STR},
    )
    return out


def grounding() -> dict[str, str]:
    out = {}
    out["countbenchqa"] = parquet(
        "countbenchqa",
        [
            {"image": png(32, 24, 1), "question": " How many birds are there? ", "number": 4},
            {"image": png(32, 24, 2), "question": "How many coins are in the picture?", "number": 9},
        ],
        {"image": IMG, "question": STR, "number": INT},
    )
    out["countqa"] = parquet(
        "countqa",
        [
            {
                "image": png(32, 24, 3),
                "questions": ["How many forks?", " How many spoons? "],
                "answers": ["3", "5"],
                "objects": ["fork", "spoon"],
                "categories": ["kitchen"],
                "is_focused": True,
                "full_config": "cfg-a",
            },
            {
                "image": png(32, 24, 4),
                "questions": [],
                "answers": [],
                "objects": [],
                "categories": [],
                "is_focused": False,
                "full_config": "cfg-b",
            },
            {
                "image": png(32, 24, 5),
                "questions": ["How many pens?"],
                "answers": [],
                "objects": ["pen"],
                "categories": ["office"],
                "is_focused": False,
                "full_config": "cfg-c",
            },
        ],
        {
            "image": IMG,
            "questions": STRS,
            "answers": STRS,
            "objects": STRS,
            "categories": STRS,
            "is_focused": datasets.Value("bool"),
            "full_config": STR,
        },
    )
    out["mme_realworld"] = parquet(
        "mme_realworld",
        [
            {
                "index": 101,
                "question": "What is the color of the car on the left?",
                "multi-choice options": [
                    "(A) red",
                    "(B) blue",
                    "(C) white",
                    "(D) black",
                    "(E) The image does not feature the car.",
                ],
                "answer": "C",
                "category": "Perception/color",
                "l2-category": "attribute",
                "bytes": b64(png(64, 48, 0)),
            },
            {
                "index": 102,
                "question": "How many people are crossing?",
                "multi-choice options": ["(A) 1", "(B) 2", "(C) 3", "(D) 4", "(E) 5"],
                "answer": "B",
                "category": "Reasoning/count",
                "l2-category": "counting",
                "bytes": b64(png(64, 48, 1)),
            },
        ],
        {
            "index": INT,
            "question": STR,
            "multi-choice options": STRS,
            "answer": STR,
            "category": STR,
            "l2-category": STR,
            "bytes": STR,
        },
        name="train.parquet",
    )
    out["vstar_bench"] = parquet(
        "vstar_bench",
        [
            {
                "question_id": "v1",
                "image": png(80, 60, 2),
                "text": "What is the color of the umbrella? (A) red (B) green (C) blue (D) yellow\nAnswer with the option's letter from the given choices directly.",
                "label": "A",
                "category": "direct_attributes",
            },
            {
                "question_id": "v2",
                "image": png(80, 60, 3),
                "text": "Is the cup on the left or right of the laptop? (A) left (B) right\nAnswer with the option's letter from the given choices directly.",
                "label": "B",
                "category": "relative_position",
            },
        ],
        {"question_id": STR, "image": IMG, "text": STR, "label": STR, "category": STR},
    )
    # AerialVG: rows name their image by file (images/<filename> in the repo); the first region
    # of `grounding` is the one asked; "realation" is the key the release reads.
    region = {"bbox": datasets.Sequence(FLOAT), "phrase": STR, "realation": STR}
    folder = HERE / "aerialvg" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for name, k in (("a1.png", 4), ("a2.png", 5), ("a3.png", 0)):
        (folder / name).write_bytes(png(64, 48, k))
    out["aerialvg"] = parquet(
        "aerialvg",
        [
            {
                "filename": "a1.png",
                "width": 640,
                "height": 480,
                "grounding": {
                    "caption": "An aerial view of a parking lot.",
                    "regions": [
                        {
                            "bbox": [10.0, 20.0, 110.0, 90.0],
                            "phrase": "the white truck",
                            "realation": "next to the red car",
                        },
                        {"bbox": [0.0, 0.0, 5.0, 5.0], "phrase": "a tree", "realation": None},
                    ],
                },
            },
            {
                "filename": "a2.png",
                "width": 640,
                "height": 480,
                "grounding": {
                    "caption": " A harbour seen from above ",
                    "regions": [
                        {"bbox": [300.0, 200.0, 350.0, 260.0], "phrase": "An orange boat", "realation": None}
                    ],
                },
            },
            {
                "filename": "a3.png",
                "width": 640,
                "height": 480,
                "grounding": {"caption": "Farmland.", "regions": []},
            },
        ],
        {"filename": STR, "width": INT, "height": INT, "grounding": {"caption": STR, "regions": [region]}},
    )
    # VisualProbe: val.json rows of the three repos in one file; image paths carry the repo name
    vp = HERE / "visualprobe"
    (vp / "data").mkdir(parents=True, exist_ok=True)
    vrows = []
    for level, k in (("Easy", 1), ("Medium", 2), ("Hard", 3)):
        (vp / "data" / f"{level.lower()}_0.png").write_bytes(png(96, 72, k))
        vrows.append(
            {
                "images": [f"VisualProbe_{level}/data/{level.lower()}_0.png"],
                "problem": f"<image>\nWhat is written on the small sign ({level.lower()})?",
                "solution": f"OPEN {level.upper()}",
                "data_source": f"visual_probe_{level.lower()}",
            }
        )
    (vp / "val.json").write_text(json.dumps(vrows, indent=1) + "\n")
    out["visualprobe"] = "visualprobe/val.json"
    out["screenspot"] = parquet(
        "screenspot",
        [
            {
                "file_name": "ios_1.png",
                "image": png(100, 200, 4),
                "instruction": "open settings",
                "bbox": [0.1, 0.2, 0.3, 0.3],
                "data_type": "icon",
                "data_source": "ios",
            },
            {
                "file_name": "web_2.png",
                "image": png(200, 100, 5),
                "instruction": "Click the search button.",
                "bbox": [0.5, 0.5, 0.6, 0.6],
                "data_type": "text",
                "data_source": "web",
            },
        ],
        {
            "file_name": STR,
            "image": IMG,
            "instruction": STR,
            "bbox": datasets.Sequence(FLOAT),
            "data_type": STR,
            "data_source": STR,
        },
    )
    ssp = HERE / "screenspot_pro"
    (ssp / "annotations").mkdir(parents=True, exist_ok=True)
    (ssp / "images" / "vscode").mkdir(parents=True, exist_ok=True)
    (ssp / "images" / "vscode" / "s1.png").write_bytes(png(120, 80, 0))
    (ssp / "images" / "vscode" / "s2.png").write_bytes(png(120, 80, 1))
    entries = [
        {
            "img_filename": "vscode/s1.png",
            "bbox": [10, 10, 40, 30],
            "instruction": "open the terminal",
            "id": "vscode_1",
            "application": "VSCode",
            "platform": "macOS",
            "img_size": [120, 80],
            "ui_type": "icon",
            "group": "Dev",
        },
        {
            "img_filename": "vscode/s2.png",
            "bbox": [50, 20, 90, 40],
            "instruction": "",
            "instruction_cn": "保存文件",
            "id": "vscode_2",
            "application": "VSCode",
            "platform": "macOS",
            "img_size": [120, 80],
            "ui_type": "text",
            "group": "Dev",
        },
        {
            "img_filename": "vscode/missing.png",
            "bbox": [1, 1, 2, 2],
            "instruction": "absent image",
            "id": "vscode_3",
            "application": "VSCode",
            "platform": "macOS",
            "ui_type": "icon",
        },
    ]
    (ssp / "annotations" / "vscode_macos.json").write_text(
        json.dumps(entries, ensure_ascii=False, indent=1) + "\n"
    )
    out["screenspot_pro"] = "screenspot_pro"
    return out


def captioning_if() -> dict[str, str]:
    out = {}
    conv = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "Describe the chart in two sentences."}],
        },
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "The chart shows sales rising from 2019 to 2022."}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Which year had the largest increase?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "2021."}]},
    ]
    out["mm_mt_bench"] = parquet(
        "mm_mt_bench",
        [
            {"image": png(48, 36, 2), "conversation": json.dumps(conv), "category": "Charts"},
            {"image": png(48, 36, 3), "conversation": json.dumps(conv[:2]), "category": "Misc"},
        ],
        {"image": IMG, "conversation": STR, "category": STR},
        name="eval.parquet",
    )
    out["mia_bench"] = parquet(
        "mia_bench",
        [
            {
                "image": png(40, 40, 4),
                "instruction": "Write a haiku about the image and mention the color of the sky.",
                "type": "creative",
                "num_of_component": 2,
                "components": ["haiku form", "color of the sky"],
                "component_weight": [5, 5],
                "component_type": ["genre", "description"],
            },
            {
                "image": png(40, 40, 5),
                "instruction": "List three objects in the image, in uppercase.",
                "type": "list",
                "num_of_component": 2,
                "components": ["three objects", "uppercase"],
                "component_weight": [6, 4],
                "component_type": ["listing", "format"],
            },
        ],
        {
            "image": IMG,
            "instruction": STR,
            "type": STR,
            "num_of_component": datasets.Value("int32"),
            "components": STRS,
            "component_weight": datasets.Sequence(datasets.Value("int32")),
            "component_type": STRS,
        },
    )
    cons = [{"key": STR, "value": STR, "judge": STR}]
    out["mmifeval"] = parquet(
        "mmifeval",
        [
            {
                "id": "mmif-1",
                "tag": "C-Level",
                "infer_type": "direct_gpt",
                "del_cons": "",
                "question": "Describe the image in exactly three sentences, all lowercase.",
                "instruction": "",
                "answer": "",
                "constraints": [
                    {"key": "sentence_count", "value": "3", "judge": "rule_based"},
                    {"key": "lowercase", "value": "all", "judge": "direct_gpt"},
                ],
                "image": b64(png(40, 30, 0)),
            },
            {
                "id": "mmif-2",
                "tag": "P-Level",
                "infer_type": "cmp_gpt",
                "del_cons": "no title",
                "question": "",
                "instruction": "Give the scene a title in quotes.",
                "answer": '"A Quiet Street"',
                "constraints": [{"key": "title_in_quotes", "value": "", "judge": "cmp_gpt"}],
                "image": b64(png(40, 30, 1)),
            },
        ],
        {
            "id": STR,
            "tag": STR,
            "infer_type": STR,
            "del_cons": STR,
            "question": STR,
            "instruction": STR,
            "answer": STR,
            "constraints": cons,
            "image": STR,
        },
    )
    return out


def main() -> None:
    for child in HERE.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
    index = {**chart_ocr(), **stem(), **spatial_action(), **knowledge(), **grounding(), **captioning_if()}
    (HERE / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(index)} fixtures under {HERE}")


if __name__ == "__main__":
    main()
