"""What the person is told, in their language. ``{due_on}``, ``{months}`` and ``{reason}`` are
filled in from the notice's details."""

from __future__ import annotations

TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "restriction_lifted": {
        "fi": (
            "Käsittelyn rajoitus poistetaan",
            "Pyysit, että tietojesi käsittelyä rajoitetaan. Rajoitus poistetaan, ja tietojasi "
            "käsitellään jälleen rekisteriselosteessa kerrotuin tavoin. Voit vastustaa "
            "käsittelyä tai pyytää tietojesi poistamista asetussivulla tai ottamalla yhteyttä "
            "rekisterinpitäjään.",
        ),
        "sv": (
            "Begränsningen av behandlingen upphävs",
            "Du bad att behandlingen av dina uppgifter skulle begränsas. Begränsningen upphävs "
            "och dina uppgifter behandlas igen så som registerbeskrivningen anger. Du kan "
            "invända mot behandlingen eller be att dina uppgifter raderas på inställningssidan "
            "eller genom att kontakta den personuppgiftsansvarige.",
        ),
        "en": (
            "The restriction of processing is lifted",
            "You asked for the processing of your data to be restricted. The restriction is "
            "lifted, and your data is processed again as the register description says. You "
            "can object to the processing or ask for your data to be erased on the settings "
            "page or by contacting the controller.",
        ),
    },
    "request_extended": {
        "fi": (
            "Pyyntösi käsittely pitenee",
            "Pyyntösi käsittelyaikaa on jatkettu {months} kuukaudella. Vastaamme viimeistään "
            "{due_on}. Syy: {reason}",
        ),
        "sv": (
            "Behandlingen av din begäran förlängs",
            "Tiden för att behandla din begäran har förlängts med {months} månader. Vi svarar "
            "senast {due_on}. Orsak: {reason}",
        ),
        "en": (
            "Your request will take longer",
            "The time to answer your request has been extended by {months} months. We will "
            "answer by {due_on} at the latest. Reason: {reason}",
        ),
    },
}

PAGE_TITLE = {"fi": "Ilmoitukset sinulle", "sv": "Meddelanden till dig", "en": "Notices to you"}
NO_NOTICES = {"fi": "Ei ilmoituksia.", "sv": "Inga meddelanden.", "en": "No notices."}
