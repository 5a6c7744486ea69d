"""The words of the personal-data catalogue in Finnish, Swedish and English: the categories of
the register description (section 5), the data categories (fideslang-style ids), the purposes
(W3C DPV terms), the sources, and how retention and erasure are told to a person."""

from __future__ import annotations

from typing import Any

from app.core.personal_data import Erasure, Retention, Source, Table

Words = dict[str, dict[str, str]]

# Section 5 of the register description, in its order, and one more: the records the law makes
# the controller keep about its own handling of the data.
CATEGORIES: dict[str, dict[str, str]] = {
    "basic_data": {
        "fi": "Perustiedot: yksityisasiakkaan nimi, osoite, kieli, ikä ja puhelinnumero; yritysasiakkaan nimi, osoite, Y-tunnus, yhteyshenkilö, sähköposti ja puhelinnumero",
        "sv": "Grunduppgifter: privatkundens namn, adress, språk, ålder och telefonnummer; företagskundens namn, adress, FO-nummer, kontaktperson, e-post och telefonnummer",
        "en": "Basic data: a private user's name, address, language, age and phone number; a company user's name, address, Business ID, contact person, e-mail and phone number",
    },
    "identity_code": {
        "fi": "Henkilötunnus maksullisissa ja korkeaa tietoturvaa vaativissa palveluissa luotettavaa tunnistamista varten",
        "sv": "Personbeteckning för tillförlitlig identifiering i avgiftsbelagda tjänster och tjänster som kräver hög säkerhet",
        "en": "The personal identity code, for reliable identification in paid services and services that need a high level of security",
    },
    "contracts": {
        "fi": "Asiakkuus- ja sopimustiedot: tuotteet ja palvelut, niiden avaus- ja päättymispäivät, palvelun myyjä ja yhteydenpitoon tarvittavat tiedot",
        "sv": "Kund- och avtalsuppgifter: produkter och tjänster, deras öppnings- och avslutningsdatum, säljaren och uppgifter som behövs för kontakt",
        "en": "Customer relationship and contract data: products and services, their opening and termination dates, the seller, and data needed to communicate",
    },
    "billing": {
        "fi": "Laskutustiedot",
        "sv": "Faktureringsuppgifter",
        "en": "Billing data",
    },
    "debt_collection": {
        "fi": "Perintätiedot",
        "sv": "Indrivningsuppgifter",
        "en": "Debt-collection data",
    },
    "credentials": {
        "fi": "Käyttäjätunnukset ja muut tunnistautumistiedot",
        "sv": "Användarnamn och andra autentiseringsuppgifter",
        "en": "Usernames and other authentication data",
    },
    "permissions": {
        "fi": "Luvat ja kiellot, kuten suoramarkkinointiluvat ja -kiellot",
        "sv": "Tillstånd och förbud, såsom tillstånd och förbud för direktmarknadsföring",
        "en": "Permissions and prohibitions, such as direct-marketing permissions and prohibitions",
    },
    "interests": {
        "fi": "Kiinnostuksen kohteet ja muut rekisteröidyn itse antamat tiedot",
        "sv": "Intressen och andra uppgifter som den registrerade själv lämnat",
        "en": "Interests and other data the data subject gave themselves",
    },
    "events": {
        "fi": "Tapahtuma- ja käyttäjäanalytiikkatiedot",
        "sv": "Händelse- och användaranalysdata",
        "en": "Event and user-analytics data",
    },
    "accountability": {
        "fi": "Oikeuksiesi käyttö ja kirjaukset tietojesi käsittelystä: pyyntösi ja niiden käsittely, tietojesi luovutukset ja niiden katselut, ilmoitukset vastaanottajille, tietojesi muutoshistoria",
        "sv": "Utövandet av dina rättigheter och registreringar av behandlingen: dina begäranden och deras handläggning, utlämnanden och läsningar av dina uppgifter, meddelanden till mottagare, ändringshistoriken för dina uppgifter",
        "en": "Your use of your rights and the records of how your data is handled: your requests and their handling, disclosures and reads of your data, notifications to recipients, the history of changes to your data",
    },
}

