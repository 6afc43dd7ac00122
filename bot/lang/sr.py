"""Serbian, in both its scripts (Cyrillic: the letters Russian lacks; Latin: đ).

Serbian Cyrillic and Latin do not meet in one key (ru writes х as kh, Serbian Latin h), so the
words are listed in both scripts. Not "посет" (visit: also Bulgarian "посетиха", paid a visit to), "приведен" (brought in: also Russian "carried out"),
"уговор"/"ugovor" (Russian "persuasion") nor "отказан"/"otkazan" (Russian "refused"), in
either script: Latin stems meet transliterated Russian too; "pritvor" only whole or
inflected (Russian "притворно", feigned). Cyrillic ј is written y, as Јекатеринбург is
Yekaterinburg."""

NAME = "Serbian"

LETTERS = {"ђ": "dj", "ј": "y", "љ": "lj", "њ": "nj", "ћ": "c", "џ": "dz", "đ": "dj"}

EVENTS = {
    "release": ("pušten", "oslobođen", "razmena zarobljenika", "пуштен", "ослобођен",
                "размена заробљеника"),
    "verdict": ("osuđen", "presud", "godina zatvora", "осуђен", "пресуд", "година затвора"),
    "custody": ("pritvor ", "pritvora", "pritvoru", "produžen", "притвор ", "притвора",
                "притвору", "продужен"),
    "appeal": ("žalb", "жалб"),
    "deport": ("proteran", "deportovan", "državljanstv", "протеран", "депортован",
               "држављанств"),
    "payment": ("odštet", "obeštećenj", "kompenzacij", "одштет", "обештећењ", "компензациј"),
    "report": ("izveštaj", "извештај"),
    "talks": ("razgovor", "sastanak", "sastao", "posetio", "posetila", "pregovor", "samit", "разговор",
              "састанак", "састао", "посетио", "посетила", "преговор", "самит"),
    "agreement": ("sporazum", "potpisa", "memorandum", "споразум", "потписа"),
    "arrest": ("uhapšen", "uhapsi", "pretres", "ухапшен", "ухапси", "претрес"),
    "wanted": ("poternic", "потерниц", "traga se", "трага се"),
    "charge": ("optužen", "optužnic", "krivičn", "оптужен", "оптужниц", "кривичн"),
    "death": ("poginul", "ubijen", "preminu", "smrt", "погинул", "убијен", "преминуо", "смрт"),
    "sale": ("prodaj", "prodat", "udeo", "udela", "продај", "продат", "удео", "удела"),
    "launch": ("pušten u rad", "otvoren", "pokrenut", "отворен", "покренут"),
    "growth": ("porast", "povećan", "rekord", "пораст", "повећан", "рекорд"),
    "apology": ("izvinj", "извињ"),
    "admission": ("priznao", "priznala", "priznaje", "признао", "признала", "признаје"),
    "lawsuit": ("tužb", "međunarodni sud", "arbitraž", "тужб", "међународни суд"),
    "trial": ("suđenj", "odložen", "ročišt", "суђењ", "одложен", "рочишт"),
    "suspension": ("obustav", "suspend", "zamrznut", "обустав", "суспенд"),
}

MONTHS = {"januar": 1, "februar": 2, "mart": 3, "april": 4, "maj": 5, "juna": 6,
          "jula": 7, "avgust": 8, "septembar": 9, "septembra": 9, "oktobar": 10,
          "oktobra": 10, "novembar": 11, "novembra": 11, "decembar": 12, "decembra": 12,
          "јануар": 1, "фебруар": 2, "мај": 5, "јуна": 6, "јула": 7,
          "октобар": 10, "октобра": 10, "новембар": 11, "новембра": 11, "децембар": 12,
          "децембра": 12, "септембар": 9, "септембра": 9}

ANNIVERSARY = ("godišnjic", "годишњиц", "pre godinu dana", "пре годину дана")

STOPWORDS = """u na iz za od do po sa i a ali ili ne je su da se što ко у на из за од до по са
и а али или не је су да се""".split()

NEGATIONS = ("ne", "bez", "negira", "не", "без", "негира")
