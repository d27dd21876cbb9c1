"""Every booking detail a citizen's sentence carries, read at once (pure functions, no Rasa).

"Dites-le nous une seule fois": whatever the question being asked, a message such as « rendez-vous passeport et
carte d'identité pour ma femme et moi jeudi, sans pré-demande » fills the procedure (both), the number of people (2)
and the pré-demande answer (no). Typed, SMS-style and speech-recognizer text alike: the text is folded (lower case,
no accents, no punctuation), number words become digits, fillers (« euh ») are dropped.

Outside the question being asked, a detail is read only from words that cannot mean something else: « le premier »
is an ordinal when a slot is being chosen, « vol » a flight unless something was stolen, « au nom de » a name and
not a change of name. ``requested`` (the slot the bot just asked for) widens what a short answer may mean (« les
deux », « 2 », « pas encore », « pour moi »).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from actions.answer_values import age_group_from, case_from, procedure_from
from actions.extract import digits, fold, name_from_text, phone_from_text
from knowledge.facts_schema import ADULT_AGE, MAX_AGE

MAX_PEOPLE = 6
_FILLERS = re.compile(r"\b(?:euh+|heu+|hum+|hm+|ben|bah|bon ben|voila|alors)\b")

# --- titles ---------------------------------------------------------------------------------------------------------
_PASSPORT = r"\bpasse? ?ports?\b|\bpassport\b"
_CNI = (r"\bcni\b|\bc n i\b|\bcartes? (?:nationales? )?d ?identites?\b|\bcartes? identites?\b|\bcarte d id\b|"
        r"\bpieces? d identite\b")
_BOTH = r"\b(?:les|tous les|toutes les) (?:2|deux) (?:titres|documents|papiers|pieces)\b"
_NEGATED = r"\b(?:pas|sans|plus|ni)\s+(?:de |le |la |un |une |mon |ma |d )?(?:{})"

# --- people ---------------------------------------------------------------------------------------------------------
_COMPANION = (r"fils|fille|filles|enfant|enfants|femme|mari|epoux|epouse|conjoint|conjointe|frere|freres|soeur|jumeaux|"
              r"jumelles|bb|"
              r"soeurs|pere|mere|bebe|garcon|garcons|compagnon|compagne|fiance|fiancee|neveu|niece|petit fils|"
              r"petite fille|petits enfants|belle mere|beau pere|grand mere|grand pere|ado|ados")
_PLURAL_COMPANIONS = {"filles", "enfants", "freres", "soeurs", "garcons", "petits enfants", "ados"}
_PAIRS = {"jumeaux", "jumelles"}
_TITLES_COUNT = re.compile(r"\b(\d) (?:passe ?ports?|cartes? d identite|cni|titres?)\b")
_ADULTS_AND_CHILDREN = re.compile(r"\b(\d) adultes? (?:et|plus|\+) (\d) enfants?\b")
_GROUP = re.compile(rf"(?:(?:mes|nos|les|ses|mon|ma|son|sa|notre|leur|leurs)\s+)?(?:(\d{{1,2}})\s+)?({_COMPANION})\b")
# A companion counts when introduced as one (« pour ma fille », « avec mon mari », « mon mari, mon fils et moi »),
# not when the sentence only mentions someone (« chez ma fille », « au nom de mon fils », « ma fille a trois ans »).
_INTRODUCED = re.compile(r"(?:^|\b(?:pour|avec|et|moi|plus|ainsi que|aussi|egalement|accompagne de|c est|ni|celui de|"
                         r"celle de|ceux de|dont))\s*$|\+\s*$")
_MONTHS = "janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre"
_NOT_PEOPLE = (rf"ans?|h|heures?|mois|jours?|semaines?|{_MONTHS}|passe ?ports?|cartes?|cni|titres?|rendez|rdv|"
               r"demandes?|seul")
_COUNT = re.compile(r"\b(?:pour|on est|on sera|nous sommes|nous serons|a|de)\s+(\d{1,2})\s*"
                    r"(?:personnes?|adultes?|pers|p)\b|\b(\d{1,2}) (?:personnes?|adultes?)\b|"
                    rf"\bnous (\d{{1,2}})\b|\bpour ([2-6])\b(?! ?(?:{_NOT_PEOPLE})\b)|"
                    r"\bpour (?:nous|les) (\d{1,2})\b|\bon est (\d{1,2})\b|\bnous sommes (\d{1,2})\b|"
                    r"\bnous serons (\d{1,2})\b|\bon sera (\d{1,2})\b")
_ONE = re.compile(r"\bpour (?:une|1) (?:seule )?personne\b|\b(?:juste|seulement|uniquement) (?:pour )?moi\b|"
                  r"\bpour moi (?:seule?|tout seul|toute seule|uniquement|seulement)\b|\bmoi seule?\b")
_ME = re.compile(r"\bet (?:celui|celle|ceux|celles) d|\bet moi\b|\bmoi et\b|\bmoi meme et\b|\bavec moi\b|"
                 r"\bmoi aussi\b|\bmoi avec\b")

# --- situation ------------------------------------------------------------------------------------------------------
# Checked in order, the more specific first ("refaire ma carte volée" is a theft). Only unambiguous words here; a
# short answer to "quelle est votre situation ?" is read by answer_values.case_from, which is broader.
_CASES: tuple[tuple[str, str], ...] = (
    ("vol", r"\bvole(?:e|s|es)?\b|\bvolees?\b|\bderob|\bcambriol|\bon m a vole|\bplainte pour vol|\bdeclaration de vol|"
            r"\bvictime d un vol|\bvol de (?:mon|ma|mes|sac|portefeuille|papiers)"),
    ("perte", r"(?<!je suis )(?<!un peu )(?<!completement )(?<!tout )\bperdue?s?\b(?! avec| dans| sur le site)|"
              r"\bperte\b|\begare|\bplus (?:le |la |les )?(?:re)?trouv|\btrouve plus\b|\bdisparu"),
    ("deterioration", r"\babim|\bcasse|\bdechir|\bendommag|\bdeterior|\billisible|\bmouill|\bpasse a la machine|"
                      r"\babime|\bcraque|\bplie|\busee?s?\b|\bon (?:ne )?(?:voit|lit) plus|\bfendu|\bbrule|"
                      r"\befface"),
    ("changement_de_nom", r"\bchangement de nom|\bchanger (?:de|le|mon|son) nom|\bchange de nom|\bnom d usage|"
                          r"\bnom de jeune fille|"
                          r"(?<!au )\bnom (?:de|du) (?:mon |ma )?(?:mari|epoux|epouse)\b|\bmariage\b|"
                          r"\bje me suis mariee?\b|"
                          r"\bdivorc|\bchangement d etat civil|\bnouveau nom\b"),
    ("hebergement", r"\bheberg"),
    ("renouvellement", r"\brenouv|\bexpir|\bperime|\bplus valable|\bfin de validite|\brefaire\b|\brefais\b|"
                       r"\bprolong|\bnouveau passe ?port|\bnouvelle carte"),
    ("premiere_demande", r"\bpremiere? (?:passe ?port|carte|cni|titre|demande|piece)|\bpremiere fois\b|"
                         r"\b(?:son|sa|mon|ma|leur) (?:tout )?(?:premiere?|1 ?ere?)\b"
                         r"(?! (?:rendez|rdv|creneau|enfant|fils|fille))|"
                         r"\b1 ?ere? (?:passe ?port|carte|cni|demande|fois)|\bjamais (?:eu|fait|demande)|"
                         r"\bnouvelle demande\b|\bpas encore (?:de|eu de) (?:passe ?port|carte)|"
                         r"\bn ai pas de (?:passe ?port|carte)"),
)

# --- adult or minor -------------------------------------------------------------------------------------------------
_SELF_AGE = re.compile(r"\b(?:j ai|jai|moi|je vais avoir|j aurai)\s+(\d{1,3})\s*ans\b")
_THIRD_AGE = re.compile(r"\b(?:il|elle|qui) (?:a|aura|va avoir|vient d avoir) (\d{1,3})\s*(ans?|mois)\b")
_BARE_AGE = re.compile(r"^(?:(?:il|elle) (?:a|aura) )?(\d{1,2})\s*(ans?|mois)?$")
_CHILD_AGE = re.compile(rf"\b(?:{_COMPANION}|un enfant|une enfant|enfant|mineure?|petit|petite|bebe|bb)\s+"
                        r"(?:qui a |qui aura |a |aura |de |d |agee? de |ages de |de seulement )?"
                        r"(\d{1,3})\s*(ans?|mois)\b")
_ADULT = re.compile(r"\bje suis majeure?\b|\bmajeure?s?\b|\badultes?\b|\bplus de 18 ans\b|\bj ai plus de 18\b")
_MINOR = re.compile(r"\bmineure?s?\b|\bbebes?\b|\bnourrisson|\bados?\b|\badolescente?s?\b|\bmoins de 18 ans\b")
# --- pré-demande ----------------------------------------------------------------------------------------------------
_PRE = r"pre ?demandes?|predemandes?|pre demandes?|pre-demandes?"
_NO_PRE = re.compile(rf"\bsans (?:la |ma |une |de )?(?:{_PRE})|\bpas (?:encore |toujours )?(?:fait|eu|rempli|faite)?"
                     rf"\s*(?:la |ma |une |de |d )?(?:{_PRE})|\bpas de (?:{_PRE})|\bn ai pas (?:encore )?"
                     rf"(?:fait |rempli )?(?:la |ma |de |une )?(?:{_PRE})|\baucune (?:{_PRE})|"
                     rf"\b(?:{_PRE}) (?:pas|non) (?:encore )?faite?\b|\bje (?:ne )?l ai pas (?:encore )?faite?\b")
_YES_PRE = re.compile(rf"\bavec (?:la |ma |une |les |mes )?(?:{_PRE})|\b(?:j ai|on a|nous avons|jai) (?:deja )?"
                      rf"(?:fait|rempli|faite?s?)\s+(?:la |ma |une |les |nos |mes )?(?:{_PRE})|\bj ai (?:mon|le|un|les|"
                      rf"mes) (?:numeros?|codes?) de (?:{_PRE})|\b(?:{_PRE}) (?:est |deja )*faites?\b")
_SHORT_NO = re.compile(r"^(?:non|nan|nn|pas encore|non pas encore|pas du tout|non je n en ai pas|je n en ai pas|"
                       r"non je ne l ai pas faite?|non merci|aucune|non aucune|toujours pas)\b")
_SPELLING = re.compile(r"\b([a-z])\s+comme\s+[a-z]+\b")
_ID = re.compile(r"(?<![A-Z0-9])[A-Z0-9]{10}(?![A-Z0-9])")
_DIGIT_WORDS = {"zero": "0", "un": "1", "deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "six": "6", "sept": "7",
                "huit": "8", "neuf": "9"}

# --- name and phone -------------------------------------------------------------------------------------------------
_CIVIL = r"(?:madame|monsieur|mademoiselle|mme|mlle|mr|m)\.?"
_NAME = re.compile(rf"(?:je m appelle|j ?m ?app?ell?e?|mon nom est|mon nom c est|au nom de|nom\s*:|le nom c est|"
                   rf"moi c est|(?:je suis|jsuis|c est|ici) {_CIVIL}(?=\s))\s+(?:{_CIVIL}\s+)?(.+)", re.IGNORECASE)
_LEADING = re.compile(r"^\s*(?:(?:euh+|heu+|ben|bah|alors|oui|bonjour|bonsoir|allo)[\s,.!]+)+", re.IGNORECASE)
# « je suis Thomas Bernard »: a name only when written with capitals (« je suis hébergé » is not one).
_CAPITALIZED = re.compile(r"\b(?i:je suis) ((?:[A-ZÉÈ][a-zà-ÿ\-]+)(?: [A-ZÉÈ][A-Za-zà-ÿ\-]+){1,2})\b")
_NAME_STOP = re.compile(r"\s*(?:[,;.!?]|\bet\b|\bmon\b|\bma\b|\bmes\b|\bpour\b|\bau\b|\ble\b|\bla\b|\bnum|\btel\b|"
                        r"\btelephone\b|\bje\b|\bj\b|\bc est\b|\bsans\b|\bavec\b|\bjoignable\b|\bsvp\b|\bstp\b|"
                        r"\bmerci\b|"
                        r"\bs il\b|\b[aà] l appareil\b|\bje rappelle\b|\bj ai\b|\bjai\b|\b\d)", re.IGNORECASE)
_PHONE = re.compile(r"(?:\+\s?33|0033|\b0)\s?\(?0?\)?\s?[1-9](?:[\s.\-]*\d){8}(?!\s?\d)")


@dataclass(frozen=True)
class Details:
    """What one message says; None (or empty) where it says nothing."""

    procedure: str | None = None
    people: int | None = None
    case: str | None = None
    age_group: str | None = None
    child_age: int | None = None
    has_predemande: bool | None = None
    predemande_ids: tuple[str, ...] = field(default_factory=tuple)
    phone: str | None = None
    person_name: str | None = None

    def slots(self) -> dict[str, Any]:
        """The slot values this message carries (slot name → value), nothing for what it does not say."""
        found: dict[str, Any] = {name: value for name, value in (
            ("procedure", self.procedure), ("people", self.people), ("case", self.case),
            ("age_group", self.age_group), ("child_age", self.child_age), ("has_predemande", self.has_predemande),
            ("phone", self.phone), ("person_name", self.person_name)) if value is not None}
        if self.predemande_ids:
            found["predemande_ids"] = list(self.predemande_ids)
        return found


_SMS = ((r"\bpr\b", "pour"), (r"\bjai\b", "j ai"), (r"\bjm\b", "je m"), (r"\bds\b", "dans"), (r"\bc\b", "c est"),
        (r"\bstp\b|\bsvp\b", " "), (r"\bqd\b", "quand"), (r"\bpb\b", "probleme"), (r"\bmn\b", "mon"),
        (r"\bje m apel+e?\b|\bje m appel\b", "je m appelle"), (r"\bjl ai\b|\bjlai\b", "je l ai"), (r"\bbb\b", "bebe"),
        (r"\bjms\b", "jamais"), (r"\bjsuis\b", "je suis"), (r"\bnn\b", "non"), (r"\bdsl\b", "desole"))


_CORRECTED = re.compile(r"\b\d+\b(?:\s+\w+){0,2}?\s+(?:non|nn|pardon|ou plutot|plutot|enfin|je veux dire|attendez|"
                        r"attends)(?:\s+(?:pardon|attendez|attends|dsl|excusez moi|je me trompe|non))*\s+(?=\d)")


def normalized(text: str) -> str:
    """Folded text with number words as digits, SMS spellings expanded and fillers removed.

    ``"Euh, deux personnes"`` → ``"2 personnes"``; ``"jai fait la predemande pr ma fille"`` → ``"j ai fait…pour…"``.
    """
    folded = fold(digits(text.lower().replace("’", "'")))
    for pattern, replacement in _SMS:
        folded = re.sub(pattern, replacement, folded)
    folded = " ".join(_FILLERS.sub(" ", folded).split())
    return _CORRECTED.sub("", folded)  # « trois non pardon quatre » → « quatre »: the last word said counts


def read(text: str, requested: str | None = None) -> Details:
    """Every detail of ``text``; ``requested`` is the slot the bot asked for (short answers mean more then)."""
    if not text or not text.strip():
        return Details()
    plain = normalized(text)
    phone, rest = phone_in(text), text
    if phone:
        rest = _PHONE.sub(" ", digits(text.lower().replace("’", "'")))
    ids = predemande_ids(rest, requested)
    has_pre = predemande_answer(plain, requested)
    if ids:
        has_pre = True
    child = child_age_in(plain, requested)
    people = people_in(plain, requested)
    return Details(
        procedure=procedure_in(plain, requested),
        people=people,
        case=case_in(plain, requested),
        age_group=age_group_in(plain, requested, child, alone=people in (None, 1)),
        child_age=child if child is not None and child < ADULT_AGE else None,
        has_predemande=has_pre,
        predemande_ids=tuple(ids),
        phone=phone,
        person_name=name_in(text) or (name_from_text(_LEADING.sub("", text)) if requested == "person_name" else None),
    )


def _without_negated(plain: str, pattern: str) -> tuple[str, bool]:
    """``plain`` with negated mentions of ``pattern`` removed ("pas de passeport"), and whether one was."""
    negated = re.compile(_NEGATED.format(pattern.replace(r"\b", "")))
    return negated.sub(" ", plain), bool(negated.search(plain))


def procedure_in(plain: str, requested: str | None = None) -> str | None:
    """``passport``, ``cni`` or ``both``: « passeport et carte d'identité », « les deux » (when asked)."""
    if requested == "procedure" and re.fullmatch(
            r"(?:oui )?(?:les |tous les |toutes les )?(?:2|deux)(?: titres| svp| s il vous plait)?", plain):
        return "both"
    if requested == "procedure" and re.search(r"\b(?:les|tous les) (?:2|deux)\b", plain):
        return "both"
    strict = _procedure(plain)
    return procedure_from(plain) if strict is None and requested == "procedure" else strict


