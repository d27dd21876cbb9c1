"""Prometheus metrics: a real call session reports into VoiceMetrics, and `GET /metrics` serves them (Twilio app and
the stand-alone metrics app), scraped over HTTP on 127.0.0.1 and read back with prometheus_client's own parser."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from tests.voice.test_session import GREETING, LONG_REPLY, MemoryCallIO, TrackedTranscriber, now_ms, speech, until
from voice.audio import SLIN8K
from voice.bot_client import BotTurn, FakeBotClient
from voice.call import BotReply, CallIO
from voice.gateways import twilio
from voice.metrics import VoiceMetrics, metrics_app
from voice.session import CallSession
from voice.settings import VoiceSettings
from voice.tts import EspeakSynthesizer


@pytest.fixture(scope="module")
def synthesizer() -> EspeakSynthesizer:
    return EspeakSynthesizer()


@pytest.fixture(scope="module")
def rdv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speech(tmp_path_factory.mktemp("speech"), "Je voudrais un rendez-vous.", SLIN8K)[0]


def samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def test_counts_and_latency_buckets() -> None:
    metrics = VoiceMetrics()
    metrics.call_started("twilio")
    metrics.call_started("sip")
    metrics.turn_answered(450)
    metrics.turn_answered(1200)
    metrics.barge_in("speech")
    metrics.escalation(False)
    metrics.call_ended("transfer")
    metrics.call_ended("something odd")
    got = samples(metrics.render().decode())
    assert got["guichet_voice_calls_started_total{gateway=twilio}"] == 1
    assert got["guichet_voice_calls_started_total{gateway=sip}"] == 1
    assert got["guichet_voice_calls_ended_total{outcome=transfer}"] == 1
    assert got["guichet_voice_calls_ended_total{outcome=error}"] == 1  # unknown outcomes are not new labels
    assert got["guichet_voice_active_calls"] == 0
    assert got["guichet_voice_turns_total"] == 2
    assert got["guichet_voice_turn_latency_seconds_bucket{le=0.6}"] == 1
    assert got["guichet_voice_turn_latency_seconds_bucket{le=1.5}"] == 2
    assert abs(got["guichet_voice_turn_latency_seconds_sum"] - 1.65) < 1e-9
    assert got["guichet_voice_barge_ins_total{by=speech}"] == 1
    assert got["guichet_voice_escalations_total{result=callback}"] == 1
    assert VoiceMetrics().render() != metrics.render()  # each instance has its own registry


async def test_a_call_session_reports_turns_barge_ins_and_escalations(
        synthesizer: EspeakSynthesizer, rdv: bytes) -> None:
    metrics = VoiceMetrics()
    handoff = BotTurn([BotReply("Je vous passe un conseiller.")], ended="handoff")
    settings = VoiceSettings(silence_timeout_s=5.0, vad_hangover_ms=400, dtmf_timeout_s=0.3,
                             operator_number="+33130000000")
    io = MemoryCallIO()
    bot = FakeBotClient([GREETING, [LONG_REPLY], handoff])
    session = CallSession(io, transcriber=TrackedTranscriber(["je voudrais un rendez-vous"]),
                          synthesizer=synthesizer, bot=bot, settings=settings, now_ms=now_ms, observer=metrics)
    task = asyncio.create_task(session.run())
    await until(lambda: bool(io.played) and io.quiet_for(300), what="the greeting")
    io.say(rdv)
    await until(lambda: len(bot.sent) == 2 and any(t > io.said_at[0] + 500 for t, _ in io.played),
                what="the long reply")
    io.press("1")  # over the long reply: a barge-in by key, then the digit is the next turn (→ hand-off)
    await asyncio.wait_for(task, 15)
    got = samples(metrics.render().decode())
    assert got["guichet_voice_barge_ins_total{by=key}"] == 1
    assert got["guichet_voice_turns_total"] == 2 == len(session.turn_latencies_ms)
    assert got["guichet_voice_turn_latency_seconds_count"] == 2
    assert abs(got["guichet_voice_turn_latency_seconds_sum"] - sum(session.turn_latencies_ms) / 1000) < 1e-6
    assert got["guichet_voice_escalations_total{result=transfer}"] == 1 and io.transfers == ["+33130000000"]


async def test_metrics_are_served_on_the_twilio_port_and_on_their_own() -> None:
    metrics = VoiceMetrics()
    metrics.call_started("twilio")

    async def handler(call: CallIO) -> None:
        pass

    server = await twilio.serve("127.0.0.1", 0, handler, metrics=metrics)
    runner = web.AppRunner(metrics_app(metrics))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    own_port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as client:
            for port in (server.port, own_port):
                async with client.get(f"http://127.0.0.1:{port}/metrics") as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/plain")
                    got = samples(await response.text())
                assert got["guichet_voice_calls_started_total{gateway=twilio}"] == 1
            bare = await twilio.serve("127.0.0.1", 0, handler)  # no metrics given: no route
            try:
                async with client.get(f"http://127.0.0.1:{bare.port}/metrics") as response:
                    assert response.status == 404
            finally:
                await bare.close()
    finally:
        await server.close()
        await runner.cleanup()
