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
        "object": "Oikeus vastustaa suoramarkkinointia",
        "rights": "Rekisteröidyn oikeudet",
        "how": "Näin käytät oikeuksiasi",
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
        "object": "Rätt att invända mot direktmarknadsföring",
        "rights": "Den registrerades rättigheter",
        "how": "Så här använder du dina rättigheter",
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
        "object": "Your right to object to direct marketing",
        "rights": "Your rights",
        "how": "How to use your rights",
        "complaint": "The right to complain to the supervisory authority",
        "automated": "Automated decision-making and profiling",
    },
}

PARAGRAPHS: Texts = {
    "fi": {
        "sources": "Tiedot saadaan pääasiassa rekisteröidyiltä (henkilöiltä ja oikeushenkilöiltä) itseltään. Tietoja voidaan päivittää Digi- ja väestötietoviraston (DVV) väestötietojärjestelmästä, Postin osoitetietojärjestelmästä sekä muista vastaavista julkisista ja yksityisistä rekistereistä.",
        "disclosures": "Mezzoforte Oy ja sen kulloisetkin konserniyhtiöt voivat käyttää ja luovuttaa tietoja oikeutettuihin tarkoituksiin, kuten suoramarkkinointiin, etämyyntiin ja markkinatutkimukseen. Rekisteröity voi kieltää tietojensa käytön markkinointiin ja markkinatutkimukseen. Jokainen luovutus kirjataan.",
        "transfers_none": "Tietoja ei luovuteta eikä siirretä EU:n tai ETA:n ulkopuolelle: palvelu ei luovuta tietoja vastaanottajalle, joka on EU:n tai ETA:n ulkopuolella.",
        "transfers_some": "Tietoja on luovutettu EU:n tai ETA:n ulkopuolelle vain seuraaville vastaanottajille, kullekin dokumentoidulla siirtoperusteella:",
        "security": "A. Manuaalista aineistoa ei ole. B. Tietojärjestelmissä olevat tiedot ovat salattuina palomuurein suojatussa ympäristössä käyttäjätunnusten ja salasanojen takana; palvelintilojen kulkua valvotaan. Henkilötunnukset salataan erikseen, ja luovutus- ja käyttölokit ovat muuttumattomia ja tarkistettavissa.",
        "object": "Voit milloin tahansa kieltää tietojesi käytön suoramarkkinointiin, myös siihen liittyvän profiloinnin. Kielto koskee Mezzoforte Oy:tä ja sen konserniyhtiöitä ja tulee voimaan heti, eikä sitä tarvitse perustella (EU:n tietosuoja-asetus, art. 21). Voit myös kieltää tietojesi käytön markkinatutkimukseen.",
        "rights": "Sinulla on oikeus saada pääsy tietoihisi (art. 15), oikaista ne (art. 16), pyytää niiden poistamista (art. 17), rajoittaa käsittelyä (art. 18), saada antamasi tiedot koneluettavassa muodossa ja siirtää ne toiseen palveluun (art. 20) ja vastustaa muuta käsittelyä (art. 21). Voit perua antamasi suostumuksen milloin tahansa yhtä helposti kuin annoit sen. Vastaamme pyyntöösi kuukauden kuluessa.",
        "how": "Voit muuttaa lupiasi ja kieltojasi sekä tehdä pyyntöjä Huutokaupat.com-tilisi asetussivulla. Voit myös ottaa yhteyttä rekisterinpitäjän yhteyshenkilöön (kohta 2) sähköpostitse, puhelimitse tai kirjeellä.",
        "complaint": "Voit tehdä valituksen tietosuojavaltuutetulle (Tietosuojavaltuutetun toimisto, PL 800, 00531 Helsinki, tietosuoja.fi).",
        "automated": "Automaattista päätöksentekoa, jolla olisi oikeusvaikutuksia, ei tehdä. Suoramarkkinoinnin kohdentamiseen voidaan käyttää profilointia, jonka voit kieltää.",
    },
    "sv": {
        "sources": "Uppgifterna fås huvudsakligen av de registrerade (personer och juridiska personer) själva. Uppgifterna kan uppdateras från Myndigheten för digitalisering och befolkningsdatas (DVV) befolkningsdatasystem, Postens adressdatasystem och andra motsvarande offentliga och privata register.",
        "disclosures": "Mezzoforte Oy och dess koncernbolag kan använda och lämna ut uppgifterna för berättigade ändamål, såsom direktmarknadsföring, distansförsäljning och marknadsundersökningar. Den registrerade kan förbjuda användningen för marknadsföring och marknadsundersökningar. Varje utlämnande registreras.",
        "transfers_none": "Uppgifter lämnas inte ut och överförs inte utanför EU eller EES: tjänsten lämnar inte ut uppgifter till mottagare utanför EU eller EES.",
        "transfers_some": "Uppgifter har lämnats ut utanför EU eller EES endast till följande mottagare, var och en med en dokumenterad grund för överföringen:",
        "security": "A. Inget manuellt material. B. Uppgifterna i datasystemen är krypterade i en brandväggsskyddad miljö bakom användarnamn och lösenord; tillträdet till serverutrymmena övervakas. Personbeteckningar krypteras separat, och loggarna över utlämnanden och användning är oföränderliga och kontrollerbara.",
        "object": "Du kan när som helst förbjuda att dina uppgifter används för direktmarknadsföring, också för profilering i samband med den. Förbudet gäller Mezzoforte Oy och dess koncernbolag, träder i kraft genast och behöver inte motiveras (EU:s dataskyddsförordning, art. 21). Du kan också förbjuda att dina uppgifter används för marknadsundersökningar.",
        "rights": "Du har rätt till tillgång till dina uppgifter (art. 15), rättelse (art. 16), radering (art. 17), begränsning av behandlingen (art. 18), att få de uppgifter du lämnat i maskinläsbar form och flytta dem till en annan tjänst (art. 20) och att invända mot annan behandling (art. 21). Du kan när som helst återkalla ett samtycke lika lätt som du gav det. Vi svarar på din begäran inom en månad.",
        "how": "Du kan ändra dina tillstånd och förbud och göra begäranden på inställningssidan för ditt Huutokaupat.com-konto. Du kan också kontakta den personuppgiftsansvariges kontaktperson (punkt 2) per e-post, telefon eller brev.",
        "complaint": "Du kan lämna klagomål till dataombudsmannen (Dataombudsmannens byrå, PB 800, 00531 Helsingfors, tietosuoja.fi).",
        "automated": "Automatiserade beslut med rättsverkan fattas inte. Profilering kan användas för att rikta direktmarknadsföring; du kan förbjuda den.",
    },
    "en": {
        "sources": "Data comes mainly from the data subjects (persons and legal persons) themselves. It may be updated from the population information system of the Digital and Population Data Services Agency (DVV), Posti's address data system and other similar public and private registers.",
        "disclosures": "Mezzoforte Oy and its group companies may use and disclose the data for justified purposes, such as direct marketing, distance selling and market research. You may prohibit the use of your data for marketing and market research. Every disclosure is logged.",
        "transfers_none": "Data is not disclosed or transferred outside the EU or the EEA: the service does not disclose data to recipients outside the EU or the EEA.",
        "transfers_some": "Data has been disclosed outside the EU or the EEA only to these recipients, each under a documented transfer basis:",
        "security": "A. There is no manual material. B. Data in computer systems is kept encrypted in a firewall-protected environment behind usernames and passwords; access to the server rooms is monitored. Identity codes are encrypted separately, and the disclosure and access logs are tamper-evident.",
        "object": "You may at any time prohibit the use of your data for direct marketing, including profiling for it. The prohibition covers Mezzoforte Oy and its group companies, takes effect at once and needs no reason (GDPR Art. 21). You may also prohibit the use of your data for market research.",
        "rights": "You have the right of access to your data (Art. 15), to have it rectified (Art. 16), erased (Art. 17), its processing restricted (Art. 18), to get the data you gave us in a machine-readable form and move it to another service (Art. 20), and to object to other processing (Art. 21). You may withdraw a consent at any time as easily as you gave it. We answer your request within one month.",
        "how": "You can change your permissions and prohibitions and make requests on the settings page of your Huutokaupat.com account. You can also contact the controller's contact person (section 2) by e-mail, phone or letter.",
        "complaint": "You may complain to the Data Protection Ombudsman (Office of the Data Protection Ombudsman, P.O. Box 800, 00531 Helsinki, tietosuoja.fi).",
        "automated": "No automated decisions with legal effects are made. Profiling may be used to target direct marketing; you may prohibit it.",
    },
}