def _procedure(plain: str) -> str | None:
    text, _ = _without_negated(plain, _PASSPORT)
    text, _ = _without_negated(text, _CNI)
    owned = rf"(?:{_PASSPORT}|{_CNI})"
    text = re.sub(rf"{owned}(?:\s+(?!carte|passe|cni)\w+){{0,3}}?\s+(?:est|sont) (?:encore |toujours |deja )?"
                  rf"(?:valables?|valides?|bons?)"
                  rf"|\b(?:j ai|a|ont|avons) deja (?:1 |un |une |mon |ma |son |sa |le |la |leur )?{owned}"
                  rf"(?: qui est)?(?: valables?| valides?)?|{owned} (?:valables?|valides?)\b", " ", text)
    if re.search(r"\b(?:juste|seulement|que|uniquement) (?:la|ma|une) carte\b|\bla carte (?:seulement|uniquement)\b",
                 text):
        text += " cni"
    passport = bool(re.search(_PASSPORT, text))
    cni = bool(re.search(_CNI, text)) or bool(re.search(r"\bpasse? ?ports? (?:et|plus|\+) (?:la |une |ma )?cartes?\b|"
                                                       r"\bcartes? (?:et|plus|\+) (?:le |un |mon )?passe? ?port", text))
    if passport and cni:
        return "both"
    if (passport or cni) and re.search(_BOTH, text):
        return "both"
    if passport:
        return "passport"
    if cni:
        return "cni"
    return None


