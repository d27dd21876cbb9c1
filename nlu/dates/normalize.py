"""Turn a French sentence into a line of date/time tokens.

Two steps. `fold` lower-cases, writes numbers as digits (text2num's alpha2digit: "quatorze heures trente" →
"14 heures 30"), removes accents and most punctuation. `tokenize` then rewrites, longest phrases first, every
date or time phrase into an upper-case token (lower-case words that are left are ignored by the resolver):

    T1430M  time 14:30 (grain M = minute, H = hour)       P<part>   part of day ("Pfin_matin")
    J1      day relative to today (demain)               W3 W3N W3C W3E7 W3S W3L  Thursday (bare, prochain,
    D3.12.0 day 3, month 12, year unknown                  ce, en huit, de la semaine prochaine, dernier)
    E39     days after Easter Sunday (Ascension)         M1 MD1 MM1 MF1  January (all, début, mi, fin)
    MR1     next month (MRD/MRF: its start/end)          K1 KD1 KF1  next week (its start/end)
    KOF     "la semaine du" + a D token                  WE  the weekend          L2  dans 2 mois
    U10     d'ici 10 jours                                ND0 not Monday           NP<part>  not that part of day
    MW1.1.0 MWL.1.0  first / last week of January (days 1-7 / last 7)   MQ2.12.0  second fortnight of December
    Y0 YF0 YD1  this year, its end (21-31 Dec), the start of next year (1-10 Jan)
    ASAP    le plus tôt possible                          ANY  n'importe quel jour
    BEFORE FROM AFTER AROUND THRU  bounds and ranges    BY  up to the end of what follows ("au plus tard")
    |  between alternatives ("ou", "et", ",")
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from text_to_num import alpha2digit

from nlu.dates.lexicon import EASTER_OFFSETS, FIXED_NAMED_DAYS, LAST, MONTHS, ORDINALS, PARTS_OF_DAY, WEEKDAYS

_WD = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_MO = "|".join(sorted(MONTHS, key=len, reverse=True))
_ORD = "|".join(sorted(ORDINALS, key=len, reverse=True))
_TOK = r"[TDEWJMKY][A-Z0-9.-]*\b"
_FIN = r"(?=(?:K|MR|M|Y)F\d)"  # a token for the end of a period: KF0, MRF0, MF1.0, YF0
# Hesitations a speech recognizer writes down ("le euh vingt et un"), dropped before numbers are read.
_FILLER = re.compile(r"\b(?:e+u+h+|h+e+u+h*|h+u+m+|h+m+|bah|ben|beh)\b")
# text2num leaves "neuf" as a word ("new") when an "un" came before ("le vingt et un décembre à neuf heures"):
# before an hour or a month, or after "le" / "du" / "au" / "ce" / a weekday, it is the number.
_NEUF = re.compile(rf"\b((?:le|du|au|ce|{_WD}) )neuf\b|\bneuf\b(?= (?:heures?|hr|h|{_MO})\b)")
_ALNUM = re.compile(r"[^a-z0-9:/| ]")


def fold(text: str) -> str:
    """Lower case, digits for number words, no accents, hyphens and apostrophes as spaces."""
    low = text.lower().replace("’", "'").replace("`", "'").replace("´", "'")
    low = _FILLER.sub(" ", low)
    try:
        low = alpha2digit(" ".join(low.split()), "fr", threshold=0)
    except Exception:
        pass
    plain = "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))
    plain = _NEUF.sub(lambda m: f"{m[1] or ''}9", plain)
    plain = re.sub(r"(\d{4})-(\d{1,2})-(\d{1,2})", r"\3/\2/\1", plain)  # ISO dates
    plain = re.sub(r"\b(\d{1,2})[.-](\d{1,2})[.-](\d{2,4})\b", r"\1/\2/\3", plain)
    plain = re.sub(r"(\d)\s*[hH]\s*(\d)", r"\1 h \2", plain)
    plain = re.sub(r"[,;!?()\[\]\"«»]|\.(?!\d)", " , ", plain)
    plain = re.sub(r"['\-_]", " ", plain)
    plain = _ALNUM.sub(" ", plain.replace(",", "|"))
    return " ".join(plain.split())


def _time(h: int, m: int, grain: str, qualifier: str | None) -> str:
    if qualifier and qualifier != "matin" and h < 12:
        h += 12
    elif qualifier is None and 1 <= h <= 7:
        h += 12  # "à 2 heures": nobody books a passport at two in the morning
    if h > 24 or m > 59 or (h == 24 and m):
        return " "
    return f" T{h % 24:02d}{m:02d}{grain} "


_QUAL = r"(?:\s+(?:du |de l |dans l )?(?P<q>matin|soir|apres midi|aprem))?"
_HOUR = r"\b(?P<h>\d{1,2})\s*(?:heures?|hr|h|:)"


_Repl = Callable[[re.Match[str]], str]


def _sub_time(pattern: str, make: Callable[[re.Match[str]], tuple[int, int, str]]) -> tuple[re.Pattern[str], _Repl]:
    def repl(m: re.Match[str]) -> str:
        h, mi, grain = make(m)
        q = m.groupdict().get("q")
        return _time(h, mi, grain, "matin" if q == "matin" else ("pm" if q else None))

    return re.compile(pattern), repl


def _const(token: str) -> Callable[[re.Match[str]], str]:
    return lambda m: f" {token} "


def _part(name: str) -> Callable[[re.Match[str]], str]:
    assert name in PARTS_OF_DAY
    return _const(f"P{name}")


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # --- greetings that name a part of the day ("bonne soirée", "bonsoir") are not a time ---
    (re.compile(r"\bbonne (?:soiree|journee|nuit|matinee|apres midi|fin de journee|semaine|fin de semaine|week end)\b"),
     _const("")),
    # --- times ---
    _sub_time(_HOUR + r"\s*et\s*demie?" + _QUAL, lambda m: (int(m["h"]), 30, "M")),
    _sub_time(_HOUR + r"\s*et\s*quart" + _QUAL, lambda m: (int(m["h"]), 15, "M")),
    _sub_time(_HOUR + r"\s*moins\s*(?:le\s*)?quart" + _QUAL, lambda m: (int(m["h"]) - 1, 45, "M")),
    _sub_time(_HOUR + r"\s*moins\s*(?P<m>\d{1,2})\b" + _QUAL, lambda m: (int(m["h"]) - 1, 60 - int(m["m"]), "M")),
    _sub_time(_HOUR + r"\s*(?P<m>\d{2})\b(?:\s*min(?:utes?)?)?" + _QUAL, lambda m: (int(m["h"]), int(m["m"]), "M")),
    _sub_time(_HOUR + r"(?!\s*\d)" + _QUAL, lambda m: (int(m["h"]), 0, "H")),
    # --- parts of the day (before "midi" as a time) ---
    (re.compile(r"\b(?:en |au |a l )?debut (?:de |d )?(?:la )?(?:matinee|matin)\b|\btot le matin\b|\bde bon matin\b"),
     _part("debut_matin")),
    (re.compile(r"\b(?:en |au )?milieu (?:de |d )?(?:la )?matinee\b"), _part("milieu_matin")),
    (re.compile(r"\b(?:en |a la )?fin (?:de |d )?(?:la )?(?:matinee|matin)\b|\b(?<!plus )tard le matin\b"),
     _part("fin_matin")),
    (re.compile(r"\b(?:en |au )?debut (?:d |de l |de la )?(?:apres midi|aprem|apm)\b"), _part("debut_apres_midi")),
    (re.compile(r"\b(?:en |au )?milieu (?:d |de l )?(?:apres midi|aprem)\b"), _part("milieu_apres_midi")),
    (re.compile(r"\b(?:en |a la )?fin (?:d |de l )?(?:apres midi|aprem|apm)\b|\b(?<!plus )tard l apres midi\b"),
     _part("fin_apres_midi")),
    (re.compile(r"\b(?:en |a la )?fin (?:de )?(?:la )?journee\b"), _part("fin_journee")),
    (re.compile(r"\b(?:entre )?midi et (?:2|deux|14 ?h?)\b|\b(?:a l |vers l )?heure du dejeuner\b|"
                r"\bpause (?:de )?(?:midi|dejeuner)\b|\ble midi\b(?! et)"), _part("midi")),
    (re.compile(r"\b(?:dans l |l |en |d |de l )?(?:apres midi|aprem|apm|ap midi|aprems)\b"), _part("apres_midi")),
    (re.compile(r"\b(?:dans la |la |le |en |du |au )?(?:matinee|matin|mat)\b"), _part("matin")),
    (re.compile(r"\b(?:dans la |la |le |en |du |au )?(?:soiree|soir)\b"), _part("soir")),
    # --- noon and midnight ---
    _sub_time(r"\bmidi\s*et\s*quart\b", lambda m: (12, 15, "M")),
    _sub_time(r"\bmidi\s*et\s*demie?\b", lambda m: (12, 30, "M")),
    _sub_time(r"\bmidi\s*moins\s*(?:le\s*)?quart\b", lambda m: (11, 45, "M")),
    _sub_time(r"\bmidi\s*(?P<m>\d{2})\b", lambda m: (12, int(m["m"]), "M")),
    _sub_time(r"\bmidi\b", lambda m: (12, 0, "M")),
    _sub_time(r"\bminuit\b", lambda m: (0, 0, "M")),
    # --- flags ---
    (re.compile(r"\b(?:le |au )?plus (?:tot|vite|rapidement) (?:possible|que possible)\b|\bdes que possible\b|"
                r"\bau plus (?:tot|vite)\b|\basap\b|\bau plus rapide\b|\ble premier (?:creneau|rdv|rendez vous)"
                r"(?: (?:disponible|dispo|libre))?\b|\bla premiere (?:date|place)(?: (?:disponible|dispo|libre))?\b|"
                r"\bdes maintenant\b|\ben urgence\b|\brapidement\b"), _const("ASAP")),
    (re.compile(r"\bn importe (?:quand|quel (?:jour|moment|heure|creneau|date)|quelle (?:date|heure))\b|"
                r"\bpeu importe\b|\bquand vous (?:voulez|pouvez)\b|\bca m est egal\b|\bindifferent\b|"
                r"\bje suis (?:dispo|disponible) tout le temps\b|\btous les jours me vont\b"), _const("ANY")),
    # --- relative days ---
    (re.compile(r"\bapres (?:demain|dem1)\b"), _const("J2")),
    (re.compile(r"\bavant hier\b"), _const("J-2")),
    (re.compile(r"\b(?:aujourd hui|aujourdhui|aujourd hiu|auj|ajd|aujd|ce jour)\b"), _const("J0")),
    (re.compile(r"\b(?:demain|dem1|dmain|demin)\b"), _const("J1")),
    (re.compile(r"\bhier\b"), _const("J-1")),
    (re.compile(r"\bce (?=P(?:matin|midi|soir)\b)|\bcet (?=Papres_midi\b)"), _const("J0")),
    (re.compile(r"\bd ici (?:1|une) semaine\b"), _const("U7")),
    (re.compile(r"\bdans (\d{1,3}) jours?\b"), lambda m: f" J{ {8: 7, 15: 14}.get(int(m[1]), int(m[1]))} "),
    (re.compile(r"\bdans (\d{1,2}) semaines?\b"), lambda m: f" K{int(m[1])} "),
    (re.compile(r"\bdans (\d{1,2}) mois\b"), lambda m: f" L{int(m[1])} "),
    (re.compile(r"\b(?:d ici|dans les|sous) (\d{1,3}) jours?\b"),
     lambda m: f" U{ {8: 7, 15: 14}.get(int(m[1]), int(m[1]))} "),
    (re.compile(r"\b(?:d ici|dans les|sous) (\d{1,2}) semaines?\b"), lambda m: f" U{7 * int(m[1])} "),
    (re.compile(r"\b(?:d ici (?:1|une)|dans la|sous) (quinzaine|huitaine)(?: de jours)?\b"),
     lambda m: f" U{14 if m[1] == 'quinzaine' else 7} "),
    (re.compile(r"\bdans (?:1|une) (quinzaine|huitaine)(?: de jours)?\b"),
     lambda m: f" J{14 if m[1] == 'quinzaine' else 7} "),
    # --- named days ---
    (re.compile(r"\b(?:la |le |l )?(?:" + "|".join(sorted(FIXED_NAMED_DAYS, key=len, reverse=True)) + r")\b"),
     lambda m: " D{1}.{0}.0 ".format(*FIXED_NAMED_DAYS[re.sub(r"^(?:la|le|l) ", "", m[0])])),
    (re.compile(r"\b(?:le |la |l )?(" + "|".join(sorted(EASTER_OFFSETS, key=len, reverse=True)) + r")\b"),
     lambda m: f" E{EASTER_OFFSETS[m[1]]} "),
    # --- weekdays ---
    (re.compile(rf"\b(?:pas|sauf|hormis|excepte|surtout pas|jamais|ni) (?:le |les |un |de )?(?:{_WD})"
                rf"(?:(?: et| ou| ni| \|)? (?:le |les |pas le |ni le )?(?:{_WD}))*\b"),
     lambda m: " " + " ".join(f"ND{WEEKDAYS[w]}" for w in m[0].split() if w in WEEKDAYS) + " "),
    (re.compile(r"\b(?:pas|sauf|hormis|excepte|surtout pas|jamais) (?:le |la |l |en )?P(\w+)"),
     lambda m: f" NP{m[1]} "),
    (re.compile(rf"\b({_WD}) en (8|15)\b"), lambda m: f" W{WEEKDAYS[m[1]]}E{7 if m[2] == '8' else 14} "),
    (re.compile(rf"\b({_WD})(?: (P\w+|T\w+))? (?:de la |la )?semaine (?:prochaine|suivante|d apres)\b"),
     lambda m: f" W{WEEKDAYS[m[1]]}S {m[2] or ''} "),
    (re.compile(rf"\b({_WD}) (?:prochain|prochaine|qui vient|d apres|suivant)\b"), lambda m: f" W{WEEKDAYS[m[1]]}N "),
    (re.compile(rf"\b({_WD}) (?:dernier|passe)\b(?! delai)"), lambda m: f" W{WEEKDAYS[m[1]]}L "),
    (re.compile(rf"\b(?:ce|cette) ({_WD})\b"), lambda m: f" W{WEEKDAYS[m[1]]}C "),
    (re.compile(rf"\b({_WD})\b"), lambda m: f" W{WEEKDAYS[m[1]]} "),
    # --- a week or a fortnight of a month: "la première semaine de janvier", "la deuxième quinzaine de décembre" ---
    (re.compile(rf"\b(?:la |dans la |en |pendant la |durant la )?({_ORD}) (semaine|quinzaine) (?:du mois )?"
                rf"(?:de |d )?({_MO})(?: (\d{{4}}))?\b"), lambda m: _month_part(m)),
    # --- weeks and weekends ---
    (re.compile(r"\b(?:en |au )?debut (?:de )?(?:la )?semaine (?:prochaine|suivante|d apres)\b"), _const("KD1")),
    (re.compile(r"\b(?:en |a la )?fin (?:de )?(?:la )?semaine (?:prochaine|suivante|d apres)\b"), _const("KF1")),
    (re.compile(r"\b(?:en |au )?debut (?:de )?(?:la |cette )?semaine\b"), _const("KD0")),
    (re.compile(r"\b(?:en |a la )?fin (?:de )?(?:la |cette )?semaine\b"), _const("KF0")),
    (re.compile(r"\b(?:la |dans la )?semaine (?:prochaine|suivante|d apres)\b"), _const("K1")),
    (re.compile(r"\b(?:cette|dans la|courant de la|en) semaine(?! du)\b"), _const("K0")),
    (re.compile(r"\b(?:la )?semaine (?:du|d)\b"), _const("KOF")),
    (re.compile(r"\b(?:le |ce |du )?week ?end(?: prochain)?\b|\ble we\b"), _const("WE")),
    # --- dates ---
    (re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b"),
     lambda m: f" D{int(m[1])}.{int(m[2])}.{_year(m[3])} "),
    (re.compile(rf"\b(\d{{1,2}})(?:er|e|eme|ieme)? (?:de )?({_MO})(?: (\d{{4}}))?\b"),
     lambda m: f" D{int(m[1])}.{MONTHS[m[2]]}.{_year(m[3])} "),
    # A bare day of the month needs "le", "du", "au", "ce" or a weekday before it, and is not an ordinal ("le 3e"),
    # a count ("2 personnes") or the start of a phone number ("au 06 33 21 87 54").
    (re.compile(r"\b(le|du|au|ce|W\d\w*) (\d{1,2})(?:er)?\b"
                r"(?! (?:personnes?|enfants?|jours?|semaines?|mois|ans?|minutes?|h|heures?)\b| \d)"),
     lambda m: f" {m[1]} D{int(m[2])}.0.0 "),
    # --- months ---
    (re.compile(rf"\b(?:en |au )?(debut|mi|milieu|fin) (?:du mois )?(?:de |d )?({_MO})(?: (\d{{4}}))?\b"),
     lambda m: f" M{'D' if m[1] == 'debut' else 'F' if m[1] == 'fin' else 'M'}{MONTHS[m[2]]}.{_year(m[3])} "),
    (re.compile(r"\b(?:en |au )?(debut|mi|milieu|fin) (?:du |de ce )?mois (?:prochain|suivant)\b"),
     lambda m: f" MR{'D' if m[1] == 'debut' else 'F' if m[1] == 'fin' else 'M'}1 "),
    (re.compile(r"\b(?:en |au |a la )?(debut|mi|milieu|fin) (?:du |de ce )?mois(?: ci)?\b"),
     lambda m: f" MR{'D' if m[1] == 'debut' else 'F' if m[1] == 'fin' else 'M'}0 "),
    (re.compile(r"\b(?:le |au )?mois (?:prochain|suivant)\b"), _const("MR1")),
    (re.compile(r"\bce mois(?: ci)?\b|\bdans le mois\b"), _const("MR0")),
    (re.compile(rf"\b({_MO})(?: (\d{{4}}))?\b"), lambda m: f" M{MONTHS[m[1]]}.{_year(m[2])} "),
    # --- years ---
    (re.compile(r"\b(?:en |au |a la )?(debut|fin) (?:de l |d |de cette )annee( prochaine| en cours)?\b"),
     lambda m: f" Y{'D' if m[1] == 'debut' else 'F'}{1 if m[2] == ' prochaine' else 0} "),
    (re.compile(r"\b(?:l |dans l )?annee prochaine\b"), _const("Y1")),
    (re.compile(r"\b(?:cette|dans l|courant de l) annee(?: en cours)?\b"), _const("Y0")),
    # --- bounds and ranges ---
    (re.compile(rf"\b(?:entre|de|du|des|depuis) (?:le |la |l )?({_TOK}) (?:et|a|au|jusqu a|jusqu au) "
                rf"(?:le |la |l )?({_TOK})"), lambda m: f" {m[1]} THRU {m[2]} "),
    # "au plus tard vendredi", "vendredi au plus tard", "d'ici la fin de la semaine", "avant fin janvier":
    # up to the end of what follows (BY), where "avant vendredi" and "d'ici janvier" stop before it (BEFORE)
    (re.compile(rf"\b({_TOK}) (?:au plus tard|dernier delai|au maximum|grand maximum|maximum)\b"
                r"(?!(?: a| le| la| l)? [TDEWJMKY])"), lambda m: f" BY {m[1]} "),
    (re.compile(r"\b(?:d ici|jusqu a|jusqu au)(?: le)? (?=MR?\d)"), _const("BEFORE")),  # "d'ici janvier": before it
    (re.compile(r"\b(?:au plus tard|pas plus tard que|pas apres|jusqu(?: a| au)?|d ici)(?: le| la| l| a)?"
                r" (?=[TDEWJMKY])"), _const("BY")),
    (re.compile(rf"\bavant (?:le |la |l )?{_FIN}"), _const("BY")),
    (re.compile(r"\b(?:pas avant|a partir (?:du|de|d)|a compter du|des le|des|plus tard que|au dela de)"
                r" (?:le |la |l )?(?=[TDEWJMKY])"), _const("FROM")),
    (re.compile(r"\bavant (?:le |la |l )?(?=[TDEWJMKY])"), _const("BEFORE")),
    (re.compile(r"\bapres (?:le |la |l )?(?=[TDEWJMKY])"), _const("AFTER")),
    (re.compile(r"\b(?:vers|aux alentours de|autour de|environ|a peu pres a)\s+(?=T)"), _const("AROUND")),
    # --- alternatives ---
    (re.compile(r"\b(?:ou bien|ou alors|ou sinon|ou|et|mais|sinon|voire|ni)\b"), _const("|")),
]


def _month_part(m: re.Match[str]) -> str:
    """MW1.1.0 (first week of January), MWL.1.0 (its last), MQ2.12.0 (second fortnight of December)."""
    rank, kind = ORDINALS[m[1]], "W" if m[2] == "semaine" else "Q"
    if kind == "Q" and rank not in (1, 2, LAST):
        return f" {m[0]} "  # "la troisième quinzaine": no such thing, the month alone is read
    code = "L" if rank == LAST and kind == "W" else "2" if rank == LAST else str(rank)
    return f" M{kind}{code}.{MONTHS[m[3]]}.{_year(m[4])} "


def _year(text: str | None) -> int:
    if not text:
        return 0
    year = int(text)
    return 2000 + year if year < 100 else year


def tokenize(folded: str) -> list[str]:
    """Rewrite a folded sentence into tokens; lower-case words that are not part of a date stay as they are."""
    line = f" {folded} "
    for pattern, repl in _RULES:
        new = pattern.sub(repl, line)
        if new is not line:
            line = " " + " ".join(new.split()) + " "
    return line.split()
