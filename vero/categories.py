"""The six Vero task categories, in the order used across the project.

Source: docs/recipe.md#2-six-task-categories.
"""

CATEGORIES: tuple[str, ...] = (
    "chart_ocr",
    "stem",
    "spatial_action",
    "knowledge_recognition",
    "grounding_counting_search",
    "captioning_if",
)

CATEGORY_NAMES: dict[str, str] = {
    "chart_ocr": "Chart & OCR",
    "stem": "STEM",
    "spatial_action": "Spatial & Action",
    "knowledge_recognition": "Knowledge & Recognition",
    "grounding_counting_search": "Grounding, Counting & Search",
    "captioning_if": "Captioning & Instruction Following",
}

# Words in the think block after 1,000 steps of single-category RL: mean, SEM
# (docs/recipe.md#8-behavioral-analysis).
PAPER_REASONING_LENGTH: dict[str, tuple[float, float]] = {
    "chart_ocr": (1593.0, 32.0),
    "stem": (1576.0, 40.0),
    "spatial_action": (1983.0, 51.0),
    "knowledge_recognition": (76.0, 3.0),
    "grounding_counting_search": (125.0, 13.0),
    "captioning_if": (414.0, 13.0),
}


def check_category(name: str) -> str:
    if name not in CATEGORIES:
        raise ValueError(f"unknown category {name!r}; expected one of {', '.join(CATEGORIES)}")
    return name
