"""Azerbaijani (Latin script; ə, ı and the Turkish letters are folded by bot.text).

Not "iddia" alone for a lawsuit: it is also "claim", every outlet's attribution ("iddia edir")."""

NAME = "Azerbaijani"

EVENTS = {
    "release": ("azad ", "azad edil", "azadlığa", "azadlıq", "sərbəst buraxıl"),
    "return": ("qayıt", "qayıd", "qaytarıl"),
    "verdict": ("hökm", "məhkum", "günahkar bilin", "təqsirli bilin", "həbs cəzası",
                "azadlıqdan məhrum"),
    "custody": ("həbs müddəti", "həbs qətimkan", "ev dustaqlığı", "uzadıl"),
    "appeal": ("şikayət", "apellyasiya"),
    "deport": ("deportasiya", "vətəndaşlığı", "ölkədən çıxarıl"),
    "payment": ("kompensasiya", "ödəniş", "təzminat"),
    "report": ("hesabat", "rəy "),
    "talks": ("danışıq", "görüş", "telefon", "qəbul edib", "səfər", "müzakirə", "zirvə"),
    "agreement": ("razılaşma", "saziş", "imzala", "müqavilə"),
    "arrest": ("saxlanıl", "saxlanıb", "həbs", "axtarış"),
    "charge": ("ittiham", "cinayət iş"),
    "death": ("həlak", "öldürül", "ölüb", "vəfat", "dünyasını dəyiş"),
    "sale": ("satış ", "satışı", "satışa", "satışın", "pay ", "hissə"),
    "launch": ("istismar", "açılış"),
    "growth": ("artım", "artıb", "rekord"),
    "apology": ("üzr ", "üzr istə"),
    "complaint": ("şikayətlən", "narazılıq"),
    "office": ("təyin edil", "istefa", "vəzifədən azad"),
    "admission": ("etiraf", "günahını", "boynuna"),
    "lawsuit": ("iddia qaldır", "iddia ərizə", "məhkəməyə ver", "məhkəməyə müraciət",
                "beynəlxalq məhkəmə", "arbitraj"),
    "trial": ("məhkəmə iclası", "məhkəmə prosesi", "təxirə salın"),
    "wanted": ("axtarışa veril", "axtarışda", "axtarışa elan"),
    "suspension": ("dayandırıl", "dayandırıb", "ləğv ed", "dondurul"),
}

MONTHS = {"yanvar": 1, "fevral": 2, "mart": 3, "aprel": 4, "may": 5, "iyun": 6, "iyul": 7,
          "avqust": 8, "sentyabr": 9, "oktyabr": 10, "noyabr": 11, "dekabr": 12}

ANNIVERSARY = ("ildönümü", "il dönümü", "bir il əvvəl", "bir il keçib", "il tamam")

STOPWORDS = "bu o və ilə də ki nə üçün görə sonra əvvəl artıq həm amma ya bir iki üç".split()

NEGATIONS = ("olmadan", "yox", "deyil", "inkar")
