"""Issue 23 item 5: the documented path to a toxicity classifier (README "Harmful content"): a
labelled JSON Lines set -> `gristmill quality train` with --pos-where/--neg-where on its label ->
`quality_score` into its own column -> `quality_select` on that column, all through the CLI and
the real readers. The labelled set is built here from templates (mild insults against civil
replies); the held-out documents use templates the model never saw."""
import json
import random

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from gristmill.cli import app

runner = CliRunner()
INSULTS = ["idiot", "moron", "loser", "clown", "fool", "joke", "halfwit", "nitwit"]
TOPICS = ["the schedule", "the new release", "this patch", "the budget", "the garden plan", "your essay", "the recipe", "the map"]
TOXIC_TRAIN = ["You are such a {i}, nobody wants to hear about {t} from you.", "Shut up about {t}, you pathetic {i}.",
               "Only a worthless {i} would write something this stupid about {t}.", "Go away, {i}. Your take on {t} is garbage."]
CIVIL_TRAIN = ["Thanks for the notes on {t}, I will try your suggestion tomorrow.", "I read your comments on {t} and they helped a lot.",
               "Could you share more details about {t}? It looks promising.", "Nice work on {t}, the examples are very clear."]
TOXIC_HELD = ["Nobody asked you about {t}, you stupid {i}.", "What a pathetic {i}, ruining {t} like that, get lost."]
CIVIL_HELD = ["I appreciate the time you spent on {t}, thank you.", "Your explanation of {t} was clear and kind, great job."]


def _rows(templates, label, rng, n):
    return [{"text": rng.choice(templates).format(i=rng.choice(INSULTS), t=rng.choice(TOPICS)), "toxic": label} for _ in range(n)]


def test_a_toxicity_classifier_trained_with_quality_train_tags_and_selects(tmp_path):
    rng = random.Random(0)
    labelled = _rows(TOXIC_TRAIN, 1, rng, 300) + _rows(CIVIL_TRAIN, 0, rng, 300)
    rng.shuffle(labelled)
    train = tmp_path / "labelled.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in labelled))
    model = tmp_path / "civil.bin"
    # Positives are the civil texts, so the score is "how civil" and quality_select keeps the high ones.
    res = runner.invoke(app, ["quality", "train", "--pos", str(train), "--pos-where", "toxic == 0",
                              "--neg", str(train), "--neg-where", "toxic == 1", "--family", "fast", "-o", str(model)])
    assert res.exit_code == 0, (res.output, res.exception)

    held = [{"id": f"t{k}", **r} for k, r in enumerate(_rows(TOXIC_HELD, 1, rng, 60))] + \
           [{"id": f"c{k}", **r} for k, r in enumerate(_rows(CIVIL_HELD, 0, rng, 60))]
    data = tmp_path / "held.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in held))
    recipe = {"inputs": [{"paths": [str(data)], "fields": ["toxic"]}],
              "steps": [{"quality_score": {"model": str(model), "column": "civil_score"}},
                        {"quality_select": {"column": "civil_score", "min_score": 0.5}}],
              "output": {"path": str(tmp_path / "out"), "keep_rejected": True}}
    rp = tmp_path / "r.yaml"
    rp.write_text(yaml.safe_dump(recipe))
    res = runner.invoke(app, ["run", str(rp), "-w", "1"])
    assert res.exit_code == 0, (res.output, res.exception)
    kept = pq.read_table(tmp_path / "out" / "data").to_pylist()
    rejected = pq.read_table(tmp_path / "out" / "rejected").to_pylist()
    assert all("civil_score" in r for r in kept + rejected)  # tagged as a column, selectable later
    # Ranking on unseen templates (AUC), then what the 0.5 cut does: removes the toxic replies and
    # keeps most civil ones (a 600-example set of 8 templates generalizes only so far; a real
    # labelled set is thousands of varied texts).
    scores = [(r["civil_score"], r["toxic"]) for r in kept + rejected]
    pairs = [(c, t) for c, lc in scores if lc == 0 for t, lt in scores if lt == 1]
    auc = sum(1.0 if c > t else 0.5 if c == t else 0.0 for c, t in pairs) / len(pairs)
    toxic_removed = sum(r["toxic"] == 1 for r in rejected) / 60
    civil_kept = sum(r["toxic"] == 0 for r in kept) / 60
    assert auc >= 0.95 and toxic_removed >= 0.9 and civil_kept >= 0.6, (auc, toxic_removed, civil_kept)
    assert {r["reject_reason"] for r in rejected} == {"quality_select/low_quality"}
