"""The lab's fast paths must not change what it computes: KV-cached batched generation gives the
uncached loop's tokens, one row at a time or together; bf16 training is deterministic per seed,
recorded in the run, and learns; `precision:` is validated like every other field."""
import json

import pytest
import torch
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app
from gristmill.lab.model import GPT, GPTConfig
from gristmill.lab.precision import native_bf16, resolve

EOS = 3


def model(doc_mask: bool, seq_len: int = 24) -> GPT:
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=50, seq_len=seq_len, n_layer=2, n_head=2, d_model=32, eos_id=EOS, doc_mask=doc_mask)).eval()
    for p in m.parameters():  # sharper than the init's near-uniform logits: distinct tokens, no ties
        p.data.mul_(8)
    return m


def prompts() -> list[list[int]]:
    g = torch.Generator().manual_seed(1)
    ps = [torch.randint(0, 50, (n,), generator=g).tolist() for n in (1, 5, 12, 20, 24, 3)]
    ps[2][4] = ps[3][1] = EOS  # documents inside a prompt: the doc mask must hold in the cache too
    return ps


@pytest.mark.parametrize("doc_mask", [False, True])
def test_cached_batched_generation_equals_the_uncached_loop(doc_mask):
    m, ps = model(doc_mask), prompts()
    torch.set_num_threads(1)
    # 30 new tokens on a 24-token context: every row also runs past the window (re-encoded each step)
    ref = m.generate(ps, 30, use_cache=False)
    assert m.generate(ps, 30) == ref                        # cached, all rows at once (left-padded)
    assert [m.generate([p], 30)[0] for p in ps] == ref      # cached, one by one
    assert len({tuple(r) for r in ref}) == len(ref)         # the rows really differ
    # per-row stop ids: each row stops at its own first stop id, the others go on
    stops = {7, EOS}
    ref = m.generate(ps, 30, stop_ids=stops, use_cache=False)
    assert m.generate(ps, 30, stop_ids=stops) == ref
    for r in ref:
        assert len(r) == 30 or (r[-1] in stops and not set(r[:-1]) & stops)
    assert len({len(r) for r in ref}) > 1, "no row stopped early: the test would not see per-row stops"
    # a tensor in, a tensor out: prompt + new ids, early stoppers padded with their stop id
    t = torch.tensor([ps[1], ps[5] + [9, 9]])
    out = m.generate(t, 30, stop_ids=stops)
    rows = m.generate([ps[1], ps[5] + [9, 9]], 30, stop_ids=stops)
    assert out.shape == (2, 5 + max(map(len, rows)))
    for o, r in zip(out.tolist(), rows):
        assert o[5:5 + len(r)] == r and set(o[5 + len(r):]) <= {r[-1]}


def test_sampling_with_the_cache_draws_the_same_tokens():
    m, ps = model(True), prompts()
    for p in ps[:3]:  # a high temperature: the sharpened model would otherwise sample its argmax
        a = m.generate([p], 40, temperature=8.0, generator=torch.Generator().manual_seed(5))
        b = m.generate([p], 40, temperature=8.0, generator=torch.Generator().manual_seed(5), use_cache=False)
        assert a == b and a != m.generate([p], 40)
    # a batch of samples is reproducible by seed and its rows differ
    s1 = m.generate([ps[1]] * 4, 20, temperature=8.0, generator=torch.Generator().manual_seed(9))
    s2 = m.generate([ps[1]] * 4, 20, temperature=8.0, generator=torch.Generator().manual_seed(9))
    assert s1 == s2 and len({tuple(r) for r in s1}) > 1
    with pytest.raises(ValueError, match="at least one token"):
        m.generate([[1], []], 3)


def test_batched_task_scoring_equals_one_problem_at_a_time():
    from gristmill.lab.tasks import problems, score
    from gristmill.lab.tokenizer import LabTokenizer

    tok = LabTokenizer("bytes")
    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=tok.vocab_size, seq_len=64, n_layer=2, n_head=2, d_model=32, eos_id=tok.eos_id,
                      doc_mask=True)).eval()
    probs = problems("arithmetic", 12) + problems("word_problems", 6)
    one = score(m, tok, probs, batch_size=1)
    assert score(m, tok, probs, batch_size=64) == one and one["n"] == 18


