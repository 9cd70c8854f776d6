"""The stage functions behind the rules on degenerate inputs, as a random tiny model produces them
(no think blocks, no recognisable skill): every output is still written and says why it is empty.
Plus the configuration and input errors, which must name the key or the file."""

import json

import pandas as pd
import pytest

from vero.analysis import stages
from vero.analysis.traces import AnalysisInputError
from vero.config import ConfigError, validate_config

NOISE = "qz vb ## xk <im_pad> 7f 7f"


def _cfg(tmp_path, **analysis):
    return validate_config(
        {
            "results_dir": str(tmp_path),
            "experiments": {
                "mixed": {"categories": "all", "ablation": "main"},
                "sft": {"categories": "all", "ablation": "sft", "train": {"trainer": "sft"}},
            },
            "wandb": {"mode": "offline", "dir": str(tmp_path / "wandb")},
            "analysis": analysis,
        }
    )


def _write_traces(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_noise_traces_give_every_output_with_reasons(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    cfg = _cfg(tmp_path, skills={"experiments": ["mixed"]}, probe={"permutations": 5})
    rows = [
        {"id": f"{c}{i}", "category": c, "output": NOISE if i else "<think>" + NOISE}
        for c in ("stem", "chart_ocr")
        for i in range(4)
    ]
    rows.append({"id": "bad", "category": "stem"})  # no output: dropped with a reason
    trace_file = _write_traces(tmp_path / "eval" / "mixed" / "final" / "mini_stem.jsonl", rows)
    a = tmp_path / "analysis"

    info = stages.reasoning_length_stage(
        cfg, {"mixed": [trace_file]}, str(a / "reasoning_length.csv"), str(a / "reasoning_length.png")
    )
    assert info["dropped"]["by_reason"] == {"missing_output": 1}
    table = pd.read_csv(a / "reasoning_length.csv")
    assert list(table["n_measured"]) == [1, 1] and list(table["n_no_think"]) == [3, 3]

    info = stages.skills_stage(cfg, "mixed", [trace_file], str(a / "skills" / "mixed.jsonl"), None)
    assert info["n_skills"] == 0 and info["dropped"]["by_reason"]["skills_no_skills"] == 8
    skill_files = [str(a / "skills" / "mixed.jsonl")]

    probe = stages.probe_stage(
        cfg,
        skill_files,
        str(a / "probe.json"),
        str(a / "probe_confusion.png"),
        str(a / "probe_coefficients.csv"),
    )
    assert probe["status"] == "insufficient_data"
    assert json.loads((a / "probe.json").read_text())["status"] == "insufficient_data"
    assert (a / "probe_confusion.png").stat().st_size > 1000

    umap = stages.umap_stage(
        cfg,
        skill_files,
        str(a / "umap.png"),
        str(a / "umap.html"),
        str(a / "umap_points.csv"),
        str(a / "umap.json"),
    )
    assert umap["status"] == "insufficient_data"
    assert "Not enough skills" in (a / "umap.html").read_text()

    base = tmp_path / "base_summary.json"
    base.write_text(json.dumps({"categories": {"stem": {"score": 50.0}}, "overall": {"score": 50.0}}))
    assert stages.transfer_stage(cfg, {}, str(base), str(a / "transfer.csv"), str(a / "transfer.png")) == {
        "status": "no_transfer_runs"
    }
    log = tmp_path / "runs" / "mixed" / "train_log.jsonl"
    _write_traces(log, [{"step": 1, "loss": 0.3}, {"step": 2, "loss": 0.2}])
    sft_log = _write_traces(tmp_path / "runs" / "sft" / "train_log.jsonl", [{"step": 1, "loss": 1.0}])
    stages.dynamics_stage(
        cfg,
        {"mixed": str(log), "sft": sft_log},
        str(a / "dynamics"),
        str(a / "dynamics" / "algorithm_ablation.png"),
        str(a / "dynamics" / "summary.csv"),
    )
    dyn = pd.read_csv(a / "dynamics" / "summary.csv")
    assert list(dyn["algorithm"]) == ["gspo", "sft"] and "policy entropy" in dyn["metrics_missing"][0]
    assert (a / "dynamics" / "mixed.png").exists() and (a / "dynamics" / "sft.png").exists()

    paths = {
        "length_csv": str(a / "reasoning_length.csv"),
        "probe_json": str(a / "probe.json"),
        "probe_csv": str(a / "probe_coefficients.csv"),
        "umap_json": str(a / "umap.json"),
        "umap_html": str(a / "umap.html"),
        "transfer_csv": str(a / "transfer.csv"),
        "dynamics_csv": str(a / "dynamics" / "summary.csv"),
        "length_png": str(a / "reasoning_length.png"),
    }
    summary = stages.summary_stage(cfg, paths, str(a / "summary.json"))
    assert (
        summary["probe"]["status"] == "insufficient_data"
        and summary["transfer"]["status"] == "no_transfer_runs"
    )
    assert summary["reasoning_length"]["per_category"]["stem"]["experiment"] == "mixed"
    assert summary["dynamics"]["mixed"]["entropy_mean"] is None
    json.loads((a / "summary.json").read_text())  # strict JSON: no NaN


def test_config_and_input_errors_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"analysis\.skills\.experiments\.1.*'nope'"):
        stages.check_analysis_config(_cfg(tmp_path, skills={"experiments": ["mixed", "nope"]}))
    with pytest.raises(ConfigError, match=r"analysis\.probe\.folds"):
        _cfg(tmp_path, probe={"folds": 1})
    cfg = _cfg(tmp_path, reasoning_length={"experiments": ["base", "mixed", "base"]})
    assert stages.analysis_experiments(cfg, "reasoning_length") == ["base", "mixed"]
    assert stages.analysis_experiments(_cfg(tmp_path), "reasoning_length") == ["base", "mixed", "sft"]
    with pytest.raises(AnalysisInputError, match=r"missing\.jsonl: file not found"):
        stages.reasoning_length_stage(cfg, {"mixed": [str(tmp_path / "missing.jsonl")]}, "x.csv", "x.png")
    with pytest.raises(SystemExit, match="NAME=PATH"):
        stages.parse_pairs(["mixed"], flag="--trace")
    assert stages.parse_pairs(["a=1", "a=2", "b=x=y"], flag="--t") == {"a": ["1", "2"], "b": ["x=y"]}


def test_llm_endpoint_down_fails_the_stage_loudly(tmp_path):
    cfg = _cfg(
        tmp_path,
        skills={
            "extractor": "llm",
            "llm": {"base_url": "http://127.0.0.1:9/v1", "max_retries": 0, "timeout_s": 2},
        },
    )
    trace_file = _write_traces(
        tmp_path / "t.jsonl", [{"id": 1, "category": "stem", "output": "<think>a</think>"}]
    )
    with pytest.raises(RuntimeError, match=r"127\.0\.0\.1:9.*analysis\.skills\.llm"):
        stages.skills_stage(cfg, "mixed", [trace_file], str(tmp_path / "s.jsonl"), str(tmp_path / "cache"))
    assert not (tmp_path / "s.jsonl").exists()


STUB_VLLM = """#!{python}
# Stands in for `python -m vllm.entrypoints.openai.api_server ...`: /health and chat completions.
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port = int(sys.argv[sys.argv.index("--port") + 1])
model = sys.argv[sys.argv.index("--served-model-name") + 1]


class Handler(BaseHTTPRequestHandler):
    def _send(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._send({{}})

    def do_POST(self):
        json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = json.dumps([{{"label": "served skill", "description": "from " + model}}])
        self._send({{"choices": [{{"message": {{"content": reply}}}}]}})

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def test_llm_extractor_with_a_server_started_in_the_job(tmp_path, monkeypatch):
    import socket
    import sys

    stub = tmp_path / "fake-vllm-python"
    stub.write_text(STUB_VLLM.format(python=sys.executable))
    stub.chmod(0o755)
    monkeypatch.setenv("VERO_VLLM_PYTHON", str(stub))  # vero.serving's hook for the server's python
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _cfg(
        tmp_path,
        skills={
            "extractor": "llm",
            "llm": {
                "model": "served-model",
                "base_url": "http://127.0.0.1:9/v1",  # unused: the served endpoint replaces it
                "serve": {"enabled": True, "gpus": 1, "port": port, "health_timeout_s": 60},
            },
        },
    )
    trace_file = _write_traces(
        tmp_path / "t.jsonl", [{"id": 1, "category": "stem", "output": "<think>a b</think>"}]
    )
    info = stages.skills_stage(cfg, "mixed", [trace_file], str(tmp_path / "s.jsonl"), str(tmp_path / "cache"))
    assert info["n_skills"] == 1
    rec = json.loads((tmp_path / "s.jsonl").read_text())
    assert rec["skills"] == [{"label": "served skill", "description": "from served-model"}]
    with socket.socket() as s:  # the server was stopped with the job
        assert s.connect_ex(("127.0.0.1", port)) != 0
