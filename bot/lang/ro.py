"""Romanian (Latin script; ă â î ș ț folded to a a i s t by bot.text).

Whole words where a stem would run into other languages: "proces " (not English "process"),
"apel ", "vinde " (not "vindicate"); not "mort" (English "mortgage")."""

NAME = "Romanian"

EVENTS = {
    "release": ("eliberat", "eliberar", "pus în libertate", "puși în libertate",
                "schimb de prizonieri"),
    "return": ("s-a întors", "s-au întors", "revenit în țară"),
    "verdict": ("condamnat", "condamnar", "achitat", "sentinț", "ani de închisoare"),
    "custody": ("arest preventiv", "arest la domiciliu", "prelungit", "prelungir"),
    "appeal": ("apel ", "apelul", "recurs ", "recursul", "contestați"),
    "deport": ("expulzat", "expulzar", "deportat", "cetățeni"),
    "payment": ("despăgubir", "compensați", "plătit"),
    "report": ("raport final", "raportul final", "raport preliminar", "raportul preliminar"),
    "talks": ("negocier", "discuți", "întâlnir", "s-a întâlnit", "vizită", "vizita ",
              "convorbire telefonic", "summit"),
    "agreement": ("acord ", "acordul", "semnat", "memorandum", "contract"),
    "arrest": ("arestat", "reținut", "perchezi"),
    "charge": ("acuzat", "inculpat", "dosar penal", "urmărire penală"),
    "death": ("ucis", "morți ", "decedat", "și-au pierdut viața", "au murit", "a murit"),
    "sale": ("vânzar", "vinde ", "vândut", "pachet de acțiuni"),
    "launch": ("lansat", "inaugurat", "pus în funcțiune"),
    "growth": ("creștere", "crescut", "record "),
    "apology": ("scuze",),
    "admission": ("recunoscut", "recunoaște", "vinovăți"),
    "lawsuit": ("a dat în judecată", "acțiune în instanță", "curtea internațional", "arbitraj"),
    "trial": ("proces ", "procesul", "amânat", "ședinț"),
    "suspension": ("suspendat", "suspendar", "anulat", "înghețat"),
    "wanted": ("dat în urmărire", "mandat de arestare"),
}

MONTHS = {"ianuarie": 1, "februarie": 2, "martie": 3, "aprilie": 4, "iunie": 6, "iulie": 7,
          "septembrie": 9, "octombrie": 10, "noiembrie": 11, "decembrie": 12}

ANNIVERSARY = ("aniversar", "un an de la", "comemorar")

# Not "din" (from): it is also Azerbaijani DİN, the interior ministry, a name.
STOPWORDS = "în la de pe cu și sau nu este sunt că care după pentru".split()

NEGATIONS = ("nu", "fără", "neagă", "negat", "dezminte")  # single words: "a negat" would make "a" one
