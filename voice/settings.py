"""The voice gateway's settings: one frozen object, read from the environment in one place (:func:`load_settings`,
called by ``voice/__main__.py`` only; library code never reads the environment)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from voice.models import DEFAULT_DEST
from voice.whisper_model import DEFAULT_DEST as WHISPER_DEST

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting has a value the service cannot use; the message names the variable."""


@dataclass(frozen=True)
class VoiceSettings:
    """Everything one voice gateway process needs to know (times in seconds unless the name says ms)."""

    dialogue_url: str = "http://127.0.0.1:5005"
    dialogue_token: str | None = field(default=None, repr=False)  # None: data/rasa.token (shared with the dialogue)
    bot_timeout_s: float = 15.0
    stt_engine: str = "auto"  # "vosk" (streaming, `make models`), "whisper" (installed by `make setup`) or "auto"
    vosk_model_path: Path = DEFAULT_DEST
    whisper_model_path: Path = WHISPER_DEST
    whisper_window: str = "fit"  # "fit": the encoder hears the utterance's length (5 s steps); "full": 30 s
    stt_sample_rate: int = 16000  # the rate the session converts caller audio to, for the VAD and the recognizer
    stt_workers: int = 2
    min_confidence: float = 0.3  # below it, the caller is asked to repeat
    max_repeats: int = 2  # "Pardon, pouvez-vous répéter ?" at most this many times in a row
    pace: str = "normal"  # "senior": slower speech, longer waits (see SENIOR)
    tts_voice: str = "fr"
    tts_rate: int = 160
    operator_number: str | None = None  # where a hand-off transfers the call; None: hang up after the message
    silence_timeout_s: float = 6.0  # then « Êtes-vous toujours là ? » (max_silences times), a callback offer
    max_silences: int = 2
    vad_aggressiveness: int = 2
    vad_hangover_ms: float = 600.0
    vad_start_ms: float = 100.0
    barge_in_min_ms: float = 400.0  # caller speech over the bot before it stops: « hm », « oui » do not cut it off
    max_speech_s: float = 20.0
    dtmf_timeout_s: float = 2.0
    # Twilio's REST API, for transfers on the Twilio gateway (both or neither; the token never in a repr or a log)
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_api_url: str = "https://api.twilio.com"
    # Callback cases when the bot cannot go on: the desk (its token from the env or data/desk.token), else the
    # outbox file data/tickets.sqlite3 shared with the action server.
    desk_url: str = "http://127.0.0.1:8085"
    desk_token: str | None = field(default=None, repr=False)
    data_dir: Path = Path("data")
    log_level: str = "INFO"  # GUICHET_LOG_LEVEL
    retention_days: int = 180  # forwarded callback tickets leave the outbox after this (GUICHET_RETENTION_DAYS)

    def __post_init__(self) -> None:
        checks = [
            (self.dialogue_url.startswith(("http://", "https://")), "GUICHET_DIALOGUE_URL", "une URL http(s)://"),
            (self.bot_timeout_s > 0, "GUICHET_BOT_TIMEOUT", "> 0"),
            (self.stt_sample_rate in (8000, 16000, 32000, 48000), "GUICHET_STT_RATE", "8000, 16000, 32000 ou 48000"),
            (self.log_level in ("DEBUG", "INFO", "WARNING", "ERROR"), "GUICHET_LOG_LEVEL",
             "DEBUG, INFO, WARNING ou ERROR"),
            (self.pace in ("normal", "senior"), "GUICHET_VOICE_PACE", "normal ou senior"),
            (self.stt_engine in ("auto", "vosk", "whisper"), "GUICHET_STT_ENGINE", "auto, vosk ou whisper"),
            (self.whisper_window in ("fit", "full"), "GUICHET_WHISPER_WINDOW", "fit ou full"),
            (self.stt_workers >= 1, "GUICHET_STT_WORKERS", ">= 1"),
            (0.0 <= self.min_confidence <= 1.0, "GUICHET_MIN_CONFIDENCE", "entre 0 et 1"),
            (self.max_repeats >= 0, "GUICHET_MAX_REPEATS", ">= 0"),
            (80 <= self.tts_rate <= 450, "GUICHET_TTS_RATE", "entre 80 et 450 mots par minute"),
            (bool(self.tts_voice.strip()), "GUICHET_TTS_VOICE", "une voix espeak-ng (fr, fr-be…)"),
            (self.silence_timeout_s > 0, "GUICHET_SILENCE_TIMEOUT", "> 0"),
            (self.max_silences >= 1, "GUICHET_MAX_SILENCES", ">= 1"),
            (self.vad_aggressiveness in (0, 1, 2, 3), "GUICHET_VAD_AGGRESSIVENESS", "0, 1, 2 ou 3"),
            (self.vad_hangover_ms >= 100, "GUICHET_VAD_HANGOVER_MS", ">= 100"),
            (self.vad_start_ms >= 20, "GUICHET_VAD_START_MS", ">= 20"),
            (0 <= self.barge_in_min_ms <= 3000, "GUICHET_BARGE_IN_MIN_MS", "de 0 à 3000"),
            (self.max_speech_s > 0, "GUICHET_MAX_SPEECH", "> 0"),
            (self.dtmf_timeout_s > 0, "GUICHET_DTMF_TIMEOUT", "> 0"),
            (1 <= self.retention_days <= 3650, "GUICHET_RETENTION_DAYS", "de 1 à 3650 jours"),
            (self.operator_number is None or bool(self.operator_number.strip()), "GUICHET_OPERATOR_NUMBER",
             "un numéro ou rien"),
            ((self.twilio_account_sid is None) == (self.twilio_auth_token is None), "GUICHET_TWILIO_ACCOUNT_SID",
             "avec GUICHET_TWILIO_AUTH_TOKEN (les deux ou aucun)"),
            (self.twilio_api_url.startswith(("http://", "https://")), "GUICHET_TWILIO_API_URL", "une URL http(s)://"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise SettingsError(f"{name} : valeur invalide, attendu {expected}")


def _get(env: Mapping[str, str], name: str, parse: Callable[[str], T], default: T) -> T:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return parse(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} : valeur invalide ({exc})") from exc


# GUICHET_VOICE_PACE=senior: a town whose callers are mostly elderly. The bot speaks slower and waits longer for the
# end of an answer and before « Êtes-vous toujours là ? »; each value can still be set on its own.
SENIOR = VoiceSettings(pace="senior", tts_rate=125, vad_hangover_ms=1000.0, silence_timeout_s=10.0, dtmf_timeout_s=3.5)


def load_settings(env: Mapping[str, str]) -> VoiceSettings:
    """The settings from environment variables (``os.environ`` in ``__main__``); defaults for what is unset.

    Raises :class:`SettingsError` (in French, naming the variable) for unusable values.
    """
    pace = _get(env, "GUICHET_VOICE_PACE", str, "normal").lower()
    d = SENIOR if pace == "senior" else VoiceSettings(pace=pace)
    return VoiceSettings(
        dialogue_url=_get(env, "GUICHET_DIALOGUE_URL", str, d.dialogue_url).rstrip("/"),
        dialogue_token=_get(env, "GUICHET_RASA_TOKEN", str, d.dialogue_token),
        bot_timeout_s=_get(env, "GUICHET_BOT_TIMEOUT", float, d.bot_timeout_s),
        stt_engine=_get(env, "GUICHET_STT_ENGINE", str, d.stt_engine).lower(),
        vosk_model_path=_get(env, "GUICHET_VOSK_MODEL", Path, d.vosk_model_path),
        whisper_model_path=_get(env, "GUICHET_WHISPER_MODEL", Path, d.whisper_model_path),
        whisper_window=_get(env, "GUICHET_WHISPER_WINDOW", str, d.whisper_window).lower(),
        stt_sample_rate=_get(env, "GUICHET_STT_RATE", int, d.stt_sample_rate),
        stt_workers=_get(env, "GUICHET_STT_WORKERS", int, d.stt_workers),
        min_confidence=_get(env, "GUICHET_MIN_CONFIDENCE", float, d.min_confidence),
        max_repeats=_get(env, "GUICHET_MAX_REPEATS", int, d.max_repeats),
        pace=d.pace,
        tts_voice=_get(env, "GUICHET_TTS_VOICE", str, d.tts_voice),
        tts_rate=_get(env, "GUICHET_TTS_RATE", int, d.tts_rate),
        operator_number=_get(env, "GUICHET_OPERATOR_NUMBER", str, d.operator_number),
        silence_timeout_s=_get(env, "GUICHET_SILENCE_TIMEOUT", float, d.silence_timeout_s),
        max_silences=_get(env, "GUICHET_MAX_SILENCES", int, d.max_silences),
        vad_aggressiveness=_get(env, "GUICHET_VAD_AGGRESSIVENESS", int, d.vad_aggressiveness),
        vad_hangover_ms=_get(env, "GUICHET_VAD_HANGOVER_MS", float, d.vad_hangover_ms),
        vad_start_ms=_get(env, "GUICHET_VAD_START_MS", float, d.vad_start_ms),
        barge_in_min_ms=_get(env, "GUICHET_BARGE_IN_MIN_MS", float, d.barge_in_min_ms),
        max_speech_s=_get(env, "GUICHET_MAX_SPEECH", float, d.max_speech_s),
        dtmf_timeout_s=_get(env, "GUICHET_DTMF_TIMEOUT", float, d.dtmf_timeout_s),
        twilio_account_sid=_get(env, "GUICHET_TWILIO_ACCOUNT_SID", str, d.twilio_account_sid),
        twilio_auth_token=_get(env, "GUICHET_TWILIO_AUTH_TOKEN", str, d.twilio_auth_token),
        twilio_api_url=_get(env, "GUICHET_TWILIO_API_URL", str, d.twilio_api_url).rstrip("/"),
        desk_url=_get(env, "GUICHET_DESK_URL", str, d.desk_url).rstrip("/"),
        desk_token=_get(env, "GUICHET_DESK_TOKEN", str, d.desk_token),
        data_dir=_get(env, "GUICHET_DATA_DIR", Path, d.data_dir),
        log_level=_get(env, "GUICHET_LOG_LEVEL", str, d.log_level).upper(),
        retention_days=_get(env, "GUICHET_RETENTION_DAYS", int, d.retention_days),
    )
