"""The fixed texts of the register description and the access export, in Finnish, Swedish and
English. What can change (controller, purposes, recipients, retention of events) comes from the
configuration and the data; see ``app.notice.service``."""

from __future__ import annotations

Texts = dict[str, dict[str, str]]

REGISTER_NAME = {
    "fi": "Huutokaupat.com-verkkopalvelun käyttäjärekisteri",
    "sv": "Användarregistret för webbtjänsten Huutokaupat.com",
    "en": "The user register of the Huutokaupat.com web service",
}

TITLES: Texts = {
    "fi": {
        "document": "Rekisteriseloste ja tietosuojaseloste (EU:n tietosuoja-asetus, art. 13 ja 14)",
        "controller": "1. Rekisterinpitäjä",
        "contact": "2. Yhteyshenkilö rekisteriä koskevissa asioissa",
        "register": "3. Rekisterin nimi",
        "purposes": "4. Henkilötietojen käsittelyn tarkoitus ja oikeusperuste",
        "data": "5. Rekisterin tietosisältö",
        "sources": "6. Säännönmukaiset tietolähteet",
        "disclosures": "7. Tietojen säännönmukaiset luovutukset",
        "transfers": "8. Tietojen siirto EU:n tai ETA:n ulkopuolelle",
        "security": "9. Rekisterin suojauksen periaatteet",
        "retention": "Säilytysajat",
        "rights": "Rekisteröidyn oikeudet",
        "complaint": "Oikeus tehdä valitus valvontaviranomaiselle",
        "automated": "Automaattinen päätöksenteko ja profilointi",
    },
    "sv": {
        "document": "Registerbeskrivning och dataskyddsbeskrivning (EU:s dataskyddsförordning, art. 13 och 14)",
        "controller": "1. Personuppgiftsansvarig",
        "contact": "2. Kontaktperson i ärenden som gäller registret",
        "register": "3. Registrets namn",
        "purposes": "4. Ändamål och rättslig grund för behandlingen",
        "data": "5. Registrets datainnehåll",
        "sources": "6. Regelbundna uppgiftskällor",
        "disclosures": "7. Regelbundna utlämnanden av uppgifter",
        "transfers": "8. Överföring av uppgifter utanför EU eller EES",
        "security": "9. Principer för skyddet av registret",
        "retention": "Lagringstider",
        "rights": "Den registrerades rättigheter",
        "complaint": "Rätt att lämna klagomål till tillsynsmyndigheten",
        "automated": "Automatiserat beslutsfattande och profilering",
    },
    "en": {
        "document": "Register description and privacy notice (GDPR Articles 13 and 14)",
        "controller": "1. Controller",
        "contact": "2. Contact for register matters",
        "register": "3. Name of the register",
        "purposes": "4. Purposes and legal bases of processing",
        "data": "5. Data content of the register",
        "sources": "6. Regular sources of data",
        "disclosures": "7. Regular disclosures of data",
        "transfers": "8. Transfers outside the EU or the EEA",
        "security": "9. Security principles",
        "retention": "Retention",
        "rights": "Your rights",
        "complaint": "The right to complain to the supervisory authority",
        "automated": "Automated decision-making and profiling",
    },
}

