"""Tiny offline VLMs, loading with/without torchvision, family facts, base-model resolution."""

import json
import pickle

import pytest

from vero.config import ConfigError
from vero.models import (
    FAMILY_DEFAULTS,
    UnknownFamily,
    build_tiny_text_lm,
    build_tiny_vlm,
    coords_for,
    detect_family,
    family_defaults,
    resolve_base_model,
)
from vero.models.loading import processor_class_for, resolve_dtype, torchvision_available
from vero.models.tiny import check_shape, tiny_settings
from vero.models.tokenizer import QWEN_SPECIAL_TOKENS, REASONING_TOKENS, build_tokenizer

FAMILIES = ["qwen2_5_vl", "qwen3_vl"]


# ---------------------------------------------------------------- family facts (fast)


def test_family_defaults_follow_the_recipe():
    assert family_defaults("qwen3_vl") == {
        "coords": "qwen1000",
        "max_prompt_length": 18432,
        "max_completion_length": 18432,
        "max_pixels": 16777216,
    }
    assert family_defaults("qwen2_5_vl") == {
        "coords": "absolute",
        "max_prompt_length": 14336,
        "max_completion_length": 10240,
        "max_pixels": 9437184,
    }
    assert coords_for("qwen2_5_vl") == "absolute"
    assert coords_for("qwen3_vl") == "qwen1000"
    family_defaults("qwen3_vl")["coords"] = "changed"  # a copy, not the table
    assert FAMILY_DEFAULTS["qwen3_vl"]["coords"] == "qwen1000"


def test_unknown_family_names_the_known_ones():
    with pytest.raises(UnknownFamily, match="qwen2_5_vl"):
        coords_for("llava")


def test_detect_family_from_config_dicts_and_objects():
    from transformers import Qwen2_5_VLConfig

    assert detect_family({"model_type": "qwen3_vl"}) == "qwen3_vl"
    assert detect_family({"model_type": "qwen3_vl_moe"}) == "qwen3_vl"
    assert detect_family(Qwen2_5_VLConfig()) == "qwen2_5_vl"
    with pytest.raises(UnknownFamily, match="llama"):
        detect_family({"model_type": "llama"})


