"""Readers for official regulations: CVDR full XML and regelrecht YAML, on the shared corpus."""

import hashlib
from pathlib import Path

import pytest

from ingest.cvdr import parse_cvdr, parse_legal_basis, read_cvdr
from ingest.regelrecht import read_regelrecht, split_heading
from search.errors import UnreadableDocument
from search.types import Document, Section

SHARED = Path(__file__).resolve().parents[2] / "shared"
CVDR = SHARED / "corpus" / "cvdr"
REGELRECHT = SHARED / "corpus" / "regelrecht"
BIJZONDERE_BIJSTAND = (
    REGELRECHT
    / "rotterdam__uitvoeringsbeleid__beleidsregels_bijzondere_bijstand_rotterdam_2024_2025-05-16.yaml"
)

needs_cvdr = pytest.mark.skipif(not CVDR.is_dir(), reason="shared CVDR corpus not present")
needs_regelrecht = pytest.mark.skipif(not REGELRECHT.is_dir(), reason="shared regelrecht corpus not present")


def section(document: Document, label: str, heading: str = "") -> Section:
    matches = [s for s in document.sections if s.label == label and (not heading or s.heading == heading)]
    assert len(matches) == 1, [(s.label, s.heading) for s in document.sections]
    return matches[0]


@needs_cvdr
def test_kampen_chapters_without_articles():
    path = CVDR / "CVDR100394_2.xml"
    doc = read_cvdr(path)
    assert doc.id == "CVDR100394_2"
    assert doc.title == "Beleidsregels verkeersveiligheid en parkeren"
    assert doc.municipality == "Kampen"
    assert (doc.municipality_code, doc.province) == ("", "")
    assert doc.doc_type == "beleidsregel"
    assert doc.date == "2016-10-11"
    assert doc.source == str(path)
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.extra["valid_from"] == "2016-10-27"
    assert doc.extra["valid_to"] == ""
    assert doc.extra["modified"] == "2016-10-26"
    assert (doc.extra["work_id"], doc.extra["version"]) == ("CVDR100394", 2)
    assert doc.extra["subject"] == ["ruimtelijke ordening, verkeer en vervoer"]
    assert doc.extra["publication"] == "gmb-2016-146361"
    assert [(b["bwb"], b["cvdr"]) for b in doc.extra["legal_basis"]] == [
        ("BWBR0004825", ""),
        ("", "CVDR77862_1"),
    ]
    # The empty preamble and the four "[Vervallen]" chapters leave no section.
    assert [s.label for s in doc.sections] == ["Hoofdstuk 5. Gehandicaptenparkeerplaatsen"]
    text = doc.sections[0].text
    assert "- Zelf bestuurder te zijn\n- Niet te beschikken over de mogelijkheid" in text
    assert "Vervallen" not in doc.text


@needs_cvdr
def test_spijkenisse_list_with_a_table_and_no_prefix_in_the_identifier():
    doc = read_cvdr(CVDR / "CVDR112779_1.xml")
    assert doc.id == "CVDR112779_1"
    assert doc.extra["identifier"] == "112779_1"
    assert doc.title.startswith("Lijst van binnengemeentelijke afnemers met een raadpleegmogelijkheid")
    assert doc.municipality == "Spijkenisse"
    assert doc.doc_type == "regeling"
    assert doc.date == "2011-09-06"
    assert (doc.extra["valid_from"], doc.extra["valid_to"]) == ("2011-09-14", "2012-04-25")
    assert doc.extra["ratified_by"] == "gemandateerde functionaris"
    assert doc.extra["publication"] == "Weekblad Spijkenisse, 13-09-2011"
    assert doc.extra["legal_basis"] == [
        {
            "bwb": "",
            "cvdr": "CVDR90740_1",
            "artikel": "",
            "lid": "",
            "text": "Verordening persoonsinformatievoorziening Spijkenisse 2010, art. 4, 9 en 10",
        }
    ]
    # One unnumbered article holding only a table: it has no label of its own.
    assert [s.label for s in doc.sections] == ["Aanhef", ""]
    assert section(doc, "Aanhef").text.startswith("De medewerkers van de volgende organisatieonderdelen")
    rows = doc.sections[1].text.split("\n")
    assert rows[0] == (
        "Dienst / Afdeling | Taak: Wettelijke grondslag | gegevensset gba autorisatiefunctie"
        " | gegevensset gba-v autorisatiebesluit"
    )
    assert (
        "Juridische Zaken | Bezwaren en klachten (AWB) | Zie functieautorisatie Juridische Zaken | n.v.t."
        in rows
    )
    assert "Inwonerszaken" in rows  # a row with one filled cell keeps just that cell


