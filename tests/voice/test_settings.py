"""The voice gateway's Twilio REST API settings (transfers): both credentials or none, never the token in a repr."""

from __future__ import annotations

import pytest

from voice.settings import SettingsError, VoiceSettings, load_settings


def test_twilio_credentials_are_read_and_the_token_stays_out_of_the_repr() -> None:
    settings = load_settings({"GUICHET_TWILIO_ACCOUNT_SID": "AC123", "GUICHET_TWILIO_AUTH_TOKEN": "tok-secret",
                              "GUICHET_TWILIO_API_URL": "http://127.0.0.1:9999/"})
    assert (settings.twilio_account_sid, settings.twilio_auth_token) == ("AC123", "tok-secret")
    assert settings.twilio_api_url == "http://127.0.0.1:9999"
    assert "tok-secret" not in repr(settings)
    assert load_settings({}).twilio_api_url == "https://api.twilio.com"
    assert load_settings({}).twilio_account_sid is None


@pytest.mark.parametrize("env", [{"GUICHET_TWILIO_ACCOUNT_SID": "AC123"}, {"GUICHET_TWILIO_AUTH_TOKEN": "tok"},
                                 {"GUICHET_TWILIO_API_URL": "ftp://api"}])
def test_half_a_configuration_is_refused_by_name(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="GUICHET_TWILIO_"):
        load_settings(env)


def test_defaults_need_no_twilio() -> None:
    assert VoiceSettings().twilio_auth_token is None


def test_the_senior_pace_speaks_slower_and_waits_longer_unless_told_otherwise() -> None:
    normal, senior = load_settings({}), load_settings({"GUICHET_VOICE_PACE": "senior"})
    assert senior.tts_rate < normal.tts_rate and senior.vad_hangover_ms > normal.vad_hangover_ms
    assert senior.silence_timeout_s > normal.silence_timeout_s and senior.dtmf_timeout_s > normal.dtmf_timeout_s
    assert load_settings({"GUICHET_VOICE_PACE": "senior", "GUICHET_TTS_RATE": "140"}).tts_rate == 140
    with pytest.raises(SettingsError, match="GUICHET_VOICE_PACE"):
        load_settings({"GUICHET_VOICE_PACE": "rapide"})


def test_the_recognizer_can_be_chosen() -> None:
    assert load_settings({}).stt_engine == "auto"
    assert load_settings({"GUICHET_STT_ENGINE": "Whisper"}).stt_engine == "whisper"
    with pytest.raises(SettingsError, match="GUICHET_STT_ENGINE"):
        load_settings({"GUICHET_STT_ENGINE": "google"})