def test_detect_family_reports_a_directory_without_config(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        detect_family(tmp_path)


def test_resolve_base_model():
    tiny = {"model": {"family": "qwen3_vl", "base": "tiny"}}
    assert resolve_base_model(tiny, "results") == "results/models/tiny-qwen3_vl"
    assert resolve_base_model(tiny, "/x/out/") == "/x/out/models/tiny-qwen3_vl"
    hub = {"model": {"family": "qwen3_vl", "base": "Qwen/Qwen3-VL-8B-Instruct"}}
    assert resolve_base_model(hub, "results") == "Qwen/Qwen3-VL-8B-Instruct"
    with pytest.raises(ConfigError, match=r"model\.base"):
        resolve_base_model({"model": {"family": "qwen3_vl"}}, "results")
    with pytest.raises(ConfigError, match="'model'"):
        resolve_base_model({}, "results")


def test_resolve_base_model_on_the_demo_config():
    from vero.config import REPO_ROOT, load_config

    cfg = load_config(REPO_ROOT / "config" / "demo.yaml")
    family = cfg["model"]["family"]
    # the demo warm-starts the tiny model; without a warm start every experiment starts from it
    assert cfg["model"]["tiny"]["warm_start"]["steps"] > 0
    assert resolve_base_model(cfg, "results") == f"results/models/tiny-{family}-warm"
    cold = {**cfg, "model": {**cfg["model"], "tiny": {**cfg["model"]["tiny"], "warm_start": {"steps": 0}}}}
    assert resolve_base_model(cold, "results") == f"results/models/tiny-{family}"
    family, shape = tiny_settings(cfg)
    assert family == cfg["model"]["family"]
    assert (
        check_shape(shape["hidden_size"], shape["num_heads"], shape["num_layers"], shape["vocab_size"]) >= 32
    )


def test_resolve_dtype():
    import torch

    assert resolve_dtype("float32") is torch.float32
    assert resolve_dtype("bfloat16") is torch.bfloat16
    assert resolve_dtype("auto") is (torch.bfloat16 if torch.cuda.is_available() else torch.float32)
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("fp8")


def test_processor_class_for_unknown_model_type():
    assert processor_class_for("qwen3_vl").__name__ == "Qwen3VLProcessor"
    with pytest.raises(ValueError, match="llama"):
        processor_class_for("llama")


# ---------------------------------------------------------------- shape checks (fast)


@pytest.mark.parametrize("family", FAMILIES)
def test_head_dim_below_32_is_refused_before_writing(family, tmp_path):
    out = tmp_path / "m"
    with pytest.raises(ValueError, match=r"head_dim .* 16 is below 32"):
        build_tiny_vlm(family, out, hidden_size=64, num_heads=4)
    assert not out.exists()


def test_text_lm_head_dim_check_and_family(tmp_path):
    with pytest.raises(ValueError, match="head_dim"):
        build_tiny_text_lm(tmp_path / "lm", hidden_size=96, num_heads=4)
    with pytest.raises(ValueError, match="qwen2' or 'qwen3"):
        build_tiny_text_lm(tmp_path / "lm", family="llama")


def test_shape_errors_name_the_problem():
    with pytest.raises(ValueError, match="not divisible"):
        check_shape(130, 4, 2, 512)
    with pytest.raises(ValueError, match="num_layers"):
        check_shape(128, 4, 0, 512)
    with pytest.raises(UnknownFamily):
        build_tiny_vlm("llava", "/nonexistent/never-created")


def test_tiny_settings_rejects_unknown_keys():
    with pytest.raises(ConfigError, match=r"model\.tiny"):
        tiny_settings({"model": {"family": "qwen3_vl", "tiny": {"depth": 3}}})


# ---------------------------------------------------------------- tokenizer (fast)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(512)


def test_tokenizer_size_and_single_token_specials(tokenizer):
    assert len(tokenizer) == 512
    for tok in QWEN_SPECIAL_TOKENS + REASONING_TOKENS:
        ids = tokenizer(tok, add_special_tokens=False).input_ids
        assert len(ids) == 1, tok
        assert tokenizer.convert_ids_to_tokens(ids[0]) == tok
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"


def test_reasoning_tags_survive_skip_special_tokens(tokenizer):
    # TRL decodes completions with skip_special_tokens=True; the format reward needs the tags.
    text = '<think>\nThe bar is 12.\n</think>\n<answer>\\boxed{12} [{"bbox_2d": [1, 2, 3, 4]}]</answer>'
    ids = tokenizer(text + "<|im_end|>").input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text


def test_tokenizer_round_trips_arbitrary_text(tokenizer):
    text = "Ünïcode ✓ 日本 \t\n $x^2$ — 3.14 (B) 'quote'"
    assert tokenizer.decode(tokenizer(text).input_ids) == text


def test_tokenizer_is_deterministic_and_rejects_tiny_vocab(tokenizer):
    assert build_tokenizer(512).backend_tokenizer.to_str() == tokenizer.backend_tokenizer.to_str()
    with pytest.raises(ValueError, match="vocab_size"):
        build_tokenizer(200)


# ---------------------------------------------------------------- built models (slow)


def _image(color="red", size=(64, 48)):
    from PIL import Image

    return Image.new("RGB", size, color)


def _encode(processor, question="How many red squares?", n_images=1, size=(64, 48)):
    from vero.prompts import build_messages

    text = processor.apply_chat_template(build_messages(question, n_images), add_generation_prompt=True)
    images = [_image(c, size) for c in ["red", "blue", "green"][:n_images]] or None
    return processor(text=[text], images=images, return_tensors="pt")


@pytest.fixture(scope="module", params=FAMILIES)
def built(request, tiny_vlm_dir, tiny_qwen3_vlm_dir):
    return request.param, {"qwen2_5_vl": tiny_vlm_dir, "qwen3_vl": tiny_qwen3_vlm_dir}[request.param]


@pytest.mark.slow
def test_built_model_generates_from_an_image(built):
    import torch

    from vero.models import load_model_and_processor

    family, model_dir = built
    assert detect_family(model_dir) == family
    model, processor = load_model_and_processor(model_dir)
    stock = processor_class_for(family)
    assert isinstance(processor, stock)
    assert type(processor).__name__ == stock.__name__
    # Without torchvision (the main venv here) the processor is assembled; with it, AutoProcessor
    # returns the stock class with a real video processor.
    assert (type(processor) is stock) == torchvision_available()
    assert model.dtype == torch.float32
    assert detect_family(model) == family
    cfg = model.config.text_config
    assert cfg.hidden_size // cfg.num_attention_heads >= 32
    assert getattr(cfg, "head_dim", 32) >= 32
    im_end = processor.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.generation_config.eos_token_id == im_end

    inputs = _encode(processor, n_images=2)
    image_tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert 0 < image_tokens <= 2 * 16  # small pixel bounds: at most 4x4 merged patches per image
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6


@pytest.mark.slow
def test_processor_save_reload_round_trip(built, tmp_path):
    import torch

    from vero.models import load_processor

    family, model_dir = built
    processor = load_processor(model_dir)
    before = _encode(processor)
    processor.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    stock = processor_class_for(family).__name__
    assert saved["processor_class"] == stock  # an ordinary Qwen-VL directory for AutoProcessor
    assert saved["video_processor"]["video_processor_type"].endswith("VideoProcessor")
    assert saved["video_processor"]["video_processor_type"] != "BaseVideoProcessor"
    after = _encode(load_processor(tmp_path))
    assert torch.equal(before["input_ids"], after["input_ids"])
    assert torch.equal(before["pixel_values"], after["pixel_values"])
    assert torch.equal(before["image_grid_thw"], after["image_grid_thw"])

    clone = pickle.loads(pickle.dumps(processor))  # datasets/accelerate pickle processors
    assert torch.equal(_encode(clone)["input_ids"], before["input_ids"])


@pytest.mark.slow
def test_pixel_bounds_override(built):
    from vero.models import load_processor

    _, model_dir = built
    small = load_processor(model_dir)
    large = load_processor(model_dir, max_pixels=(8 * 32) ** 2)
    size = (512, 512)
    grid_small = _encode(small, size=size)["image_grid_thw"]
    grid_large = _encode(large, size=size)["image_grid_thw"]
    assert int(grid_large.prod()) > int(grid_small.prod())
    with pytest.raises(ValueError, match="exceeds"):
        load_processor(model_dir, min_pixels=10_000_000, max_pixels=1000)


@pytest.mark.slow
def test_build_is_deterministic_by_seed(tmp_path):
    from safetensors.torch import load_file

    a = build_tiny_vlm("qwen2_5_vl", tmp_path / "a", seed=3)
    b = build_tiny_vlm("qwen2_5_vl", tmp_path / "b", seed=3)
    c = build_tiny_vlm("qwen2_5_vl", tmp_path / "c", seed=4)
    wa, wb, wc = (load_file(d / "model.safetensors") for d in (a, b, c))
    assert wa.keys() == wb.keys()
    assert all((wa[k] == wb[k]).all() for k in wa)
    assert any(not (wa[k] == wc[k]).all() for k in wa)
    assert (a / "tokenizer.json").read_text() == (b / "tokenizer.json").read_text()


@pytest.mark.slow
def test_tiny_text_lm_chats(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = build_tiny_text_lm(tmp_path / "judge", family="qwen3")
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.config.head_dim >= 32
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Score this answer from 1 to 10."}],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    assert "<|im_start|>assistant" in tok.decode(prompt["input_ids"][0])
    with torch.no_grad():
        gen = model.generate(**prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert gen.shape[1] == prompt["input_ids"].shape[1] + 4
    qwen2 = build_tiny_text_lm(tmp_path / "q2", family="qwen2")
    assert json.loads((qwen2 / "config.json").read_text())["model_type"] == "qwen2"


@pytest.mark.slow
def test_grpo_trainer_accepts_the_processor_and_checkpoints_reload(built, tmp_path):
    """One GSPO step with the assembled processor; the saved checkpoint reloads with our loader."""
    import torch
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from vero.models import load_model_and_processor
    from vero.prompts import build_messages

    family, model_dir = built
    model, processor = load_model_and_processor(model_dir)
    rows = [
        {"prompt": build_messages(f"What color is it? {c}", 1), "image": _image(c), "answer": c}
        for c in ["red", "blue"] * 2
    ]

    def length_reward(completions, answer, **kwargs):
        return [float(len(c[0]["content"])) for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path / "run"),
        importance_sampling_level="sequence",
        loss_type="grpo",
        epsilon=3e-4,
        epsilon_high=4e-4,
        beta=0.0,
        num_generations=2,
        per_device_train_batch_size=2,
        max_completion_length=8,
        max_steps=1,
        save_strategy="steps",
        save_steps=1,
        use_cpu=True,
        bf16=False,
        report_to="none",
        logging_steps=1,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[length_reward],
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=processor,
    )
    trainer.train()
    checkpoint = tmp_path / "run" / "checkpoint-1"
    assert (checkpoint / "processor_config.json").is_file()
    reloaded_model, reloaded_processor = load_model_and_processor(checkpoint)
    assert torch.equal(_encode(reloaded_processor)["input_ids"], _encode(processor)["input_ids"])
    assert detect_family(reloaded_model) == family


@pytest.mark.slow
def test_hub_style_directory_without_processor_config(tiny_qwen3_vlm_dir, tmp_path):
    """The hub's Qwen repos keep image settings in preprocessor_config.json and may carry the
    template in chat_template.json; the assembled processor must read that layout too."""
    import shutil

    import torch

    from vero.models import load_processor

    hub = tmp_path / "hub-layout"
    shutil.copytree(tiny_qwen3_vlm_dir, hub)
    saved = json.loads((hub / "processor_config.json").read_text())
    (hub / "processor_config.json").unlink()
    image_settings = dict(saved["image_processor"], image_processor_type="Qwen2VLImageProcessorFast")
    image_settings["processor_class"] = "Qwen3VLProcessor"
    (hub / "preprocessor_config.json").write_text(json.dumps(image_settings))
    template = (hub / "chat_template.jinja").read_text()
    (hub / "chat_template.jinja").unlink()
    (hub / "chat_template.json").write_text(json.dumps({"chat_template": template}))

    reference = _encode(load_processor(tiny_qwen3_vlm_dir))
    processor = load_processor(hub)
    assert type(processor).__name__ == "Qwen3VLProcessor"
    assert processor.chat_template == template
    encoded = _encode(processor)
    assert torch.equal(encoded["input_ids"], reference["input_ids"])
    assert torch.equal(encoded["pixel_values"], reference["pixel_values"])


def test_uncached_hub_id_offline_gives_a_clear_error(monkeypatch):
    from vero.models import load_processor

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match="not-a-real-org/no-such-model"):
        load_processor("not-a-real-org/no-such-model")


def test_model_load_kwargs_from_config():
    from vero.models import model_load_kwargs

    cfg = {"model": {"family": "qwen3_vl", "base": "x", "dtype": "bfloat16", "max_pixels": 1024}}
    assert model_load_kwargs(cfg) == {
        "dtype": "bfloat16",
        "attn_implementation": None,
        "min_pixels": None,
        "max_pixels": 1024,
    }


@pytest.mark.slow
def test_build_script_reads_the_config_and_flags(tmp_path, capsys):
    import importlib.util

    from vero.config import REPO_ROOT, load_config

    spec = importlib.util.spec_from_file_location(
        "build_tiny_model", REPO_ROOT / "workflow_scripts" / "build_tiny_model.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    cfg = load_config(REPO_ROOT / "config" / "demo.yaml")
    cfg["model"]["family"] = "qwen3_vl"
    cfg_json = tmp_path / "resolved_config.json"
    cfg_json.write_text(json.dumps(cfg))

    script.main(["--config-json", str(cfg_json), "--out", str(tmp_path / "m"), "--num-layers", "1"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["model_type"] == "qwen3_vl"
    assert summary["num_layers"] == 1
    assert summary["head_dim"] == 32
    assert detect_family(tmp_path / "m") == "qwen3_vl"

    with pytest.raises(SystemExit, match="head_dim"):
        script.main(["--family", "qwen2_5_vl", "--out", str(tmp_path / "bad"), "--num-heads", "8"])
    with pytest.raises(SystemExit):
        script.main(["--out", str(tmp_path / "nofamily")])


def test_family_facts_import_without_torch():
    # Rules files and reward code use coords_for/resolve_base_model; they must stay cheap to import.
    import subprocess
    import sys

    code = (
        "import sys; from vero.models import coords_for, resolve_base_model; "
        "print('torch' in sys.modules, 'transformers' in sys.modules, coords_for('qwen3_vl'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False", "qwen1000"]


def test_lazy_exports_resolve():
    import vero.models

    assert vero.models.build_tiny_vlm is build_tiny_vlm
    assert callable(vero.models.load_model_and_processor)
    with pytest.raises(AttributeError, match="no_such_name"):
        vero.models.no_such_name  # noqa: B018
