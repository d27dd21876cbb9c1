"""French words for days, months, parts of the day and named days, accent-free and lower case.

Every key is written the way `normalize.fold` leaves a word: no accents, lower case, apostrophes and hyphens
turned into spaces. Misspellings seen in real chats are listed beside the correct spelling.
"""

from __future__ import annotations

WEEKDAYS: dict[str, int] = {
    "lundi": 0,
    "lundis": 0,
    "mardi": 1,
    "mardis": 1,
    "mercredi": 2,
    "mercredis": 2,
    "mecredi": 2,
    "mercerdi": 2,
    "jeudi": 3,
    "jeudis": 3,
    "vendredi": 4,
    "vendredis": 4,
    "vendredie": 4,
    "venredi": 4,
    "samedi": 5,
    "samedis": 5,
    "dimanche": 6,
    "dimanches": 6,
}

MONTHS: dict[str, int] = {
    "janvier": 1, "janv": 1, "jan": 1,
    "fevrier": 2, "fevr": 2, "fev": 2, "fevirer": 2,
    "mars": 3,
    "avril": 4, "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7, "juil": 7,
    "aout": 8,
    "septembre": 9, "sept": 9, "sep": 9,
    "octobre": 10, "oct": 10,
    "novembre": 11, "nov": 11,
    "decembre": 12, "dec": 12, "decmbre": 12,
}  # fmt: skip

# Parts of the day as minutes since midnight, [start, end). Chosen for a town hall's opening hours
# (after Duckling's conventions: the afternoon runs to 19:00, the evening starts at 18:00).
PARTS_OF_DAY: dict[str, tuple[int, int]] = {
    "matin": (6 * 60, 12 * 60),
    "debut_matin": (6 * 60, 10 * 60),
    "milieu_matin": (9 * 60, 11 * 60),
    "fin_matin": (11 * 60, 12 * 60),
    "midi": (12 * 60, 14 * 60),
    "apres_midi": (12 * 60, 19 * 60),
    "debut_apres_midi": (13 * 60, 15 * 60),
    "milieu_apres_midi": (14 * 60, 16 * 60),
    "fin_apres_midi": (16 * 60, 19 * 60),
    "fin_journee": (17 * 60, 20 * 60),
    "soir": (18 * 60, 24 * 60),
}

# Named days that are not French public holidays (those come from the `holidays` package, see named_days.py).
FIXED_NAMED_DAYS: dict[str, tuple[int, int]] = {
    "noel": (12, 25),
    "jour de l an": (1, 1),
    "nouvel an": (1, 1),
    "premier de l an": (1, 1),
    "saint sylvestre": (12, 31),
    "reveillon": (12, 31),
    "toussaint": (11, 1),
    "armistice": (11, 11),
    "fete nationale": (7, 14),
    "assomption": (8, 15),
    "fete du travail": (5, 1),
    "saint valentin": (2, 14),
}

# Movable feasts: days after Easter Sunday.
EASTER_OFFSETS: dict[str, int] = {
    "paques": 0,
    "lundi de paques": 1,
    "ascension": 39,
    "pentecote": 49,
    "lundi de pentecote": 50,
}

# Ordinals of a week or a fortnight of a month ("la deuxième quinzaine de décembre"), as `fold` leaves them
# (text2num writes "première" as "1ere", "troisième" as "3eme", but leaves "deuxieme" typed without accent).
# LAST stands for "dernière".
LAST = -1
ORDINALS: dict[str, int] = {
    "premiere": 1, "1ere": 1, "1re": 1, "1er": 1,
    "deuxieme": 2, "2eme": 2, "2e": 2, "seconde": 2, "2nde": 2,
    "troisieme": 3, "3eme": 3, "3e": 3,
    "quatrieme": 4, "4eme": 4, "4e": 4,
    "derniere": LAST,
}  # fmt: skip

