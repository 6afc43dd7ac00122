"""German (Latin script; umlauts are folded to their base letter by bot.text, ß written ss)."""

NAME = "German"

LETTERS = {"ß": "ss"}

# "bericht" alone would also match "berichtet" (reports: the attribution verb of every
# outlet), so only report phrases are listed.
EVENTS = {
    "release": ("freigelassen", "freilass", "freigekommen", "kommt frei", "kam frei",
                "haftentlass", "aus der haft entlassen", "begnadig", "gefangenenaustausch",
                "austausch"),
    "return": ("zurückgek", "zurückgeschickt", "zurückgebracht", "rückkehr", "kehrte zurück",
               "kehrt zurück", "heimgekehrt", "eingetroffen", "ausgeflogen"),
    "verdict": ("verurteil", "urteil", "schuldig gesprochen", "freigesprochen", "freispruch",
                "haftstrafe", "gefängnisstrafe", "jahre haft", "jahren haft", "lagerhaft"),
    "custody": ("untersuchungshaft", "u-haft", "in haft", "hausarrest", "haftverlängerung",
                "verlängert", "verlängerung", "bleibt in haft", "haftprüfung"),
    "appeal": ("berufung", "einspruch", "beschwerde", "abgewiesen",
               "zurückgewiesen"),
    "deport": ("abgeschoben", "abschiebung", "ausgewiesen", "ausweisung", "staatsbürgerschaft",
               "staatsangehörigkeit", "aberkannt", "des landes verwiesen"),
    "payment": ("entschädig", "schadenersatz", "schadensersatz", "zahlung", "gezahlt",
                "bezahlt", "zahlt "),
    "report": ("abschlussbericht", "untersuchungsbericht", "zwischenbericht", "bericht über",
               "bericht zum", "bericht zur", "bericht vor", "gutachten",
               "ergebnisse der"),
    "talks": ("gespräch", "verhandlungen", "verhandelt", "treffen", "getroffen", "traf ",
              "trafen", "besuch", "gipfel", "telefonat", "telefoniert", "beriet", "beraten",
              "erörtert", "empfang", "empfing", "sondergesandt", "sondergesandte"),
    "agreement": ("abkommen", "vereinbarung", "vereinbart", "einigung", "geeinigt",
                  "unterzeichn", "unterschrieben", "vertrag", "absichtserklärung"),
    "arrest": ("festgenommen", "festnahme", "verhaftet", "verhaftung", "festgehalten",
               "inhaftiert", "durchsuch", "razzia", "in gewahrsam"),
    "charge": ("angeklagt", "anklage", "beschuldigt", "vorgeworfen", "strafverfahren",
               "ermittlungsverfahren"),
    "death": ("getötet", "gestorben", "ums leben", "tote ", "toten ", "tod ", "todes", "starb",
              "verstorben", "umgekommen"),
    "sale": ("verkauf", "veräußer", "anteil", "beteiligung"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("baubeginn", "spatenstich", "grundstein", "bau begonnen", "bauarbeiten begonnen",
               "inbetriebnahme", "in betrieb", "eröffnet", "eröffnung", "gestartet",
               "startet", "eingeweiht"),
    "growth": ("gestiegen", "steigt", "stieg ", "wachstum", "gewachsen", "zunahme",
               "zugenommen", "rekord", "anstieg"),
    "apology": ("entschuldig",),
    "complaint": ("beklagt", "beschwert", "klagt über"),
    "office": ("ernannt", "ernennung", "zurückgetreten", "rücktritt", "entlassen", "entlassung",
               "abgesetzt", "abberufen"),
    "admission": ("eingeräumt", "räumt ein", "räumte ein", "gestanden", "geständnis",
                  "eingestanden", "gesteht", "gestand ", "zugegeben", "gibt zu", "gab zu",
                  "verantwortung übernommen", "schuld "),
    "lawsuit": ("klage ", "klagen ", "klageschrift", "verklagt", "verklagen",
                "internationalen gerichtshof", "internationaler gerichtshof", "schiedsgericht",
                "schiedsverfahren"),
    "wanted": ("fahndung", "haftbefehl", "steckbrief"),
    "trial": ("prozess", "gerichtsverhandlung", "anhörung", "vertagt", "verschoben"),
    "suspension": ("ausgesetzt", "aussetzung", "eingefroren", "gestoppt", "abgesagt",
                   "storniert", "suspendiert"),
}

# "März" folds to "marz" (4 letters: whole word); Austrian "Jänner".
MONTHS = {
    "januar": 1, "jänner": 1, "februar": 2, "feber": 2, "märz": 3, "april": 4, "mai": 5,
    "juni": 6, "juli": 7, "august": 8, "september": 9, "oktober": 10, "november": 11,
    "dezember": 12,
}

ANNIVERSARY = ("jahrestag", "vor einem jahr", "ein jahr nach", "ein jahr seit",
               "ein jahr später")

# German capitalises every noun: besides articles and pronouns, the nouns news headlines
# start with or repeat are not names either.
STOPWORDS = """der die das ein eine einer einem einen den dem des im am an auf aus bei mit nach
von vor zu zum zur und oder aber nicht nun wie was warum wer wo wann er sie es wir ihr ich man
dieser diese dieses jetzt heute gestern morgen auch noch schon trotz während seit bis für über
unter gegen ohne um als wenn weil dass herr frau
gericht gerichts urteil haft regierung präsident präsidenten minister ministerium außenminister
jahr jahre jahren flugzeug flugzeugs absturz botschafter journalist journalisten agentur büro
chef leiter behörden polizei staatsanwaltschaft bericht entschädigung abkommen vertrag gespräch
gespräche treffen besuch klage prozess verfahren freilassung festnahme angaben zufolge laut
staat staaten land länder beziehungen krise streit
montag dienstag mittwoch donnerstag freitag samstag sonntag""".split()

NEGATIONS = ("nicht", "kein", "keine", "keinen", "ohne", "nie", "bestreitet", "bestritt",
             "dementiert")
