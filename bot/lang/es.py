"""Spanish (Latin script; accents and ñ are folded by bot.text)."""

NAME = "Spanish"

# "condena" is also "condemns", "recurso" "resource", "demanda" "demand", "firma" "firm":
# their verdict / appeal / lawsuit / signing forms are listed.
EVENTS = {
    "release": ("liberad", "liberación", "excarcelad", "puesto en libertad",
                "puesta en libertad", "canje", "intercambio de prisioneros", "indultad",
                "indulto"),
    "return": ("regresó", "regresa ", "regresar", "regresaron", "volvió", "retornó", "repatriad", "llegó a"),
    "verdict": ("condenado a", "condenada a", "condenados a", "condena de", "sentencia",
                "veredicto", "declarado culpable", "declarada culpable", "culpable", "absuelt",
                "años de prisión", "años de cárcel"),
    "custody": ("prisión preventiva", "detención preventiva", "arresto domiciliario", "prorrog",
                "prolong", "seguirá en prisión", "permanecerá en prisión"),
    "appeal": ("apelación", "apeló", "apelar", "recurso de", "recurrió", "recurre ", "rechazad",
               "desestim"),
    "deport": ("deportad", "deportación", "expulsad", "expulsión", "ciudadanía",
               "nacionalidad"),
    "payment": ("indemniz", "compensación", "pago ", "pagos ", "pagar ", "pagará", "pagado",
                "pagada"),
    "report": ("informe ", "informes ", "conclusiones", "hallazgos"),
    "talks": ("conversaciones", "conversación", "negociación", "negociaciones", "negociad",
              "negociar", "reunión", "se reunió", "se reúne", "cumbre", "visita",
              "llamada telefónica", "diálogo", "recibió", "enviado especial"),
    "agreement": ("acuerdo", "firmaron", "firmó", "firman ", "firmado", "firmada", "firmará",
                  "contrato", "memorando", "convenio", "pacto "),
    "arrest": ("detenid", "detención", "detuv", "arrestad", "capturad", "allanamiento"),
    "charge": ("acusad", "acusa a", "acusa de", "imputad", "cargos", "proceso penal",
               "causa penal"),
    "death": ("muert", "murió", "fallec", "asesinad", "perdió la vida", "perdieron la vida"),
    "sale": ("venta", "vendid", "vende ", "vender", "participación"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("primera piedra", "inicio de las obras", "comienzo de las obras", "arrancan las obras", "inicio de la construcción",
               "inaugur", "lanzamiento", "lanzad", "puesta en marcha", "puesta en servicio",
               "entró en funcionamiento", "apertura"),
    "growth": ("crecimiento", "creció", "aumento", "aument", "récord ", "récords ", "subió", "al alza"),
    "apology": ("disculp", "pidió perdón", "pide perdón"),
    "complaint": ("se queja", "se quejó", "queja"),
    "office": ("nombrad", "nombramiento", "dimisión", "dimitió", "renunci", "destituid",
               "cesad", "designad"),
    "admission": ("admitió", "admite", "reconoció", "reconoce", "confes", "su culpa",
                  "culpa ", "responsabilidad"),
    "lawsuit": ("demanda contra", "demandó", "demandad", "presentó una demanda", "querella",
                "tribunal internacional", "corte internacional", "arbitraje"),
    "wanted": ("orden de captura", "orden de busca", "busca y captura", "requisitoria",
               "buscado por"),
    "trial": ("juicio", "audiencia", "aplazad", "pospuest", "vista oral"),
    "suspension": ("suspend", "suspensión", "congelad", "cancelad", "paraliz"),
}

MONTHS = {
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7,
    "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11,
    "diciembre": 12,
}

ANNIVERSARY = ("aniversario", "hace un año", "un año después", "a un año", "un año de")

STOPWORDS = """el la los las un una unos unas de del al a en con sin por para sobre entre y o
pero no que quien qué cómo cuándo dónde tras antes después también ya aún hoy ayer mañana este
esta estos estas ese esa él ella ellos nosotros su sus según""".split()

NEGATIONS = ("no", "sin", "nunca", "niega", "negó", "desmiente")