DATA_CATEGORIES: Words = {
    "user.unique_id": {"fi": "käyttäjätunniste", "sv": "användar-id", "en": "user id"},
    "user.unique_id.pseudonymous": {
        "fi": "pseudonyymi tunniste",
        "sv": "pseudonym referens",
        "en": "pseudonymous reference",
    },
    "user.account": {"fi": "tilin tyyppi", "sv": "kontotyp", "en": "kind of account"},
    "user.account.username": {"fi": "käyttäjätunnus", "sv": "användarnamn", "en": "username"},
    "user.name": {"fi": "nimi", "sv": "namn", "en": "name"},
    "user.contact": {
        "fi": "yhteydenpitotiedot",
        "sv": "kontaktuppgifter",
        "en": "data needed to communicate",
    },
    "user.contact.address": {"fi": "osoite", "sv": "adress", "en": "address"},
    "user.contact.email": {"fi": "sähköposti", "sv": "e-post", "en": "e-mail"},
    "user.contact.phone_number": {"fi": "puhelinnumero", "sv": "telefonnummer", "en": "phone"},
    "user.demographic.language": {"fi": "kieli", "sv": "språk", "en": "language"},
    "user.demographic.date_of_birth": {
        "fi": "syntymäaika",
        "sv": "födelsedatum",
        "en": "date of birth",
    },
    "user.demographic.date_of_death": {
        "fi": "kuolinpäivä",
        "sv": "dödsdag",
        "en": "date of death",
    },
    "user.government_id.national_identification_number": {
        "fi": "henkilötunnus",
        "sv": "personbeteckning",
        "en": "personal identity code",
    },
    "user.government_id.business_id": {"fi": "Y-tunnus", "sv": "FO-nummer", "en": "Business ID"},
    "user.authorization.identification": {
        "fi": "vahva tunnistautuminen",
        "sv": "stark autentisering",
        "en": "strong identification",
    },
    "user.authorization.credentials": {
        "fi": "salasanan tiiviste ja kirjautumistiedot",
        "sv": "lösenordets hash och inloggningsuppgifter",
        "en": "password hash and sign-in data",
    },
    "user.financial.e_invoice_address": {
        "fi": "verkkolaskuosoite",
        "sv": "e-fakturaadress",
        "en": "e-invoice address",
    },
    "user.financial.payment_reference": {
        "fi": "maksutavan viite",
        "sv": "referens till betalningssätt",
        "en": "payment method reference",
    },
    "user.financial.debt": {"fi": "perintä", "sv": "indrivning", "en": "debt collection"},
    "user.contract": {"fi": "sopimukset", "sv": "avtal", "en": "contracts"},
    "user.content": {
        "fi": "itse antamasi tiedot",
        "sv": "uppgifter du själv gett",
        "en": "data you gave",
    },
    "user.privacy_preferences": {
        "fi": "luvat ja kiellot",
        "sv": "tillstånd och förbud",
        "en": "permissions and prohibitions",
    },
    "user.device.user_agent": {
        "fi": "selaimen tunniste",
        "sv": "webbläsarens identifierare",
        "en": "browser user agent",
    },
    "user.device.ip_address": {
        "fi": "IP-osoitteen avainnettu tiiviste",
        "sv": "nyckelad hash av IP-adressen",
        "en": "keyed hash of the IP address",
    },
    "user.behavior": {
        "fi": "palvelun käyttö",
        "sv": "användning av tjänsten",
        "en": "use of the service",
    },
    "user.provenance": {
        "fi": "muutoshistoria ja tietolähteet",
        "sv": "ändringshistorik och källor",
        "en": "change history and sources",
    },
    "user.rights_request": {
        "fi": "tietosuojapyynnöt",
        "sv": "begäranden enligt dataskyddet",
        "en": "data-protection requests",
    },
    "user.notification": {
        "fi": "ilmoitukset sinulle",
        "sv": "meddelanden till dig",
        "en": "notices to you",
    },
    "user.access": {
        "fi": "tietojesi katselut",
        "sv": "läsningar av dina uppgifter",
        "en": "reads of your data",
    },
    "user.disclosure": {
        "fi": "tietojesi luovutukset",
        "sv": "utlämnanden av dina uppgifter",
        "en": "disclosures of your data",
    },
    "user.answer_copy": {
        "fi": "kopiot jo annetuista vastauksista uudelleenyrityksiä varten",
        "sv": "kopior av redan givna svar för nya försök",
        "en": "copies of answers already given, for retries",
    },
    "system.operations": {
        "fi": "tekniset tunnisteet ja ajat",
        "sv": "tekniska id:n och tider",
        "en": "technical ids and times",
    },
}