def people_in(plain: str, requested: str | None = None) -> int | None:
    """How many people: « pour 2 personnes », « ma femme et moi » (2), « mes deux enfants et moi » (3), « pour moi »."""
    count = _people(plain, requested)
    return count if count is not None and 1 <= count <= MAX_PEOPLE else None


def _people(plain: str, requested: str | None) -> int | None:
    both = _ADULTS_AND_CHILDREN.search(plain)
    if both:
        return int(both[1]) + int(both[2])
    titles = _TITLES_COUNT.search(plain)
    if titles and int(titles[1]) > 1 and not re.search(r"\b(?:2|deux) (?:titres|documents)\b", plain) \
            and not re.match(r"\s+et (?:une? |la |le )?(?:carte|cni|passe)", plain[titles.end():]):
        return int(titles[1])  # « il nous faudrait six passeports »: one per person
    said = _COUNT.search(plain)
    if said:
        return int(next(g for g in said.groups() if g))
    if _ONE.search(plain) or re.search(r"\bpour (?:un|une|1) (?:bebe|bb|enfant|mineure?|nourrisson)\b", plain):
        return 1
    companions: list[tuple[str | None, str]] = []
    previous_end = -1
    for m in _GROUP.finditer(plain):
        before = plain[:m.start()]
        chained = previous_end >= 0 and not plain[previous_end:m.start()].strip(" et")
        describing = re.match(r"\s+(?:a|aura) \d", plain[m.end():]) and not before.strip()
        if (chained or _INTRODUCED.search(before)) and not describing:
            companions.append((m[1], m[2]))
            previous_end = m.end()
    me = bool(_ME.search(plain)) or bool(re.search(r"\bmoi\s+(?:mon|ma|mes|nos|notre)\b", plain))
    if companions:
        total = 0
        for number, who in companions:
            if number:
                total += int(number)
            elif who in _PAIRS:
                total += 2
            elif who in _PLURAL_COMPANIONS:
                return None  # « mes enfants »: how many is not said
            else:
                total += 1
        return total + (1 if me else 0)
    if requested == "people":
        numbers = [int(n) for n in re.findall(r"\b(\d{1,2})\b(?! ans?\b| mois\b| h\b| heures?\b)", plain)]
        if len(numbers) == 1:
            return numbers[0]
        if re.search(r"\b(?:moi|juste moi|moi seule?|seule?|une personne|je suis seule?)\b", plain):
            return 1
    return None


