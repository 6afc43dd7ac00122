"""French (Latin script; accents are folded by bot.text, œ/æ written oe/ae)."""

NAME = "French"

LETTERS = {"œ": "oe", "æ": "ae"}

# "condamne" alone is also "condemns" (a statement): the sentence forms carry "à".
EVENTS = {
    "release": ("libéré", "libérée", "libérés", "libération", "relâch", "remis en liberté",
                "remise en liberté", "échange de prisonniers", "gracié"),
    "return": ("rentré ", "rentrée en russie", "de retour", "retour ", "renvoyé", "rapatrié",
               "est revenu", "sont revenus", "est arrivé", "est arrivée"),
    "verdict": ("condamné à", "condamnée à", "condamnés à", "condamnation à", "verdict",
                "reconnu coupable", "reconnue coupable", "jugé coupable", "acquitt",
                "peine de prison", "ans de prison", "ans de détention"),
    "custody": ("détention provisoire", "en détention", "maintenu en détention",
                "maintenue en détention", "assignation à résidence", "assigné à résidence",
                "prolong"),
    "appeal": ("fait appel", "interjeté appel", "en appel", "cour d'appel", "pourvoi",
               "recours", "rejeté", "débouté"),
    "deport": ("expuls", "déporté", "reconduit à la frontière", "déchu", "déchue",
               "citoyenneté", "nationalité"),
    "payment": ("indemnis", "indemnit", "dédommag", "versement", "versera", "verser ",
                "paiement", "payé", "payer "),
    "report": ("rapport final", "rapport d'enquête", "rapport préliminaire", "un rapport",
               "le rapport", "son rapport", "rapport sur", "conclusions"),
    "talks": ("pourparlers", "négociation", "négocié", "entretien téléphonique", "s'est entretenu",
              "se sont entretenus",
              "rencontr", "réunion", "sommet", "visite", "téléphon", "discut", "reçu ",
              "envoyé spécial"),
    "agreement": ("accord ", "accords ", "a signé", "ont signé", "signature", "signent", "signera",
                  "contrat", "mémorandum", "convenu"),
    "arrest": ("arrêté", "arrestation", "interpell", "garde à vue", "perquisition", "détenu",
               "écroué"),
    "charge": ("inculpé", "inculpation", "mis en examen", "mise en examen", "accusé",
               "poursuivi", "chefs d'accusation", "affaire pénale"),
    "death": ("a tué", "ont tué", "été tué", "tués ", "tuée", "morts ", "mort ", "décédé", "décès", "périt",
              "ont péri"),
    "sale": ("vente", "vendu", "vendre", "cession", "céder", "participation de",
             "sa participation"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("première pierre", "début des travaux", "coup d'envoi", "démarrage des travaux",
               "lancement", "mise en service", "inaugur", "ouverture"),
    "growth": ("hausse", "augment", "croissance", "record ", "records ", "progression", "a grimpé"),
    "apology": ("excus",),
    "complaint": ("se plaint", "se plaignent", "plainte ", "déplore"),
    "office": ("nommé", "nomination", "démission", "limogé", "limogeage", "révoqué",
               "destitué"),
    "admission": ("reconnaît", "reconnait", "a reconnu", "reconnu sa", "reconnu la",
                  "aveu", "avoue", "admet", "a admis", "culpabilité"),
    "lawsuit": ("action en justice", "porte plainte", "porter plainte", "portera plainte",
                "déposé plainte", "dépose plainte", "poursuivre en justice", "poursuit en justice",
                "cour internationale", "arbitrage", "saisi la justice"),
    "wanted": ("avis de recherche", "mandat d'arrêt", "recherché par", "est recherché",
               "personnes recherchées"),
    "trial": ("procès ", "procès de", "l'audience", "une audience", "prochaine audience", "ajourn",
              "été reporté", "reporté au", "reporté à", "reportée"),
    "suspension": ("suspend", "gelé ", "gelés ", "gelée ", "gel des", "gel de", "interrompu"),
}

MONTHS = {
    "janvier": 1, "février": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "août": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12,
}

ANNIVERSARY = ("anniversaire", "il y a un an", "un an après", "un an plus tard", "un an depuis")

STOPWORDS = """le la les un une des du de en dans sur pour par avec sans sous chez et ou mais ne
pas ce cet cette ces il elle ils elles nous vous on qui que quoi quand comment pourquoi où
après avant depuis selon malgré pendant aussi déjà encore aujourd'hui hier demain monsieur
madame""".split()

# "n'a pas reconnu": "pas" is one of the two words before the verb.
NEGATIONS = ("sans", "pas", "jamais", "nie", "dément")