# The purposes the catalogue names (W3C DPV): the purpose catalogue's consent purposes map onto
# them through ``purposes.dpv_purpose``.
PURPOSES: Words = {
    "dpv:CustomerRelationshipManagement": {
        "fi": "Asiakassuhteen hoitaminen ja ylläpito",
        "sv": "Skötsel och upprätthållande av kundrelationen",
        "en": "Managing and maintaining the customer relationship",
    },
    "dpv:ServiceProvision": {
        "fi": "Palvelun tuottaminen",
        "sv": "Tillhandahållande av tjänsten",
        "en": "Providing the service",
    },
    "dpv:LegalCompliance": {
        "fi": "Lakisääteiset velvoitteet: kirjanpito, tietosuojapyyntöjen käsittely ja osoitusvelvollisuus",
        "sv": "Rättsliga förpliktelser: bokföring, handläggning av begäranden och ansvarsskyldighet",
        "en": "Legal obligations: bookkeeping, handling your requests, and accountability",
    },
    "dpv:DirectMarketing": {
        "fi": "Suoramarkkinointi ja etämyynti",
        "sv": "Direktmarknadsföring och distansförsäljning",
        "en": "Direct marketing and distance selling",
    },
    "dpv:CommercialResearch": {
        "fi": "Markkinatutkimus",
        "sv": "Marknadsundersökningar",
        "en": "Market research",
    },
    "dpv:ServiceOptimisation": {
        "fi": "Palvelun kehittäminen käyttöanalytiikan avulla",
        "sv": "Utveckling av tjänsten med användaranalys",
        "en": "Improving the service with usage analytics",
    },
    "dpv:IdentityVerification": {
        "fi": "Luotettava tunnistaminen",
        "sv": "Tillförlitlig identifiering",
        "en": "Reliable identification",
    },
    "dpv:EnforceSecurity": {
        "fi": "Tietoturva",
        "sv": "Informationssäkerhet",
        "en": "Security",
    },
}

SOURCES: Words = {
    Source.SUBJECT: {"fi": "sinulta itseltäsi", "sv": "av dig själv", "en": "from you"},
    Source.OBSERVED: {
        "fi": "palvelun käytöstäsi",
        "sv": "från din användning av tjänsten",
        "en": "from your use of the service",
    },
    Source.STAFF: {
        "fi": "rekisterinpitäjän henkilöstöltä",
        "sv": "av den personuppgiftsansvariges personal",
        "en": "from the controller's staff",
    },
    Source.DVV: {
        "fi": "Digi- ja väestötietovirastolta (DVV)",
        "sv": "från Myndigheten för digitalisering och befolkningsdata (DVV)",
        "en": "from the Digital and Population Data Services Agency (DVV)",
    },
    Source.POSTI: {
        "fi": "Postin osoitetietojärjestelmästä",
        "sv": "från Postens adressdatasystem",
        "en": "from Posti's address data system",
    },
    Source.IMPORT: {
        "fi": "Huutokaupat.comin aiemmasta asiakasrekisteristä",
        "sv": "från Huutokaupat.coms tidigare kundregister",
        "en": "from Huutokaupat.com's earlier customer register",
    },
    Source.DERIVED: {
        "fi": "rekisterin muodostamana",
        "sv": "skapade av registret",
        "en": "made by the registry",
    },
}