@needs_cvdr
def test_someren_unnumbered_articles_take_the_chapter_label():
    doc = read_cvdr(CVDR / "CVDR680781_1.xml")
    assert doc.id == "CVDR680781_1"
    assert doc.municipality == "Someren"
    assert doc.doc_type == "beleidsregel"
    assert (doc.date, doc.extra["valid_from"]) == ("2019-05-28", "2019-08-30")
    assert doc.extra["publication"] == "'t Contact van 29-08-2019"
    assert [(b["bwb"], b["artikel"], b["lid"]) for b in doc.extra["legal_basis"]] == [
        ("BWBR0013798", "", ""),
        ("BWBR0024779", "2.1", "1"),
    ]
    assert [(s.label, s.heading) for s in doc.sections] == [
        ("Aanhef", ""),
        ("Hoofdstuk 1. Inleiding", ""),
        ("Hoofdstuk 2. Wet Bibob", ""),
        ("Hoofdstuk 3. Juridisch kader", ""),
        ("Hoofdstuk 4. Beleidsuitgangspunten", ""),
        ("Hoofdstuk 4. Beleidsuitgangspunten", "A. Bibob-toets bij een aanvraag voor een vergunning"),
        ("Hoofdstuk 4. Beleidsuitgangspunten", "B. Bibob-toets bij een reeds verleende vergunning"),
        ("Hoofdstuk 4. Beleidsuitgangspunten", "C. Uitzondering"),
        ("Hoofdstuk 5. Aanvraag van een Bibob-advies bij het Landelijk Bureau Bibob (LBB)", ""),
        ("Hoofdstuk 6. Inwerkingtreding", ""),
    ]
    assert "b e s l u i t :" in section(doc, "Aanhef").text
    assert "ondermijnende criminaliteit" in section(doc, "Hoofdstuk 1. Inleiding").text
    assert section(doc, "Hoofdstuk 6. Inwerkingtreding").text == (
        "Deze beleidsregel treedt in werking op de dag na bekendmaking."
    )
    uitzondering = section(doc, "Hoofdstuk 4. Beleidsuitgangspunten", "C. Uitzondering").text
    assert uitzondering.endswith("• overheidsinstanties;\n• semioverheidsinstanties.")
    lbb = section(doc, "Hoofdstuk 5. Aanvraag van een Bibob-advies bij het Landelijk Bureau Bibob (LBB)")
    assert "bijvoorbeeld over:\n  • de bedrijfsstructuur;\n  • de financiering van het bedrijf;" in lbb.text


NUMBERED_CVDR = """<?xml version="1.0" encoding="UTF-8"?>
<cvdr xmlns="http://standaarden.overheid.nl/cvdr/terms/" xmlns:dcterms="http://purl.org/dc/terms/"
      xmlns:overheidrg="http://standaarden.overheid.nl/cvdr/meta/">
<meta><owmskern><dcterms:identifier>CVDR1_3</dcterms:identifier>
<dcterms:title>Verordening voorbeeld 2024</dcterms:title>
<dcterms:creator scheme="overheid:Gemeente">'s-Gravenhage</dcterms:creator></owmskern></meta>
<body><regeling><aanhef><preambule><al>De raad van de gemeente;</al></preambule></aanhef>
<regeling-tekst><hoofdstuk><kop><label>Hoofdstuk</label><nr>1</nr><titel>Algemeen</titel></kop>
<artikel><kop><label>Artikel</label><nr>4</nr><titel>Aanvraag</titel></kop>
<lid><lidnr>1.</lidnr><al>Een aanvraag wordt <nadruk>schriftelijk</nadruk> ingediend.</al></lid>
<lid><lidnr>2.</lidnr><al>De aanvraag bevat:</al>
<lijst><li nr="a."><al>de naam;</al></li><li nr="b."><al>het adres.</al></li></lijst></lid>
</artikel><artikel><kop><label>Artikel</label><nr>5</nr></kop><al>[Vervallen]</al></artikel>
</hoofdstuk></regeling-tekst></regeling>
<toelichting><kop><titel>Algemene toelichting</titel></kop><al>Deze verordening regelt aanvragen.</al></toelichting>
<bijlage><kop><label>Bijlage</label><nr>1</nr><titel>Formulier</titel></kop><al>Naam en adres.</al></bijlage>
</body></cvdr>"""


def test_numbered_articles_leden_toelichting_and_bijlage():
    doc = parse_cvdr(NUMBERED_CVDR.encode(), "inline")
    assert (doc.id, doc.municipality, doc.doc_type) == ("CVDR1_3", "'s-Gravenhage", "verordening")
    assert [(s.label, s.heading) for s in doc.sections] == [
        ("Aanhef", ""),
        ("Artikel 4", "Aanvraag"),
        ("Toelichting", "Algemene toelichting"),
        ("Bijlage 1", "Formulier"),
    ]
    assert section(doc, "Artikel 4").text == (
        "1. Een aanvraag wordt schriftelijk ingediend.\n\n2. De aanvraag bevat:\na. de naam;\nb. het adres."
    )


def test_legal_basis_from_a_jci_reference():
    basis = parse_legal_basis(
        "1.0:c:BWBR0015703&artikel=8&lid=1&g=2015-01-01", " artikel 8\n Participatiewet "
    )
    assert basis == {
        "bwb": "BWBR0015703",
        "cvdr": "",
        "artikel": "8",
        "lid": "1",
        "text": "artikel 8 Participatiewet",
    }


