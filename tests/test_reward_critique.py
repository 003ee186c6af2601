"""Rationale critique judge: the parser on hand-written outputs (floats, N/A, missing fields, garbage -> 0 and counted),
the reward's columns, the OpenAI-compatible client against a local http.server that returns scripted critiques
(data-URL images, retries, timeouts, clear errors), and the transformers backend on a tiny random Qwen2.5-VL."""

import base64
import io
import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch
from PIL import Image

from reward_models.base import RewardBatch
from reward_models.critique import (
    COLUMNS,
    CRITIQUE_PROMPT,
    CritiqueReward,
    OpenAICritic,
    TransformersCritic,
    build_critic,
    parse_critique,
)
from reward_models.openai_client import EndpointError, OpenAICompatibleClient, normalize_base_url
from t2i_rl.tiny import save_tiny_qwen_vl

FULL = """**Text Faithfulness:** The cube is red, but there is one cube instead of two.
**Text Faithfulness Score:** 2.5
Physical and Visual Quality: Clean edges, no artifacts.
Physical and Visual Quality Score: 3.5/4
Text Rendering: The request asks for no text.
Text Rendering Score: N/A
Refined Request: "Two red cubes side by side on a plain white background."
"""


def critique_text(faithfulness, quality, text_rendering="N/A", refined="a red cube, clearly visible"):
    return (f"Text Faithfulness: ok\nText Faithfulness Score: {faithfulness}\nPhysical and Visual Quality: ok\n"
            f"Physical and Visual Quality Score: {quality}\nText Rendering: none\nText Rendering Score: {text_rendering}\n"
            f"Refined Request: {refined}")


# ------------------------------------------------------------------------------------------------ parser
def test_parser_reads_floats_na_and_the_refined_request():
    c = parse_critique(FULL)
    assert c.scores["faithfulness"] == 2.5 and c.scores["quality"] == 3.5
    assert math.isnan(c.scores["text_rendering"]) and c.not_applicable == ["text_rendering"]
    assert c.refined_request == "Two red cubes side by side on a plain white background."
    assert c.parsed and c.problems == []
    assert c.scalar == pytest.approx(((2.5 + 3.5) / 2 - 1) / 3)


@pytest.mark.parametrize("text, scores, scalar", [
    (critique_text(4, 4, 4), (4, 4, 4), 1.0),
    (critique_text(1, 1, "n/a"), (1, 1, None), 0.0),
    (critique_text("3.25", "2", "Not applicable"), (3.25, 2, None), (2.625 - 1) / 3),
    ("text faithfulness score = 3\nvisual quality score: 2", (3, 2, None), 0.5),  # variant labels, lower case
    (('{"text_faithfulness_score": 4, "physical_and_visual_quality_score": 2, "text_rendering_score": "N/A",'
      ' "refined_request": "a cat"}'), (4, 2, None), 2 / 3),  # a JSON answer
])
def test_parser_variants(text, scores, scalar):
    c = parse_critique(text)
    got = tuple(None if math.isnan(c.scores[k]) else c.scores[k] for k in ("faithfulness", "quality", "text_rendering"))
    assert got == scores and c.scalar == pytest.approx(scalar)


def test_parser_missing_fields_out_of_range_and_garbage():
    c = parse_critique("Text Faithfulness Score: 3\nRefined Request: a dog")  # quality and rendering missing
    assert c.scores["faithfulness"] == 3 and math.isnan(c.scores["quality"]) and c.scalar == pytest.approx(2 / 3)
    assert "quality: missing" in c.problems and c.refined_request == "a dog"
    c = parse_critique(critique_text(7, 3))  # 7 is not on the 1-4 scale: ignored, reported
    assert math.isnan(c.scores["faithfulness"]) and c.scalar == pytest.approx(2 / 3)
    assert any("outside" in p for p in c.problems)
    for garbage in ["", "I cannot judge this image.", "Score: great!", None, "Text Faithfulness Score: N/A"]:
        c = parse_critique(garbage)
        assert not c.parsed and c.scalar == 0.0 and "unparsable: no readable score" in c.problems


def test_refined_request_stops_at_the_next_section():
    c = parse_critique(critique_text(2, 2, refined="**a blue ball on grass**\nOverall: fine"))
    assert c.refined_request == "a blue ball on grass"


# ------------------------------------------------------------------------------------------------ reward
def scripted(texts):
    calls = []

    def critic(images, prompts):
        calls.append((list(images), list(prompts)))
        return [texts[i % len(texts)] for i in range(len(prompts))]

    critic.calls = calls
    return critic


def test_reward_columns_groups_and_unparsable_count():
    critic = scripted([FULL, "garbage", critique_text(4, 3, 2)])
    reward = CritiqueReward(critic=critic)
    batch = RewardBatch(torch.rand(3, 3, 32, 32), ["two red cubes", "a cat", "a sign that says hi"])
    out = reward(batch)
    assert out.names == list(COLUMNS) and out.groups == ["other", "quality", "quality", "quality"]
    expected = torch.tensor([[0.5, 2.5 / 3, math.nan, (3 - 1) / 3],
                             [math.nan, math.nan, math.nan, 0.0],
                             [1.0, 2 / 3, 1 / 3, (3 - 1) / 3]])
    assert torch.allclose(out.scores, expected, equal_nan=True)
    assert reward.stats == {"images": 3, "unparsable": 1}
    assert out.details[1]["critique/parsed"] is False and out.details[0]["critique/refined_request"].startswith("Two")
    images, prompts = critic.calls[0]
    assert prompts == batch.prompts and images[0].size == (32, 32)
    reward(batch)
    assert reward.stats == {"images": 6, "unparsable": 2}
    assert CritiqueReward(critic=critic, columns=["critique"])(batch).scores.shape == (3, 1)
    with pytest.raises(ValueError, match="unknown critique columns"):
        CritiqueReward(critic=critic, columns=["beauty"])