# Section 5: every category of the register, and how long each is kept.
CATEGORIES: dict[str, Texts] = {
    "basic_data": {
        "fi": {
            "name": "Perustiedot: yksityisasiakkaan nimi, osoite, kieli, ikä ja puhelinnumero; yritysasiakkaan nimi, osoite, Y-tunnus, yhteyshenkilö, sähköposti ja puhelinnumero",
            "retention": "Asiakassuhteen ajan; poistetaan pyynnöstä.",
        },
        "sv": {
            "name": "Grunduppgifter: privatkundens namn, adress, språk, ålder och telefonnummer; företagskundens namn, adress, FO-nummer, kontaktperson, e-post och telefonnummer",
            "retention": "Under kundrelationen; raderas på begäran.",
        },
        "en": {
            "name": "Basic data: a private user's name, address, language, age and phone number; a company user's name, address, Business ID, contact person, e-mail and phone number",
            "retention": "For the customer relationship; erased on request.",
        },
    },
    "billing": {
        "fi": {
            "name": "Laskutustiedot",
            "retention": "Kuusi vuotta tilikauden päättymisvuoden lopusta (kirjanpitolaki 2:10).",
        },
        "sv": {
            "name": "Faktureringsuppgifter",
            "retention": "Sex år från utgången av det år då räkenskapsperioden upphörde (bokföringslagen 2:10).",
        },
        "en": {
            "name": "Billing data",
            "retention": "Six years from the end of the year in which the financial year ended (Accounting Act 2:10).",
        },
    },
    "debt_collection": {
        "fi": {
            "name": "Perintätiedot",
            "retention": "Perinnän ajan ja kuusi vuotta tilikauden päättymisvuoden lopusta.",
        },
        "sv": {
            "name": "Indrivningsuppgifter",
            "retention": "Under indrivningen och sex år från utgången av räkenskapsårets slutår.",
        },
        "en": {
            "name": "Debt-collection data",
            "retention": "While the claim lasts and six years from the end of the financial year.",
        },
    },
    "contracts": {
        "fi": {
            "name": "Asiakkuus- ja sopimustiedot: tuotteet ja palvelut, niiden avaus- ja päättymispäivät, palvelun myyjä ja yhteydenpitoon tarvittavat tiedot",
            "retention": "Asiakassuhteen ajan; poistetaan pyynnöstä.",
        },
        "sv": {
            "name": "Kund- och avtalsuppgifter: produkter och tjänster, deras öppnings- och avslutningsdatum, säljaren och uppgifter som behövs för kontakt",
            "retention": "Under kundrelationen; raderas på begäran.",
        },
        "en": {
            "name": "Customer relationship and contract data: products and services, their opening and termination dates, the seller, and data needed to communicate",
            "retention": "For the customer relationship; erased on request.",
        },
    },
    "credentials": {
        "fi": {
            "name": "Käyttäjätunnukset ja muut tunnistautumistiedot",
            "retention": "Käyttäjätilin ajan.",
        },
        "sv": {
            "name": "Användarnamn och andra autentiseringsuppgifter",
            "retention": "Så länge användarkontot finns.",
        },
        "en": {
            "name": "Usernames and other authentication data",
            "retention": "While the account exists.",
        },
    },
    "permissions": {
        "fi": {
            "name": "Luvat ja kiellot, kuten suoramarkkinointiluvat ja -kiellot",
            "retention": "Päätökset säilytetään suostumuksen todisteena (art. 7(1)), poistopyynnön jälkeen pseudonymisoituina.",
        },
        "sv": {
            "name": "Tillstånd och förbud, såsom tillstånd och förbud för direktmarknadsföring",
            "retention": "Besluten bevaras som bevis på samtycke (art. 7.1), efter radering i pseudonymiserad form.",
        },
        "en": {
            "name": "Permissions and prohibitions, such as direct-marketing permissions and prohibitions",
            "retention": "Decisions are kept as proof of consent (Art. 7(1)), pseudonymised after erasure.",
        },
    },
    "interests": {
        "fi": {
            "name": "Kiinnostuksen kohteet ja muut rekisteröidyn itse antamat tiedot",
            "retention": "Kunnes rekisteröity poistaa ne tai pyytää poistamista.",
        },
        "sv": {
            "name": "Intressen och andra uppgifter som den registrerade själv lämnat",
            "retention": "Tills den registrerade tar bort dem eller begär radering.",
        },
        "en": {
            "name": "Interests and other data the data subject gave themselves",
            "retention": "Until the person removes them or asks for erasure.",
        },
    },
    "events": {
        "fi": {
            "name": "Tapahtuma- ja käyttäjäanalytiikkatiedot",
            "retention": "{months} kuukautta.",
        },
        "sv": {"name": "Händelse- och användaranalysdata", "retention": "{months} månader."},
        "en": {"name": "Event and user-analytics data", "retention": "{months} months."},
    },
    "identity_code": {
        "fi": {
            "name": "Henkilötunnus maksullisissa ja korkeaa tietoturvaa vaativissa palveluissa luotettavaa tunnistamista varten",
            "retention": "Tarpeen ajan; salattuna; poistetaan pyynnöstä.",
        },
        "sv": {
            "name": "Personbeteckning för tillförlitlig identifiering i avgiftsbelagda tjänster och tjänster som kräver hög säkerhet",
            "retention": "Så länge den behövs; krypterad; raderas på begäran.",
        },
        "en": {
            "name": "The personal identity code, for reliable identification in paid services and services that need a high level of security",
            "retention": "As long as needed; encrypted; erased on request.",
        },
    },
}

