"""English."""

NAME = "English"

# Whole words where a stem would run into other words: "sold" (soldiers), "record"
# (Spanish "recordó", recalled).
EVENTS = {
    "release": ("releas", "freed", "free ", "set free", "pardon", "swap", "exchange"),
    "return": ("sent back", "returned", "return", "flew", "flown", "arrived"),
    "verdict": ("sentenc", "verdict", "convict", "acquit", "found guilty", "guilty"),
    "custody": ("custody", "pretrial", "extended", "extend", "remain in", "remains in",
                "house arrest", "upholds arrest", "upheld"),
    "appeal": ("appeal", "rejected"),
    "deport": ("deport", "expel", "annul", "citizenship", "stripped of"),
    "payment": ("compensat", "paid", "to pay", "will pay", "pays ", "payout"),
    "report": ("final report", "report", "findings", "conclusion"),
    "talks": ("talks", "negotiat", "discuss", "meeting", "met with", "summit", "visit", "inspect",
              "call", "phone", "telephon", "received", "receives", "envoy"),
    "agreement": ("agreement", "agreed", "sign ", "signs ", "signed", "signing", "memorandum",
                  "contract"),
    "arrest": ("arrest", "detain", "detention", "raid", "search"),
    "charge": ("charged", "accused", "indict", "criminal case"),
    "death": ("died ", "killed", "dead", "death"),
    "sale": ("sell", "sale", "sold ", "stake"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("groundbreaking", "broke ground", "breaks ground", "construction began", "began construction", "begins construction", "construction begins", "start of construction", "construction start", "construction has started",
               "launch", "commissioned", "commissioning", "opened", "open "),
    "growth": ("increas", "grew", "growth", "rose", "record ", "records "),
    "apology": ("apolog",),
    "complaint": ("complain",),
    "office": ("appoint", "resign", "dismiss", "sacked", "fired"),
    "admission": ("admit", "acknowledg", "confess", "took responsibility"),
    "lawsuit": ("lawsuit", "sue ", "sues", "sued", "suing", "international court", "arbitration",
                "appeal to international"),
    "wanted": ("wanted list", "put on wanted", "manhunt"),
    "trial": ("trial", "hearing", "adjourn", "postpon"),
    "suspension": ("suspend", "halt", "froze", "freez", "cancel"),
}

MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sep": 9, "sept": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}

ANNIVERSARY = ("anniversary", "a year ago", "a year since", "a year after", "a year on",
               "one year ago", "one year since", "one year after", "one year on", "year on")

STOPWORDS = """the a an in on at after as but it this that these those for from with by of to and or
not new what why how who when where will would could should can may might has have had was
were is are be been being he she they we you his her their our its there here over under into
about amid despite during before since until while also more most some all any each other such
than then very just only even still already now today yesterday tomorrow mr mrs ms dr
monday tuesday wednesday thursday friday saturday sunday""".split()

NEGATIONS = ("without", "not", "no", "never", "didn't", "denies", "denied", "deny", "refused", "refuses", "rejects")