def test_reward_stats_reports_the_unparsable_count():
    from reward_models.image_stats import ImageStatsReward
    from t2i_rl.config import RewardSpec
    from t2i_rl.trainer import reward_stats

    reward = CritiqueReward(critic=scripted([FULL, "garbage"]))
    reward(RewardBatch(torch.rand(2, 3, 32, 32), ["two red cubes", "a cat"]))
    specs = [RewardSpec(name="critique", prefix="judge"), RewardSpec(name="image_stats")]
    assert reward_stats(specs, [reward, ImageStatsReward()]) == {
        "reward_stats/judge/images": 2.0, "reward_stats/judge/unparsable": 1.0}


# ------------------------------------------------------------------------------------------------ HTTP
class ScriptedServer:
    """A local OpenAI-compatible server: each POST pops the next scripted action ("ok" answers with the next
    critique; an int answers with that HTTP status; ("sleep", s) waits before answering)."""

    def __init__(self, critiques, actions=()):
        self.critiques, self.actions, self.requests = list(critiques), list(actions), []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                self._json(200, {"data": [{"id": "judge"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                    action = server.actions.pop(0) if server.actions else "ok"
                    text = server.critiques.pop(0) if action == "ok" or isinstance(action, tuple) else None
                if isinstance(action, tuple):
                    import time

                    time.sleep(action[1])
                if isinstance(action, int):
                    return self._json(action, {"error": {"message": f"scripted {action}"}})
                self._json(200, {"choices": [{"message": {"role": "assistant", "content": text}}]})

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_openai_critic_against_a_local_server():
    with ScriptedServer([FULL, critique_text(4, 4)]) as server:
        reward = CritiqueReward(backend="openai", base_url=server.url, model="judge", api_key="sk-test",
                                critic_kwargs={"max_workers": 1})
        out = reward(RewardBatch(torch.zeros(2, 3, 16, 16), ["two red cubes", "a red cube"]))
    assert out.scores[:, -1].tolist() == pytest.approx([2 / 3, 1.0])
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "judge" and body["temperature"] == 0.0
    image_part, text_part = body["messages"][0]["content"]
    assert text_part["text"] == CRITIQUE_PROMPT.format(prompt="two red cubes")
    url = image_part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (16, 16) and image.getpixel((0, 0)) == (0, 0, 0)


def test_client_retries_server_errors_then_succeeds():
    with ScriptedServer([critique_text(3, 3)], actions=[503, 500, "ok"]) as server:
        client = OpenAICompatibleClient(server.url + "/v1/", max_retries=2, backoff=0.01, timeout=5)
        assert "Score: 3" in client.chat("judge", [{"role": "user", "content": "hi"}])
        assert client.models() == ["judge"]
    assert len(server.requests) == 3


def test_client_errors_are_clear():
    with ScriptedServer([], actions=[400, 503, 503]) as server:
        client = OpenAICompatibleClient(server.url, max_retries=1, backoff=0.01, timeout=5)
        with pytest.raises(EndpointError, match="HTTP 400") as err:  # not retried
            client.chat("judge", [])
        assert err.value.status == 400 and len(server.requests) == 1
        with pytest.raises(EndpointError, match="HTTP 503.*gave up after 2 attempts"):
            client.chat("judge", [])
    with ScriptedServer([critique_text(3, 3)], actions=[("sleep", 1.0)]) as server:
        client = OpenAICompatibleClient(server.url, max_retries=0, timeout=0.2)
        with pytest.raises(EndpointError, match="timed out after 0.2 s"):
            client.chat("judge", [])
    dead = OpenAICompatibleClient(server.url, max_retries=1, backoff=0.01, timeout=1)  # the server is shut down
    with pytest.raises(EndpointError, match="cannot connect.*is the vLLM/SGLang server running"):
        dead.chat("judge", [])
    with pytest.raises(ValueError, match="http"):
        OpenAICompatibleClient("localhost:8000")
    with pytest.raises(ValueError, match="needs base_url"):
        build_critic("openai", model="judge")
    with pytest.raises(ValueError, match="unknown critic backend"):
        build_critic("gemini")


def test_base_url_normalisation():
    assert normalize_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalize_base_url("http://h:8000/v1/chat/completions") == "http://h:8000/v1"
    assert normalize_base_url("https://h/openai/v1/") == "https://h/openai/v1"


# ------------------------------------------------------------------------------------------------ transformers
def test_transformers_critic_on_a_tiny_vlm(tmp_path):
    directory = save_tiny_qwen_vl(tmp_path / "vlm", version="2.5")
    critic = TransformersCritic.from_pretrained(str(directory), device="cpu", batch_size=2, max_new_tokens=6)
    assert isinstance(critic, TransformersCritic)
    reward = CritiqueReward(critic=critic)
    out = reward(RewardBatch(torch.rand(3, 3, 64, 64), ["a red cube", "two cats", "a sign that says hi"]))
    # a random model writes garbage: every critique is unparsable, scores 0 and is counted
    assert out.scores.shape == (3, 4) and out.scores[:, -1].tolist() == [0.0, 0.0, 0.0]
    assert reward.stats["unparsable"] == 3 and all(isinstance(d["critique/text"], str) for d in out.details)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        CritiqueReward(backend="transformers", model=str(tmp_path / "missing"))


def test_openai_critic_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="2 images for 1 prompts"):
        OpenAICritic("http://127.0.0.1:9", "judge")([None, None], ["a"])