PARAGRAPHS: Texts = {
    "fi": {
        "sources": "Tiedot saadaan pääasiassa rekisteröidyiltä (henkilöiltä ja oikeushenkilöiltä) itseltään. Tietoja voidaan päivittää Digi- ja väestötietoviraston (DVV) väestötietojärjestelmästä, Postin osoitetietojärjestelmästä sekä muista vastaavista julkisista ja yksityisistä rekistereistä.",
        "disclosures": "Mezzoforte Oy ja sen kulloisetkin konserniyhtiöt voivat käyttää ja luovuttaa tietoja oikeutettuihin tarkoituksiin, kuten suoramarkkinointiin, etämyyntiin ja markkinatutkimukseen. Rekisteröity voi kieltää tietojensa käytön markkinointiin ja markkinatutkimukseen. Jokainen luovutus kirjataan.",
        "transfers_none": "Tietoja ei luovuteta eikä siirretä EU:n tai ETA:n ulkopuolelle.",
        "security": "A. Manuaalista aineistoa ei ole. B. Tietojärjestelmissä olevat tiedot ovat salattuina palomuurein suojatussa ympäristössä käyttäjätunnusten ja salasanojen takana; palvelintilojen kulkua valvotaan. Henkilötunnukset salataan erikseen, ja luovutus- ja käyttölokit ovat muuttumattomia ja tarkistettavissa.",
        "rights": "Sinulla on oikeus saada pääsy tietoihisi (art. 15), oikaista ne (art. 16), pyytää niiden poistamista (art. 17), rajoittaa käsittelyä (art. 18), siirtää ne järjestelmästä toiseen (art. 20) ja vastustaa käsittelyä, suoramarkkinoinnin osalta ehdoitta (art. 21). Pyynnöt: POST /v1/users/me/requests tai yhteyshenkilölle. Vastaamme kuukauden kuluessa.",
        "complaint": "Voit tehdä valituksen tietosuojavaltuutetulle (Tietosuojavaltuutetun toimisto, PL 800, 00531 Helsinki, tietosuoja.fi).",
        "automated": "Automaattista päätöksentekoa, jolla olisi oikeusvaikutuksia, ei tehdä. Suoramarkkinoinnin kohdentamiseen voidaan käyttää profilointia, jonka voit kieltää.",
    },
    "sv": {
        "sources": "Uppgifterna fås huvudsakligen av de registrerade (personer och juridiska personer) själva. Uppgifterna kan uppdateras från Myndigheten för digitalisering och befolkningsdatas (DVV) befolkningsdatasystem, Postens adressdatasystem och andra motsvarande offentliga och privata register.",
        "disclosures": "Mezzoforte Oy och dess koncernbolag kan använda och lämna ut uppgifterna för berättigade ändamål, såsom direktmarknadsföring, distansförsäljning och marknadsundersökningar. Den registrerade kan förbjuda användningen för marknadsföring och marknadsundersökningar. Varje utlämnande registreras.",
        "transfers_none": "Uppgifter lämnas inte ut och överförs inte utanför EU eller EES.",
        "security": "A. Inget manuellt material. B. Uppgifterna i datasystemen är krypterade i en brandväggsskyddad miljö bakom användarnamn och lösenord; tillträdet till serverutrymmena övervakas. Personbeteckningar krypteras separat, och loggarna över utlämnanden och användning är oföränderliga och kontrollerbara.",
        "rights": "Du har rätt till tillgång (art. 15), rättelse (art. 16), radering (art. 17), begränsning (art. 18), dataportabilitet (art. 20) och att invända mot behandlingen, för direktmarknadsföring ovillkorligen (art. 21). Begäran: POST /v1/users/me/requests eller kontaktpersonen. Vi svarar inom en månad.",
        "complaint": "Du kan lämna klagomål till dataombudsmannen (Dataombudsmannens byrå, PB 800, 00531 Helsingfors, tietosuoja.fi).",
        "automated": "Automatiserade beslut med rättsverkan fattas inte. Profilering kan användas för att rikta direktmarknadsföring; du kan förbjuda den.",
    },
    "en": {
        "sources": "Data comes mainly from the data subjects (persons and legal persons) themselves. It may be updated from the population information system of the Digital and Population Data Services Agency (DVV), Posti's address data system and other similar public and private registers.",
        "disclosures": "Mezzoforte Oy and its group companies may use and disclose the data for justified purposes, such as direct marketing, distance selling and market research. You may prohibit the use of your data for marketing and market research. Every disclosure is logged.",
        "transfers_none": "Data is not disclosed or transferred outside the EU or the EEA.",
        "security": "A. There is no manual material. B. Data in computer systems is kept encrypted in a firewall-protected environment behind usernames and passwords; access to the server rooms is monitored. Identity codes are encrypted separately, and the disclosure and access logs are tamper-evident.",
        "rights": "You have the right of access (Art. 15), rectification (Art. 16), erasure (Art. 17), restriction (Art. 18), data portability (Art. 20), and to object, to direct marketing unconditionally (Art. 21). Requests: POST /v1/users/me/requests, or the contact above. We answer within one month.",
        "complaint": "You may complain to the Data Protection Ombudsman (Office of the Data Protection Ombudsman, P.O. Box 800, 00531 Helsinki, tietosuoja.fi).",
        "automated": "No automated decisions with legal effects are made. Profiling may be used to target direct marketing; you may prohibit it.",
    },
}

SOURCES = ("subject", "dvv", "posti")
