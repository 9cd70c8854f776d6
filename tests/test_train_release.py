"""The release's training semantics (vero.train.release, trl_config.clip_delta) against hand
computations; TRL's own loss code is run on stubbed log-probabilities."""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest
import torch
from trl import GRPOTrainer

from vero.train import release, trl_config

# ---- advantage epsilon ----------------------------------------------------------------------


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5, 1.0, float("nan"), 0.0, 0.0])
    adv = release.group_advantages(rewards, 4, 1e-6)
    # group 1: mean 0.25, Bessel std sqrt((0.75² + 3·0.25²) / 3) = 0.5
    assert adv[:4].tolist() == pytest.approx(
        [0.75 / (0.5 + 1e-6), -0.25 / (0.5 + 1e-6)] + [-0.25 / (0.5 + 1e-6)] * 2
    )
    # group 2: all equal, std 0: advantage 0 (not 0/ε noise)
    assert adv[4:8].tolist() == [0.0] * 4
    # group 3: the unscored completion is left out (mean 1/3, std sqrt(((2/3)² + 2·(1/3)²)/2)) and gets 0
    std = math.sqrt(((2 / 3) ** 2 + 2 * (1 / 3) ** 2) / 2)
    assert adv[8].item() == pytest.approx((2 / 3) / (std + 1e-6)) and adv[9].item() == 0.0
    # TRL's ε = 1e-4 gives a different value: the setting matters
    assert release.group_advantages(rewards, 4, 1e-4)[0].item() != pytest.approx(adv[0].item(), rel=1e-7)


class _FakeTRL:
    """Stands in for GRPOTrainer's two methods the mixin wraps (TRL gathers rewards of all processes)."""

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        return self.gathered

    def _generate_and_score_completions(self, inputs):
        self._calculate_rewards(inputs, None, None, None)
        return {"advantages": torch.full((4,), 99.0)}  # TRL's (here: sentinel) local slice


class _Trainer(release.ReleaseSemanticsMixin, _FakeTRL):
    def __init__(self, eps, process_index, sleep_level=None):
        self.args = SimpleNamespace(advantage_epsilon=eps, judge_sleep_level=sleep_level)
        self.accelerator = SimpleNamespace(
            process_index=process_index, is_main_process=process_index == 0, wait_for_everyone=lambda: None
        )
        self.model = SimpleNamespace(training=True)
        self.scale_rewards, self.multi_objective_aggregation = "group", "sum_then_normalize"
        self.reward_weights = torch.tensor([1.0])
        self.num_generations = 4
        self.gathered = torch.tensor([[1.0], [0.0], [0.0], [0.0], [0.0], [2.0], [0.0], [2.0]])


def test_mixin_replaces_this_process_slice_with_the_configured_epsilon():
    out = _Trainer(1e-6, process_index=1)._generate_and_score_completions({})
    # process 1 holds completions 4..7: rewards 0, 2, 0, 2 -> mean 1, std sqrt(4/3)
    s = math.sqrt(4 / 3)
    assert out["advantages"].tolist() == pytest.approx([-1 / (s + 1e-6), 1 / (s + 1e-6)] * 2)
    # TRL's own ε: its advantages are kept as they are
    assert (
        _Trainer(1e-4, process_index=0)._generate_and_score_completions({})["advantages"].tolist()
        == [99.0] * 4
    )


