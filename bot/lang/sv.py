"""Swedish (Latin script; å ä ö folded to a a o by bot.text).

Not "gripen" (the Saab jet), "dog" (English), "stämmer" (also "is right", and English
"stammer"), "döms"/"domen" as stems (they run into "domestic", "domenica")."""

NAME = "Swedish"

EVENTS = {
    "release": ("frigiven", "frigivna", "frisläppt", "släpptes", "släppts", "fångutväxling"),
    "return": ("återvände", "återvänt"),
    "verdict": ("dömd", "dömdes", "döms ", "domen ", "friad", "frikänd", "års fängelse"),
    "custody": ("häktad", "häktade", "häktningen", "husarrest", "förlängd", "förlängs"),
    "appeal": ("överklag",),
    "deport": ("utvisad", "utvisas", "utvisning", "medborgarskap"),
    "payment": ("skadestånd", "kompensation", "ersättning"),
    "report": ("slutrapport", "delrapport", "rapporten"),
    "talks": ("samtal", "förhandling", "mötet", "träffade", "besök", "toppmöte"),
    "agreement": ("avtal", "överenskommelse", "undertecknat", "skrev under"),
    "arrest": ("gripna", "gripits", "greps", "anhållen", "anhållna", "arresterad",
               "husrannsakan"),
    "charge": ("åtalad", "åtalas", "anklagad", "misstänkt"),
    "death": ("dödad", "dödades", "omkom", "avled"),
    "sale": ("sälja", "säljer", "sålt", "försäljning", "andel"),
    "launch": ("invigd", "invigdes", "öppnade", "lanserad"),
    "growth": ("ökade", "ökning", "rekord", "tillväxt"),
    "apology": ("ursäkt",),
    "admission": ("erkänner", "erkände", "medger", "medgav"),
    "lawsuit": ("stämde", "stämning", "internationella domstolen", "skiljedom"),
    "trial": ("rättegång", "uppskjuten"),
    "suspension": ("inställd", "ställer in", "ställde in", "avbryter", "stoppar", "frysta"),
    "wanted": ("efterlyst",),
}

MONTHS = {"januari": 1, "februari": 2, "maj": 5, "augusti": 8}

ANNIVERSARY = ("år sedan", "årsdag")

STOPWORDS = "i på av och en ett den det som för med till från om efter är var har".split()

NEGATIONS = ("inte", "utan", "förnekar", "förnekade")
