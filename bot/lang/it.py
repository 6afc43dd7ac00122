"""Italian (Latin script; accents are folded by bot.text)."""

NAME = "Italian"

# "rapporto" is also "relation" (rapporti tra Mosca e Baku) and "causa" "cause" (a causa
# di): only their report / lawsuit phrases are listed.
EVENTS = {
    "release": ("liberat", "scarcerat", "rimesso in libertà", "rimessa in libertà",
                "torna libero", "tornato libero", "scambio di prigionieri", "graziat"),
    "return": ("rientrat", "rientro", "tornato in", "tornata in", "rimpatriat", "ritorno",
               "arrivato a", "arrivata a"),
    "verdict": ("condannat", "condanna a", "sentenza", "verdetto", "colpevole", "assolt",
                "anni di carcere", "anni di reclusione"),
    "custody": ("custodia cautelare", "carcerazione preventiva", "in custodia", "domiciliari",
                "prorogat", "prolungat", "resta in carcere", "rimane in carcere"),
    "appeal": ("ricorso", "in appello", "presentato appello", "fa appello", "impugnat", "respint",
               "corte d'appello"),
    "deport": ("espuls", "deportat", "deportazione", "rimpatrio forzato", "cittadinanza"),
    "payment": ("risarciment", "indennizz", "compensazion", "pagato", "pagamento", "versato"),
    "report": ("rapporto finale", "relazione finale", "rapporto preliminare", "rapporto sull",
               "conclusioni"),
    "talks": ("colloqui", "negoziat", "trattativ", "incontr", "vertice", "visita", "telefonat",
              "discuss", "ha ricevuto", "inviato speciale"),
    "agreement": ("accordo", "accordi ", "firmat", "firma ", "firmano", "intesa", "contratto",
                  "memorandum"),
    "arrest": ("arrestat", "arresto", "fermato", "fermati", "fermata dalla", "detenut",
               "perquisizion", "in stato di fermo"),
    "charge": ("accusat", "incriminat", "imputat", "rinviato a giudizio", "procedimento penale",
               "indagat"),
    "death": ("morto ", "morti ", "morta ", "morte ", "uccis", "decedut", "decesso",
              "perso la vita"),
    "sale": ("vendita", "venduto", "ceduto", "cessione", "partecipazione"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("prima pietra", "avvio dei lavori", "inizio dei lavori", "al via i lavori",
               "inaugurat", "avviat", "lanciat", "lancio", "messa in servizio",
               "entrato in funzione"),
    "growth": ("crescit", "cresciut", "aumentat", "aumento", "record ", "in rialzo", "balzo"),
    "apology": ("scuse ", "si scusa", "chiede scusa", "chiesto scusa", "scusat"),
    "complaint": ("lamenta", "lamentat"),
    "office": ("nominat", "nomina ", "dimess", "dimissioni", "rimoss", "licenziat",
               "destituit"),
    "admission": ("ammess", "ammette", "ha riconosciuto", "riconosce", "confess", "colpa ",
                  "responsabilità"),
    "lawsuit": ("fa causa", "fatto causa", "intentato causa", "querela", "citato in giudizio",
                "cita in giudizio", "corte internazionale", "tribunale internazionale",
                "arbitrato"),
    "wanted": ("ricercato ", "ricercata ", "ricercati ", "lista dei ricercati",
               "mandato di cattura", "mandato d'arresto"),
    "trial": ("processo a", "al processo", "processo contro", "udienza", "rinvio", "slittat"),
    "suspension": ("sospes", "sospension", "congelat", "annullat", "bloccat", "interrott"),
}

MONTHS = {
    "gennaio": 1, "febbraio": 2, "marzo": 3, "aprile": 4, "maggio": 5, "giugno": 6,
    "luglio": 7, "agosto": 8, "settembre": 9, "ottobre": 10, "novembre": 11, "dicembre": 12,
}

ANNIVERSARY = ("anniversario", "un anno fa", "un anno dopo", "a un anno")

STOPWORDS = """il lo la i gli le un uno una di a da in con su per tra fra e o ma non che chi
cosa come quando dove perché dopo prima anche già ancora oggi ieri domani questo questa quello
quella lui lei loro noi voi nel nella nei negli sul sulla al alla dal dalla del della dei
degli secondo""".split()

# Not "mai" (never): the French month.
NEGATIONS = ("non", "senza", "nega", "negato", "smentisce")
