"""Dutch texts for the UI ("meldingen") for every reason a document is refused, skipped or warned about.

The readers phrase each reason in English for the log and the API's ``detail``; this is the one place that
says the same to a civil servant in Dutch. ``melding(reason)`` works on a reason text alone, so a reason
stored with a job (``IngestReport.failed``) can be shown in Dutch later too.

    melding("2,500 pages, over the limit of 2,000 pages; split it into smaller PDFs")
    -> "Het document heeft 2.500 pagina's; het maximum is 2.000. Splits het in kleinere PDF's."
"""

from __future__ import annotations

import re

from search.errors import UnreadableDocument

GENERAL = "Het document kan niet worden gelezen."

# (pattern on the English reason, Dutch text; {name} takes the group of that name, numbers in Dutch style)
# fmt: off
_TABLE: tuple[tuple[str, str], ...] = (
    (r"^(?P<value>[\d,]+) pages, over the limit of (?P<maximum>[\d,]+)",
     "Het document heeft {value} pagina's; het maximum is {maximum}. Splits het in kleinere PDF's."),
    (r"^(?P<value>[\d,]+) characters of text, over the limit of (?P<maximum>[\d,]+)",
     "Het document bevat {value} tekens; het maximum is {maximum}. Splits het in kleinere documenten."),
    (r"^(?P<value>[\d.,]+ (?:MB|bytes)), over the limit of (?P<maximum>[\d.,]+ (?:MB|bytes))",
     "Het bestand is {value}; het maximum is {maximum}. Splits het in kleinere bestanden."),
    (r"time budget of (?P<value>[\d.]+) s",
     "Het lezen duurde langer dan {value} seconden en is gestopt. Het bestand is mogelijk beschadigd; "
     "exporteer het opnieuw of splits het."),
    (r"memory budget of (?P<value>\d+) MB",
     "Het lezen vroeg meer dan {value} MB geheugen en is gestopt. Het bestand is mogelijk beschadigd; "
     "exporteer het opnieuw of splits het."),
    (r"readers are busy", "Er worden nu te veel documenten tegelijk gelezen. Probeer het over enkele seconden opnieuw."),
    (r"^the file is empty", "Het bestand is leeg (0 bytes). Upload het volledige bestand opnieuw."),
    (r"^not a PDF: the file is an HTML page",
     "Dit is geen PDF maar een webpagina (vaak een foutpagina die als .pdf is opgeslagen). Upload de PDF zelf."),
    (r"^not a PDF", "Dit bestand is geen PDF. Upload de PDF zelf."),
    (r"encrypted", "De PDF is beveiligd met een wachtwoord. Verwijder de beveiliging en upload hem opnieuw."),
    (r"^pages? (?P<pages>[\d, -]+(?:, \.\.\.)?) (?:is|are) damaged",
     "{pagina} {pages} van de PDF {is_zijn} beschadigd en niet gelezen; de rest is wel opgenomen."),
    (r"damaged|the PDF has no pages|reader crashed",
     "De PDF is beschadigd of onvolledig. Download of exporteer hem opnieuw."),
    (r"^no (?:usable )?text layer on pages? (?P<pages>[\d, -]+(?:, \.\.\.)?);.*the other pages are indexed",
 "{pagina} {pages} zonder tekstlaag (een scan) {is_zijn} niet gelezen: tekstherkenning (OCR) staat uit, "
 "is niet geïnstalleerd of heeft haar grens bereikt. De rest is wel opgenomen."),
(r"OCR is switched off", "De PDF heeft geen tekstlaag (een scan) en tekstherkenning (OCR) staat uit."),
    (r"OCR is not installed|OCR language data",
     "De PDF heeft geen tekstlaag (een scan) en tekstherkenning (OCR) is niet geïnstalleerd op de server."),
    (r"OCR is limited to", "Niet alle gescande pagina's zijn gelezen: de grens voor tekstherkenning is bereikt."),
    (r"OCR found no readable text",
     "Ook met tekstherkenning (OCR) is geen leesbare tekst gevonden. De scan is mogelijk leeg of onscherp."),
    (r"no (?:usable )?text layer|no page has readable text|no text to (?:index|compare)",
     "In het document staat geen leesbare tekst."),
    (r"unsupported file type (?P<suffix>\S+); supported: (?P<supported>.+)$",
     "Bestanden van type {suffix} worden niet gelezen. Toegestaan: {supported}."),
    (r"documentation file", "Overgeslagen: dit is een toelichting bij de map, geen document."),
    (r"hidden folder", "Overgeslagen: een verborgen map wordt niet doorzocht."),
    (r"malformed XML|not CVDR", "Dit is geen leesbaar CVDR-bestand (XML van lokaleregelgeving.overheid.nl)."),
    (r"no usable identifier", "Het CVDR-bestand heeft geen bruikbaar kenmerk (CVDR-nummer)."),
    (r"no article, preamble or appendix|no article in the regelrecht",
     "In de regeling staat geen artikeltekst."),
    (r"malformed YAML|not a regelrecht|neither 'uuid' nor", "Dit is geen leesbaar regelrecht-bestand (YAML)."),
    (r"not a corpus record|the record has no text", "Deze regel van het corpusbestand is geen bruikbaar document."),
    (r"sidecar metadata", "Het bijbehorende metadatabestand (.json) is geen geldige JSON."),
    (r"unknown municipality (?P<name>.+?):",
     "De gemeente {name} is onbekend. Gebruik een gemeentenaam of CBS-code zoals GM0363."),
    (r"does not exist|cannot read", "Het bestand kan niet worden geopend."),
)
# fmt: on
MELDINGEN = tuple((re.compile(pattern, re.IGNORECASE | re.DOTALL), text) for pattern, text in _TABLE)


def melding(reason: str) -> str:
    """The Dutch text for an English reason from the readers; the general text when none fits."""
    for pattern, text in MELDINGEN:
        if found := pattern.search(reason):
            return text.format(**_dutch(found.groupdict()))
    return GENERAL


def melding_for(error: Exception) -> str:
    """The Dutch text for a refused document (any UnreadableDocument, or Overloaded)."""
    return melding(error.reason if isinstance(error, UnreadableDocument) else str(error))


def _dutch(groups: dict[str, str | None]) -> dict[str, str]:
    words = {key: value or "" for key, value in groups.items()}
    words.update({key: _dutch_number(words[key]) for key in ("value", "maximum") if key in words})
    pages = groups.get("pages") or ""
    plural = "," in pages or "-" in pages
    words["is_zijn"], words["pagina"] = ("zijn", "Pagina's") if plural else ("is", "Pagina")
    return words


def _dutch_number(text: str) -> str:
    """2,500 -> 2.500; 1.5 MB -> 1,5 MB (only digit groups are changed)."""
    return re.sub(r"\d[\d,.]*", lambda m: m.group(0).translate(str.maketrans(",.", ".,")), text)
