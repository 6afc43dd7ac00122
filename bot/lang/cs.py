"""Czech (Latin script; háčky and čárky folded by bot.text).

Months only in their genitive, the form dates take ("5. ledna"): the nominative "leden" is
also Dutch "leden" (members), "červen" (June) would take "červenec" (July). Not "růst"
(growth: it is English "rust") nor "zabit" (killed: Russian "забит", scored)."""

NAME = "Czech"

EVENTS = {
    "release": ("propuštěn", "propustil", "propustili", "osvobozen", "výměna vězňů",
                "na svobodě"),
    "return": ("vrátil", "vrátili", "návrat"),
    "verdict": ("odsouzen", "rozsud", "zproštěn", "let vězení", "vinným"),
    "custody": ("vazb", "domácí vězení", "prodloužil", "prodloužen"),
    "appeal": ("odvolání", "odvolal", "zamítl"),
    "deport": ("vyhoštěn", "deportován", "občanství"),
    "payment": ("odškodn", "kompenzac", "vyplatí", "vyplatil"),
    "report": ("závěrečná zpráva", "závěrečné zprávy", "předběžná zpráva", "zpráva o ",
               "zprávu o "),
    "talks": ("jednání", "rozhovor", "setkal", "setkání", "návštěv", "telefonoval", "summit"),
    "agreement": ("dohod", "smlouv", "podepsal", "memorand"),
    "arrest": ("zatčen", "zatkli", "zadržen", "zadrželi", "prohlídk"),
    "charge": ("obviněn", "obžalob", "trestní stíhání"),
    "death": ("zemřel", "zahynul", "smrt"),
    "sale": ("prodej", "prodat", "prodá", "podíl"),
    "launch": ("spuštěn", "zahájen", "otevřen"),
    "growth": ("vzrostl", "nárůst", "rekord"),
    "apology": ("omluv",),
    "admission": ("přiznal", "přiznává"),
    "lawsuit": ("žalob", "zažaloval", "mezinárodní soud", "arbitráž"),
    "trial": ("soudní proces", "přelíčení", "odročen", "líčení"),
    "suspension": ("pozastav", "zrušen", "zmrazen"),
    "wanted": ("pátrání", "zatykač"),
}

MONTHS = {"ledna": 1, "února": 2, "března": 3, "dubna": 4, "května": 5, "června": 6,
          "července": 7, "srpna": 8, "září ": 9, "října": 10, "listopadu": 11, "prosince": 12}

ANNIVERSARY = ("výročí", "před rokem", "rok od")

STOPWORDS = "v ve na z ze do od po pro s se a i ale nebo ne je jsou že to který".split()

NEGATIONS = ("ne", "bez", "popřel", "popírá", "odmítl")