def test_malformed_xml_is_unreadable(tmp_path):
    path = tmp_path / "CVDR1_1.xml"
    path.write_bytes(b"<cvdr xmlns='http://standaarden.overheid.nl/cvdr/terms/'><meta><body></cvdr>")
    with pytest.raises(UnreadableDocument) as caught:
        read_cvdr(path)
    assert caught.value.source == str(path)
    assert "malformed XML" in caught.value.reason


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xml = NUMBERED_CVDR.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0"?><!DOCTYPE cvdr [<!ENTITY x SYSTEM "file://{secret}">]>',
    ).replace("De raad van de gemeente;", "De raad &x;")
    doc = parse_cvdr(xml.encode(), "inline")
    assert "TOPSECRET" not in doc.text


def test_xml_without_body_text_is_unreadable():
    empty = NUMBERED_CVDR.split("<body>")[0] + "<body><regeling><regeling-tekst/></regeling></body></cvdr>"
    with pytest.raises(UnreadableDocument, match="no article, preamble or appendix text"):
        parse_cvdr(empty.encode(), "inline")


def test_other_xml_is_unreadable():
    with pytest.raises(UnreadableDocument, match="root element is <toestand>"):
        parse_cvdr(b"<toestand><artikel/></toestand>", "inline")


@needs_regelrecht
def test_regelrecht_bijzondere_bijstand_rotterdam():
    doc = read_regelrecht(BIJZONDERE_BIJSTAND)
    assert doc.id == "CVDR719087_3"
    assert doc.title == "Beleidsregels bijzondere bijstand Rotterdam 2024"
    assert (doc.municipality_code, doc.municipality) == ("GM0599", "")
    assert doc.doc_type == "beleidsregel"
    assert doc.date == "2025-05-16"
    assert doc.extra["publication_date"] == "2025-05-08"
    assert doc.extra["url"] == "https://lokaleregelgeving.overheid.nl/CVDR719087"
    assert doc.extra["identifier"] == "beleidsregels_bijzondere_bijstand_rotterdam_2024"
    assert len(doc.sections) == 54
    first = doc.sections[0]
    assert (first.label, first.heading) == ("Artikel 1.1", "Begripsbepalingen")
    assert "draagkracht" in first.text
    assert "**" not in doc.text
    assert first.text.startswith("In deze beleidsregels wordt verstaan onder:")
    assert section(doc, "Artikel 6.1").heading == "Eigen bijdragen rechtsbijstand en griffierechten"


@needs_regelrecht
def test_regelrecht_without_uuid_keeps_its_id_and_plain_headings():
    doc = read_regelrecht(REGELRECHT / "almere__verordening_rioolheffing__2025-01-01.yaml")
    assert doc.id == "verordening_rioolheffing_almere_2025"
    assert (doc.municipality_code, doc.doc_type, doc.date) == ("GM0034", "verordening", "2025-01-01")
    assert doc.extra["work_id"] == "CVDR732594"
    assert [s.label for s in doc.sections] == [f"Artikel {n}" for n in (1, 2, 3, 5, 6, 9)]
    assert (doc.sections[4].heading, doc.sections[4].text) == (
        "Tarief",
        "De belasting bedraagt per perceel per belastingjaar EUR 249,18.",
    )


@needs_regelrecht
def test_regelrecht_markdown_links_and_none_headings():
    path = next(REGELRECHT.glob("rotterdam__uitvoeringsbeleid__beleidsregel_opschorting*.yaml"))
    doc = read_regelrecht(path)
    assert doc.id == "CVDR432303_4"
    assert section(doc, "Artikel 4").heading == ""  # the file says **None**
    kwijtschelden = section(doc, "Artikel 7")
    assert kwijtschelden.heading == "Kwijtschelden boete"
    assert "binnen de grenzen van artikel 18a lid 13 en lid 14 Participatiewet," in kwijtschelden.text
    assert "BWBR" not in doc.text


def test_split_heading():
    assert split_heading("**Reikwijdte**\n\nHet bepaalde.") == ("Reikwijdte", "Het bepaalde.")
    assert split_heading("Tarief\n\nDe belasting bedraagt EUR 1.") == (
        "Tarief",
        "De belasting bedraagt EUR 1.",
    )
    assert split_heading("De belasting bedraagt EUR 1.\n\nMeer.") == (
        "",
        "De belasting bedraagt EUR 1.\n\nMeer.",
    )


@needs_regelrecht
@pytest.mark.parametrize("path", sorted(REGELRECHT.glob("*.yaml")), ids=lambda p: p.name[:40])
def test_every_regelrecht_file_reads(path):
    doc = read_regelrecht(path)
    assert doc.sections
    assert doc.municipality_code.startswith("GM")
    assert doc.doc_type in {"verordening", "beleidsregel"}
    assert all(s.label.startswith("Artikel ") and s.text for s in doc.sections)


def test_malformed_yaml_is_unreadable(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("articles: [\n  - number: '1'\n")
    with pytest.raises(UnreadableDocument, match="malformed YAML"):
        read_regelrecht(path)
