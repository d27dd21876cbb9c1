"""The voice gateway's composition root.

``python -m voice serve [--audiosocket HOST:PORT] [--twilio HOST:PORT] [--sip HOST:PORT] [--metrics HOST:PORT]``
answers calls (``--scripted-stt FILE`` replaces speech recognition by a script: for tests and demos only);
``python -m voice call (--wav FILE | --text "…") [--scripted "phrase" …] [--out DIR]`` simulates one call locally,
with no telephony: the caller's audio comes from the WAV (or espeak-ng), the bot's audio goes to DIR/bot.wav.
Settings come from the environment (voice/settings.py), read here only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from clients.desk import HttpDeskClient, ResilientDesk
from clients.tickets import SqliteTicketStore
from guichet.clock import SystemClock
from guichet.logs import configure_logging
from guichet.tokens import stored_token
from voice.audio import SLIN8K, AudioFormat, convert, read_wav, write_wav
from voice.bot_client import HttpBotClient
from voice.call import AudioIn, CallEvent, CallIO, Hangup
from voice.callbacks import DeskCallbacks
from voice.gateways.twilio_rest import TwilioRestClient
from voice.metrics import VoiceMetrics, metrics_app
from voice.scripted import ScriptedTranscriber
from voice.session import FREQUENT_PROMPTS, CallSession
from voice.settings import SettingsError, VoiceSettings, load_settings
from voice.stt import ModelMissingError, SttError, Transcriber, load_transcriber
from voice.tts import EspeakSynthesizer, TtsError

log = logging.getLogger("voice")
GATEWAYS = ("audiosocket", "twilio", "sip")
Handler = Callable[[CallIO], Awaitable[None]]


def _address(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"adresse HOST:PORT attendue, pas {value!r}")
    return host, int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m voice", description="Passerelle vocale du guichet")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="répondre aux appels")
    for name in GATEWAYS:
        serve.add_argument(f"--{name}", type=_address, metavar="HOST:PORT", help=f"passerelle {name}")
    serve.add_argument("--metrics", type=_address, metavar="HOST:PORT",
                       help="GET /metrics (Prometheus) sur cette adresse ; aussi sur le port de --twilio")
    serve.add_argument("--scripted-stt", type=Path, metavar="FILE",
                       help="TESTS ET DÉMOS SEULEMENT : pas de reconnaissance vocale ; dans chaque appel, le n-ième "
                            "énoncé de l'appelant est entendu comme la n-ième ligne non vide de FILE")
    serve.add_argument("--idle-without-model", action="store_true",
                       help="sans modèle Vosk, dire quoi faire et attendre au lieu de quitter (make run)")
    call = commands.add_parser("call", help="simuler un appel en local (sans téléphonie)")
    audio = call.add_mutually_exclusive_group()
    audio.add_argument("--wav", type=Path, help="ce que dit l'appelant (WAV 16 bits mono)")
    audio.add_argument("--text", help="ce que dit l'appelant, synthétisé par espeak-ng")
    call.add_argument("--scripted", nargs="+", metavar="PHRASE",
                      help="reconnaissance simulée : chaque tour de l'appelant est entendu comme la phrase suivante")
    call.add_argument("--out", type=Path, default=Path("call-out"), help="dossier de bot.wav et transcript.txt")
    call.add_argument("--max-seconds", type=float, default=180.0, help="durée maximale de l'appel")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(os.environ)
        configure_logging(settings.log_level)  # personal data masked, GUICHET_LOG_LEVEL honoured
    except (SettingsError, ValueError) as exc:
        print(f"Configuration invalide : {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "serve":
            return _serve_command(args, settings)
        if args.wav is None and args.text is None and not args.scripted:
            print("Indiquez --wav, --text ou --scripted.", file=sys.stderr)
            return 2
        transcriber = ScriptedTranscriber(args.scripted) if args.scripted else load_transcriber(settings)
        return asyncio.run(_simulate(args, settings, transcriber))
    except ModelMissingError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except (SttError, TtsError, OSError) as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 2


# --- serve ----------------------------------------------------------------------------------------------------------


def _serve_command(args: argparse.Namespace, settings: VoiceSettings) -> int:
    wanted = [(name, getattr(args, name)) for name in GATEWAYS if getattr(args, name) is not None]
    if not wanted:
        print("Indiquez au moins une passerelle : --audiosocket, --twilio ou --sip HOST:PORT.", file=sys.stderr)
        return 2
    modules: list[tuple[str, Any, tuple[str, int]]] = []
    for name, address in wanted:
        try:
            module = importlib.import_module(f"voice.gateways.{name}")
        except ModuleNotFoundError:
            module = None
        if module is None or not callable(getattr(module, "serve", None)):
            print(f"Passerelle non disponible : {name} (module voice.gateways.{name} absent ou sans serve()).",
                  file=sys.stderr)
            return 2
        modules.append((name, module, address))
    if args.scripted_stt is not None:
        lines = [line.strip() for line in args.scripted_stt.read_text(encoding="utf-8").splitlines()]
        script = [line for line in lines if line and not line.startswith("#")]
        log.warning("scripted speech recognition (%d utterances per call): for tests only", len(script))
        asyncio.run(_serve(modules, settings, lambda: ScriptedTranscriber(script), None, args.metrics))
        return 0
    try:
        transcriber = load_transcriber(settings)
    except ModelMissingError as exc:
        if not args.idle_without_model:
            raise
        print(f"{exc}\nLa passerelle vocale attend ; le reste du guichet fonctionne (Ctrl-C pour tout arrêter).",
              file=sys.stderr, flush=True)
        while True:
            signal.pause()
    asyncio.run(_serve(modules, settings, lambda: transcriber, transcriber, args.metrics))
    return 0


def _bot(settings: VoiceSettings) -> HttpBotClient:
    token = settings.dialogue_token or stored_token(settings.data_dir / "rasa.token")
    return HttpBotClient(settings.dialogue_url, timeout_s=settings.bot_timeout_s, token=token)


def _callbacks(settings: VoiceSettings) -> DeskCallbacks:
    """Callback cases go to the desk, or to the outbox file the action server also forwards from."""
    token = settings.desk_token or stored_token(settings.data_dir / "desk.token")
    outbox = SqliteTicketStore(settings.data_dir / "tickets.sqlite3", retention_days=settings.retention_days)
    return DeskCallbacks(ResilientDesk(HttpDeskClient(settings.desk_url, token), outbox), SystemClock())


async def _serve(modules: list[tuple[str, Any, tuple[str, int]]], settings: VoiceSettings,
                 transcriber_for_call: Callable[[], Transcriber], shared: Any, metrics_at: tuple[str, int] | None,
                 ) -> None:
    if shared is not None:
        await shared.load()
    synthesizer = EspeakSynthesizer(voice=settings.tts_voice, rate=settings.tts_rate)
    await synthesizer.warm_up(FREQUENT_PROMPTS)
    bot = _bot(settings)
    callbacks = _callbacks(settings)
    metrics = VoiceMetrics()
    control = None
    if settings.twilio_account_sid and settings.twilio_auth_token:
        control = TwilioRestClient(settings.twilio_account_sid, settings.twilio_auth_token,
                                   base_url=settings.twilio_api_url)

    def handler_for(gateway: str) -> Handler:
        async def handler(io: CallIO) -> None:
            metrics.call_started(gateway)
            session = CallSession(io, transcriber=transcriber_for_call(), synthesizer=synthesizer, bot=bot,
                                  settings=settings, observer=metrics, callbacks=callbacks)
            try:
                await session.run()
            finally:
                metrics.call_ended(session.ended_by or "caller")
        return handler

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    servers: list[Any] = []
    metrics_runner: web.AppRunner | None = None
    try:
        if metrics_at is not None:
            metrics_runner = web.AppRunner(metrics_app(metrics))
            await metrics_runner.setup()
            await web.TCPSite(metrics_runner, *metrics_at).start()
            log.info("metrics on http://%s:%d/metrics", *metrics_at)
        for name, module, (host, port) in modules:
            extra: dict[str, Any] = {"control": control, "metrics": metrics} if name == "twilio" else {}
            servers.append(await module.serve(host, port, handler_for(name), **extra))
            log.info("gateway %s listening on %s:%d", name, host, port)
        await stop.wait()
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.close()
        if metrics_runner is not None:
            await metrics_runner.cleanup()
        if control is not None:
            await control.close()
        await bot.close()
        synthesizer.close()
        if shared is not None:
            shared.close()


# --- call simulator -------------------------------------------------------------------------------------------------


class LocalCallIO:
    """A call in this process: each caller turn is played on the line once the bot has finished speaking; the
    line carries silence otherwise, in real time, like a phone line; the bot's audio is recorded."""

    format: AudioFormat = SLIN8K

    def __init__(self, turns: list[bytes], *, max_seconds: float) -> None:
        self.call_id = f"local-{int(time.time())}"
        self.caller: str | None = "+33612345678"
        self.bot_audio = bytearray()
        self._turns = list(turns)
        self._last_play = 0.0
        self._closed = False
        self._max_seconds = max_seconds

    def _bot_done(self, since: float) -> bool:
        return self._last_play > since and time.monotonic() - self._last_play > 0.8

    async def events(self) -> AsyncIterator[CallEvent]:
        frame = self.format.bytes_per_frame(20)
        started = deadline = time.monotonic()
        current, turn_done_at = b"", started
        while not self._closed:
            if time.monotonic() - started > self._max_seconds:
                yield Hangup("max-seconds")
                return
            if not current and self._turns and self._bot_done(turn_done_at):
                current = self._turns.pop(0)
            chunk, current = current[:frame], current[frame:]
            if chunk and not current:
                turn_done_at = time.monotonic()
            yield AudioIn(chunk + self.format.silence(20)[len(chunk):])
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    async def play(self, pcm: bytes) -> None:
        self._last_play = time.monotonic()
        self.bot_audio += pcm

    async def clear(self) -> None:
        pass

    async def hangup(self) -> None:
        self._closed = True

    async def transfer(self, target: str) -> bool:
        return False