def test_precision_resolves_and_is_validated(tmp_path):
    assert resolve("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve("fp32") == "fp32" and resolve("bf16") == "bf16"
    with pytest.raises(ValueError, match="did you mean 'bf16'"):
        resolve("bf61")
    write_jsonl(tmp_path / "train.jsonl", stdlib_docs(40))
    (tmp_path / "c.yaml").write_text("data: [train.jsonl]\nprecision: bf61\n")
    r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "r")])
    assert r.exit_code == 2 and "line 2" in r.output and "precision" in r.output


def test_bf16_training_is_deterministic_recorded_and_learns(tmp_path):
    d = stdlib_docs(200)
    write_jsonl(tmp_path / "train.jsonl", d[:170])
    write_jsonl(tmp_path / "held.jsonl", d[170:])
    base = ("model: {preset: tiny, n_layer: 2, d_model: 64, n_head: 2}\nthreads: 1\ndata: [train.jsonl]\n"
            "seq_len: 64\nbatch_size: 8\ntokens: 8000\nlog_every: 1\neval: {heldout: [held.jsonl], max_bytes: 3000}\n")
    runs = {}
    for name, prec in (("a", "bf16"), ("b", "bf16"), ("f", "fp32")):
        (tmp_path / f"{name}.yaml").write_text(base + f"precision: {prec}\n")
        r = CliRunner().invoke(app, ["lab", "train", str(tmp_path / f"{name}.yaml"), "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        runs[name] = [json.loads(x) for x in (tmp_path / name / "log.jsonl").read_text().splitlines()]
        final = json.loads((tmp_path / name / "final.json").read_text())
        assert final["precision"] == prec
        assert json.loads((tmp_path / name / "config.json").read_text())["_precision"] == prec
    loss = {k: [x["loss"] for x in v if x["kind"] == "train"] for k, v in runs.items()}
    assert loss["a"] == loss["b"]                              # same seed, same bf16 losses
    assert loss["a"] != loss["f"]                              # bf16 really ran (it rounds differently)
    ev = {k: [x["bpb"]["held"] for x in v if x["kind"] == "eval"] for k, v in runs.items()}
    assert ev["a"][-1] < ev["a"][0] - 1.0                      # and it learns
    assert abs(ev["a"][-1] - ev["f"][-1]) < 0.1                # about as well as fp32
    # `lab eval` of the bf16 run evaluates at the run's precision and says so
    r = CliRunner().invoke(app, ["lab", "eval", str(tmp_path / "a"), "--data", str(tmp_path / "held.jsonl"),
                                 "--max-bytes", "3000"])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "a" / "eval.json").read_text())
    assert res["precision"] == "bf16" and abs(res["bpb"]["held"] - ev["a"][-1]) < 1e-4


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fused_head_and_loss_equal_the_plain_path(precision):
    """GPT.forward's chunked head + cross-entropy (lab/linear_ce.py) against logits -> F.cross_entropy:
    same loss and same gradients (fp32 to rounding; bf16 to bf16's precision)."""
    import torch.nn.functional as F

    from gristmill.lab import linear_ce
    from gristmill.lab.precision import autocast

    torch.manual_seed(0)
    m = GPT(GPTConfig(vocab_size=300, seq_len=40, n_layer=2, n_head=2, d_model=32))
    idx = torch.randint(0, 300, (6, 41))
    old = linear_ce.CHUNK_ELEMENTS
    linear_ce.CHUNK_ELEMENTS = 64 * 300  # several chunks, the last one partial (240 rows = 3 x 64 + 48)
    try:
        for reduction in ("mean", "sum"):
            m.zero_grad()
            with autocast(precision):
                _, fused = m(idx[:, :-1], idx[:, 1:], reduction=reduction)
            fused.backward()
            g_fused = {n: p.grad.clone() for n, p in m.named_parameters()}
            m.zero_grad()
            with autocast(precision):
                logits = m(idx[:, :-1])
            plain = F.cross_entropy(logits.float().reshape(-1, 300), idx[:, 1:].reshape(-1), reduction=reduction)
            plain.backward()
            tol = 1e-5 if precision == "fp32" else 2e-2
            assert abs(fused.item() - plain.item()) <= tol * abs(plain.item())
            for n, p in m.named_parameters():
                err = float((g_fused[n] - p.grad).abs().max() / p.grad.abs().max())
                assert err < (1e-4 if precision == "fp32" else 5e-2), (n, err)
        with torch.no_grad():  # evaluation: the loss alone
            assert torch.allclose(m(idx[:, :-1], idx[:, 1:], reduction="sum")[1], plain.detach(), rtol=tol)
    finally:
        linear_ce.CHUNK_ELEMENTS = old
