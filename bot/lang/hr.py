"""Croatian (Latin script; đ as Serbian Latin writes it, č ć š ž folded by bot.text).

Not "listopada" for a month: it is October in Croatian but November in Polish (pl keeps it).
Not "ugovor" (agreement) nor "otkazan" (cancelled): they are also Russian "уговор"
(persuasion) and "отказан" (refused), transliterated."""

NAME = "Croatian"

EVENTS = {
    "release": ("pušten", "oslobođen", "razmjena zarobljenika"),
    "verdict": ("osuđen", "presud", "godina zatvora"),
    "custody": ("istražni zatvor", "pritvor ", "pritvoru", "produljen"),
    "appeal": ("žalb",),
    "deport": ("protjeran", "deportiran", "državljanstv"),
    "payment": ("odštet", "kompenzacij", "isplat"),
    "report": ("završno izvješće", "izvješć"),
    "talks": ("razgovor", "sastanak", "sastao", "posjet", "pregovor", "summit"),
    "agreement": ("sporazum", "potpisa"),
    "arrest": ("uhićen", "uhitil", "pretres"),
    "wanted": ("tjeralic", "potjernic"),
    "charge": ("optužen", "optužnic", "kazneni postupak"),
    "death": ("poginul", "ubijen", "preminu", "smrt"),
    "sale": ("prodaj", "udjel"),
    "launch": ("otvoren", "pokrenut", "pušten u pogon"),
    "growth": ("porast", "povećan", "rekord"),
    "apology": ("isprik", "ispričao"),
    "admission": ("priznao", "priznala", "priznaje"),
    "lawsuit": ("tužb", "međunarodni sud", "arbitraž"),
    "trial": ("suđenj", "odgođen", "ročišt"),
    "suspension": ("obustav", "suspendir", "zamrznut"),
}

MONTHS = {"siječnja": 1, "veljače": 2, "ožujka": 3, "travnja": 4, "svibnja": 5, "lipnja": 6,
          "srpnja": 7, "kolovoza": 8, "rujna": 9, "studenoga": 11, "studenog": 11,
          "prosinca": 12}

ANNIVERSARY = ("obljetnic", "prije godinu dana")

STOPWORDS = "u na iz za od do po sa i a ali ili ne je su da se što".split()

NEGATIONS = ("ne", "bez", "negira", "odbacio")
