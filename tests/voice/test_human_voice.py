"""The human-speech kit: installed recordings, French number composition, utterance audio, WER set."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice.audio import SLIN8K, SLIN16K, ULAW8K, AudioFormat, convert, duration_ms, rms, to_samples
from voice.testing.human import (
    SOUNDS_PACKAGE,
    HumanVoice,
    HumanVoiceMissing,
    UnknownUnit,
    clean_text,
    date_words,
    digit_words,
    number_word,
    number_words,
    parse_transcripts,
    spell_words,
    units_of,
)

PHONE_UNITS = ["digits/0", "digits/6", "digits/12", "digits/30", "digits/4", "digits/50", "digits/6", "digits/60",
               "digits/18"]
PHONE_TEXT = "zéro six douze trente-quatre cinquante-six soixante-dix-huit"


@pytest.fixture(scope="module")
def voice8() -> HumanVoice:
    return HumanVoice(rate=8000)


@pytest.fixture(scope="module")
def voice16() -> HumanVoice:
    return HumanVoice(rate=16000)


def _fmt(rate: int) -> AudioFormat:
    return SLIN8K if rate == 8000 else SLIN16K


def test_package_installed_with_400_transcribed_prompts(voice8: HumanVoice) -> None:
    names = set(voice8.names())
    assert {f"digits/{d}" for d in range(10)} <= names
    assert len(voice8.transcripts()) >= 400
    assert set(voice8.transcripts()) <= names
    assert voice8.transcripts()["digits/mon-11"] == "Décembre"


def test_missing_recordings_name_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(HumanVoiceMissing, match=SOUNDS_PACKAGE):
        HumanVoice(tmp_path)


def test_phone_number_by_pairs_the_french_way() -> None:
    words = digit_words("06 12 34 56 78")
    assert units_of(words) == PHONE_UNITS
    assert " ".join(w.text for w in words) == PHONE_TEXT
    assert units_of(digit_words("0612", by_pairs=False)) == ["digits/0", "digits/6", "digits/1", "digits/2"]


@pytest.mark.parametrize("rate", [8000, 16000])
def test_phone_number_audio_is_plausible(rate: int, voice8: HumanVoice, voice16: HumanVoice) -> None:
    said = (voice8 if rate == 8000 else voice16).digits("0612345678")
    assert said.text == PHONE_TEXT
    assert 3000 <= duration_ms(said.pcm, _fmt(rate)) <= 8000
    assert rms(said.pcm, _fmt(rate)) > 500


@pytest.mark.parametrize(
    ("n", "units", "text"),
    [
        (21, ["digits/20", "digits/et", "digits/1"], "vingt et un"),
        (22, ["digits/20", "digits/2"], "vingt-deux"),
        (70, ["digits/70"], "soixante-dix"),
        (71, ["digits/60", "digits/et", "digits/11"], "soixante et onze"),
        (80, ["digits/80"], "quatre-vingts"),
        (81, ["digits/80", "digits/1"], "quatre-vingt-un"),
        (99, ["digits/80", "digits/19"], "quatre-vingt-dix-neuf"),
    ],
)
def test_numbers_below_100_are_built_from_existing_files(n: int, units: list[str], text: str) -> None:
    word = number_word(n)
    assert list(word.units) == units
    assert word.text == text


def test_larger_numbers() -> None:
    assert " ".join(w.text for w in number_words(1971)) == "mille neuf cent soixante et onze"
    assert " ".join(w.text for w in number_words(200)) == "deux cents"
    with pytest.raises(ValueError, match="999 999"):
        number_words(1_000_000)


def test_spelling_gives_one_unit_per_character(voice8: HumanVoice) -> None:
    words = spell_words("AB12CD34EF")
    assert len(words) == 10
    assert units_of(words)[:4] == ["letters/a", "letters/b", "digits/1", "digits/2"]
    said = voice8.spell("AB12CD34EF")
    assert said.text == "a b un deux c d trois quatre e f"
    assert 3000 <= duration_ms(said.pcm, SLIN8K) <= 9000


def test_dates_and_weekdays(voice8: HumanVoice) -> None:
    assert units_of(date_words(21, 12, "jeudi")) == ["digits/day-4", "digits/20", "digits/et", "digits/1",
                                                     "digits/mon-11"]
    assert voice8.date(21, 12, "jeudi").text == "jeudi vingt et un décembre"
    assert voice8.date(1, 5).text == "premier mai"
    assert voice8.weekday("Jeudi").text == "jeudi"
    assert voice8.hour(14, 30).text == "quatorze heures trente"


@pytest.mark.parametrize("rate", [8000, 16000])
@pytest.mark.parametrize("name", ["digits/0", "letters/a", "digits/day-4", "auth-thankyou", "vm-goodbye"])
def test_clips_are_not_silent(name: str, rate: int, voice8: HumanVoice) -> None:
    pcm = voice8.clip(name, rate)
    assert rms(pcm, _fmt(rate)) > 500
    assert duration_ms(pcm, _fmt(rate)) == pytest.approx(duration_ms(voice8.clip(name, 8000), SLIN8K), abs=1)


def test_sentence_has_silent_edges_and_pauses(voice8: HumanVoice) -> None:
    one = voice8.sentence("digits/1")
    two = voice8.sentence("digits/1", "digits/1")
    samples = to_samples(one.pcm, SLIN8K)
    edge = int(8 * voice8.edge_ms)
    assert not samples[:edge].any() and not samples[-edge:].any()
    speech = duration_ms(one.pcm, SLIN8K) - 2 * voice8.edge_ms
    assert duration_ms(two.pcm, SLIN8K) == pytest.approx(2 * voice8.edge_ms + 2 * speech + voice8.pause_ms, abs=1)
    assert two.text == "un un"
    assert voice8.sentence("auth-thankyou", one, b"\x00\x00" * 800).text == "Merci. un"


def test_unknown_units_raise_clear_errors(voice8: HumanVoice) -> None:
    with pytest.raises(UnknownUnit, match="no recording 'nope'"):
        voice8.clip("nope")
    with pytest.raises(UnknownUnit, match="no transcript"):
        voice8.sentence("letters/zed")
    with pytest.raises(UnknownUnit, match="spell 'é'"):
        voice8.spell("é")
    with pytest.raises(UnknownUnit, match="weekday"):
        voice8.weekday("jeu")
    with pytest.raises(ValueError, match="une heure"):
        voice8.hour(21)


def test_transcript_parsing_and_cleaning() -> None:
    parsed = parse_transcripts("; comment\n\nfor: Pour (emphase)\ndigits/5: cinq\nempty:\n")
    assert parsed == {"for": "Pour (emphase)", "digits/5": "cinq", "empty": ""}
    assert clean_text(parsed["for"]) == "Pour"
    assert clean_text("[ascending tones]") == ""
    assert clean_text("au menu poli (ne m'appelez plus, jamais), 4.") == "au menu poli ne m'appelez plus, jamais, 4."


def test_wer_set_has_clean_prompts(voice8: HumanVoice) -> None:
    items = voice8.wer_set(limit=5)
    assert len(items) == 5
    for name, pcm, text in items:
        assert not name.startswith(("digits/", "letters/")) and text and "[" not in text and "(" not in text
        assert rms(pcm, SLIN8K) > 300
    everything = {name for name, _, _ in voice8.wer_set()}
    assert len(everything) >= 300
    assert not everything & {"ascending-2tone", "beeperr", "spy-iax2", "digits/5"}


def test_utterances_survive_mulaw(voice8: HumanVoice) -> None:
    said = voice8.digits("0612345678")
    back = convert(convert(said.pcm, SLIN8K, ULAW8K), ULAW8K, SLIN8K)
    assert len(back) == len(said.pcm)
    assert rms(back, SLIN8K) == pytest.approx(rms(said.pcm, SLIN8K), rel=0.05)
