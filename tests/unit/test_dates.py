"""nlu.dates beyond the table: the command line, structure of the result, hostile input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from nlu.dates import PARIS, resolve
from nlu.dates.normalize import fold

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)


def test_cli_reads_lines_and_writes_json_lines() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nlu.dates", "--now", "2026-11-25T10:00"],
        input="jeudi 14 heures\n\nbonjour\nvendredi prochain\n", capture_output=True, text=True, check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["jeudi 14 heures", "bonjour", "vendredi prochain"]
    assert lines[0]["windows"] == [{"start": "2026-11-26T14:00:00+01:00", "end": "2026-11-26T15:00:00+01:00",
                                    "grain": "hour"}]
    assert lines[1]["windows"] == [] and lines[1]["ambiguous"] is False
    assert lines[2]["ambiguous"] is True and len(lines[2]["windows"]) == 2


def test_cli_refuses_a_bad_reference_time_in_french() -> None:
    done = subprocess.run([sys.executable, "-m", "nlu.dates", "--now", "hier soir"], input="demain\n",
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "ISO 8601" in done.stderr and "Traceback" not in done.stderr


def test_cli_offsets_follow_daylight_saving() -> None:
    done = subprocess.run([sys.executable, "-m", "nlu.dates", "--now", "2027-03-26T09:00"],
                          input="dimanche 10h\nlundi\n", capture_output=True, text=True, check=True)
    sunday, monday = (json.loads(line)["windows"][0]["start"] for line in done.stdout.splitlines())
    assert sunday == "2027-03-28T10:00:00+02:00"
    assert monday == "2027-03-29T00:00:00+02:00"


def test_numbers_in_words_become_digits_before_the_rules() -> None:
    assert fold("Le quinze Mars à quatorze heures trente") == "le 15 mars a 14 heures 30"
    assert fold("Aujourd’hui, l'après-midi") == "aujourd hui | l apres midi"


def test_spoken_numbers_keep_their_hour_and_hesitations_are_dropped() -> None:
    # text2num leaves "neuf" as a word ("new") once an "un" came before it; in a date or an hour it is 9
    assert fold("le vingt et un décembre à neuf heures") == "le 21 decembre a 9 heures"
    assert fold("le euh trente et un euh à neuf heures et quart") == "le 31 a 9 heures et quart"
    assert fold("un rendez-vous le neuf") == "1 rendez vous le 9"
    assert fold("un passeport neuf") == "1 passeport neuf"
    assert fold("vingt euh et un") == "21"


@pytest.mark.parametrize("text", [
    "x" * 10_000, "😀" * 300 + " demain", "אבג demain ابت", "'; DROP TABLE appointments; --", "<script>demain</script>",
    "\x00\x01\x02 lundi", "99h99", "le 45/13/2026", "le 0", "32 décembre", "dans 99999999 jours", "| | ou et",
])
def test_hostile_input_gives_an_answer_never_an_exception(text: str) -> None:
    result = resolve(text, NOW)
    assert all(w.start >= NOW and w.end > w.start for w in result.windows)
    json.dumps(result.to_json())


def test_impossible_dates_are_invalid_not_guessed() -> None:
    result = resolve("le 30 février", NOW)
    assert result.windows == () and result.problem == "invalid"


@pytest.mark.parametrize("hours", range(0, 24 * 7, 5))
def test_windows_never_start_before_now(hours: int) -> None:
    now = NOW + timedelta(hours=hours)
    for text in ("aujourd'hui", "cette semaine", "ce matin", "le matin", "en novembre", "fin du mois", "jeudi 10h"):
        result = resolve(text, now)
        assert all(w.start >= now for w in result.windows), text
        assert result.windows or result.problem == "past", text


@pytest.mark.parametrize("text", [
    "allez bonne soirée au revoir", "je voudrais parler à un agent de la mairie",
    "réservation faite au 06 33 21 87 54", "je choisis le troisième", "un agent svp c'est urgent",
    "bonsoir", "deux personnes", "mon numéro c'est le 06 12 34 56 78", "euh ben je sais pas", "un passeport neuf",
])
def test_sentences_without_a_date_give_nothing(text: str) -> None:
    result = resolve(text, NOW)
    assert result.windows == () and result.problem is None, result.to_json()