async def _caller_audio(args: argparse.Namespace, synthesizer: EspeakSynthesizer, fmt: AudioFormat) -> list[bytes]:
    async def tts(text: str) -> bytes:
        pcm = b"".join([chunk async for chunk in synthesizer.synthesize(text)])
        return convert(pcm, AudioFormat("slin16", synthesizer.sample_rate), fmt)

    if args.wav is not None:
        data, src = read_wav(args.wav)
        audio = convert(data, src, fmt)
    elif args.text is not None:
        audio = await tts(args.text)
    else:  # --scripted alone: the caller says each phrase
        return [await tts(phrase) for phrase in args.scripted]
    return [audio] * max(1, len(args.scripted or ()))


async def _simulate(args: argparse.Namespace, settings: VoiceSettings, transcriber: Transcriber) -> int:
    synthesizer = EspeakSynthesizer(voice=settings.tts_voice, rate=settings.tts_rate)
    bot = _bot(settings)
    try:
        await synthesizer.warm_up()
        io = LocalCallIO(await _caller_audio(args, synthesizer, SLIN8K), max_seconds=args.max_seconds)
        session = CallSession(io, transcriber=transcriber, synthesizer=synthesizer, bot=bot, settings=settings)
        await session.run()
    finally:
        await bot.close()
        synthesizer.close()
        close = getattr(transcriber, "close", None)
        if callable(close):
            close()
    args.out.mkdir(parents=True, exist_ok=True)
    write_wav(args.out / "bot.wav", bytes(io.bot_audio), io.format)
    lines = [f"{'appelant' if who == 'caller' else 'bot'} : {text}" for who, text in session.transcript]
    lines.append(f"# fin : {session.ended_by} ; latences par tour (ms) : "
                 f"{[round(ms) for ms in session.turn_latencies_ms]}")
    (args.out / "transcript.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.out / 'bot.wav'} et {args.out / 'transcript.txt'} écrits.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
