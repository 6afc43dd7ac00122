"""Dutch (Latin script).

Whole words where a stem would run into English: "proces " (not "process"); not "top"
(a summit, but also English "top official")."""

NAME = "Dutch"

EVENTS = {
    "release": ("vrijgelaten", "vrijlating", "vrijgekomen", "gevangenenruil"),
    "return": ("teruggekeerd", "keert terug", "keerde terug"),
    "verdict": ("veroordeeld", "vonnis", "vrijgesproken", "jaar cel", "celstraf",
                "schuldig bevonden"),
    "custody": ("voorarrest", "huisarrest", "in hechtenis", "verlengd"),
    "appeal": ("hoger beroep", "beroep aangetekend", "verworpen"),
    "deport": ("uitgezet", "uitzetting", "gedeporteerd", "uitgewezen", "staatsburgerschap"),
    "payment": ("schadevergoeding", "compensatie", "uitbetaald"),
    "report": ("eindrapport", "tussenrapport", "onderzoeksrapport", "rapport over"),
    "talks": ("gesprek", "onderhandel", "ontmoet", "bezoek", "telefoongesprek", "overleg",
              "topoverleg"),
    "agreement": ("akkoord", "overeenkomst", "ondertekend", "verdrag"),
    "arrest": ("gearresteerd", "arrestatie", "aangehouden", "opgepakt", "inval "),
    "charge": ("aangeklaagd", "aanklacht", "beschuldigd", "vervolgd"),
    "death": ("gedood", "omgekomen", "overleden", "doden "),
    "sale": ("verkoop", "verkopen", "verkocht", "belang van"),
    "launch": ("geopend", "in gebruik genomen", "gelanceerd"),
    "growth": ("gestegen", "groei", "stijging", "record "),
    "apology": ("excuses", "verontschuldig"),
    "admission": ("erkent", "erkend", "erkende", "toegegeven", "geeft toe", "gaf toe"),
    "lawsuit": ("rechtszaak", "daagt", "internationaal gerechtshof", "arbitrage"),
    "trial": ("proces ", "rechtszitting", "zitting", "uitgesteld"),
    "suspension": ("opgeschort", "geschorst", "bevroren", "geannuleerd", "stilgelegd"),
    "wanted": ("opsporingsbericht", "internationaal gezocht"),
}

MONTHS = {"januari": 1, "februari": 2, "maart": 3, "mei": 5, "augustus": 8}

ANNIVERSARY = ("jaar geleden", "herdenking", "verjaardag van")

STOPWORDS = "de het een en van in op met voor na door bij uit naar is zijn dat die".split()

NEGATIONS = ("niet", "zonder", "ontkent", "ontkende")