SOURCES = ("subject", "dvv", "posti")

LEGAL_BASES: Texts = {
    "fi": {
        "consent": "suostumus (art. 6(1)(a))",
        "contract": "sopimus (art. 6(1)(b))",
        "legal_obligation": "lakisääteinen velvoite (art. 6(1)(c))",
        "legitimate_interest": "oikeutettu etu (art. 6(1)(f))",
    },
    "sv": {
        "consent": "samtycke (art. 6.1 a)",
        "contract": "avtal (art. 6.1 b)",
        "legal_obligation": "rättslig förpliktelse (art. 6.1 c)",
        "legitimate_interest": "berättigat intresse (art. 6.1 f)",
    },
    "en": {
        "consent": "consent (Art. 6(1)(a))",
        "contract": "contract (Art. 6(1)(b))",
        "legal_obligation": "legal obligation (Art. 6(1)(c))",
        "legitimate_interest": "legitimate interest (Art. 6(1)(f))",
    },
}

TRANSFER_BASES: Texts = {
    "fi": {
        "adequacy_decision": "komission tietosuojan riittävyyttä koskeva päätös (art. 45)",
        "standard_contractual_clauses": "vakiolausekkeet (art. 46)",
        "binding_corporate_rules": "yritystä koskevat sitovat säännöt (art. 47)",
        "derogation": "erityistilanteen poikkeus (art. 49)",
    },
    "sv": {
        "adequacy_decision": "kommissionens beslut om adekvat skyddsnivå (art. 45)",
        "standard_contractual_clauses": "standardavtalsklausuler (art. 46)",
        "binding_corporate_rules": "bindande företagsbestämmelser (art. 47)",
        "derogation": "undantag i särskilda situationer (art. 49)",
    },
    "en": {
        "adequacy_decision": "an adequacy decision of the Commission (Art. 45)",
        "standard_contractual_clauses": "standard contractual clauses (Art. 46)",
        "binding_corporate_rules": "binding corporate rules (Art. 47)",
        "derogation": "a derogation for a specific situation (Art. 49)",
    },
}

CHANNELS: Texts = {
    "fi": {"email": "sähköposti", "sms": "tekstiviesti", "phone": "puhelin", "post": "kirje"},
    "sv": {"email": "e-post", "sms": "sms", "phone": "telefon", "post": "brev"},
    "en": {"email": "e-mail", "sms": "SMS", "phone": "phone", "post": "letter"},
}

RECIPIENT_KINDS: Texts = {
    "fi": {
        "group_company": "konserniyhtiö",
        "partner": "yhteistyökumppani",
        "debt_collection_agency": "perintätoimisto",
        "authority": "viranomainen",
    },
    "sv": {
        "group_company": "koncernbolag",
        "partner": "samarbetspartner",
        "debt_collection_agency": "inkassobyrå",
        "authority": "myndighet",
    },
    "en": {
        "group_company": "group company",
        "partner": "partner",
        "debt_collection_agency": "debt-collection agency",
        "authority": "authority",
    },
}