ERASURE: Words = {
    Erasure.DELETE: {"fi": "poistetaan", "sv": "raderas", "en": "erased"},
    Erasure.PSEUDONYMISE: {
        "fi": "säilytetään todisteena pseudonymisoituna, tunnistavat tiedot poistetaan",
        "sv": "bevaras som bevis i pseudonymiserad form, identifierande uppgifter raderas",
        "en": "kept as proof, pseudonymised, the identifying values erased",
    },
    Erasure.HOLD: {
        "fi": "säilytetään lakisääteisen säilytysajan pseudonymisoituna ja rajattuna, sitten poistetaan",
        "sv": "bevaras pseudonymiserat och begränsat under den lagstadgade tiden, raderas sedan",
        "en": "kept pseudonymised and restricted for the period the law sets, then erased",
    },
    Erasure.UNLINK: {
        "fi": "loki säilyy muuttumattomana, mutta sen yhteys sinuun katkaistaan",
        "sv": "loggen förblir oförändrad, men dess koppling till dig bryts",
        "en": "the log stays unchanged, but its link to you is cut",
    },
}

_RETENTION: Words = {
    "relationship": {
        "fi": "Asiakassuhteen ajan; poistetaan pyynnöstä.",
        "sv": "Under kundrelationen; raderas på begäran.",
        "en": "For the customer relationship; erased on request.",
    },
    "proof": {
        "fi": "Säilytetään todisteena niin kauan kuin käsittely perustuu siihen; poistopyynnön "
        "jälkeen pseudonymisoituna.",
        "sv": "Bevaras som bevis så länge behandlingen bygger på det; efter radering i "
        "pseudonymiserad form.",
        "en": "Kept as proof for as long as processing relies on it; pseudonymised after erasure.",
    },
    "months": {
        "fi": "{months} kuukautta, sitten poistetaan.",
        "sv": "{months} månader, raderas sedan.",
        "en": "{months} months, then erased.",
    },
    "expiry": {
        "fi": "Poistetaan vanhentuneena ({grace} voimassaolon jälkeen).",
        "sv": "Raderas när giltigheten upphört ({grace} efter).",
        "en": "Removed once expired ({grace} after).",
    },
    "hold": {
        "fi": "Asiakassuhteen ajan ja poistopyynnön jälkeen {years} vuotta tilikauden "
        "päättymisvuoden lopusta ({law}), rajattuna ja pseudonymisoituna.",
        "sv": "Under kundrelationen och efter radering {years} år från utgången av det år då "
        "räkenskapsperioden upphörde ({law}), begränsat och pseudonymiserat.",
        "en": "For the customer relationship and after erasure {years} years from the end of the "
        "year in which the financial year ended ({law}), restricted and pseudonymised.",
    },
    "log": {
        "fi": "Muuttumaton loki; poistopyynnön jälkeen sen yhteys sinuun katkaistaan.",
        "sv": "Oföränderlig logg; efter radering bryts dess koppling till dig.",
        "en": "A tamper-evident log; after erasure its link to you is cut.",
    },
}

_GRACE = {"1 day": {"fi": "vuorokausi", "sv": "ett dygn", "en": "a day"}}


def retention_text(retention: Retention, lang: str, settings: Any) -> str:
    """How long, in words, for a person."""
    template = _RETENTION[retention.rule][lang]
    values: dict[str, Any] = {}
    if retention.setting:
        values["months"] = getattr(settings, retention.setting)
    if retention.grace:
        values["grace"] = _GRACE.get(retention.grace, {}).get(lang, retention.grace)
    if retention.hold:
        values["years"] = retention.hold.years
        values["law"] = retention.hold.law
    return template.format(**values)


def data_category_names(table: Table, lang: str) -> list[str]:
    """The data categories of a table's columns, in words, each once, in column order (the user
    id, which every table has, and technical columns left out)."""
    names: list[str] = []
    for column in table.columns:
        if column.data_category.startswith("system.") or column.data_category == "user.unique_id":
            continue
        name = DATA_CATEGORIES[column.data_category][lang]
        if name not in names:
            names.append(name)
    return names
