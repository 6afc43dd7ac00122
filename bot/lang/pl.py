"""Polish (Latin script; ą ę ś ć ź ż ń ó are folded by bot.text, ł written l)."""

NAME = "Polish"

LETTERS = {"ł": "l"}

# "pozwala" is "allows", so "pozwał" (sued) is listed as a whole word only.
EVENTS = {
    "release": ("uwolnion", "uwolnien", "uwolnił", "zwolniony z aresztu", "wypuszczon",
                "wymiana więźniów", "wymianie więźniów", "ułaskawi", "na wolność"),
    "return": ("wrócił", "wróciła", "wrócili", "powrót", "powrocie", "odesłan", "przyleciał",
               "dotarł do"),
    "verdict": ("skazan", "wyrok", "uznany za winn", "uznana za winn", "uniewinni",
                "lat więzienia", "lat pozbawienia wolności"),
    "custody": ("areszt tymczasow", "aresztu tymczasow", "areszt domow", "przedłuż",
                "pozostanie w areszcie", "w areszcie"),
    "appeal": ("apelacj", "odwołanie od wyroku", "zażalen", "kasacj", "odrzucił", "odrzucony"),
    "deport": ("deportowan", "deportacj", "wydalon", "wydalen", "obywatelstw"),
    "payment": ("odszkodowan", "rekompensat", "wypłat", "zapłaci", "wypłaci"),
    "report": ("raport", "sprawozdan", "wnioski ", "ustalenia "),
    "talks": ("rozmowy ", "rozmowa telefoniczna", "rozmowę telefoniczną", "rozmawiał",
              "negocjac", "spotkan", "spotkał", "szczyt", "wizyt", "omówił",
              "omawiali", "przyjął", "specjalny wysłannik"),
    "agreement": ("porozumien", "umowa", "umowy", "umowę", "umowie", "podpisa", "memorandum",
                  "uzgodni"),
    "arrest": ("aresztowan", "zatrzyman", "zatrzymał", "przeszukan", "rewizj"),
    "charge": ("oskarżon", "oskarżen", "zarzut", "sprawa karna", "postępowanie karne"),
    "death": ("zginął", "zginęł", "zginęli", "zmarł", "zabity", "zabita", "zabitych", "zabici", "śmierć", "śmierci"),
    "sale": ("sprzedaż", "sprzedał", "sprzedan", "udział ", "udziały", "udziałów", "pakiet akcji"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("rozpoczęcie budowy", "rozpoczęła się budowa", "rozpoczęto budowę", "wmurowan",
               "uruchomi", "uruchomien", "otwarci", "otwarto", "oddan do użytku",
               "inauguracj"),
    "growth": ("wzrost", "wzrósł", "wzrosła", "wzrosły", "rekord", "zwiększ"),
    "apology": ("przeprosi", "przeprosin"),
    "complaint": ("skarg", "skarży się", "skarżą się"),
    "office": ("mianowan", "powołan", "dymisj", "zdymisjonowan", "rezygnacj"),
    "admission": ("przyznał", "przyznała", "przyznaje", "przyznanie się", "przyznał się do winy",
                  "winy ", "odpowiedzialność"),
    "lawsuit": ("pozew", "pozwu", "pozwie ", "pozwał ", "pozwali ", "międzynarodowy trybunał",
                "międzynarodowego trybunału", "arbitraż", "do sądu"),
    "wanted": ("poszukiwan", "list gończ", "nakaz aresztowania"),
    "trial": ("rozprawa", "rozprawy", "rozprawie", "proces ", "procesu", "odroczon",
              "przełożono", "posiedzenie sądu"),
    "suspension": ("zawieszon", "zawiesz", "zawiesił", "zamrożon", "wstrzyma", "odwołan"),
}

# Month names in the nominative and in the genitive / locative a date takes (10 października,
# w październiku); "marca" and "marcu" are whole words only ("marca" is "brand" in Spanish).
MONTHS = {
    "styczeń": 1, "styczni": 1, "luty": 2, "lutego": 2, "lutym": 2, "marzec": 3, "marca ": 3,
    "marcu ": 3, "kwiecień": 4, "kwietni": 4, "maj": 5, "maja": 5, "maju": 5, "czerwiec": 6,
    "czerwc": 6, "lipiec": 7, "lipca": 7, "lipcu": 7, "sierpień": 8, "sierpni": 8,
    "wrzesień": 9, "wrześni": 9, "październik": 10, "listopad": 11, "grudzień": 12,
    "grudni": 12,
}

ANNIVERSARY = ("rocznic", "rok temu", "rok po ", "rok później")

STOPWORDS = """w we na z ze do od po przez dla przy o u i a ale lub nie to ten ta te tego jak co
kto gdzie kiedy dlaczego przed już jeszcze także też dziś dzisiaj wczoraj jutro on ona oni my
wy jego jej ich według mimo podczas""".split()

NEGATIONS = ("nie", "bez", "zaprzecza", "zaprzeczył", "odmówił")
