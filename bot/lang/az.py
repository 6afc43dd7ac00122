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
    "sale": ("satış ", "satışı", "satışa", "satışın", "payı ", "payını", "payının", "hissə"),
    # Work starting on a project (a groundbreaking) launches it as much as an opening does.
    "launch": ("start veril", "tikintisinə başla", "tikintisinin başlan", "təməl qoy", "təməlqoyma",
               "istismar", "açılış"),
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

# Case endings written onto a name with no apostrophe ("Bakıda", "Rusiyadan"): locative and
# ablative. Where the name itself is too short to count as one (Bakı, Aktau, Rusiya), the
# ending must not make it a new name (bot.features). Not the genitive or accusative: their
# "n" after a vowel ("Bakının") reads the same as a name's own "n" ("Putinin" is Putin's).
# Applied to a text that contains one of MARKS (letters Azerbaijani writes and English,
# Russian, Turkish do not), so "Canada" or "Bogdan" elsewhere stay names.
MARKS = "əƏ"
NAME_ENDINGS = ("da", "də", "ta", "tə", "dan", "dən", "tan", "tən")