def case_in(plain: str, requested: str | None = None) -> str | None:
    """The situation: première demande, renouvellement, perte, vol, abîmé, changement de nom, hébergé."""
    for case, pattern in _CASES:
        if re.search(pattern, plain):
            return case
    if requested == "case":
        return case_from(plain)
    return None


def child_age_in(plain: str, requested: str | None = None) -> int | None:
    """The age said of someone (« mon fils de 8 ans » → 8, « un bébé de 6 mois » → 0, « elle a sept ans »)."""
    said = _CHILD_AGE.search(plain) or _THIRD_AGE.search(plain) or _SELF_AGE.search(plain)
    if not said and requested in ("child_age", "age_group"):
        said = _BARE_AGE.match(plain)
    if not said:
        return None
    if said.re is _SELF_AGE:
        return int(said[1]) if int(said[1]) <= MAX_AGE else None
    years = 0 if said.lastindex and said.lastindex >= 2 and said[2] == "mois" else int(said[1])
    return years if years <= MAX_AGE else None


def age_group_in(plain: str, requested: str | None = None, child_age: int | None = None, *,
                 alone: bool = True) -> str | None:
    """``adulte`` or ``mineur``: « j'ai 34 ans », « je suis majeur », « mon fils de 8 ans », « pour moi » (asked)."""
    if not alone:  # several people: one answer only if they are all children (« mes jumeaux de 7 ans »)
        adults = re.search(r"\bmoi\b|\badultes?\b|\bmari\b|\bfemme\b|\bconjointe?\b|\bepou", plain)
        return "mineur" if child_age is not None and child_age < ADULT_AGE and not adults else None
    own = _SELF_AGE.search(plain)
    if own and int(own[1]) <= MAX_AGE:
        return "adulte" if int(own[1]) >= ADULT_AGE else "mineur"
    if child_age is not None:
        return "mineur" if child_age < ADULT_AGE else "adulte"
    if re.search(r"\b(?:\d|deux) adultes?\b.*\benfants?\b|\benfants?\b.*\badultes?\b", plain):
        return None
    if re.search(r"\bpas majeure?\b|\bnon majeure?\b", plain) or _MINOR.search(plain):
        return "mineur"
    if _ADULT.search(plain):
        return "adulte"
    if requested == "age_group":
        return age_group_from(plain)
    return None


