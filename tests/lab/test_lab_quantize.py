"""Quantization: GPTQ beats RTN layer by layer on a trained model; quantized runs load and evaluate."""
import json

import torch
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.lab.quantize import calibrate, calibration_batches, gptq, linear_layers, recon_error, rtn
from gristmill.lab.train import load_run


def test_gptq_beats_rtn_and_quantized_runs_evaluate(tmp_path):
    d = stdlib_docs(260)
    write_jsonl(tmp_path / "train.jsonl", d[:220])
    write_jsonl(tmp_path / "held.jsonl", d[220:])
    (tmp_path / "cfg.yaml").write_text("model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\n"
                                       "data: [train.jsonl]\nseq_len: 64\nbatch_size: 8\ntokens: 8000\n"
                                       "eval: {heldout: [held.jsonl], max_bytes: 3000}\n")
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "cfg.yaml"), "-o", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    model, *_ = load_run(tmp_path / "run")
    H = calibrate(model, calibration_batches(tmp_path / "run", n_seq=16))
    for gs in (None, 32):
        for bits in (4, 3, 2):
            for name, m in linear_layers(model).items():
                W = m.weight.data
                e_rtn, e_gptq = recon_error(W, rtn(W, bits, gs), H[name]), recon_error(W, gptq(W, H[name], bits, gs), H[name])
                assert e_gptq < e_rtn, (name, bits, gs, e_gptq, e_rtn)
    # RTN puts every weight on its grid: at most 2^bits distinct values per output row
    q = rtn(model.blocks[0].mlp.up.weight.data, 2)
    assert max(len(torch.unique(row)) for row in q) <= 4
    r = CliRunner().invoke(app, ["lab", "quantize", str(tmp_path / "run"), "--bits", "8,2", "--method", "rtn,gptq",
                                 "--group-size", "32", "--lora-steps", "15", "-o", str(tmp_path / "q")])
    assert r.exit_code == 0, r.output
    r0 = r
    res = json.loads((tmp_path / "q" / "results.json").read_text())
    by = {(x["method"], x["bits"]): x for x in res["rows"]}
    assert abs(by[("rtn", 8)]["mean_bpb"] - by[("fp32", 32)]["mean_bpb"]) < 0.01
    assert by[("gptq", 2)]["recon_error"] < by[("rtn", 2)]["recon_error"]
    assert (tmp_path / "q" / "bpb_vs_bits.png").exists()
    # LoRA on the 2-bit RTN model (the largest gap) recovers part of it
    lo = by[("rtn", 2)]["lora"]
    assert lo["mean_bpb"] < by[("rtn", 2)]["mean_bpb"] and 0 < lo["gap_recovered"], lo
    assert "gap recovered" in r.output
    # a quantized model is a run: eval takes it, and reproduces the figure in results.json
    r = CliRunner().invoke(app, ["lab", "eval", str(tmp_path / "q" / "gptq-2bit"), "--data", str(tmp_path / "held.jsonl"),
                                 "--max-bytes", "3000"])
    assert r.exit_code == 0, r.output
    ev = json.loads((tmp_path / "q" / "gptq-2bit" / "eval.json").read_text())
    assert abs(ev["bpb"]["held"] - by[("gptq", 2)]["bpb"]["held"]) < 1e-4
    # every figure rests on stated bytes: by default the run's eval.max_bytes, so fp32 is the run's final score
    held = res["bytes"]["per_file"]["held"]
    assert res["bytes"]["max_bytes_per_file"] == 3000 and 3000 <= held["bytes"] < 3000 + 20_000 and held["documents"] >= 1
    assert res["run_final"]["max_bytes_per_file"] == 3000 and "3,000 bytes of each held-out file" in r0.output
    if res["run_final"]["precision"] == "fp32":
        assert abs(by[("fp32", 32)]["bpb"]["held"] - res["run_final"]["bpb"]["held"]) < 1e-4
    r = CliRunner().invoke(app, ["lab", "quantize", str(tmp_path / "run"), "--bits", "8", "--method", "rtn", "--max-bytes", "1000",
                                 "-o", str(tmp_path / "q3")])
    assert r.exit_code == 0, r.output
    small = json.loads((tmp_path / "q3" / "results.json").read_text())["bytes"]
    assert small["max_bytes_per_file"] == 1000 and small["per_file"]["held"]["bytes"] < held["bytes"]
    r = CliRunner().invoke(app, ["lab", "quantize", str(tmp_path / "run"), "--bits", "1", "-o", str(tmp_path / "q2")])
    assert r.exit_code == 2 and "between 2 and 8" in r.output
