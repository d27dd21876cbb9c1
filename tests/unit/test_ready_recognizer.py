"""`make run`'s summary says which recognizer the phone line will use, the way voice/stt.py chooses it."""

from __future__ import annotations

from pathlib import Path

from guichet.ready import recognizer, summary


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"GUICHET_VOSK_MODEL": str(tmp_path / "vosk"), "GUICHET_WHISPER_MODEL": str(tmp_path / "whisper"), **extra}


def test_whisper_when_only_its_model_is_installed_vosk_when_its_model_is(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert recognizer(env) is None and "en attente d'un modèle" in summary(env)
    (tmp_path / "whisper").mkdir()
    (tmp_path / "whisper" / "model.bin").write_bytes(b"x")
    assert recognizer(env) == "Whisper base" and "reconnaissance : Whisper base" in summary(env)
    (tmp_path / "vosk" / "vosk-model-small-fr-0.22").mkdir(parents=True)
    assert recognizer(env) == "Vosk"
    assert recognizer(_env(tmp_path, GUICHET_STT_ENGINE="whisper")) == "Whisper base"