def predemande_answer(plain: str, requested: str | None = None) -> bool | None:
    """Whether a pré-demande was made: « sans pré-demande », « pas encore » (asked), « j'ai fait la pré-demande »."""
    if re.search(r"\b(?:je ne sais (?:pas|plus)|je sais (?:pas|plus)|jsp|aucune idee) si\b", plain):
        return None  # « jsp si j'ai fait la pré-demande »
    if _NO_PRE.search(plain):
        return False
    if _YES_PRE.search(plain):
        return True
    if requested == "has_predemande" and re.search(r"\bje ne sais pas\b|\bje sais pas\b|\bjsp\b", plain):
        return None
    if requested == "has_predemande" and _SHORT_NO.match(plain):
        return False
    if requested == "has_predemande" and re.match(r"(?:oui|ouais|ouai|yes|si|bien sur|absolument)\b|"
                                                 r"(?:c est|elle est) (?:deja )?faite?\b|je l ai (?:deja )?faite?\b",
                                                 plain):
        return True
    return None


_WORDS = frozenset("DE DU AU AUX LE LA LES ET UN UNE ANS EN MA MON SA SON ON IL JE NE PAS OUI NON EST CA CE CI QUI "
                   "QUE MES SES NOS VOS TON TA TES PAR SUR VA VAS AI AS ONT VU DIT FAIT".split())


