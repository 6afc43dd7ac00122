"""Portuguese (Latin script; accents and ç are folded by bot.text)."""

NAME = "Portuguese"

EVENTS = {
    "release": ("libertado", "libertada", "libertados", "libertação", "foi solto",
                "foi solta", "foram soltos", "posto em liberdade", "troca de prisioneiros",
                "indultad"),
    "return": ("regressou", "regressa ", "voltou", "retornou", "repatriad", "chegou a"),
    "verdict": ("condenado a", "condenada a", "condenados a", "sentença", "veredicto",
                "culpado", "culpada", "absolvid", "anos de prisão"),
    "custody": ("prisão preventiva", "prisão domiciliar", "prorrog", "prolong",
                "continua preso", "permanece preso", "permanecerá preso"),
    "appeal": ("recorreu", "recorre ", "apelação", "recurso de", "rejeitad"),
    "deport": ("deportad", "deportação", "expuls", "cidadania", "nacionalidade"),
    "payment": ("indeniza", "indemniza", "compensação", "pagamento", "pagou", "pagará"),
    "report": ("relatório", "conclusões"),
    "talks": ("conversações", "negociaç", "negociad", "reunião", "reuniu", "encontro com",
              "encontro entre",
              "cúpula", "cimeira", "visita", "telefonema", "recebeu", "enviado especial"),
    "agreement": ("acordo", "assinad", "assinou", "assinatura", "contrato", "memorando"),
    "arrest": ("detido", "detida", "detidos", "detenção", "foi preso", "foi presa",
               "foram presos", "prisão de", "capturad", "busca e apreensão"),
    "charge": ("acusad", "acusação", "denunciad", "indiciad"),
    "death": ("morreu", "morreram", "mortos", "morte ", "morto ", "falec", "assassinad"),
    "sale": ("venda", "vendeu", "vendid", "participação"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("pedra fundamental", "início das obras", "começaram as obras", "início da construção",
               "inaugur", "lançamento", "lançou", "lançad", "entrou em funcionamento",
               "entrou em operação", "abertura"),
    "growth": ("crescimento", "cresceu", "aumento", "aumentou", "recorde", "subiu"),
    "apology": ("desculp", "pediu perdão", "pede perdão"),
    "complaint": ("queixa", "queixou", "queixam"),
    "office": ("nomead", "nomeação", "demissão", "demitid", "renunciou", "exonerad"),
    "admission": ("admitiu", "admite", "reconheceu", "reconhece", "confess", "culpa ",
                  "assumiu a responsabilidade"),
    "lawsuit": ("processou", "processa ", "ação judicial", "ação contra",
                "tribunal internacional", "corte internacional", "arbitragem"),
    "wanted": ("procurado ", "procurada ", "procurados ", "lista de procurados",
               "mandado de prisão", "mandado de captura"),
    "trial": ("julgamento", "audiência", "adiad", "sessão do tribunal"),
    "suspension": ("suspens", "suspend", "congelad", "cancelad", "paralisad", "interromp"),
}

# "março" folds to "marco", which is also a word ("marco histórico") and a first name
# (Marco Rubio): a wrong March date costs more than a missed one, so it is left out.
MONTHS = {
    "janeiro": 1, "fevereiro": 2, "abril": 4, "maio": 5, "junho": 6, "julho": 7, "agosto": 8,
    "setembro": 9, "outubro": 10, "novembro": 11, "dezembro": 12,
}

ANNIVERSARY = ("aniversário", "há um ano", "um ano depois", "um ano após")

STOPWORDS = """o a os as um uma de do da dos das em no na nos nas por pelo pela para com sem
sobre entre e ou mas não que quem como quando onde porque após antes depois também já ainda
hoje ontem amanhã este esta esse essa ele ela eles elas nós seu sua segundo""".split()

NEGATIONS = ("não", "sem", "nunca", "nega", "negou", "desmente")
