"""Text-only baselines of VeroMini: how much of each task's answer the question text gives away.

Two predictors that never see the image, each scored through the task's own reward route:
- `majority`: the most frequent training answer of the task, for every held-out question;
- `question`: a bag-of-words logistic regression from the question text to the answer, fitted
  on the training rows of the task (scikit-learn), so any phrasing that correlates with the
  answer (an option list, a label, a count in the wording) would show.
On a task whose answer needs the image both stay near chance; the demo's test holds them there.

The instruction-following tasks of captioning_if are text tasks by design (the constraints are
in the instruction), and the judge-scored ones have no text answer to predict; they are listed
in `TEXT_TASKS` and reported without a bound. web_action names the action and the text to type
in the instruction; only its MARK (which element) needs the image, so it is also scored on the
mark alone.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

# Tasks whose answer is (partly) in the instruction by design, or not a text answer at all.
TEXT_TASKS = frozenset({"caption", "instruction_caption", "instruction_caption_judged"})


def task_of(row: Mapping) -> str:
    return str(row["data_source"]).split("/", 1)[-1]


def _completion(row: Mapping, answer: str) -> str:
    """A well-formed completion answering `answer` in the task's output format."""
    from vero.train.data import sft_answer

    body = sft_answer({**row, "answer": answer}, "absolute")
    return f"<think>.</think><answer>{body}</answer>"


def _score(row: Mapping, answer: str) -> float:
    from vero.rewards import compute_reward

    return compute_reward(
        _completion(row, answer),
        reward_type=row["reward_type"],
        answer=row["answer"],
        tolerance=row.get("tolerance"),
        image_size=row.get("image_size"),
    ).accuracy


def _mark(answer: str) -> object:
    try:
        return json.loads(answer).get("MARK")
    except (ValueError, AttributeError):
        return None


def text_only_scores(train_rows: Iterable[Mapping], heldout_rows: Iterable[Mapping], seed: int = 0) -> dict:
    """Per task: mean reward accuracy of the `majority` and `question` predictors on `heldout_rows`,
    the number of held-out rows, and for web_action the accuracy of the predicted MARK alone."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train_by, held_by = defaultdict(list), defaultdict(list)
    for r in train_rows:
        train_by[task_of(r)].append(r)
    for r in heldout_rows:
        held_by[task_of(r)].append(r)
    out: dict[str, dict] = {}
    for task, held in sorted(held_by.items()):
        train = train_by.get(task) or []
        if task in TEXT_TASKS or not train or held[0]["reward_type"] in ("llm_judge",):
            continue
        answers = [r["answer"] for r in train]
        majority = Counter(answers).most_common(1)[0][0]
        if len(set(answers)) > 1:
            vec = CountVectorizer(binary=True, ngram_range=(1, 2), token_pattern=r"[^\s]+")
            x = vec.fit_transform([r["question"] for r in train])
            clf = LogisticRegression(max_iter=2000, C=1.0, random_state=seed).fit(x, answers)
            predicted = list(clf.predict(vec.transform([r["question"] for r in held])))
        else:
            predicted = [majority] * len(held)
        entry = {
            "n": len(held),
            "reward_type": held[0]["reward_type"],
            "majority": statistics.mean(_score(r, majority) for r in held),
            "question": statistics.mean(_score(r, p) for r, p in zip(held, predicted, strict=True)),
        }
        if held[0]["reward_type"] == "web_action":
            entry["majority_mark"] = statistics.mean(_mark(r["answer"]) == _mark(majority) for r in held)
            entry["question_mark"] = statistics.mean(
                _mark(r["answer"]) == _mark(p) for r, p in zip(held, predicted, strict=True)
            )
        out[task] = entry
    return out