def predemande_ids(text: str, requested: str | None = None) -> list[str]:
    """Every 10-character pré-demande number in ``text``, typed or spelled, whatever separates them.

    « AB12CD34EF et 12AB34CD56, ZZ98YY76XX » → three numbers; « 2KF8 ABC 123 » and « deux K F huit A B C un deux
    trois » (spelled, « A comme Anatole » too) → one. A number needs a letter and a digit, so a phone number is never
    taken for one.
    """
    folded = _FILLERS.sub(" ", fold(digits(text.replace("’", "'"))).replace("+", " "))
    spelled = _SPELLING.sub(r"\1", folded)
    for word, digit in _DIGIT_WORDS.items():  # text2num leaves some alone (« neuf » after « un » reads as "new")
        spelled = re.sub(rf"\b{word}\b", digit, spelled)
    # Pieces are put together only when a number is expected: "mon fils de 8 ans" is not "FILSDE8ANS".
    # « sans pré-demande » says there is none: its words are not pieces of a number (« toute 1ere carte d… »).
    pieces_allowed = (requested in ("predemande_ids", "has_predemande")
                      or bool(re.search(_PRE + r"|\bnumeros? de", folded))) and not _NO_PRE.search(folded)
    found: list[str] = []
    for part in re.split(r"\s*(?:\bet\b|\bpuis\b|\bensuite\b|\bdeuxieme\b|\btroisieme\b|\bpour\b|\bla\b|\ble\b|"
                         r"\bmon\b|\bma\b|\bautre\b|\bnumeros?\b|\bc est\b)\s*", spelled):
        upper = part.upper()
        whole = [t for t in _ID.findall(upper) if _is_id(t)]
        if whole:
            found.extend(whole)
            continue
        if not pieces_allowed:
            continue
        tokens = re.findall(r"[A-Z0-9]+", upper)
        # A number typed or said in pieces: "2KF8 ABC 123", "A B 1 2 C D 3 4 E F"; pieces are short, not words.
        start = 0
        while start < len(tokens):
            squeezed, end = "", start
            while end < len(tokens) and len(squeezed) < 10 and _piece(tokens[end]):
                squeezed += tokens[end]
                end += 1
            if len(squeezed) == 10 and _is_id(squeezed) and end > start + 1:
                found.append(squeezed)
                start = end
            else:
                start += 1
    return list(dict.fromkeys(found))