class _Judge(BaseHTTPRequestHandler):
    calls: list[str] = []  # noqa: RUF012

    def do_POST(self):
        _Judge.calls.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_shared_judge_is_woken_for_the_reward_call_and_put_back_to_sleep(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Judge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("VERO_JUDGE_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    try:
        _Judge.calls.clear()
        _Trainer(1e-6, process_index=0, sleep_level=1)._calculate_rewards({}, None, None, None)
        assert _Judge.calls == ["/wake_up", "/sleep?level=1"]
        _Judge.calls.clear()
        _Trainer(1e-6, process_index=1, sleep_level=1)._calculate_rewards({}, None, None, None)
        assert _Judge.calls == []  # only the first process talks to the server
        _Trainer(1e-6, process_index=0, sleep_level=None)._calculate_rewards({}, None, None, None)
        assert _Judge.calls == []  # dedicated judge: never put to sleep
    finally:
        server.shutdown()


# ---- dual clip: TRL's `delta` is verl's clip_ratio_c ---------------------------------------


def trl_loss(new, old, adv, mask, *, level, eps_low, eps_high, delta):
    """Run GRPOTrainer._compute_loss (TRL's code) with the model's log-probs stubbed."""
    t = object.__new__(GRPOTrainer)
    new = new.clone().requires_grad_(True)
    t._get_per_token_logps_and_entropies = lambda *a, **k: (new, torch.zeros_like(new), None)
    t.args = SimpleNamespace(delta=delta, use_bias_correction_kl=False)
    t.top_entropy_quantile, t.off_policy_mask_threshold, t.beta = 1.0, None, 0.0
    t.importance_sampling_level, t.loss_type = level, "grpo"
    t.epsilon_low, t.epsilon_high = eps_low, eps_high
    t.use_vllm, t.vllm_importance_sampling_correction, t.aux_loss_enabled = False, False, False
    t._entropy_bonus_enabled = False
    t.current_gradient_accumulation_steps = 1
    t.model = SimpleNamespace(training=True)
    t.accelerator = SimpleNamespace(gather=lambda x: x, reduce=lambda x, reduction="sum": x)
    t._metrics = defaultdict(lambda: defaultdict(list))
    B, T = new.shape
    inputs = {
        "prompt_ids": torch.zeros(B, 1, dtype=torch.long),
        "prompt_mask": torch.ones(B, 1, dtype=torch.long),
        "completion_ids": torch.zeros(B, T, dtype=torch.long),
        "completion_mask": mask,
        "advantages": adv,
        "old_per_token_logps": old,
    }
    loss = GRPOTrainer._compute_loss(t, None, inputs)
    loss.backward()
    return loss.detach(), new.grad


def verl_dual_clip_loss(new, old, adv, mask, eps_low, eps_high, c):
    """verl's compute_policy_loss_vanilla (dual-clip PPO) written out, seq-mean-token-mean."""
    new = new.clone().requires_grad_(True)
    ratio = torch.exp(new - old)
    a = adv.unsqueeze(1)
    l1 = -a * ratio
    l2 = -a * torch.clamp(ratio, 1 - eps_low, 1 + eps_high)
    clipped = torch.maximum(l1, l2)
    l3 = -a * c
    per_token = torch.where(a < 0, torch.minimum(l3, clipped), clipped)
    loss = ((per_token * mask).sum(-1) / mask.sum(-1)).mean()
    loss.backward()
    return loss.detach(), new.grad


def test_token_level_delta_is_the_dual_clip():
    # ratios e^3 ≈ 20 > c = 10 for the negative-advantage row, so its gradient must vanish
    old = torch.zeros(3, 4)
    new = torch.tensor([[3.0, 0.1, -0.1, 0.0], [3.0, 0.05, 0.0, 0.0], [0.02, -0.3, 0.0, 0.0]])
    adv = torch.tensor([-1.0, 1.0, -0.5])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.float32)
    loss, grad = trl_loss(new, old, adv, mask, level="token", eps_low=0.2, eps_high=0.2, delta=10.0)
    ref_loss, ref_grad = verl_dual_clip_loss(new, old, adv, mask, 0.2, 0.2, 10.0)
    assert loss.item() == pytest.approx(ref_loss.item(), abs=1e-6)
    assert torch.allclose(grad, ref_grad, atol=1e-7)
    assert grad[0, 0].item() == 0.0  # A < 0, ratio 20 > 10: constant c·|A|, no gradient
    # hand value of that token: c·|A| = 10, averaged over its row's 3 tokens and the 3 rows
    no_cap, _ = trl_loss(new, old, adv, mask, level="token", eps_low=0.2, eps_high=0.2, delta=None)
    assert no_cap.item() - loss.item() == pytest.approx((math.exp(3) - 10) / 3 / 3, rel=1e-5)


def test_sequence_level_delta_caps_the_log_ratio_at_the_release_value():
    train = {"algorithm": "gspo", "max_sequence_log_ratio": 10}
    assert trl_config.clip_delta(train) == pytest.approx(math.exp(10))
    assert trl_config.clip_delta({"algorithm": "grpo", "dual_clip_ratio": 10.0}) == 10.0
    assert trl_config.clip_delta({"algorithm": "dapo"}) is None
    old = torch.zeros(2, 3)
    new = torch.tensor([[11.0, 11.0, 11.0], [0.0002, 0.0001, 0.0]])  # mean log-ratio 11 > 10
    adv = torch.tensor([-1.0, 1.0])
    mask = torch.ones(2, 3)
    loss, grad = trl_loss(
        new, old, adv, mask, level="sequence", eps_low=3e-4, eps_high=4e-4, delta=math.exp(10)
    )
    # verl: log ratio clamped at 10 -> row 0 contributes e^10·|A| with zero gradient
    s1 = math.exp(0.0001)
    row1 = -min(s1 * 1.0, min(max(s1, 1 - 3e-4), 1 + 4e-4) * 1.0)
    assert loss.item() == pytest.approx((math.exp(10) + row1) / 2, rel=1e-6)
    assert torch.all(grad[0] == 0)


# ---- the shared layout in vero.serving --------------------------------------------------------

STUB_SERVER = r"""
import http.server, sys
log = open(sys.argv[2], "a")
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers()
    def do_POST(self):
        log.write(self.path + "\n"); log.flush(); self.send_response(200); self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def test_shared_judge_takes_every_gpu_sleeps_at_start_and_trains_on_all(tmp_path):
    import sys

    from vero.serving import judge_server, vllm_server_command

    serve = {"enabled": True, "layout": "shared", "gpus": 4, "gpu_memory_utilization": 0.35, "port": 0}
    cmd = vllm_server_command("judge", 8000, serve)
    assert cmd[cmd.index("--tensor-parallel-size") + 1] == "4"
    assert "--enable-sleep-mode" in cmd and cmd[cmd.index("--gpu-memory-utilization") + 1] == "0.35"
    assert "--enable-sleep-mode" not in vllm_server_command("judge", 8000, {**serve, "layout": "dedicated"})
    calls = tmp_path / "calls.txt"
    script = tmp_path / "stub.py"
    script.write_text(STUB_SERVER)
    env = {"CUDA_VISIBLE_DEVICES": "0,1,2,3", "PATH": "/usr/bin:/bin"}
    with judge_server(
        serve,
        "judge",
        command=[sys.executable, str(script), "{port}", str(calls)],
        env=env,
        poll_interval_s=0.2,
    ) as judge:
        assert judge.judge_devices == judge.training_devices == ["0", "1", "2", "3"]
        assert calls.read_text().splitlines() == ["/sleep?level=1"]  # asleep before training starts


def test_flash_attention_falls_back_to_sdpa_with_a_log_line(capsys, monkeypatch):
    import importlib.util

    from vero.models.loading import attention_implementation

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "flash_attn" else real(n, *a))
    assert attention_implementation("flash_attention_2") == "sdpa"
    assert "flash-attn is not installed" in capsys.readouterr().err
    assert attention_implementation("eager") == "eager" and attention_implementation(None) is None
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: object() if n == "flash_attn" else real(n, *a)
    )
    assert attention_implementation("flash_attention_2") == "flash_attention_2"