def _piece(token: str) -> bool:
    """Whether ``token`` can be a piece of a number said or typed in pieces: short, not a word, not an ordinal."""
    if len(token) > 5 or token in _WORDS or re.fullmatch(r"\d+(?:ERE|ER|EME|E|ND|NDE)", token):
        return False
    return not (token.isalpha() and len(token) > 3)  # « CARTE », « PASS »: words; pieces are like « ABC », « 2KF8 »


def _is_id(candidate: str) -> bool:
    return any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate)


def phone_in(text: str) -> str | None:
    """A French phone number anywhere in the sentence (« rappelez-moi au 06 12 34 56 78 »), else None."""
    spoken = re.sub(r"\bplus\s+(?=33\b)", "+", digits(text.lower()))
    for match in _PHONE.finditer(spoken):
        number = phone_from_text(match[0])
        if number:
            return number
    return None


def name_in(text: str) -> str | None:
    """A name introduced as one (« je m'appelle Marie Dupont », « au nom de Jean Martin »), else None."""
    flat = " ".join(text.replace("’", "'").replace("'", " ").split())
    said = _NAME.search(flat)
    if not said:
        capitalized = _CAPITALIZED.search(flat)
        return name_from_text(capitalized[1]) if capitalized else None
    rest = said[1]
    stop = _NAME_STOP.search(rest)
    candidate = rest[:stop.start()] if stop else rest
    words = candidate.split()[:4]
    if not words or fold(words[0]) in {"mon", "ma", "mes", "mme", "madame", "monsieur", "famille"}:
        return None
    return name_from_text(" ".join(words))
